/**
 * The dense-networks notebook runs headless in the smoke profile through the project's runner
 * with every claim holding (see ./smoke.ts).
 */
import { runSmoke } from "./smoke.ts";

const EXPECTED_CLAIMS = [
  "parameter-formula-matches-tfjs",
  "depth-vs-width-same-budget",
  "best-test-accuracy",
  "time-grows-with-flops",
  "gap-opens-when-the-net-fits",
  "gap-stops-widening-past-fit",
  "largest-net-memorises",
  "more-data-higher-accuracy",
  "error-power-law",
  "blank-pixels-never-learn",
];

Deno.test("01_dense_networks runs in the smoke profile with every claim holding", async () => {
  // charts: one figure per section at least (params, budget, compute, overfit, curve, picture)
  // and the two live training charts of section 2; since the display rule every chart is a
  // display, none is a cell's result
  await runSmoke("01_dense_networks.ipynb", {
    claims: EXPECTED_CLAIMS,
    minCharts: 8,
  });
});
