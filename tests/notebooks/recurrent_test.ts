/**
 * The recurrent-networks notebook runs headless in the smoke profile through the project's
 * runner with every claim holding (see ./smoke.ts).
 */
import { runSmoke } from "./smoke.ts";

// Smoke-profile claims; the full profile replaces gated-beat-mean-at-short-T with
// simple-rnn-fails-where-gated-solve and adds lstm-first-step-gradient-orders-larger.
const EXPECTED_CLAIMS = [
  "parameter-formulas-match-tfjs",
  "unroll-matches-tfjs",
  "simple-gradient-within-bound",
  "gated-beat-mean-at-short-T",
  "gru-lstm-within-10-points", // the full profile's gru-lstm-accuracy-comparable is ≤ 3 points
  "char-model-beats-unigram",
];

Deno.test("03_recurrent_networks runs in the smoke profile with every claim holding", async () => {
  // one chart per section: parameters, unrolling, gradients, adding, sentences, characters
  await runSmoke("03_recurrent_networks.ipynb", { claims: EXPECTED_CLAIMS, minCharts: 6 });
});
