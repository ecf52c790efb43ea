// FastAdam takes the same steps as tfjs's Adam: weights after three training steps agree
// within 1e-5 · (1 + max |w|), on cpu and on wasm, and its state saves like Adam's.
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
