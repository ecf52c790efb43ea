/**
 * The sparse-networks notebook runs headless in the smoke profile through the project's
 * runner (`kernel/run.ts`, a real Deno kernel), without errors, and every claim holds.
 * The backend is the automatic choice unless NN_BACKEND says otherwise.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readNotebook } from "../../kernel/notebook.ts";
import { extractBackend, extractClaims } from "../../kernel/report.ts";

const root = new URL("../../", import.meta.url).pathname;
const source = join(root, "notebooks", "02_sparse_networks.ipynb");

/** The smoke profile's claims (the full profile adds the two its larger runs can show). */
const EXPECTED_CLAIMS = [
  "gradual-80-within-1-point",
  "sparsity-exact",
  "gradual-beats-one-shot-90",
  "dropout-narrows-loss-gap",
  "moe-active-fraction",
  "balancing-evens-expert-load",
  "csr-round-trip-exact",
];

Deno.test("02_sparse_networks runs in the smoke profile with every claim holding", async () => {
  const before = await Deno.readTextFile(source);
  const out = await Deno.makeTempDir({ prefix: "nn-sparse-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "kernel/run.ts", "--profile", "smoke", "--quiet", "--out", out, source],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `the runner failed:\n${log}`);
    const nb = await readNotebook(join(out, "02_sparse_networks.ipynb"));
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
    // charts: schedule, accuracy vs sparsity, learning rates, thresholds, histogram, two masks,
    // large vs small, dropout, expert load, bytes, timing
    const charts = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
      o.output_type === "execute_result" &&
      (o as { data?: Record<string, unknown> }).data?.["application/vnd.plotly.v1+json"]
    );
    assert.ok(charts.length >= 12, `${charts.length} charts`);
    assert.equal(await Deno.readTextFile(source), before, "the source notebook is untouched");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
