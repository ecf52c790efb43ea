/**
 * The library fixture: a notebook that imports "nn" by its alias, shows a chart and states a
 * claim runs with the chart bundle and the claim in its outputs, and the report lists them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunReport } from "../../kernel/report.ts";
import { type Output, readNotebook } from "../../kernel/notebook.ts";
import { FIXTURES, nbformatAvailable, nbformatErrors, runCli } from "./helpers.ts";

const PLOTLY = "application/vnd.plotly.v1+json";
const CLAIM = "application/vnd.neural-notebooks.claim+json";
const BACKEND = "application/vnd.neural-notebooks.backend+json";

const withMime = (outputs: Output[], mime: string) =>
  outputs.filter((o) => o.data && mime in o.data);

Deno.test("the library fixture executes with its chart bundle and claim in the outputs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "library-test-" });
  try {
    const source = join(FIXTURES, "library_chart.ipynb");
    const [pass, fail] = await Promise.all([
      runCli(["--out", join(dir, "pass"), "--profile", "smoke", source]),
      runCli(["--out", join(dir, "fail"), "-p", "minDrop=10", source]),
    ]);
    assert.equal(pass.code, 0, pass.stderr);
    const nb = await readNotebook(join(dir, "pass", "library_chart.ipynb"));
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    const [chart] = withMime(outputs, PLOTLY);
    assert.ok(chart, "a chart output");
    const figure = chart.data![PLOTLY] as { data: { y: number[] }[] };
    assert.deepEqual(figure.data[0].y, [0.9, 0.55, 0.4, 0.3]);
    assert.match(String(chart.data!["text/html"]), /Plotly/);
    assert.match(String(chart.data!["text/plain"]), /Loss/);
    const [claim] = withMime(outputs, CLAIM);
    assert.equal((claim.data![CLAIM] as { id: string }).id, "loss-falls");
    assert.equal((claim.data![CLAIM] as { pass: boolean }).pass, true);
    assert.equal(withMime(outputs, BACKEND).length, 1);

    const report: RunReport = JSON.parse(await Deno.readTextFile(join(dir, "pass", "report.json")));
    const [entry] = report.notebooks;
    assert.equal(entry.status, "ok");
    assert.deepEqual(entry.claims.map((c) => [c.id, c.pass]), [["loss-falls", true]]);
    assert.equal((entry.backend as { backend: string }).backend, "cpu");
    assert.deepEqual(entry.parameters, { profile: "smoke" });
    assert.match(
      await Deno.readTextFile(join(dir, "pass", "report.md")),
      /\| loss-falls \| 0\.6 \| ≥ 0\.1 \| yes \| cpu \|/,
    );

    assert.equal(fail.code, 1, "a failed claim fails the run");
    const failed: RunReport = JSON.parse(await Deno.readTextFile(join(dir, "fail", "report.json")));
    assert.equal(failed.notebooks[0].status, "claims failed");
    assert.equal(failed.summary.claims.failed, 1);
    if (nbformatAvailable) {
      assert.equal(await nbformatErrors(join(dir, "pass", "library_chart.ipynb")), "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
