/**
 * The Transformer-family notebook (encoder–decoder, generation, pre-training then
 * fine-tuning) runs headless in the smoke profile with every claim holding (see ./smoke.ts).
 */
import { runSmoke } from "./smoke.ts";

// Smoke-profile claims; the full profile replaces transformer-learns-characters with
// transformer-exact-match and transformer-ahead-of-lstm-at-half-budget, kv-cache-faster-at-longest
// with kv-cache-speedup-at-64-tokens and beam-not-worse-than-greedy, masked-token-beats-uniform
// with masked-token-beats-unigram, and adds the pre-training comparison. The two by-hand claims
// (cross-attention and one cached decoding step from tf ops, against the model's layers) hold
// in both profiles.
const EXPECTED_CLAIMS = [
  "cross-attention-by-hand-matches-layer",
  "padding-gets-zero-cross-attention",
  "transformer-learns-characters",
  "cached-step-by-hand-matches-model",
  "cached-equals-uncached",
  "kv-cache-faster-at-longest",
  "masked-token-beats-uniform",
];

Deno.test("04b_transformer_family runs in the smoke profile with every claim holding", async () => {
  // 9 result charts (dates curves, exact match by epoch and its bars, two cross-attention
  // heatmaps, tokens/s, greedy vs beam, pre-training curves, fine-tuning bars) and the live
  // training charts
  await runSmoke("04b_transformer_family.ipynb", {
    claims: EXPECTED_CLAIMS,
    minCharts: 9,
    models: ["dates"],
  });
});
