/**
 * The Transformer notebook runs headless in the smoke profile through the project's runner
 * with every claim holding (see ./smoke.ts).
 */
import { runSmoke } from "./smoke.ts";

// Smoke-profile claims; the full profile replaces encoder-beats-chance with
// encoder-beats-afinn and decoder-beats-unigram with decoder-beats-unigram-by-1-bit.
const EXPECTED_CLAIMS = [
  "attention-by-hand-matches-layer",
  "multi-head-block-by-hand-matches-library",
  "causal-gradient-exactly-zero",
  "causal-past-gradient-nonzero",
  "sinusoid-dot-depends-on-distance-only",
  "afinn-in-reported-range",
  "sentence-attention-on-own-words",
  "encoder-beats-chance",
  "decoder-beats-unigram",
  "transformer-beats-lstm-at-longest-distance",
];

Deno.test("04_transformers runs in the smoke profile with every claim holding", async () => {
  // 12 result charts (attention by hand ×2, causal gradients, position table, dot vs
  // distance, training curves, accuracy bars, two sentence heatmaps, character curves
  // (a note in smoke), timing, recall) besides the live training-progress charts
  await runSmoke("04_transformers.ipynb", {
    claims: EXPECTED_CLAIMS,
    minCharts: 12,
    models: ["characters"],
  });
});
