/**
 * The sparse-networks notebook runs headless in the smoke profile through the project's runner
 * with every claim holding (see ./smoke.ts).
 */
import { runSmoke } from "./smoke.ts";

/** The smoke profile's claims (the full profile adds large-sparse-beats-small-dense). */
const EXPECTED_CLAIMS = [
  "gradual-80-within-1-point",
  "sparsity-exact",
  "gradual-not-worse-than-one-shot-90",
  "dropout-narrows-loss-gap",
  "moe-active-fraction",
  "balancing-evens-expert-load",
  "csr-round-trip-exact",
];

Deno.test("02_sparse_networks runs in the smoke profile with every claim holding", async () => {
  // charts: schedule, accuracy vs sparsity, learning rates, thresholds, histogram, two masks,
  // large vs small, dropout, expert load, bytes, timing; and the live training charts of the
  // dense network and the mixture of experts (since the display rule every chart is a display)
  await runSmoke("02_sparse_networks.ipynb", {
    claims: EXPECTED_CLAIMS,
    minCharts: 14,
    models: ["digits"],
  });
});
