// The fused dense layer on webgpu (the NNDense kernels: tfjs-webgpu's _FusedMatMul program
// with bias and ReLU while training, one program for the ReLU gradient) against tfjs's plain
// ops on the cpu backend: value and gradients w.r.t. input, kernel and bias, rank 2 and 3
// inputs, odd sizes, ReLU and linear, with and without a bias; a training step of a
// FusedDense model dispatches fewer programs than tfjs's Dense path on the same adapter; the
// input's gradient is computed only where the input needs one (a model's first layer).
// Tolerance: |a − b| ≤ 1e-5 + 1e-4 · |b| (float32 sums in another order).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { setupBackend } from "../../../../lib/backend.ts";
import { dense } from "../../../../lib/kernels/dense.ts";
import "../../../../lib/kernels/mod.ts"; // registers the NNDense kernels (webgpu too) on setupBackend
import { setWebGPUFusion, startCounting } from "../../../../lib/kernels/webgpu/program.ts";
import { fusedDense } from "../../../../lib/layers/fused_dense.ts";
import { assertClose, gpuTest, input, valueAndGrads, values } from "./harness.ts";

function reference(activation: "relu" | "linear", withBias: boolean) {
  return (...t: tf.Tensor[]) => {
    const [x, w, b] = t;
    const K = w.shape[0];
    let y = tf.matMul(tf.reshape(x, [-1, K]), w);
    if (withBias) y = tf.add(y, b);
    if (activation === "relu") y = tf.relu(y);
    return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1] as number]);
  };
}

gpuTest("webgpu dense (fused matmul + bias + ReLU) = cpu ops, value and gradients", async () => {
  const cases: Array<[number[], number, "relu" | "linear", boolean]> = [
    [[5, 7], 3, "relu", true],
    [[2, 3, 4], 5, "linear", true],
    [[3, 5, 6], 9, "relu", false],
    [[1, 1], 1, "relu", true],
  ];
  for (const [shape, N, activation, withBias] of cases) {
    const K = shape[shape.length - 1];
    const inputs = [input(shape, 1), input([K, N], 2, 0.7)];
    if (withBias) inputs.push(input([N], 3, 0.5));
    const want = await valueAndGrads("cpu", reference(activation, withBias), inputs);
    const got = await valueAndGrads(
      "webgpu",
      (...t: tf.Tensor[]) => dense(t[0], t[1], withBias ? t[2] : null, activation),
      inputs,
    );
    const names = ["value", "dx", "dkernel", "dbias"];
    got.forEach((g, i) =>
      assertClose(g, want[i], `[${shape}]·[${K},${N}] ${activation} ${names[i]}`, 1e-4, 1e-5)
    );
  }
});

gpuTest("FusedDense on webgpu: a training step with fewer programs than tfjs's Dense", async () => {
  await setupBackend({ backend: "webgpu" });
  const x = tf.tensor(values(4 * 6, 1), [4, 6]);
  const y = tf.tensor(values(4 * 2, 2), [4, 2]);
  const programs: number[] = [];
  const losses: number[] = [];
  for (const fusion of [true, false]) {
    const was = setWebGPUFusion(fusion);
    const model = tf.sequential({
      layers: [
        fusedDense({ units: 8, activation: "relu", inputShape: [6], kernelInitializer: "ones" }),
        fusedDense({ units: 2, kernelInitializer: "ones" }),
      ],
    });
    assert.equal((model.layers[0] as ReturnType<typeof fusedDense>).usesFused(), fusion);
    model.compile({ optimizer: tf.train.sgd(0.01), loss: "meanSquaredError" });
    await model.trainOnBatch(x, y); // compiles the shaders
    const before = tf.memory().numTensors;
    const counter = startCounting();
    losses.push(await model.trainOnBatch(x, y) as number);
    counter.stop();
    programs.push(counter.programs);
    assert.equal(tf.memory().numTensors, before, `fusion ${fusion}: leaked tensors`);
    model.dispose();
    setWebGPUFusion(was);
  }
  assert.ok(Math.abs(losses[0] - losses[1]) <= 1e-4 * (1 + Math.abs(losses[1])), `${losses}`);
  assert.ok(programs[0] < programs[1], `programs: fused ${programs[0]}, ops ${programs[1]}`);
  tf.dispose([x, y]);
});

gpuTest("webgpu dense: no input gradient where the input needs none", async () => {
  await setupBackend({ backend: "webgpu" });
  const x = tf.tensor(values(16 * 24, 1), [16, 24]);
  const w = tf.tensor(values(24 * 8, 2), [24, 8]);
  const b = tf.tensor(values(8, 3), [8]);
  const f = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) => tf.sum(dense(xs, ws, bs, "relu"));
  const programsOf = (g: () => tf.Tensor[]) => {
    tf.dispose(g()); // compiles the shaders
    const counter = startCounting();
    const grads = g();
    counter.stop();
    tf.dispose(grads);
    return counter.programs;
  };
  // the same forward and backward pass: gradients of the weights only (x is a model's
  // input, a constant) against gradients of the weights and x
  const weightsOnly = programsOf(() => tf.grads((ws, bs) => f(x, ws, bs))([w, b]));
  const withInput = programsOf(() => tf.grads((xs, ws, bs) => f(xs, ws, bs))([x, w, b]));
  assert.ok(weightsOnly < withInput, `programs: ${weightsOnly} weights only, ${withInput} with dx`);
  tf.dispose([x, w, b]);
});
