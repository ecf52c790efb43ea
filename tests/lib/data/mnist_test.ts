import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  binaryLabelsTensor,
  loadMnist,
  mnistDigits,
  mnistTensors,
  oneHot,
  padSequences,
  sequencesToTensor,
} from "../../../lib/data/mod.ts";

const PER_DIGIT = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

Deno.test("the mnist package holds 10 000 images, counted per digit", async () => {
  const digits = await mnistDigits();
  assert.deepEqual(digits.map((d) => d.length / 784), PER_DIGIT);
});

Deno.test("loadMnist shapes, ranges and label types", async () => {
  const m = await loadMnist({ trainSize: 1000, testSize: 300, seed: 0 });
  assert.ok(m.xTrain instanceof Float32Array && m.yTrain instanceof Int32Array);
  assert.equal(m.xTrain.length, 1000 * 784);
  assert.equal(m.yTrain.length, 1000);
  assert.equal(m.xTest.length, 300 * 784);
  assert.equal(m.yTest.length, 300);
  assert.deepEqual(m.imageShape, [784]);
  assert.deepEqual(m.available, PER_DIGIT);
  let min = Infinity, max = -Infinity;
  for (const v of m.xTrain) (min = Math.min(min, v)), (max = Math.max(max, v));
  assert.equal(min, 0);
  assert.equal(max, 1);
  assert.ok(m.yTrain.every((y) => y >= 0 && y <= 9));
  assert.deepEqual((await loadMnist({ trainSize: 10, testSize: 10, flatten: false })).imageShape, [
    28,
    28,
    1,
  ]);
});

Deno.test("loadMnist is stratified: each digit in proportion to its count", async () => {
  const m = await loadMnist({ trainSize: 5000, testSize: 1000, seed: 2 });
  const count = (ys: Int32Array) => {
    const c = new Array(10).fill(0);
    for (const y of ys) c[y]++;
    return c;
  };
  count(m.yTrain).forEach((c, d) =>
    assert.ok(Math.abs(c - (5000 * PER_DIGIT[d]) / 10000) < 1, `train digit ${d}: ${c}`)
  );
  count(m.yTest).forEach((c, d) =>
    assert.ok(Math.abs(c - (1000 * PER_DIGIT[d]) / 10000) < 2, `test digit ${d}: ${c}`)
  );
  // Shuffled, not grouped by digit.
  assert.ok(new Set(m.yTrain.slice(0, 50)).size >= 5);
});

Deno.test("loadMnist is deterministic per seed and train/test never share an image", async () => {
  const a = await loadMnist({ trainSize: 2000, testSize: 500, seed: 11 });
  const b = await loadMnist({ trainSize: 2000, testSize: 500, seed: 11 });
  const c = await loadMnist({ trainSize: 2000, testSize: 500, seed: 12 });
  assert.deepEqual(a.yTrain, b.yTrain);
  assert.deepEqual(a.trainSourceIndex, b.trainSourceIndex);
  assert.deepEqual(a.xTest, b.xTest);
  assert.notDeepEqual(a.trainSourceIndex, c.trainSourceIndex);
  const key = (y: Int32Array, s: Int32Array) => Array.from(y, (d, k) => `${d}:${s[k]}`);
  const train = new Set(key(a.yTrain, a.trainSourceIndex));
  assert.equal(train.size, 2000, "no image twice in train");
  assert.ok(key(a.yTest, a.testSourceIndex).every((k) => !train.has(k)));
  // Pixels really come from the recorded source image.
  const digits = await mnistDigits();
  const [d, i] = [a.yTest[7], a.testSourceIndex[7]];
  assert.deepEqual(a.xTest.subarray(7 * 784, 8 * 784), digits[d].subarray(i * 784, (i + 1) * 784));
});

Deno.test("loadMnist can use all 10 000 images and refuses more", async () => {
  const m = await loadMnist({ trainSize: 8000, testSize: 2000, seed: 0 });
  assert.equal(m.yTrain.length + m.yTest.length, 10000);
  await assert.rejects(
    loadMnist({ trainSize: 9000, testSize: 1001 }),
    /exceeds the 10000 MNIST images/,
  );
});

Deno.test("tensor helpers: one-hot labels, image shapes, id matrices, no leaks", async () => {
  await tf.setBackend("cpu");
  const before = tf.memory().numTensors;
  const y = oneHot([2, 0, 1], 3);
  assert.equal(y.dtype, "float32");
  assert.deepEqual(await y.array(), [[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
  assert.throws(() => oneHot([3], 3), /Label 3 at index 0 is not a class id in 0 … 2/);
  const t = mnistTensors(await loadMnist({ trainSize: 20, testSize: 5, flatten: false }));
  assert.deepEqual(t.xTrain.shape, [20, 28, 28, 1]);
  assert.deepEqual(t.yTrain.shape, [20, 10]);
  assert.deepEqual(t.xTest.shape, [5, 28, 28, 1]);
  const rowSums = t.yTest.sum(1);
  assert.ok((await rowSums.data()).every((v) => v === 1));
  rowSums.dispose();
  const flat = mnistTensors(await loadMnist({ trainSize: 20, testSize: 5 }));
  assert.deepEqual(flat.xTrain.shape, [20, 784]);
  const ids = sequencesToTensor(padSequences([[5, 6], [7]], { length: 3 }));
  assert.equal(ids.dtype, "int32");
  assert.deepEqual(await ids.array(), [[0, 5, 6], [0, 0, 7]]);
  const b = binaryLabelsTensor([0, 1]);
  assert.deepEqual(b.shape, [2, 1]);
  tf.dispose([
    y,
    t.xTrain,
    t.yTrain,
    t.xTest,
    t.yTest,
    flat.xTrain,
    flat.yTrain,
    flat.xTest,
    flat.yTest,
    ids,
    b,
  ]);
  assert.equal(tf.memory().numTensors, before);
});
