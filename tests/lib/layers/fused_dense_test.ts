// FusedDense (the NNDense / NNDenseBackprop kernels) against tfjs's own tf.layers.dense
// with the same weights, on the cpu backend's stock kernels: forward values and the
// gradients w.r.t. the input, kernel and bias, for rank 2 and 3 inputs, odd sizes, ReLU
// and linear, with and without a bias; on cpu and wasm, with the native BLAS, the own
// SIMD GEMM and the TypeScript GEMM. Also: the fallback on other activations, the class
// name and config (saves as "Dense"), no leaked tensors, the kernel count of a step.
// Tolerance: max |ours − tfjs| ≤ 1e-4 · (1 + max |tfjs|), as the kernel tests (float32 sums
// in another order: a weight gradient sums over every row).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertClose, data } from "../numeric.ts";
import "../../../lib/kernels/mod.ts";
import { disableBlasForTesting } from "../../../lib/kernels/gemm.ts";
import { dense, denseFusedHere } from "../../../lib/kernels/dense.ts";
import { FusedDense, fusedDense } from "../../../lib/layers/fused_dense.ts";

interface Case {
  shape: number[];
  units: number;
  activation: "relu" | "linear";
  useBias: boolean;
}

/** Output and gradients (x, kernel[, bias]) of a dense layer for the loss Σ y·w. */
function run(layer: tf.layers.Layer, c: Case, weights: tf.Tensor[]): number[][] {
  return tf.tidy(() => {
    const x = data(c.shape, 1);
    if (!layer.built) layer.build(x.shape);
    layer.setWeights(weights);
    const outShape = [...c.shape.slice(0, -1), c.units];
    const w = data(outShape, 9);
    const y = layer.apply(x) as tf.Tensor;
    const vars = layer.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
    const f = (xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, w));
    const dx = tf.grad(f)(x);
    const { grads } = tf.variableGrads(() => f(x) as tf.Scalar, vars);
    return [y, dx, ...vars.map((v) => grads[v.name])].map((t) => Array.from(t.dataSync()));
  });
}

const CASES: Case[] = [
  { shape: [5, 7], units: 3, activation: "relu", useBias: true },
  { shape: [1, 1], units: 1, activation: "linear", useBias: true },
  { shape: [3, 17, 65], units: 17, activation: "relu", useBias: true },
  { shape: [2, 3, 4], units: 5, activation: "linear", useBias: false },
  { shape: [65, 3], units: 257, activation: "relu", useBias: false },
  { shape: [4, 64, 64], units: 128, activation: "relu", useBias: true },
];

for (const backend of ["cpu", "wasm"]) {
  for (const blas of [false, "native", true] as const) {
    const label = blas === false
      ? "native BLAS or own GEMM"
      : blas === "native"
      ? "own SIMD GEMM"
      : "TypeScript GEMM";
    Deno.test(`FusedDense equals tf.layers.dense on ${backend}, ${label}`, async () => {
      for (const c of CASES) {
        // the reference: tfjs's Dense and tfjs's stock kernels on cpu (matmuls without BLAS)
        await tf.setBackend("cpu");
        disableBlasForTesting(true);
        const args = { units: c.units, activation: c.activation, useBias: c.useBias };
        const weights = [data([c.shape[c.shape.length - 1], c.units], 3, 0.5)];
        if (c.useBias) weights.push(data([c.units], 4, 0.5));
        const ref = run(tf.layers.dense(args), c, weights);
        await tf.setBackend(backend);
        disableBlasForTesting(blas);
        const layer = fusedDense(args);
        assert.ok(layer.usesFused(), `${backend}: the fused kernels should run`);
        const ours = run(layer, c, weights.map((w) => tf.tensor(w.dataSync(), w.shape)));
        const names = ["y", "dx", "dkernel", "dbias"];
        ref.forEach((r, i) => assertClose(ours[i], r, `${JSON.stringify(c)} ${names[i]}`));
        tf.dispose(layer.weights.map((w) => w.read()));
      }
      disableBlasForTesting(false);
    });
  }
}

Deno.test("FusedDense: one kernel forward, one or two backward, no leaks", async () => {
  await tf.setBackend("wasm");
  const model = tf.sequential({
    layers: [
      fusedDense({ units: 8, activation: "relu", inputShape: [6] }),
      fusedDense({ units: 2 }),
    ],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: "meanSquaredError" });
  const x = data([4, 6], 1);
  const y = data([4, 2], 2);
  await model.trainOnBatch(x, y);
  const before = tf.memory().numTensors;
  const info = await tf.profile(async () => {
    await model.trainOnBatch(x, y);
    return [] as tf.Tensor[];
  });
  assert.equal(tf.memory().numTensors, before, "tensors leaked by a training step");
  const names = info.kernels.map((k) => k.name);
  assert.equal(names.filter((n) => n === "NNDense").length, 2);
  assert.equal(names.filter((n) => n === "NNDenseBackprop").length, 2);
  // the first layer's input (the model's input) needs no gradient: its GEMM is skipped
  assert.equal(names.filter((n) => n === "NNDenseBackpropInput").length, 1);
  for (const absent of ["BatchMatMul", "_FusedMatMul", "Relu", "Step"]) {
    assert.ok(!names.includes(absent), `${absent} should not run: ${names.join(", ")}`);
  }
  tf.dispose([x, y]);
  model.dispose();
});

Deno.test("FusedDense saves as Dense and falls back where the kernels do not apply", async () => {
  await tf.setBackend("cpu");
  const layer = fusedDense({ units: 3, activation: "softmax", inputShape: [2] });
  assert.ok(layer instanceof FusedDense);
  assert.equal(layer.getClassName(), "Dense");
  assert.equal(layer.usesFused(), false, "softmax is not fused");
  const model = tf.sequential({ layers: [layer] });
  const copy = await tf.models.modelFromJSON(
    model.toJSON(null, false) as unknown as tf.io.ModelJSON,
  );
  assert.equal(copy.layers[0].getClassName(), "Dense");
  assert.deepEqual(copy.layers[0].getConfig(), layer.getConfig());
  const y = model.predict(tf.ones([1, 2])) as tf.Tensor;
  assertClose(await y.sum().data(), [1], "softmax row");
  tf.dispose(y);
  model.dispose();
  copy.dispose();
});

Deno.test("dense() checks its shapes and runs tfjs's ops where the kernels are absent", async () => {
  await tf.setBackend("cpu");
  assert.ok(denseFusedHere());
  assert.throws(() => dense(tf.ones([2, 3]), tf.ones([4, 5]), null), /do not fit/);
  assert.throws(() => dense(tf.ones([2, 3]), tf.ones([3, 5]), tf.ones([4])), /bias/);
  const y = dense(tf.tensor2d([[1, -2]]), tf.tensor2d([[1], [1]]), tf.tensor1d([0.5]), "relu");
  assert.deepEqual(await y.array(), [[0]]);
  const z = dense(tf.tensor1d([1, 2]), tf.tensor2d([[1], [1]]), null); // rank 1: tfjs's ops
  assert.deepEqual(await z.array(), [3]);
});
