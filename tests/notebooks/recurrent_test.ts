/**
 * The recurrent-networks notebook runs headless in the smoke profile through the project's
 * runner with every claim holding (see ./smoke.ts).
 */
import { runSmoke } from "./smoke.ts";

// Smoke-profile claims; the full profile replaces gated-beat-mean-at-short-T with
// simple-rnn-fails-where-gated-solve and adds simple-gradient-vanishes and
// lstm-first-step-gradient-orders-larger.
const EXPECTED_CLAIMS = [
  "parameter-formulas-match-tfjs",
  "unroll-matches-tfjs", // the simple recurrence written in cells against tfjs's and the fused layer
  "gated-cells-match-tfjs", // the LSTM and GRU equations, the same way
  "bptt-by-hand-matches-tfgrad", // backpropagation through time in cells against tf.grad
  "gated-beat-mean-at-short-T",
  "gru-lstm-within-10-points", // the full profile's gru-lstm-accuracy-comparable is ≤ 3 points
  "char-model-beats-unigram",
];

Deno.test("03_recurrent_networks runs in the smoke profile with every claim holding", async () => {
  // one chart per section: parameters, unrolling, gradients, adding (a note in smoke), sentences,
  // characters
  await runSmoke("03_recurrent_networks.ipynb", { claims: EXPECTED_CLAIMS, minCharts: 6 });
});
