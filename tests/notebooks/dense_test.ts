/**
 * The dense-networks notebook runs headless in the smoke profile through the project's
 * runner (`kernel/run.ts`, a real Deno kernel), without errors, and every claim holds.
 * The backend is the automatic choice unless NN_BACKEND says otherwise.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readNotebook } from "../../kernel/notebook.ts";
import { extractBackend, extractClaims } from "../../kernel/report.ts";

const root = new URL("../../", import.meta.url).pathname;
const source = join(root, "notebooks", "01_dense_networks.ipynb");

const EXPECTED_CLAIMS = [
  "parameter-formula-matches-tfjs",
  "depth-vs-width-same-budget",
  "best-test-accuracy",
  "time-grows-with-flops",
  "gap-widens-with-capacity",
  "largest-net-memorises",
  "more-data-higher-accuracy",
  "error-power-law",
  "blank-pixels-never-learn",
];

Deno.test("01_dense_networks runs in the smoke profile with every claim holding", async () => {
  const before = await Deno.readTextFile(source);
  const out = await Deno.makeTempDir({ prefix: "nn-dense-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "kernel/run.ts", "--profile", "smoke", "--quiet", "--out", out, source],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `the runner failed:\n${log}`);
    const nb = await readNotebook(join(out, "01_dense_networks.ipynb"));
    const errors = nb.cells.flatMap((c) => c.cell_type === "code" ? (c.outputs ?? []) : [])
      .filter((o) => o.output_type === "error");
    assert.deepEqual(errors, [], "no cell raised");
    const claims = extractClaims(nb);
    assert.deepEqual(claims.map((c) => c.id).sort(), [...EXPECTED_CLAIMS].sort());
    for (const c of claims) {
      assert.ok(c.pass, `claim ${c.id} failed: ${JSON.stringify(c.value)} ${c.ruleText ?? ""}`);
    }
    const backend = extractBackend(nb) as { backend?: string } | null;
    assert.ok(backend?.backend, "the notebook reports its backend");
    assert.ok(claims.every((c) => c.backend === backend.backend), "claims carry the backend");
    // charts: one per section at least (params, budget, compute, overfit, curve, picture)
    const charts = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
      o.output_type === "execute_result" &&
      (o as { data?: Record<string, unknown> }).data?.["application/vnd.plotly.v1+json"]
    );
    assert.ok(charts.length >= 6, `${charts.length} charts`);
    assert.equal(await Deno.readTextFile(source), before, "the source notebook is untouched");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
