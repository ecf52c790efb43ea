import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "nn";
import { headRows, mnistSplits, trainingSubset } from "nn/data/mnist_splits.ts";

await setupBackend({ backend: "cpu" });

Deno.test("mnistSplits: shapes, one-hot labels, seeded, disjoint parts", async () => {
  const before = tf.memory().numTensors;
  const a = await mnistSplits({ trainSize: 300, valSize: 100, testSize: 50, seed: 4 });
  const b = await mnistSplits({ trainSize: 300, valSize: 100, testSize: 50, seed: 4 });
  assert.deepEqual(a.xTrain.shape, [300, 784]);
  assert.deepEqual(a.yVal.shape, [100, 10]);
  assert.deepEqual(a.xTest.shape, [50, 784]);
  assert.equal(a.trainPixels.length, 300 * 784);
  assert.deepEqual(await a.yTrain.data(), await b.yTrain.data());
  const rows = tf.sum(a.yTrain, 1);
  assert.ok((await rows.data()).every((v) => v === 1));
  rows.dispose();
  // disjoint: no validation image equals a training image (MNIST has no exact duplicates here)
  const key = (px: Float32Array, i: number) => px.subarray(i * 784, (i + 1) * 784).join(",");
  const train = new Set(Array.from({ length: 300 }, (_, i) => key(a.trainPixels, i)));
  const val = await a.xVal.data() as Float32Array;
  for (let i = 0; i < 100; i++) assert.ok(!train.has(key(val, i)), `validation image ${i}`);
  a.dispose();
  b.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("headRows and trainingSubset take nested prefixes", async () => {
  const x = tf.tensor2d([[1], [2], [3], [4]]);
  const h = headRows(x, 2);
  assert.deepEqual(Array.from(await h.data()), [1, 2]);
  assert.throws(() => headRows(x, 5), /1 … 4/);
  const s = trainingSubset({ xTrain: x, yTrain: x, xVal: x, yVal: x }, 3);
  assert.deepEqual(Array.from(await s.yTrain.data()), [1, 2, 3]);
  assert.equal(s.xVal, x);
  const before = tf.memory().numTensors;
  s.dispose();
  assert.equal(tf.memory().numTensors, before - 2);
  tf.dispose([x, h]);
});
