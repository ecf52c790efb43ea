import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { disposeModel, setupBackend } from "nn";
import {
  accuracy,
  alwaysZeroFeatures,
  countParameters,
  denseProfile,
  epochsFor,
  firstLayerChange,
  fitMlp,
  headRows,
  kernelColumns,
  maxAbsInRows,
  measureThroughput,
  mnistSplits,
  powerLawFit,
  strongestColumns,
  tileImages,
  trainingSubset,
} from "nn/experiments/dense.ts";

await setupBackend({ backend: "cpu" });

Deno.test("denseProfile: both profiles, overrides per section, bad input refused", () => {
  const smoke = denseProfile("smoke");
  const full = denseProfile("full");
  assert.ok(full.data.trainSize > smoke.data.trainSize);
  for (const p of [smoke, full]) {
    const total = p.data.trainSize + p.data.valSize + p.data.testSize;
    assert.ok(total <= 10_000, "fits the 10 000 images of the mnist package");
    assert.ok(p.learningCurve.sizes.every((s) => s < p.data.trainSize));
    assert.ok(p.overfitting.widths.length >= 2);
  }
  const o = denseProfile("smoke", { budget: { epochs: 2 }, data: { trainSize: 1500 } });
  assert.equal(o.budget.epochs, 2);
  assert.equal(o.budget.parameters, smoke.budget.parameters, "other keys of the section kept");
  assert.equal(o.data.trainSize, 1500);
  assert.throws(() => denseProfile("fast"), /smoke.*full/);
  assert.throws(() => denseProfile("smoke", { data: { trainSize: 100 } }), /Learning-curve sizes/);
});

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

Deno.test("accuracy counts argmax hits in batches", async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 2,
        inputShape: [1],
        useBias: false,
        weights: [tf.tensor2d([[-1, 1]])],
      }),
    ],
  });
  const x = tf.tensor2d([[1], [-1], [2], [-3], [5]]);
  const y = tf.tensor2d([[0, 1], [1, 0], [1, 0], [1, 0], [0, 1]]); // third one is wrong
  assert.equal(await accuracy(model, x, y, 2), 4 / 5);
  tf.dispose([x, y]);
  model.dispose();
});

Deno.test("epochsFor adds epochs only for small sets", () => {
  assert.equal(epochsFor(10_000, { epochs: 5, batchSize: 100, minSteps: 50 }), 5);
  assert.equal(epochsFor(100, { epochs: 5, batchSize: 32, minSteps: 100 }), 25);
  assert.equal(epochsFor(100, { epochs: 5, batchSize: 32 }), 5);
});

Deno.test("countParameters: formula and tfjs agree for every configuration", () => {
  const rows = countParameters({ widths: [1, 10, 100], depths: [1, 3] });
  assert.equal(rows.length, 6);
  for (const r of rows) assert.equal(r.formula, r.tfjs, `depth ${r.depth} width ${r.width}`);
  assert.equal(rows.find((r) => r.depth === 1 && r.width === 100)!.tfjs, 785 * 100 + 101 * 10);
});

Deno.test("fitMlp learns MNIST a little, is seeded, and frees what it makes", async () => {
  const data = await mnistSplits({ trainSize: 600, valSize: 200, testSize: 10, seed: 0 });
  const before = tf.memory().numTensors;
  const run = () =>
    fitMlp(data, { hidden: [32], epochs: 3, batchSize: 32, seed: 1, progress: "none" });
  const a = await run();
  assert.equal(tf.memory().numTensors, before, "model and optimizer disposed");
  const b = await run();
  assert.equal(a.params, 785 * 32 + 33 * 10);
  assert.equal(a.params, a.formulaParams);
  assert.deepEqual(a.sizes, [784, 32, 10]);
  assert.equal(a.epochs, 3);
  assert.equal(a.valAccHistory.length, 3);
  assert.ok(a.valAcc > 0.6, `validation accuracy ${a.valAcc} (chance is 0.1)`);
  assert.ok(a.trainAcc >= a.valAcc - 0.05);
  assert.equal(a.valAcc, b.valAcc, "same seed, same result");
  assert.equal(a.model, undefined);
  const few = await fitMlp(trainingSubset(data, 64), {
    hidden: [8],
    epochs: 1,
    batchSize: 32,
    minSteps: 10,
    seed: 0,
    progress: "none",
  });
  assert.equal(few.epochs, 5, "minSteps 10 at 2 steps per epoch");
  data.dispose();
});

Deno.test("blank inputs: their first-layer weights never change (the notebook's claim)", async () => {
  const n = 256;
  const x = new Float32Array(n * 6);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (const j of [1, 2, 4]) x[i * 6 + j] = Math.sin(i * (j + 1) * 0.77);
    labels[i] = x[i * 6 + 1] + x[i * 6 + 4] > 0 ? 1 : 0;
  }
  const xt = tf.tensor2d(x, [n, 6]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), 2));
  const run = await fitMlp({ xTrain: xt, yTrain: y, xVal: xt, yVal: y }, {
    hidden: [5],
    epochs: 5,
    batchSize: 32,
    seed: 0,
    dropout: 0.1,
    progress: "none",
    keepModel: true,
  });
  const change = await firstLayerChange(run);
  assert.equal(change.rows, 6);
  assert.equal(change.cols, 5);
  const blank = alwaysZeroFeatures(x, 6);
  assert.deepEqual(blank, [0, 3, 5]);
  assert.equal(maxAbsInRows(change.delta, 5, blank), 0);
  assert.ok(maxAbsInRows(change.delta, 5, [1, 2, 4]) > 0, "used inputs did learn");
  disposeModel(run.model!);
  tf.dispose([xt, y]);
  await assert.rejects(() => firstLayerChange({ ...run, model: undefined }), /keepModel/);
});

Deno.test("measureThroughput: positive, consistent figures, no leaks", async () => {
  const before = tf.memory().numTensors;
  const t = await measureThroughput([16], { minSeconds: 0.05, minSteps: 2, batchSize: 8 });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(t.params, 785 * 16 + 17 * 10);
  assert.ok(t.steps >= 2);
  assert.ok(t.samplesPerSecond > 0);
  assert.ok(Math.abs(t.secondsPerSample * t.samplesPerSecond - 1) < 1e-9);
  assert.ok(Math.abs(t.gflops - (t.trainingFlops * t.samplesPerSecond) / 1e9) < 1e-9);
});

Deno.test("powerLawFit recovers exponents and refuses what it cannot fit", () => {
  const x = [10, 100, 1000, 10_000];
  const fit = powerLawFit(x, x.map((v) => 5 * v ** -0.3));
  assert.ok(Math.abs(fit.slope + 0.3) < 1e-12);
  assert.ok(Math.abs(fit.intercept - Math.log10(5)) < 1e-12);
  assert.ok(Math.abs(fit.r2 - 1) < 1e-12);
  assert.ok(Math.abs(fit.predict(1e5) - 5 * 1e5 ** -0.3) < 1e-9);
  const noisy = powerLawFit([1, 2, 3, 4], [1, 3, 2, 4]);
  assert.ok(noisy.r2 < 1 && noisy.r2 > 0);
  assert.throws(() => powerLawFit([1], [1]), /two or more/);
  assert.throws(() => powerLawFit([1, 0], [1, 1]), /> 0/);
  assert.throws(() => powerLawFit([2, 2], [1, 3]), /all x are equal/);
});

Deno.test("kernelColumns, strongestColumns and tileImages lay out weight pictures", () => {
  const k = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 rows × 2 columns
  assert.deepEqual(kernelColumns(k, 3, 2, [0, 1]).map((c) => Array.from(c)), [[1, 3, 5], [
    2,
    4,
    6,
  ]]);
  assert.throws(() => kernelColumns(k, 2, 2, [0]), /4 values|6 values/);
  assert.deepEqual(strongestColumns(new Float32Array([0, 3, 1, 0, 0, 1]), 2, 3, 2), [1, 2]);
  const img = (v: number) => new Float32Array([v, -v, 0, v / 2]);
  const z = tileImages([img(2), img(4), img(1)], { height: 2, width: 2, gap: 1, columns: 2 });
  assert.equal(z.length, 2 * 2 + 1);
  assert.equal(z[0].length, 2 * 2 + 1);
  assert.deepEqual(z[0].slice(0, 2), [1, -1], "normalised to max |v| = 1");
  assert.ok(Number.isNaN(z[0][2]) && Number.isNaN(z[2][0]), "gaps are NaN");
  assert.deepEqual(z[3].slice(0, 2), [1, -1], "third image starts the second row");
  assert.ok(Number.isNaN(z[3][3]), "the empty slot stays blank");
  const raw = tileImages([img(2)], { height: 2, width: 2, normalise: false });
  assert.deepEqual(raw, [[2, -2], [0, 1]]);
  assert.deepEqual(tileImages([]), []);
});
