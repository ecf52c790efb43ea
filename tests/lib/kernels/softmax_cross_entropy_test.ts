// The one-pass softmax cross-entropy gives tfjs's loss and gradients (logits and labels),
// on cpu and wasm, for one-hot and soft labels and a 3-D batch; trains a model to the same
// weights as tf.losses.softmaxCrossEntropy; and falls back to tfjs's loss where it cannot run.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { softmaxCrossEntropy } from "../../../lib/kernels/mod.ts";
import { assertClose } from "../numeric.ts";
import { Rng } from "../../../lib/random.ts";

function randn(rng: Rng, shape: number[], scale = 3): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => scale * (2 * rng.next() - 1)), shape);
}

function softLabels(rng: Rng, rows: number, classes: number): tf.Tensor {
  const v = Float32Array.from({ length: rows * classes }, () => rng.next());
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < classes; c++) s += v[r * classes + c];
    for (let c = 0; c < classes; c++) v[r * classes + c] /= s;
  }
  return tf.tensor(v, [rows, classes]);
}

async function lossAndGrads(
  loss: (y: tf.Tensor, x: tf.Tensor) => tf.Scalar,
  labels: tf.Tensor,
  logits: tf.Tensor,
) {
  const { value, grads } = tf.valueAndGrads((y: tf.Tensor, x: tf.Tensor) =>
    tf.mul(loss(y, x), 2.5) as tf.Scalar
  )([labels, logits]);
  const out = {
    value: (await value.data())[0],
    dLabels: await grads[0].data() as Float32Array,
    dLogits: await grads[1].data() as Float32Array,
  };
  tf.dispose([value, ...grads]);
  return out;
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`softmaxCrossEntropy matches tfjs's loss and gradients (${backend})`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(7);
    const cases: Array<[string, tf.Tensor, tf.Tensor]> = [
      [
        "one-hot 128×10",
        tf.oneHot(tf.tensor1d(Array.from({ length: 128 }, (_, i) => (i * 7) % 10), "int32"), 10)
          .toFloat(),
        randn(rng, [128, 10]),
      ],
      // int32 one-hot labels, as tf.oneHot makes them (and the reference models' data)
      [
        "int32 one-hot 64×10",
        tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => (i * 3) % 10), "int32"), 10),
        randn(rng, [64, 10]),
      ],
      ["soft 5×3", softLabels(rng, 5, 3), randn(rng, [5, 3], 30)],
      ["3-D 2×4×6", softLabels(rng, 8, 6).reshape([2, 4, 6]), randn(rng, [2, 4, 6])],
    ];
    for (const [name, labels, logits] of cases) {
      // one pass: no kernel runs forward (tfjs's loss runs about a dozen)
      // (tf.profile returns one object it reuses: take the names before profiling again)
      const kernelsOf = async (f: () => tf.Tensor) =>
        (await tf.profile(f)).kernels.map((k) => k.name);
      const fused = await kernelsOf(() => softmaxCrossEntropy(labels, logits));
      const stock = await kernelsOf(() => tf.losses.softmaxCrossEntropy(labels, logits));
      assert.ok(
        fused.length <= 1 && stock.length >= 8,
        `${name}: kernels ${fused} against ${stock.length}`,
      );
      const ours = await lossAndGrads(softmaxCrossEntropy, labels, logits);
      const theirs = await lossAndGrads(
        (y, x) => tf.losses.softmaxCrossEntropy(y, x) as tf.Scalar,
        labels,
        logits,
      );
      assert.ok(
        Math.abs(ours.value - theirs.value) <= 1e-5 * (1 + Math.abs(theirs.value)),
        `${name}: loss ${ours.value} vs ${theirs.value}`,
      );
      assertClose(ours.dLogits, theirs.dLogits, `${name}: d logits`, 1e-6);
      assertClose(ours.dLabels, theirs.dLabels, `${name}: d labels`, 1e-6);
      tf.dispose([labels, logits]);
    }
  });

  Deno.test(`softmaxCrossEntropy trains a model as tfjs's loss does (${backend})`, async () => {
    await tf.setBackend(backend);
    const rng = new Rng(3);
    const x = randn(rng, [32, 6], 1);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 4), "int32"), 4)
      .toFloat();
    const weights: Float32Array[][] = [];
    const losses: number[][] = [];
    for (const loss of [softmaxCrossEntropy, tf.losses.softmaxCrossEntropy]) {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({
            units: 8,
            activation: "relu",
            inputShape: [6],
            kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
          }),
          tf.layers.dense({
            units: 4,
            kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
          }),
        ],
      });
      model.compile({ optimizer: tf.train.sgd(0.5), loss });
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) seen.push(await model.trainOnBatch(x, y) as number);
      losses.push(seen);
      weights.push(
        await Promise.all(model.getWeights().map(async (w) => await w.data() as Float32Array)),
      );
      model.dispose();
    }
    assert.ok(losses[0][4] < losses[0][0], `the loss falls: ${losses[0]}`);
    losses[0].forEach((l, i) =>
      assert.ok(Math.abs(l - losses[1][i]) <= 1e-5, `step ${i}: ${l} vs ${losses[1][i]}`)
    );
    weights[0].forEach((w, i) => assertClose(w, weights[1][i], `weight ${i}`, 1e-5));
    tf.dispose([x, y]);
  });
}

Deno.test("softmaxCrossEntropy falls back to tfjs's loss for inputs it does not take", async () => {
  await tf.setBackend("cpu");
  const labels = tf.tensor2d([[0, 1]]);
  const logits = tf.tensor2d([[1, 2], [3, 4]]);
  // mismatched shapes: tfjs's own message, not a wrong number
  assert.throws(() => softmaxCrossEntropy(labels, logits), /shape/i);
  tf.dispose([labels, logits]);
});
