import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  FASHION_MNIST_CLASSES,
  fashionMnistFiles,
  loadFashionMnist,
  mnistTensors,
  parseIdx,
} from "../../../lib/data/mod.ts";

Deno.test("the shipped Fashion-MNIST subset: 800 + 200 images per class, 28 × 28 bytes", async () => {
  const { train, test } = await fashionMnistFiles();
  assert.equal(train.images.length, 8000 * 784);
  assert.equal(test.images.length, 2000 * 784);
  for (const [part, per] of [[train, 800], [test, 200]] as const) {
    const counts = new Array(10).fill(0);
    for (const y of part.labels) counts[y]++;
    assert.deepEqual(counts, new Array(10).fill(per));
  }
  assert.equal(FASHION_MNIST_CLASSES[9], "Ankle boot");
});

Deno.test("loadFashionMnist is balanced, seeded, in [0, 1], and train/test come from their own files", async () => {
  const a = await loadFashionMnist({ trainSize: 1000, testSize: 205, seed: 3, flatten: false });
  const b = await loadFashionMnist({ trainSize: 1000, testSize: 205, seed: 3, flatten: false });
  assert.deepEqual(a.imageShape, [28, 28, 1]);
  assert.deepEqual(a.yTrain, b.yTrain);
  assert.deepEqual(a.trainSourceIndex, b.trainSourceIndex);
  const counts = new Array(10).fill(0);
  for (const y of a.yTrain) counts[y]++;
  assert.deepEqual(counts, new Array(10).fill(100));
  const testCounts = new Array(10).fill(0);
  for (const y of a.yTest) testCounts[y]++;
  assert.ok(testCounts.every((c) => c === 20 || c === 21));
  assert.ok(a.xTrain.every((v) => v >= 0 && v <= 1));
  assert.ok(new Set(a.trainSourceIndex).size === 1000, "no training image twice");
  const c = await loadFashionMnist({ trainSize: 1000, testSize: 205, seed: 4 });
  assert.notDeepEqual(c.trainSourceIndex, a.trainSourceIndex);
  await tf.setBackend("cpu");
  const t = mnistTensors(a);
  assert.deepEqual(t.xTrain.shape, [1000, 28, 28, 1]);
  tf.dispose(Object.values(t));
  await assert.rejects(loadFashionMnist({ trainSize: 9000 }), /at most|0 … 8000/);
});

Deno.test("parseIdx reads the header and refuses other files", () => {
  const ok = parseIdx(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 2, 5, 6]));
  assert.deepEqual(ok.dims, [1, 2]);
  assert.deepEqual(Array.from(ok.values), [5, 6]);
  assert.throws(() => parseIdx(new Uint8Array([0, 0, 9, 1, 0, 0, 0, 1, 0])), /unsigned bytes/);
  assert.throws(() => parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 1])), /promises 3/);
});
