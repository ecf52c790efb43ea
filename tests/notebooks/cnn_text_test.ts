/**
 * The CNN text notebook runs headless in the smoke profile through the project's runner
 * with every claim holding (see ./smoke.ts).
 */
import assert from "node:assert/strict";
import { runSmoke } from "./smoke.ts";

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
  // parameters, hand convolution, curves, confusion, baselines, filters, widths, transfer,
  // side by side
  const nb = await runSmoke("05_cnn_text_models.ipynb", { claims: EXPECTED_CLAIMS, minCharts: 9 });
  // section 4 shows the filters' n-grams as an HTML table and highlighted sentences
  const html = nb.cells.flatMap((c) => c.outputs ?? []).map((o) =>
    String((o as { data?: Record<string, unknown> }).data?.["text/html"] ?? "")
  );
  assert.ok(html.some((h) => h.includes("<table>") && h.includes("top n-grams")), "n-gram table");
  assert.ok(html.some((h) => h.includes("<mark>")), "highlighted sentences");
});
