/**
 * `build` with the project's real runner (kernel/run.ts, a Deno kernel per notebook): a
 * tiny notebook that imports the library is executed once into out/, rendered with its
 * chart drawn from JSON (the plotly.js the kernel inlined is not copied), then reused
 * without running again while its source is unchanged.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { build } from "../../kernel/site/build.ts";

const root = new URL("../../", import.meta.url).pathname;
const runnerPresent = await Deno.stat(join(root, "kernel/run.ts")).then(() => true, () => false);
if (!runnerPresent) console.log("runner build test skipped: kernel/run.ts is missing");

const notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {
    kernelspec: {
      name: "neural-notebooks",
      display_name: "Neural Notebooks (Deno)",
      language: "typescript",
    },
  },
  cells: [
    {
      id: "t",
      cell_type: "markdown",
      metadata: {},
      source: "# Runner smoke\n\nOne chart, one claim.",
    },
    {
      id: "p",
      cell_type: "code",
      metadata: { tags: ["parameters"] },
      source: 'let profile = "smoke";\nlet seed = 0;',
      outputs: [],
      execution_count: null,
    },
    {
      id: "chart",
      cell_type: "code",
      metadata: {},
      source: 'import * as nn from "nn";\nconsole.log("\\x1b[32mgreen\\x1b[0m");\n' +
        'nn.show(nn.lineChart({ title: "t", series: [{ name: "a", y: [1, 2, 3] }] }))',
      outputs: [],
      execution_count: null,
    },
    {
      id: "claim",
      cell_type: "code",
      metadata: {},
      source: 'nn.claim("three-points", 3, { equals: 3 })',
      outputs: [],
      execution_count: null,
    },
  ],
};

Deno.test({
  name: "build with the real runner: executes once, renders, then reuses the fresh copy",
  ignore: !runnerPresent,
  sanitizeResources: false,
  async fn() {
    // Inside the project (under the ignored out/), so that the kernel finds deno.json and "nn".
    await Deno.mkdir(join(root, "out"), { recursive: true });
    const dir = await Deno.makeTempDir({ dir: join(root, "out"), prefix: ".site-runner-test-" });
    try {
      await Deno.mkdir(join(dir, "notebooks"));
      await Deno.writeTextFile(join(dir, "notebooks/smoke.ipynb"), JSON.stringify(notebook));
      const opts = {
        sources: [join(dir, "notebooks")],
        outDir: join(dir, "out"),
        siteDir: join(dir, "site"),
        log: () => {},
      };
      const first = await build(opts);
      assert.equal(first.ran.length, 1);
      const [nb] = first.notebooks;
      assert.deepEqual(
        [nb.page, nb.trusted, nb.executed, nb.summary.status, nb.summary.charts],
        ["smoke.html", true, true, "ok", 1],
      );
      assert.deepEqual(nb.summary.claims.map((c) => [c.id, c.pass]), [["three-points", true]]);
      const executed = await Deno.readTextFile(join(dir, "out/smoke.ipynb"));
      assert.match(executed, /plotly\.js v\d/, "the kernel inlined plotly.js in the first chart");
      const page = await Deno.readTextFile(join(dir, "site/smoke.html"));
      assert.doesNotMatch(page, /plotly\.js v\d/, "the page does not copy it");
      assert.ok(page.length < 50_000, `page is small (${page.length} characters)`);
      assert.match(page, /<figure class="nn-chart">/);
      assert.match(page, /<span style="color:rgb\(0,187,0\)">green<\/span>/);

      const second = await build(opts);
      assert.deepEqual(second.ran, [], "a fresh copy is not executed again");
      assert.equal(second.notebooks[0].trusted, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "deno task run with no flags, then build --no-execute: every page is the project's own and fresh",
  ignore: !runnerPresent,
  sanitizeResources: false,
  async fn() {
    await Deno.mkdir(join(root, "out"), { recursive: true });
    const dir = await Deno.makeTempDir({ dir: join(root, "out"), prefix: ".site-runner-test-" });
    try {
      await Deno.mkdir(join(dir, "notebooks"));
      await Deno.writeTextFile(join(dir, "notebooks/smoke.ipynb"), JSON.stringify(notebook));
      const runner = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "kernel/run.ts",
          "--quiet",
          "--out",
          join(dir, "out"),
          join(dir, "notebooks"),
        ],
        cwd: root,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(runner.code, 0, new TextDecoder().decode(runner.stderr));
      const executed = JSON.parse(await Deno.readTextFile(join(dir, "out/smoke.ipynb")));
      assert.equal(
        executed.metadata["neural-notebooks"].run.profile,
        "smoke",
        "the runner records the profile it ran with, the notebook's default included",
      );
      const result = await build({
        sources: [join(dir, "notebooks")],
        outDir: join(dir, "out"),
        siteDir: join(dir, "site"),
        noExecute: true,
        log: () => {},
      });
      assert.deepEqual(
        result.notebooks.map((n) => [n.page, n.trusted, n.stale]),
        [["smoke.html", true, false]],
      );
      assert.deepEqual(result.missing, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
