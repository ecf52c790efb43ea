// Experiment helpers of the recurrent notebook: adding-problem data, gradient norms per
// step, the spectral norm, the largest solved length and the profiles.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../lib/kernels/mod.ts";
import { sequenceRegressor } from "../../../lib/models/recurrent.ts";
import * as ex from "../../../lib/experiments/recurrent.ts";

Deno.test("addingProblem: two marks, one per half, target their sum; seeded", async () => {
  await tf.setBackend("cpu");
  const d = ex.addingProblem({ n: 50, length: 11, seed: 3 });
  const x = await d.x.array();
  const y = await d.y.data();
  for (let s = 0; s < 50; s++) {
    const marks = x[s].flatMap((p, t) => p[1] === 1 ? [t] : []);
    assert.equal(marks.length, 2);
    assert.ok(marks[0] < 5 && marks[1] >= 5, `marks ${marks}`);
    assert.ok(Math.abs(y[s] - (x[s][marks[0]][0] + x[s][marks[1]][0])) < 1e-6);
  }
  const again = ex.addingProblem({ n: 50, length: 11, seed: 3 });
  assert.deepEqual(await again.y.data(), y);
  const other = ex.addingProblem({ n: 50, length: 11, seed: 4 });
  assert.notDeepEqual(await other.y.data(), y);
  // the mean predictor's error is Var(u1 + u2) = 1/6
  const big = ex.addingProblem({ n: 20000, length: 4, seed: 0 });
  const mse = (await tf.mean(tf.square(tf.sub(big.y, 1))).data())[0];
  assert.ok(Math.abs(mse - ex.MEAN_PREDICTOR_MSE) < 0.01, `${mse}`);
  [d, again, other, big].forEach((t) => t.dispose());
  assert.throws(() => ex.addingProblem({ n: 1, length: 1, seed: 0 }), /T ≥ 2/);
});

Deno.test("inputGradientNorms: one norm per step, the mean over the batch of ‖∂L/∂x_t‖ from tf.grad", async () => {
  await tf.setBackend("cpu");
  const m = sequenceRegressor({
    input: { features: 2 },
    cell: "simple",
    units: 5,
    outputs: 1,
    seed: 1,
  });
  const d = ex.addingProblem({ n: 16, length: 12, seed: 2 });
  const norms = await ex.inputGradientNorms(m, d.x, d.y);
  assert.equal(norms.length, 12);
  // the same from tfjs's layer on the model's weights (the model runs the library's fused layer)
  const ref = sequenceRegressor({
    input: { features: 2 },
    cell: "simple",
    units: 5,
    outputs: 1,
    seed: 1,
    implementation: "layers",
  });
  ref.setWeights(m.getWeights());
  const g = tf.grad((xs: tf.Tensor) => tf.losses.meanSquaredError(d.y, ref.apply(xs) as tf.Tensor))(
    d.x,
  );
  const perStep = await tf.mean(tf.norm(g, "euclidean", 2), 0).data();
  norms.forEach((v, t) =>
    assert.ok(
      v > 0 && Math.abs(v - perStep[t]) <= 1e-4 * perStep[t],
      `t=${t}: ${v} vs ${perStep[t]}`,
    )
  );
  tf.dispose(g);
  d.dispose();
  m.dispose();
  ref.dispose();
});

Deno.test("spectralNorm is the largest singular value", async () => {
  await tf.setBackend("cpu");
  assert.ok(Math.abs(await ex.spectralNorm(tf.tensor2d([[3, 0], [0, -4]])) - 4) < 1e-9);
  // a rank-one matrix u vᵀ has ‖u‖‖v‖ as its only non-zero singular value
  const rankOne = tf.outerProduct(tf.tensor1d([1, 2, 2]), tf.tensor1d([3, 4]));
  assert.ok(Math.abs(await ex.spectralNorm(rankOne) - 15) < 1e-9);
  // a rotation stretches nothing
  const c = Math.cos(0.3), s = Math.sin(0.3);
  assert.ok(Math.abs(await ex.spectralNorm(tf.tensor2d([[c, -s], [s, c]])) - 1) < 1e-6);
  await assert.rejects(() => ex.spectralNorm(tf.ones([2, 2, 2])), /matrix/);
});

Deno.test("largestSolvedLength picks the largest T where every listed cell is below the threshold", () => {
  const runs = [
    { cell: "lstm" as const, length: 10, valMse: 0.01 },
    { cell: "gru" as const, length: 10, valMse: 0.02 },
    { cell: "lstm" as const, length: 50, valMse: 0.01 },
    { cell: "gru" as const, length: 50, valMse: 0.2 },
  ];
  assert.equal(ex.largestSolvedLength(runs, ["lstm", "gru"], 0.05), 10);
  assert.equal(ex.largestSolvedLength(runs, ["lstm"], 0.05), 50);
  assert.equal(ex.largestSolvedLength(runs, ["lstm", "gru"], 0.001), null);
});

Deno.test("recurrentProfile merges overrides and rejects unknown profiles", () => {
  assert.equal(ex.recurrentProfile("full", { chars: { epochs: 1 } }).chars.epochs, 1);
  assert.equal(ex.recurrentProfile("full").chars.chapters, 10);
  assert.throws(() => ex.recurrentProfile("medium"), /smoke/);
});
