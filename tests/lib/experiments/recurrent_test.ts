// Experiment helpers of the recurrent notebook: adding-problem data, the simple cell's
// gradient bound against tf.grad, unrolling, the largest solved length and the profiles.
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

Deno.test("unrollSimpleRnn equals tfjs's simpleRNN; measured gradients stay under the analytic bound", async () => {
  await tf.setBackend("cpu");
  const m = sequenceRegressor({
    input: { features: 2 },
    cell: "simple",
    units: 5,
    outputs: 1,
    seed: 1,
  });
  const d = ex.addingProblem({ n: 16, length: 12, seed: 2 });
  const [W, U, b] = m.getWeights();
  const { states } = ex.unrollSimpleRnn(d.x, W, U, b);
  const last = tf.squeeze(tf.slice(states, [0, 11, 0], [16, 1, -1]), [1]);
  const head = tf.add(tf.matMul(last, m.getWeights()[3]), m.getWeights()[4]);
  const diff = (await tf.max(tf.abs(tf.sub(head, m.predict(d.x) as tf.Tensor))).data())[0];
  assert.ok(diff < 1e-5, `${diff}`);
  const norms = await ex.inputGradientNorms(m, d.x, d.y);
  const { bound, recurrentNorm } = await ex.simpleRnnGradientBound(m, d.x, d.y);
  assert.equal(norms.length, 12);
  assert.ok(recurrentNorm > 0);
  norms.forEach((v, t) =>
    assert.ok(v <= bound[t] * (1 + 1e-4) && v > 0, `t=${t}: ${v} > ${bound[t]}`)
  );
  // the bound is not vacuous at the last step: within a factor of 10
  assert.ok(bound[11] < 10 * norms[11] + 1e-12, `${bound[11]} vs ${norms[11]}`);
  tf.dispose([states, last, head]);
  d.dispose();
  m.dispose();
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
