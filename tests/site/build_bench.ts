/**
 * How long `deno task build` takes to write the site from executed copies (nothing is
 * executed: `noExecute`). Target: under 10 s for all notebooks.
 *
 * - "12 executed fixtures": twelve copies of the project fixture, each with the real
 *   4.8 MB plotly.js inlined in its first chart as a real run has it (what a course of a
 *   dozen notebooks looks like to the exporter);
 * - "notebooks/ from out/": the project's own notebooks, when `deno task run` has left
 *   executed copies of all of them in out/ (skipped otherwise).
 *
 * Run: `deno bench -A tests/site/build_bench.ts`
 */
import { join } from "node:path";
import { findNotebooks } from "../../kernel/clean.ts";
import { build, type RunRequest } from "../../kernel/site/build.ts";
import { plotlyBundlePath } from "../../kernel/site/export.ts";

const fixtures = new URL("../fixtures/site/", import.meta.url);
const STAND_IN =
  /\/\*\*\n\* plotly\.js v3\.7\.0 \(stand-in for tests\)\n\*\/\nwindow\.__inlinePlotlyRan = true;/;
const plotly = await Deno.readTextFile(plotlyBundlePath());
const notebook = JSON.parse(await Deno.readTextFile(new URL("project.out.ipynb", fixtures)));
let inlined = 0;
for (const cell of notebook.cells) {
  for (const output of cell.outputs ?? []) {
    const html = output.data?.["text/html"];
    if (html === undefined) continue;
    const text = Array.isArray(html) ? html.join("") : html;
    if (STAND_IN.test(text)) {
      output.data["text/html"] = text.replace(STAND_IN, () => plotly);
      inlined++;
    }
  }
}
if (inlined === 0) throw new Error("the fixture no longer has the plotly.js stand-in");
const executed = JSON.stringify(notebook);

const work = await Deno.makeTempDir({ prefix: "nn-site-bench-" });
const sources = join(work, "notebooks");
await Deno.mkdir(sources);
for (let i = 1; i <= 12; i++) {
  await Deno.copyFile(
    new URL("project.ipynb", fixtures),
    join(sources, `${String(i).padStart(2, "0")}_topic.ipynb`),
  );
}
await build({
  sources: [sources],
  outDir: join(work, "out"),
  siteDir: join(work, "site"),
  log: () => {},
  runner: async (request: RunRequest) => {
    for (const source of request.sources) {
      await Deno.writeTextFile(join(request.outDir, source.split("/").pop()!), executed);
    }
    return { code: 0 };
  },
});

Deno.bench("site: 12 executed fixtures (5 MB each) → site/", { n: 5, warmup: 1 }, async () => {
  const result = await build({
    sources: [sources],
    outDir: join(work, "out"),
    siteDir: join(work, "site"),
    noExecute: true,
    log: () => {},
  });
  if (result.notebooks.length !== 12 || result.notebooks.some((n) => !n.trusted)) {
    throw new Error("the bench site is not what it should be");
  }
});

const root = new URL("../../", import.meta.url).pathname;
const own = await findNotebooks([join(root, "notebooks")]).catch(() => [] as string[]);
const haveCopies = own.length > 0 &&
  own.every((p) => {
    try {
      return Deno.statSync(join(root, "out", p.split("/").pop()!)).isFile;
    } catch {
      return false;
    }
  });
if (!haveCopies) console.log("notebooks/ bench skipped: run `deno task run` first to fill out/");

Deno.bench({
  name: `site: notebooks/ (${own.length}) from out/ → site/`,
  ignore: !haveCopies,
  n: 3,
  warmup: 1,
  async fn() {
    await build({
      sources: [join(root, "notebooks")],
      outDir: join(root, "out"),
      siteDir: join(work, "own-site"),
      noExecute: true,
      log: () => {},
    });
  },
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(work, { recursive: true });
});
