import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { disposeModel, setupBackend } from "nn";
import { mlp } from "nn/models/dense.ts";
import { mlpParameters } from "nn/models/counting.ts";
import { mnistSplits } from "nn/experiments/dense.ts";
import {
  copyMlp,
  dropoutCurves,
  fitMoe,
  keptPerInput,
  kernelValues,
  maskRows,
  matchedHidden,
  nonZeroParameters,
  pruneAndFineTune,
  pruneWithoutFineTuning,
  sparseProfile,
  timeProducts,
  trainBaseline,
} from "nn/experiments/sparse.ts";

await setupBackend({ backend: "cpu" });

const tiny = sparseProfile("smoke", {
  dense: { hidden: [16, 8], epochs: 8, batchSize: 64 },
  pruning: { sparsities: [0.8, 0.9], fineTuneEpochs: 2, pruningSteps: 4 },
  dropout: { trainSize: 100, hidden: [16], epochs: 3, batchSize: 50 },
  moe: { experts: 4, topK: 2, hiddenUnits: 4, epochs: 1, batchSize: 64 },
});

Deno.test("sparseProfile: profiles, overrides and refusals", () => {
  const smoke = sparseProfile("smoke");
  const full = sparseProfile("full");
  assert.deepEqual(full.dense.hidden, [300, 100]);
  assert.ok(full.data.trainSize > smoke.data.trainSize);
  assert.ok(full.pruning.sparsities.includes(0.8) && full.pruning.sparsities.includes(0.9));
  assert.ok(smoke.pruning.sparsities.includes(0.8) && smoke.pruning.sparsities.includes(0.9));
  assert.equal(sparseProfile("smoke", { moe: { topK: 1 } }).moe.topK, 1);
  assert.equal(sparseProfile("smoke", { moe: { topK: 1 } }).moe.experts, smoke.moe.experts);
  assert.throws(() => sparseProfile("medium"), /Unknown profile/);
  assert.throws(() => sparseProfile("smoke", { dropout: { trainSize: 99999 } }), /dropout set/);
  assert.throws(() => sparseProfile("smoke", { pruning: { sparsities: [1] } }), /Sparsities/);
});

Deno.test("matchedHidden: the largest scaled shape within the budget", () => {
  assert.deepEqual(matchedHidden([300, 100], 27030), [33, 11]);
  for (const budget of [5_000, 27_030, 60_000]) {
    const h = matchedHidden([300, 100], budget);
    assert.ok(mlpParameters([784, ...h, 10]) <= budget);
    const bigger = [h[0] + 1, Math.round((h[0] + 1) / 3)];
    assert.ok(mlpParameters([784, ...bigger, 10]) > budget, `${h} is the largest`);
  }
  assert.throws(() => matchedHidden([300, 100], 100), /exceeds/);
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

Deno.test("copyMlp copies weights into a fresh model; nonZeroParameters counts", async () => {
  const a = mlp({ inputs: 5, hidden: [4], outputs: 3, seed: 3 });
  const b = copyMlp(a, { learningRate: 0.01 });
  const wa = a.getWeights(), wb = b.getWeights();
  for (let i = 0; i < wa.length; i++) {
    assert.deepEqual(Array.from(await wb[i].data()), Array.from(await wa[i].data()));
  }
  assert.notEqual(wa[0], wb[0]);
  // biases start at zero: only kernels count
  assert.equal(await nonZeroParameters(a), 5 * 4 + 4 * 3);
  assert.equal((await kernelValues(a, 1)).length, 12);
  assert.equal((await kernelValues(a, 0, { dropZeros: true })).length, 20);
  a.dispose();
  disposeModel(b);
});

Deno.test("prune and fine-tune: exact sparsity, zeros kept, one-shot and gradual", async () => {
  const data = await mnistSplits({ trainSize: 256, valSize: 64, testSize: 64, seed: 1 });
  const base = await trainBaseline(data, tiny, 1, "none");
  assert.ok(base.testAcc > 0.3, `the tiny baseline learns something (${base.testAcc})`);
  const tensors = tf.memory().numTensors;
  for (const method of ["one-shot", "gradual"] as const) {
    const r = await pruneAndFineTune(base.model, data, tiny, { method, sparsity: 0.8, seed: 1 });
    assert.ok(r.deviation <= 0.5, `${method}: measured sparsity is exact (${r.deviation})`);
    for (const l of r.report.layers) assert.equal(l.zeros, Math.round(0.8 * l.weights));
    assert.equal(r.testAccBeforeFineTune === null, method === "gradual");
    if (method === "gradual") {
      // t0 = 0 with s_i = 0: steps Δt … nΔt prune (step 0 would prune nothing)
      assert.equal(r.events.length, tiny.pruning.pruningSteps);
      assert.equal(r.events.at(-1)!.sparsity, 0.8);
      const s = r.events.map((e) => e.sparsity);
      assert.ok(s.every((v, i) => i === 0 || v >= s[i - 1]), "sparsity rises");
    }
    const kernelsAndBiases = r.report.weights - r.report.zeros + (16 + 8 + 10);
    assert.ok(r.nonZeroParams <= kernelsAndBiases);
  }
  assert.equal(tf.memory().numTensors, tensors, "pruning runs free their models");
  const rows = await pruneWithoutFineTuning(base.model, data, [0.5, 0.99], "global");
  assert.equal(rows.length, 2);
  assert.ok(rows[1].testAcc <= rows[0].testAcc + 0.1);
  assert.equal(rows[1].report.zeros, Math.round(0.99 * rows[1].report.weights));
  base.dispose();
  data.dispose();
});

Deno.test("dropoutCurves: one curve per rate and epoch, gap from the last epoch", async () => {
  const data = await mnistSplits({ trainSize: 200, valSize: 50, testSize: 10, seed: 2 });
  const runs = await dropoutCurves(data, tiny, 2, [0, 0.5]);
  assert.deepEqual(runs.map((r) => r.rate), [0, 0.5]);
  for (const r of runs) {
    for (const k of ["trainAcc", "valAcc", "trainLoss", "valLoss"] as const) {
      assert.equal(r[k].length, tiny.dropout.epochs);
    }
    assert.equal(r.gap, r.trainAcc.at(-1)! - r.valAcc.at(-1)!);
  }
  data.dispose();
});

Deno.test("fitMoe: k experts per example, active share k/E, load sums to 1", async () => {
  const data = await mnistSplits({ trainSize: 128, valSize: 32, testSize: 64, seed: 3 });
  const run = await fitMoe(data, tiny, 3, { progress: "none" });
  assert.equal(run.activeExperts, tiny.moe.topK);
  assert.equal(run.activeFraction, tiny.moe.topK / tiny.moe.experts);
  assert.equal(run.load.length, tiny.moe.experts);
  assert.ok(Math.abs(run.load.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  assert.equal(run.counts.activeExpertFraction, 0.5);
  data.dispose();
});

Deno.test("timeProducts: sizes and bytes per sparsity (times are not asserted)", async () => {
  const rows = await timeProducts({
    batch: 3,
    inputs: 20,
    units: 10,
    sparsities: [0, 0.5, 0.95],
    minSeconds: 0,
  });
  assert.deepEqual(rows.map((r) => r.nnz), [200, 100, 10]);
  for (const r of rows) {
    assert.equal(r.denseBytes, 800);
    assert.equal(r.csrBytes, 8 * r.nnz + 4 * 21);
    assert.ok(r.denseMs >= 0 && r.csrMs >= 0);
  }
});
