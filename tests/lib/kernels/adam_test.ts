// FastAdam takes the same steps as tfjs's Adam: weights after three training steps agree
// within 1e-5 · (1 + max |w|), on cpu and on wasm, and its state saves like Adam's; on wasm it
// updates an unshared weight in place and never changes a tensor that shares its memory.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { adam } from "../../../lib/kernels/mod.ts";

function build(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({
        inputDim: 20,
        outputDim: 4,
        inputLength: 3,
        embeddingsInitializer: tf.initializers.randomNormal({ seed: 1 }),
      }),
      tf.layers.flatten(),
      tf.layers.dense({
        units: 5,
        activation: "relu",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
  return model;
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`FastAdam matches tf.train.adam step for step (${backend})`, async () => {
    await tf.setBackend(backend);
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6], [1, 1, 19], [7, 0, 2]], [4, 3], "int32");
    const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0], "int32"), 2);
    const runs = [];
    for (const opt of [tf.train.adam(0.05), adam(0.05)]) {
      const m = build();
      m.compile({ optimizer: opt, loss: tf.losses.softmaxCrossEntropy });
      for (let i = 0; i < 3; i++) await m.trainOnBatch(x, y);
      runs.push({
        weights: m.getWeights().map((w) => Array.from(w.dataSync())),
        state: (await opt.getWeights()).length,
        iterations: opt.iterations,
      });
      m.dispose();
      opt.dispose();
    }
    const [stock, fast] = runs;
    assert.equal(fast.state, stock.state);
    assert.equal(fast.iterations, 3);
    stock.weights.forEach((w, i) => {
      const scale = Math.max(...w.map(Math.abs));
      const err = Math.max(...w.map((v, j) => Math.abs(v - fast.weights[i][j])));
      assert.ok(err <= 1e-5 * (1 + scale), `weight ${i}: max error ${err}`);
    });
    tf.dispose([x, y]);
  });
}

Deno.test("FastAdam on wasm: moments in place, a new tensor for the weight, a sharing tensor untouched", async () => {
  await tf.setBackend("wasm");
  const w = tf.variable(tf.tensor1d([1, -2, 3, -4, 5]), true, "adam_heap_w");
  const opt = adam(0.1);
  const step = () =>
    opt.minimize(() => tf.sum(tf.mul(w, tf.tensor1d([1, 1, -1, -1, 2]))) as tf.Scalar);
  step(); // creates the moments
  const moments = opt.getWeights().then((ws) => ws.length);
  const before = w.dataId;
  step();
  // a new tensor id each step: tfjs-wasm caches XNNPACK operators by the weight's id
  assert.notEqual(w.dataId, before, "the weight got a new tensor");
  // a clone shares the weight's memory (tfjs-wasm counts references): the step must not
  // change what the clone holds
  const held = tf.clone(w);
  const heldValues = Array.from(await held.data());
  step();
  assert.deepEqual(Array.from(await held.data()), heldValues, "the clone kept its values");
  assert.notDeepEqual(Array.from(await w.data()), heldValues, "the weight moved");
  assert.equal(await moments, 3, "iterations, m and v");
  // and the same three steps as tfjs's Adam (the first test's bound, 1e-5 · (1 + max |w|))
  const w2 = tf.variable(tf.tensor1d([1, -2, 3, -4, 5]), true, "adam_heap_w2");
  const stock = tf.train.adam(0.1);
  for (let i = 0; i < 3; i++) {
    stock.minimize(() => tf.sum(tf.mul(w2, tf.tensor1d([1, 1, -1, -1, 2]))) as tf.Scalar);
  }
  const a = await w.data();
  const b = await w2.data();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 6e-5, `${a[i]} vs ${b[i]}`);
  tf.dispose([w, w2, held]);
  opt.dispose();
  stock.dispose();
});

Deno.test("FastAdam trains a conv2d model on wasm as tfjs's Adam does (XNNPACK's cached filters)", async () => {
  // tfjs-wasm's Conv2D packs the filter into an XNNPACK operator cached by the filter's
  // tensor id: a weight updated in place would leave the forward pass on the old filter
  await tf.setBackend("wasm");
  const build = () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [6, 6, 2],
          filters: 3,
          kernelSize: 3,
          activation: "relu",
          kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
        }),
        tf.layers.flatten(),
        tf.layers.dense({
          units: 2,
          kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }),
        }),
      ],
    });
  const x = tf.tensor4d(Array.from({ length: 4 * 72 }, (_, i) => Math.sin(i)), [4, 6, 6, 2]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0], "int32"), 2);
  const losses: number[][] = [];
  const weights: number[][][] = [];
  for (const opt of [tf.train.adam(0.05), adam(0.05)]) {
    const m = build();
    m.compile({ optimizer: opt, loss: tf.losses.softmaxCrossEntropy });
    const l: number[] = [];
    for (let i = 0; i < 5; i++) l.push(await m.trainOnBatch(x, y) as number);
    losses.push(l);
    weights.push(m.getWeights().map((w) => Array.from(w.dataSync())));
    m.dispose();
    opt.dispose();
  }
  // the losses (computed by each step's forward pass, with the filter as updated) agree
  losses[0].forEach((v, i) =>
    assert.ok(
      Math.abs(v - losses[1][i]) <= 1e-4 * (1 + Math.abs(v)),
      `loss ${i}: ${v} vs ${losses[1][i]}`,
    )
  );
  weights[0].forEach((w, i) => {
    const err = Math.max(...w.map((v, j) => Math.abs(v - weights[1][i][j])));
    assert.ok(err <= 1e-4, `weight ${i}: max error ${err}`);
  });
  tf.dispose([x, y]);
});
