/**
 * kernel/site/build.ts with a stand-in runner (real kernels are the runner's tests'
 * business): only stale notebooks run, freshness and trust by content hash, --no-execute,
 * the site swapped in whole, plotly.js shipped once, exit codes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { build, main, type RunRequest } from "../../kernel/site/build.ts";
import { plotlyBundlePath, SITE_MARKER } from "../../kernel/site/export.ts";
import { fileSha256, MANIFEST_NAME, readManifest } from "../../kernel/site/manifest.ts";

const fixtures = new URL("../fixtures/site/", import.meta.url);
const executedFixture = await Deno.readTextFile(new URL("project.out.ipynb", fixtures));
const sourceFixture = new URL("project.ipynb", fixtures).pathname;
const thirdParty = new URL("third_party.ipynb", fixtures).pathname;

/** A runner that "executes" each source by writing the executed fixture, numbered per run. */
function fakeRunner(options: { skip?: string[]; allPass?: boolean } = {}) {
  const calls: RunRequest[] = [];
  const runner = async (request: RunRequest) => {
    calls.push(request);
    for (const source of request.sources) {
      const name = source.split("/").pop()!;
      if (options.skip?.includes(name)) continue;
      const nb = JSON.parse(
        options.allPass
          ? executedFixture.replaceAll('"pass": false', '"pass": true')
          : executedFixture,
      );
      nb.metadata.run = calls.length;
      await Deno.writeTextFile(join(request.outDir, name), JSON.stringify(nb));
    }
    return { code: 0 };
  };
  return { runner, calls };
}

async function workspace(): Promise<{ dir: string; src: string; out: string; site: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nn-build-" });
  const src = join(dir, "notebooks");
  await Deno.mkdir(src);
  await Deno.copyFile(sourceFixture, join(src, "a.ipynb"));
  await Deno.copyFile(sourceFixture, join(src, "b.ipynb"));
  return { dir, src, out: join(dir, "out"), site: join(dir, "site") };
}

const quiet = () => {};

Deno.test("build: runs missing copies, then reuses fresh ones; re-runs only an edited source", async () => {
  const ws = await workspace();
  try {
    const fake = fakeRunner();
    const opts = {
      sources: [ws.src],
      outDir: ws.out,
      siteDir: ws.site,
      runner: fake.runner,
      log: quiet,
    };
    const first = await build(opts);
    assert.equal(fake.calls.length, 1);
    assert.deepEqual(fake.calls[0].sources.map((s) => s.split("/").pop()), ["a.ipynb", "b.ipynb"]);
    assert.deepEqual(first.notebooks.map((n) => [n.page, n.trusted, n.stale, n.executed]), [
      ["a.html", true, false, true],
      ["b.html", true, false, true],
    ]);
    const manifest = await readManifest(ws.out);
    assert.equal(manifest.notebooks["a.ipynb"].sourceSha256, await fileSha256(sourceFixture));
    assert.equal(
      manifest.notebooks["a.ipynb"].executedSha256,
      await fileSha256(join(ws.out, "a.ipynb")),
    );

    const second = await build(opts);
    assert.equal(fake.calls.length, 1, "fresh copies are not executed again");
    assert.deepEqual(second.ran, []);
    assert.ok(second.notebooks.every((n) => n.trusted && !n.stale && !n.executed));

    await Deno.writeTextFile(
      join(ws.src, "b.ipynb"),
      (await Deno.readTextFile(join(ws.src, "b.ipynb"))).replace(
        "const seed = 1;",
        "const seed = 2;",
      ),
    );
    const third = await build(opts);
    assert.equal(fake.calls.length, 2);
    assert.deepEqual(fake.calls[1].sources.map((s) => s.split("/").pop()), ["b.ipynb"]);
    assert.deepEqual(third.ran.map((s) => s.split("/").pop()), ["b.ipynb"]);

    await build({ ...opts, force: true });
    assert.equal(fake.calls[2].sources.length, 2, "--force runs everything");
    assert.equal(fake.calls[2].profile, undefined, "no --profile: the notebooks' own");
    assert.equal(
      (await readManifest(ws.out)).notebooks["a.ipynb"].profile,
      "smoke",
      "the manifest records the profile the copy ran with: the notebook's default",
    );
    await build({ ...opts, profile: "smoke" });
    assert.equal(fake.calls.length, 3, "the notebooks' own profile, asked for: still fresh");
    await build({ ...opts, profile: "full" });
    assert.equal(fake.calls[3].profile, "full");
    assert.equal(fake.calls[3].sources.length, 2, "a copy made with another profile is stale");
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});

Deno.test("build: --no-execute uses what is there; stale, tampered and missing copies are told apart", async () => {
  const ws = await workspace();
  try {
    const fake = fakeRunner();
    const opts = {
      sources: [ws.src],
      outDir: ws.out,
      siteDir: ws.site,
      runner: fake.runner,
      log: quiet,
    };
    await build(opts);
    // a: source edited after execution (stale but ours); b: executed copy edited by hand.
    await Deno.writeTextFile(
      join(ws.src, "a.ipynb"),
      (await Deno.readTextFile(sourceFixture)) + "\n",
    );
    const b = join(ws.out, "b.ipynb");
    await Deno.writeTextFile(b, (await Deno.readTextFile(b)).replace("loss-falls", "loss-rises"));
    await Deno.copyFile(sourceFixture, join(ws.src, "c.ipynb"));

    const result = await build({ ...opts, noExecute: true });
    assert.equal(fake.calls.length, 1, "--no-execute runs nothing");
    const [a, bb] = result.notebooks;
    assert.deepEqual([a.page, a.trusted, a.stale], ["a.html", true, true]);
    assert.deepEqual([bb.page, bb.trusted], ["b.html", false], "a hand-edited copy is third-party");
    assert.deepEqual(result.missing.map((s) => s.split("/").pop()), ["c.ipynb"]);
    const aPage = await Deno.readTextFile(join(ws.site, "a.html"));
    assert.match(aPage, /changed after these outputs were made/);
    const bPage = await Deno.readTextFile(join(ws.site, "b.html"));
    assert.match(bPage, /Content-Security-Policy/);
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});

Deno.test("build: a notebook the runner did not write is reported missing", async () => {
  const ws = await workspace();
  try {
    const lines: string[] = [];
    const fake = fakeRunner({ skip: ["b.ipynb"] });
    const result = await build({
      sources: [ws.src],
      outDir: ws.out,
      siteDir: ws.site,
      runner: fake.runner,
      log: (l) => lines.push(l),
    });
    assert.deepEqual(result.missing.map((s) => s.split("/").pop()), ["b.ipynb"]);
    assert.ok(lines.some((l) => /wrote no executed copy of .*b\.ipynb/.test(l)), lines.join("\n"));
    assert.deepEqual(Object.keys((await readManifest(ws.out)).notebooks), ["a.ipynb"]);
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});

Deno.test("build: the site is written whole, plotly.js once, old pages go, foreign folders are kept", async () => {
  const ws = await workspace();
  try {
    const fake = fakeRunner();
    const opts = {
      sources: [ws.src],
      outDir: ws.out,
      siteDir: ws.site,
      runner: fake.runner,
      log: quiet,
    };
    await build({ ...opts, untrusted: [thirdParty] });
    const files = [...Deno.readDirSync(ws.site)].map((e) => e.name).sort();
    assert.deepEqual(files, [
      SITE_MARKER,
      "a.html",
      "b.html",
      "index.html",
      "katex",
      "plotly.min.js",
      "site.css",
      "site.js",
      "third_party.html",
    ]);
    assert.equal(
      await fileSha256(join(ws.site, "plotly.min.js")),
      await fileSha256(plotlyBundlePath()),
    );
    for (const page of files.filter((f) => f.endsWith(".html"))) {
      const html = await Deno.readTextFile(join(ws.site, page));
      assert.match(html, /<script src="plotly\.min\.js" defer><\/script>/, page);
      assert.doesNotMatch(
        html,
        /__inlinePlotlyRan|plotly\.js v\d/,
        `${page} copies no inlined plotly.js`,
      );
    }
    assert.match(await Deno.readTextFile(join(ws.site, "site.css")), /\.hljs-keyword/);
    const fonts = [...Deno.readDirSync(join(ws.site, "katex/fonts"))].map((e) => e.name);
    assert.ok(fonts.includes("KaTeX_Main-Regular.woff2"), "KaTeX fonts are shipped");

    await Deno.remove(join(ws.src, "b.ipynb"));
    await build(opts);
    assert.ok(!(await exists(join(ws.site, "b.html"))), "the page of a removed notebook goes");
    assert.ok(!(await exists(join(ws.site, "third_party.html"))));
    const leftovers = [...Deno.readDirSync(ws.dir)].map((e) => e.name).filter((n) =>
      n.startsWith(".")
    );
    assert.deepEqual(leftovers, [], "no staging folders left behind");

    const foreign = join(ws.dir, "mine");
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(join(foreign, "keep.txt"), "mine");
    await assert.rejects(build({ ...opts, siteDir: foreign }), /not written by the site build/);
    assert.equal(await Deno.readTextFile(join(foreign, "keep.txt")), "mine");
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { code: await main(args), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("build CLI: exit 0 when all ok, 1 when a claim fails or a copy is missing, 2 on bad arguments", async () => {
  const ws = await workspace();
  try {
    const opts = { sources: [ws.src], outDir: ws.out, siteDir: ws.site, log: quiet };
    await build({ ...opts, runner: fakeRunner().runner });
    const failing = await cli(["--no-execute", "--out", ws.out, "--site", ws.site, ws.src]);
    assert.equal(failing.code, 1, "a failed claim fails the build, as it fails the runner");
    assert.match(failing.out, /a\.html: claims failed, 1\/2 claims pass/);

    await build({ ...opts, runner: fakeRunner({ allPass: true }).runner, force: true });
    const ok = await cli(["--no-execute", "--out", ws.out, "--site", ws.site, ws.src]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /a\.html: ok, 2\/2 claims pass/);
    assert.match(ok.out, /index\.html \(2 pages/);

    await Deno.copyFile(sourceFixture, join(ws.src, "c.ipynb"));
    const missing = await cli(["--no-execute", "--out", ws.out, "--site", ws.site, ws.src]);
    assert.equal(missing.code, 1, missing.out);
    assert.match(missing.out, /missing: .*c\.ipynb has no executed copy/);

    assert.equal((await cli(["--jobs", "zero"])).code, 2);
    assert.equal((await cli(["--no-execute", "--force"])).code, 2);
    assert.equal((await cli(["--bogus"])).code, 2);
    assert.ok(await exists(join(ws.out, MANIFEST_NAME)));
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});

Deno.test("build: third-party notebooks with error outputs show as errors; a sweep's claims across runs are charted", async () => {
  const ws = await workspace();
  try {
    // A third-party notebook (executed elsewhere, e.g. nbconvert --allow-errors) with error
    // outputs in two cells, and one whose only error is in a raises-exception cell.
    const nb = JSON.parse(await Deno.readTextFile(thirdParty));
    const error = (evalue: string) => ({
      output_type: "error",
      ename: "ZeroDivisionError",
      evalue,
      traceback: ["Traceback", evalue],
    });
    nb.cells[1].outputs.push(error("division by zero"));
    nb.cells[2].outputs = [error("again")];
    const failing = join(ws.dir, "failing_third_party.ipynb");
    await Deno.writeTextFile(failing, JSON.stringify(nb));
    const expected = structuredClone(nb);
    expected.cells[1].outputs.pop();
    expected.cells[2].metadata.tags = ["raises-exception"];
    const fine = join(ws.dir, "expected_error.ipynb");
    await Deno.writeTextFile(fine, JSON.stringify(expected));
    const report = {
      format: 1,
      aggregate: [{
        notebook: "notebooks/a.ipynb",
        group: {},
        id: "ratio",
        rule: { lessThan: 1 / 6 },
        ruleText: `< ${1 / 6}`,
        runs: 3,
        passes: 2,
        missing: 0,
        values: [0.1, 0.12, 0.2].map((value, seed) => ({ seed, value, pass: value < 1 / 6 })),
        stats: { n: 3, median: 0.12, min: 0.1, max: 0.2, mean: 0.14, sd: 0.05, ci95: [0.01, 0.27] },
        verdict: "fragile",
      }],
    };
    const reportPath = join(ws.dir, "report.json");
    await Deno.writeTextFile(reportPath, JSON.stringify(report));
    const fake = fakeRunner();
    const result = await build({
      sources: [ws.src],
      outDir: ws.out,
      siteDir: ws.site,
      runner: fake.runner,
      log: quiet,
      untrusted: [failing, fine],
      report: reportPath,
    });
    const byPage = new Map(result.notebooks.map((n) => [n.page, n.summary.status]));
    assert.equal(byPage.get("failing_third_party.html"), "error");
    assert.equal(byPage.get("expected_error.html"), "ok");
    const index = await Deno.readTextFile(join(ws.site, "index.html"));
    const row = index.split("\n").find((l) => l.includes('href="failing_third_party.html"'))!;
    assert.match(row, /nn-badge fail">error</);
    assert.match(index, /<h2 id="claims-across-runs">Claims across runs<\/h2>/);
    assert.match(index, /<td class="num">2\/3<\/td>/);
    assert.match(index, /nn-badge warn">fragile</);
    assert.match(index, /<td>&lt; 0\.1667<\/td>/, "the rule reads rounded");
    assert.doesNotMatch(index, /&lt; 0\.16666/);
    const figure = /class="nn-figure">(.*?)<\/script>/s.exec(
      index.slice(index.indexOf("claims-across-runs")),
    )!;
    const fig = JSON.parse(figure[1]);
    assert.deepEqual(fig.data[1].y, [0.1, 0.12, 0.2], "each run is a point of the strip chart");
    assert.equal(fig.layout.shapes[0].y0, 1 / 6, "the rule's threshold is drawn");
    await assert.rejects(
      build({
        sources: [ws.src],
        outDir: ws.out,
        siteDir: ws.site,
        noExecute: true,
        log: quiet,
        report: failing,
      }),
      /not the report of a sweep/,
    );
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});

Deno.test("build CLI: --untrusted takes several files (a shell glob) and folders", async () => {
  const ws = await workspace();
  try {
    const opts = { sources: [ws.src], outDir: ws.out, siteDir: ws.site, log: quiet };
    await build({ ...opts, runner: fakeRunner({ allPass: true }).runner });
    const elsewhere = join(ws.dir, "elsewhere");
    await Deno.mkdir(join(elsewhere, "more"), { recursive: true });
    for (const name of ["x.ipynb", "y.ipynb", "more/z.ipynb"]) {
      await Deno.copyFile(thirdParty, join(elsewhere, name));
    }
    // what `--untrusted elsewhere/*.ipynb` becomes after the shell's glob, then a folder
    const globbed = await cli([
      "--no-execute",
      "--out",
      ws.out,
      "--site",
      ws.site,
      ws.src,
      "--untrusted",
      join(elsewhere, "x.ipynb"),
      join(elsewhere, "y.ipynb"),
    ]);
    assert.equal(globbed.code, 0, globbed.out);
    assert.match(globbed.out, /x\.html: .*\(third-party\)/);
    assert.match(globbed.out, /y\.html: .*\(third-party\)/);
    assert.doesNotMatch(globbed.out, /has no executed copy/);
    const folder = await cli([
      "--no-execute",
      "--out",
      ws.out,
      "--site",
      ws.site,
      "--untrusted",
      elsewhere,
      "--title",
      "T",
      ws.src,
    ]);
    assert.equal(folder.code, 0, folder.out);
    for (const page of ["x", "y", "z"]) {
      assert.match(folder.out, new RegExp(`${page}\\.html: .*\\(third-party\\)`));
    }
    assert.match(folder.out, /a\.html: ok/, "a source after the next option is still a source");
  } finally {
    await Deno.remove(ws.dir, { recursive: true });
  }
});
