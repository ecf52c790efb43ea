import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  classifierAccuracy,
  classifierCorrect,
  disposeModel,
  rng,
  SeededDropout,
  setupBackend,
  train,
} from "nn";

/** A small seeded MLP on a fixed synthetic task (a 3-class rule of 8 features). */
function makeData(seed: number, n: number) {
  const r = rng(seed);
  const x = new Float32Array(n * 8);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < 8; j++) {
      const v = r.normal();
      x[i * 8 + j] = v;
      s += j < 4 ? v : -v;
    }
    y[i] = s < -1 ? 0 : s < 1 ? 1 : 2;
  }
  return { x: tf.tensor2d(x, [n, 8]), y: tf.oneHot(tf.tensor1d(y, "int32"), 3) };
}

function makeModel(seed: number, dropout = 0) {
  const r = rng(seed).fork("init");
  const model = tf.sequential();
  model.add(tf.layers.dense({
    inputShape: [8],
    units: 16,
    activation: "relu",
    kernelInitializer: r.initializer("heNormal"),
  }));
  if (dropout > 0) model.add(tf.layers.dropout({ rate: dropout, seed: r.nextSeed() }));
  model.add(
    tf.layers.dense({
      units: 3,
      activation: "softmax",
      kernelInitializer: r.initializer("glorotUniform"),
    }),
  );
  model.compile({
    optimizer: tf.train.adam(0.01),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}

async function trainedWeights(seed: number) {
  const { x, y } = makeData(123, 200);
  const model = makeModel(seed);
  const result = await train(model, x, y, { epochs: 2, batchSize: 32, seed, progress: "none" });
  const weights = await Promise.all(model.getWeights().map((w) => w.data()));
  disposeModel(model);
  tf.dispose([x, y]);
  return { weights, loss: result.history.loss };
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`determinism on ${backend}: same seed → identical weights and loss after 2 epochs`, async () => {
    await setupBackend({ backend });
    const a = await trainedWeights(0);
    const b = await trainedWeights(0);
    const c = await trainedWeights(1);
    assert.deepEqual(a.loss, b.loss);
    assert.equal(a.weights.length, b.weights.length);
    a.weights.forEach((w, i) => assert.deepEqual(w, b.weights[i], `weight ${i} differs`));
    assert.notDeepEqual(a.loss, c.loss, "another seed gives another run");
  });
}

Deno.test("no tensors leak: epoch 3 count equals epoch 1; all freed after disposal", async () => {
  await setupBackend({ backend: "cpu" });
  const { x, y } = makeData(5, 300);
  const [xv, yv] = [x.slice(0, 50), y.slice(0, 50)];
  const start = tf.memory().numTensors;
  const model = makeModel(0, 0.2);
  const counts: number[] = [];
  await train(model, x, y, {
    epochs: 3,
    batchSize: 64,
    validationData: [xv, yv],
    progress: "none",
    onEpochEnd: () => void counts.push(tf.memory().numTensors),
  });
  assert.equal(counts.length, 3);
  assert.equal(counts[2], counts[0], `tensors per epoch: ${counts.join(", ")}`);
  assert.ok(counts[0] > start, "the model's weights and Adam's slots exist while training");
  disposeModel(model);
  assert.equal(tf.memory().numTensors, start, "model + optimizer disposal frees everything");
  tf.dispose([x, y, xv, yv]);
});

Deno.test("training learns, validates, and early stopping restores the best epoch", async () => {
  await setupBackend({ backend: "cpu" });
  const { x, y } = makeData(7, 400);
  const { x: xv, y: yv } = makeData(8, 200);
  const model = makeModel(3);
  const result = await train(model, x, y, {
    epochs: 40,
    batchSize: 32,
    validationData: [xv, yv],
    earlyStopping: { monitor: "val_loss", patience: 2 },
    progress: "none",
  });
  const h = result.history;
  assert.deepEqual(Object.keys(h), ["loss", "acc", "val_loss", "val_acc"]);
  assert.ok(h.loss[h.loss.length - 1] < h.loss[0], "training loss falls");
  assert.ok(h.val_acc[result.bestEpoch - 1] > 0.6, `val acc ${h.val_acc[result.bestEpoch - 1]}`);
  if (result.stoppedEarly) {
    assert.equal(result.epochs, result.bestEpoch + 2);
    const out = model.evaluate(xv, yv) as tf.Scalar[];
    const restored = (await out[0].data())[0];
    assert.ok(
      Math.abs(restored - h.val_loss[result.bestEpoch - 1]) < 1e-4,
      "best weights restored",
    );
    tf.dispose(out);
  }
  assert.ok(result.samplesPerSecond > 0);
  disposeModel(model);
  tf.dispose([x, y, xv, yv]);
});

Deno.test("train rejects bad input with a clear message", async () => {
  await setupBackend({ backend: "cpu" });
  const { x, y } = makeData(1, 10);
  const model = makeModel(0);
  await assert.rejects(
    train(model, x, y.slice(0, 5), { epochs: 1 }),
    /x has 10 samples but y has 5/,
  );
  await assert.rejects(train(model, x, y, { epochs: 0 }), /epochs must be a whole number/);
  await assert.rejects(
    train(model, x, y, {
      epochs: 2,
      earlyStopping: { monitor: "val_acc", patience: 1 },
      progress: "none",
    }),
    /not among loss, acc/,
  );
  const raw = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [8] })] });
  await assert.rejects(train(raw, x, y, { epochs: 1 }), /not compiled/);
  disposeModel(model);
  raw.dispose();
  tf.dispose([x, y]);
});

Deno.test("classifierAccuracy and classifierCorrect count arg-max hits, in batches, with dropout off", async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.inputLayer({ inputShape: [1] }),
      new SeededDropout({ rate: 0.9, seed: 0 }),
      tf.layers.dense({ units: 2, useBias: false, weights: [tf.tensor2d([[-1, 1]])] }),
    ],
  });
  const x = tf.tensor2d([[1], [-1], [2], [-3], [5]]);
  const y = tf.tensor2d([[0, 1], [1, 0], [1, 0], [1, 0], [0, 1]]); // the third one is wrong
  const before = tf.memory().numTensors;
  assert.equal(await classifierAccuracy(model, x, y, 2), 4 / 5);
  assert.equal(await classifierAccuracy(model, x, y), 4 / 5);
  const right = [true, true, false, true, true];
  assert.deepEqual(await classifierCorrect(model, x, y, 2), right, "per example, in batches");
  assert.deepEqual(await classifierCorrect(model, x, y), right);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
  model.dispose();
});
