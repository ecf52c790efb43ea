import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { compileClassifier, disposeModel, mlp, setupBackend, train } from "nn";
import { MagnitudePruner } from "nn/models/sparse.ts";
import {
  alwaysZeroFeatures,
  keptPerInput,
  kernelColumns,
  kernelMask,
  kernelStorage,
  kernelValues,
  maskRows,
  maxAbsInRows,
  nonZeroParameters,
  sampleValues,
  strongestColumns,
  tileImages,
} from "nn/models/inspect.ts";

await setupBackend({ backend: "cpu" });

Deno.test("kernelValues, kernelMask and nonZeroParameters read Dense kernels past other layers", async () => {
  const model = mlp({ inputs: 5, hidden: [4], outputs: 3, dropout: 0.5, seed: 3 });
  assert.equal(
    (await kernelValues(model, 1)).length,
    4 * 3,
    "the second Dense layer, not the dropout",
  );
  // biases start at zero: only kernels count
  assert.equal(await nonZeroParameters(model), 5 * 4 + 4 * 3);
  const w = model.layers[0].getWeights();
  const zeroed = (await w[0].data()).map((v, i) => (i % 2 ? 0 : v));
  model.layers[0].setWeights([tf.tensor2d(zeroed, [5, 4]), w[1]]);
  assert.equal((await kernelValues(model, 0, { dropZeros: true })).length, 10);
  const { mask, shape } = await kernelMask(model, 0);
  assert.deepEqual(shape, [5, 4]);
  assert.deepEqual(Array.from(mask.subarray(0, 4)), [1, 0, 1, 0]);
  assert.equal(await nonZeroParameters(model), 10 + 12);
  await assert.rejects(() => kernelValues(model, 2), /No Dense layer 2: the model has 2/);
  model.dispose();
});

Deno.test("mask helpers: rows, transposed rows, kept share per pixel", () => {
  const mask = new Uint8Array([1, 0, 0, 1, 1, 1]);
  assert.deepEqual(maskRows(mask, [2, 3]), [[1, 0, 0], [1, 1, 1]]);
  assert.deepEqual(maskRows(mask, [2, 3], true), [[1, 1], [0, 1], [0, 1]]);
  assert.throws(() => maskRows(mask, [4, 4]), RangeError);
  const image = keptPerInput(new Uint8Array([1, 1, 0, 1, 0, 0, 1, 0]), [4, 2], 2, 2);
  assert.deepEqual(image, [[1, 0.5], [0, 0.5]]);
  assert.throws(() => keptPerInput(mask, [3, 2], 28, 28), /not a 28 × 28/);
});

Deno.test("blank inputs: their first-layer weights never change (notebook 01's claim)", async () => {
  const n = 256;
  const x = new Float32Array(n * 6);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (const j of [1, 2, 4]) x[i * 6 + j] = Math.sin(i * (j + 1) * 0.77);
    labels[i] = x[i * 6 + 1] + x[i * 6 + 4] > 0 ? 1 : 0;
  }
  const xt = tf.tensor2d(x, [n, 6]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), 2));
  const model = compileClassifier(mlp({ inputs: 6, hidden: [5], outputs: 2, dropout: 0.1 }));
  const initial = await kernelValues(model, 0);
  await train(model, xt, y, { epochs: 5, batchSize: 32, seed: 0, progress: "none" });
  const trained = await kernelValues(model, 0);
  const delta = trained.map((v, i) => v - initial[i]);
  const blank = alwaysZeroFeatures(x, 6);
  assert.deepEqual(blank, [0, 3, 5]);
  assert.equal(maxAbsInRows(delta, 5, blank), 0);
  assert.ok(maxAbsInRows(delta, 5, [1, 2, 4]) > 0, "used inputs did learn");
  disposeModel(model);
  tf.dispose([xt, y]);
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

Deno.test("sampleValues: seeded, without replacement, rounded", () => {
  const values = Float32Array.from({ length: 100 }, (_, i) => i + 0.123456);
  const a = sampleValues(values, 10, 7);
  assert.deepEqual(a, sampleValues(values, 10, 7));
  assert.equal(new Set(a).size, 10);
  const rounded = new Set(Array.from(values, (v) => Number(v.toPrecision(4))));
  assert.ok(a.every((v) => rounded.has(v)), "each is one of the values, to 4 digits");
  assert.ok(a.some((v) => !values.includes(v)), "rounded");
  assert.equal(sampleValues(values, 1000, 0).length, 100);
});

Deno.test("kernelStorage: dense and CSR bytes per kernel, exact round trip", async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 4, inputShape: [6] }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 2 }),
    ],
  });
  const pruner = new MagnitudePruner(model);
  await pruner.prune(0.75);
  const rows = await kernelStorage(model);
  assert.deepEqual(rows.map((r) => r.shape), [[6, 4], [4, 2]]);
  assert.deepEqual(rows.map((r) => r.nnz), [6, 2]);
  assert.deepEqual(rows.map((r) => r.denseBytes), [96, 32]);
  assert.deepEqual(rows.map((r) => r.csrBytes), [8 * 6 + 4 * 7, 8 * 2 + 4 * 5]);
  assert.ok(rows.every((r) => r.roundTrip));
  pruner.dispose();
  model.dispose();
});
