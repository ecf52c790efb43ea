import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { disposeModel, Rng, setupBackend, train } from "nn";
import { compileClassifier, mlp } from "nn/models/dense.ts";
import {
  GradualPruning,
  magnitudeMask,
  MagnitudePruner,
  pruneCount,
  scheduleSparsity,
  sparsityReport,
  targetDeviation,
} from "nn/models/sparse.ts";

await setupBackend({ backend: "cpu" });

function smallNet(seed = 0) {
  return compileClassifier(mlp({ inputs: 12, hidden: [10, 7], outputs: 3, seed }), {
    learningRate: 0.05,
  });
}

function toyData(seed = 0, n = 64) {
  const rng = new Rng(seed);
  const x = tf.tensor2d(new Float32Array(n * 12).map(() => rng.normal()), [n, 12]);
  const labels = Array.from({ length: n }, () => rng.int(3));
  const y = tf.oneHot(tf.tensor1d(labels, "int32"), 3);
  return { x, y, dispose: () => tf.dispose([x, y]) };
}

async function kernels(model: tf.LayersModel): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const l of model.layers) out.push(new Float32Array(await l.getWeights()[0].data()));
  return out;
}

Deno.test("magnitudeMask: exactly `count` entries, smallest |w| first, ties by index", () => {
  assert.deepEqual(Array.from(magnitudeMask([0.5, -0.1, 0.1, 2], 2)), [1, 0, 0, 1]);
  assert.deepEqual(Array.from(magnitudeMask([0.5, -0.1, 0.1, 2], 1)), [1, 0, 1, 1]);
  assert.deepEqual(Array.from(magnitudeMask([3, 3, 3, 3], 3)), [0, 0, 0, 1]);
  assert.deepEqual(Array.from(magnitudeMask([1, 2], 0)), [1, 1]);
  assert.deepEqual(Array.from(magnitudeMask([1, 2], 2)), [0, 0]);
  const rng = new Rng(4);
  for (const n of [1, 17, 1000]) {
    const values = Float32Array.from({ length: n }, () => Math.round(rng.normal() * 4) / 4);
    for (const count of [0, 1, Math.floor(n / 3), n]) {
      const mask = magnitudeMask(values, count);
      assert.equal(mask.filter((m) => m === 0).length, count, `n ${n} count ${count}`);
      // every pruned magnitude ≤ every kept magnitude
      let maxPruned = -Infinity, minKept = Infinity;
      mask.forEach((m, i) => {
        if (m === 0) maxPruned = Math.max(maxPruned, Math.abs(values[i]));
        else minKept = Math.min(minKept, Math.abs(values[i]));
      });
      assert.ok(maxPruned <= minKept);
    }
  }
});

Deno.test("magnitudeMask: already-masked entries go first and stay masked", () => {
  const previous = [1, 0, 1, 1];
  // entry 1 is large but already masked: it stays masked before any small weight
  assert.deepEqual(Array.from(magnitudeMask([0.1, 9, 0.2, 0.3], 1, previous)), [1, 0, 1, 1]);
  assert.deepEqual(Array.from(magnitudeMask([0.1, 9, 0.2, 0.3], 2, previous)), [0, 0, 1, 1]);
  assert.throws(() => magnitudeMask([1, 2], 3), RangeError);
  assert.throws(() => magnitudeMask([1, NaN], 1), /NaN/);
  assert.throws(() => magnitudeMask([1, 2], 1, [1]), /previous mask/);
});

Deno.test("pruneCount rounds s·n", () => {
  assert.equal(pruneCount(0.8, 235200), 188160);
  assert.equal(pruneCount(0.9, 1000), 900);
  assert.equal(pruneCount(0.5, 7), 4);
  assert.throws(() => pruneCount(1.5, 10), RangeError);
});

Deno.test("layer-wise pruning removes round(s·n) weights in every layer", async () => {
  const model = smallNet(1);
  const pruner = new MagnitudePruner(model);
  for (const s of [0.3, 0.55, 0.9]) {
    const report = await pruner.prune(s);
    assert.equal(report.scope, "layer");
    for (const l of report.layers) {
      assert.equal(l.zeros, Math.round(s * l.weights), `${l.layer} at ${s}`);
      assert.equal(l.target, l.zeros);
      assert.equal(l.masked, l.zeros);
    }
    assert.ok(targetDeviation(report, s) <= 0.5);
  }
  assert.deepEqual(pruner.layerNames, model.layers.map((l) => l.name));
  pruner.dispose();
  disposeModel(model);
});

Deno.test("global pruning removes round(s·N) weights in all, unevenly across layers", async () => {
  const model = mlp({ inputs: 40, hidden: [30], outputs: 3, seed: 2 });
  // scale the last kernel up so a global threshold spares it
  const w = model.layers[1].getWeights();
  model.layers[1].setWeights([tf.mul(w[0], 10), w[1]]);
  const pruner = new MagnitudePruner(model, { scope: "global" });
  const report = await pruner.prune(0.7);
  assert.equal(report.zeros, Math.round(0.7 * report.weights));
  assert.ok(targetDeviation(report, 0.7) <= 0.5);
  assert.ok(report.layers[0].sparsity > 0.7 && report.layers[1].sparsity < 0.7);
  assert.ok(report.layers.every((l) => l.target === null));
  pruner.dispose();
  model.dispose();
});

Deno.test("pruned weights are the smallest and stay exactly 0 through Adam steps", async () => {
  const model = smallNet(3);
  const data = toyData(3);
  const before = await kernels(model);
  const pruner = new MagnitudePruner(model);
  await pruner.prune(0.6);
  const masks = pruner.layerNames.map((n) => pruner.mask(n)!.mask);
  masks.forEach((mask, i) => {
    let maxPruned = 0, minKept = Infinity;
    mask.forEach((m, j) => {
      const v = Math.abs(before[i][j]);
      if (m === 0) maxPruned = Math.max(maxPruned, v);
      else minKept = Math.min(minKept, v);
    });
    assert.ok(maxPruned <= minKept, `layer ${i}: pruned the smallest magnitudes`);
  });
  const tensorsBefore = tf.memory().numTensors;
  await train(model, data.x, data.y, {
    epochs: 5,
    batchSize: 16,
    seed: 0,
    progress: "none",
    onBatchEnd: pruner.onBatchEnd,
  });
  const after = await kernels(model);
  masks.forEach((mask, i) => {
    let moved = 0;
    mask.forEach((m, j) => {
      if (m === 0) assert.equal(after[i][j], 0, `layer ${i} weight ${j} is exactly 0`);
      else if (after[i][j] !== before[i][j]) moved++;
    });
    assert.ok(moved > 0, `layer ${i}: the kept weights trained`);
  });
  // Adam's slots (2 per weight, 6 weights) and its step counters are the only new tensors
  assert.ok(tf.memory().numTensors - tensorsBefore <= 14, "no tensors leak per step");
  pruner.dispose();
  data.dispose();
  disposeModel(model);
});

Deno.test("without re-masking, Adam moves pruned weights off zero (why masks are re-applied)", async () => {
  const model = smallNet(4);
  const data = toyData(4);
  const pruner = new MagnitudePruner(model);
  await pruner.prune(0.6);
  await train(model, data.x, data.y, { epochs: 1, batchSize: 16, seed: 0, progress: "none" });
  const report = await pruner.report();
  assert.ok(report.layers.every((l) => l.zeros < l.masked), "zeros were lost without masks");
  pruner.applyMasks();
  const fixed = await pruner.report();
  assert.ok(fixed.layers.every((l) => l.zeros === l.masked));
  pruner.dispose();
  data.dispose();
  disposeModel(model);
});

Deno.test("gradual pruning follows the cubic schedule and ends exact", async () => {
  const model = smallNet(5);
  const data = toyData(5);
  const schedule = { finalSparsity: 0.8, beginStep: 2, frequency: 3, pruningSteps: 4 };
  const gradual = new GradualPruning(new MagnitudePruner(model), schedule);
  let previous: Uint8Array[] | null = null;
  await train(model, data.x, data.y, {
    epochs: 5,
    batchSize: 16,
    seed: 1,
    progress: "none",
    onBatchEnd: async (step) => {
      await gradual.onBatchEnd();
      assert.equal(gradual.step, step);
      const masks = gradual.pruner.layerNames.map((n) => gradual.pruner.mask(n)?.mask);
      if (masks.every((m) => m)) {
        if (previous) {
          masks.forEach((m, i) =>
            previous![i].forEach((p, j) => {
              if (p === 0) assert.equal(m![j], 0, "a pruned weight never comes back");
            })
          );
        }
        previous = masks as Uint8Array[];
      }
    },
  });
  assert.deepEqual(gradual.events.map((e) => e.step), [2, 5, 8, 11, 14]);
  gradual.events.forEach((e) => assert.equal(e.sparsity, scheduleSparsity(e.step, schedule)));
  const report = await gradual.pruner.report();
  for (const l of report.layers) assert.equal(l.zeros, Math.round(0.8 * l.weights));
  assert.deepEqual(
    (await sparsityReport(model)).layers.map((l) => l.zeros),
    report.layers.map((l) => l.zeros),
  );
  gradual.pruner.dispose();
  data.dispose();
  disposeModel(model);
});

Deno.test("gradual pruning with t0 = 0 and s_i > 0 prunes to s_i before the first step", async () => {
  const model = smallNet(8);
  const gradual = new GradualPruning(new MagnitudePruner(model), {
    initialSparsity: 0.2,
    finalSparsity: 0.6,
    frequency: 2,
    pruningSteps: 2,
  });
  for (let i = 0; i < 4; i++) await gradual.onBatchEnd();
  assert.deepEqual(gradual.events.map((e) => [e.step, e.sparsity]), [
    [0, 0.2],
    [2, scheduleSparsity(2, gradual.schedule)],
    [4, 0.6],
  ]);
  gradual.pruner.dispose();
  disposeModel(model);
});

Deno.test("a pruned model saves and loads with its zeros", async () => {
  const model = smallNet(6);
  const pruner = new MagnitudePruner(model);
  const report = await pruner.prune(0.75);
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  const reloaded = await sparsityReport(loaded);
  assert.deepEqual(reloaded.layers.map((l) => l.zeros), report.layers.map((l) => l.zeros));
  loaded.dispose();
  pruner.dispose();
  disposeModel(model);
});

Deno.test("pruner: helpful errors and no tensors left after dispose", async () => {
  const model = smallNet(7);
  assert.throws(() => new MagnitudePruner(model, { layers: ["nope"] }), /no layer "nope"/);
  assert.throws(() => new MagnitudePruner(model, { scope: "row" as "layer" }), /scope/);
  const start = tf.memory().numTensors;
  const pruner = new MagnitudePruner(model, { layers: [model.layers[0].name] });
  assert.equal(pruner.mask(model.layers[0].name), null);
  assert.throws(() => pruner.mask("other"), /No pruned layer/);
  await assert.rejects(() => pruner.prune(1), RangeError);
  await pruner.prune(0.5);
  pruner.applyMasks();
  pruner.dispose();
  assert.equal(tf.memory().numTensors, start);
  const flat = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2] })] });
  assert.throws(() => new MagnitudePruner(flat), /no layer with a kernel/);
  flat.dispose();
  disposeModel(model);
});
