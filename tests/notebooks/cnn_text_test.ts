/**
 * The CNN text notebook runs headless in the smoke profile through the project's
 * runner (`kernel/run.ts`, a real Deno kernel), without errors, and every claim holds.
 * The backend is the automatic choice unless NN_BACKEND says otherwise.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readNotebook } from "../../kernel/notebook.ts";
import { extractBackend, extractClaims } from "../../kernel/report.ts";

const root = new URL("../../", import.meta.url).pathname;
const source = join(root, "notebooks", "05_cnn_text_models.ipynb");

// Smoke-profile claims; the full profile adds cross-domain-costs-accuracy and tightens
// cnn-beats-afinn (≥ 3 points), multiwidth-at-least-width1 (≥ 0), top-ngrams-hold-afinn-words
// (≥ 2× the base rate) and cnn-competitive (≥ −3 points).
const EXPECTED_CLAIMS = [
  "parameter-formula-matches-tfjs",
  "receptive-field-matches-gradient",
  "hand-convolution-matches-layers",
  "cnn-beats-afinn",
  "top-ngrams-hold-afinn-words",
  "multiwidth-at-least-width1",
  "cross-domain-above-chance",
  "cnn-competitive",
];

Deno.test("05_cnn_text_models runs in the smoke profile with every claim holding", async () => {
  const before = await Deno.readTextFile(source);
  const out = await Deno.makeTempDir({ prefix: "nn-cnn-text-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "kernel/run.ts", "--profile", "smoke", "--quiet", "--out", out, source],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `the runner failed:\n${log}`);
    const nb = await readNotebook(join(out, "05_cnn_text_models.ipynb"));
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
    // parameters, hand convolution, curves, confusion, baselines, filters, widths, transfer,
    // side by side
    const charts = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
      (o.output_type === "execute_result" || o.output_type === "display_data") &&
      (o as { data?: Record<string, unknown> }).data?.["application/vnd.plotly.v1+json"]
    );
    assert.ok(charts.length >= 9, `${charts.length} charts`);
    // section 4 shows the filters' n-grams as an HTML table and highlighted sentences
    const html = nb.cells.flatMap((c) => c.outputs ?? []).map((o) =>
      String((o as { data?: Record<string, unknown> }).data?.["text/html"] ?? "")
    );
    assert.ok(html.some((h) => h.includes("<table>") && h.includes("top n-grams")), "n-gram table");
    assert.ok(html.some((h) => h.includes("<mark>")), "highlighted sentences");
    assert.equal(await Deno.readTextFile(source), before, "the source notebook is untouched");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
