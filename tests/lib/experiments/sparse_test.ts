import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "nn";
import { mlpParameters } from "nn/models/counting.ts";
import { GradualPruning, MagnitudePruner, scheduleSparsity } from "nn/models/sparse.ts";
import {
  fineTuneSchedule,
  matchedHidden,
  sparseProfile,
  timeProducts,
} from "nn/experiments/sparse.ts";

await setupBackend({ backend: "cpu" });

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

Deno.test("fineTuneSchedule: n pruning steps over the first pruneFraction of fine-tuning", () => {
  const cfg = sparseProfile("full");
  const { schedule, steps } = fineTuneSchedule(cfg, 0.9);
  assert.equal(steps, Math.ceil(7500 / 128) * cfg.pruning.fineTuneEpochs);
  assert.equal(schedule.pruningSteps, cfg.pruning.pruningSteps);
  const end = schedule.pruningSteps * schedule.frequency;
  assert.ok(end <= steps * cfg.pruning.pruneFraction + schedule.pruningSteps, `ends at ${end}`);
  assert.equal(scheduleSparsity(end, schedule), 0.9);
  assert.equal(scheduleSparsity(0, schedule), 0);
  // a smaller training set gives fewer steps, and the schedule still ends within them
  const small = fineTuneSchedule(cfg, 0.8, 1000);
  assert.equal(small.steps, Math.ceil(1000 / 128) * cfg.pruning.fineTuneEpochs);
  assert.ok(small.schedule.pruningSteps * small.schedule.frequency <= small.steps);
});

Deno.test("fineTuneSchedule drives GradualPruning to the target within the fine-tuning steps", async () => {
  const cfg = sparseProfile("smoke", { pruning: { fineTuneEpochs: 2, pruningSteps: 4 } });
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [20] })] });
  const pruner = new MagnitudePruner(model);
  const { schedule, steps } = fineTuneSchedule(cfg, 0.8, 300);
  const gradual = new GradualPruning(pruner, schedule);
  for (let i = 0; i < steps; i++) await gradual.onBatchEnd();
  assert.equal(gradual.events.length, 4);
  assert.equal(gradual.events.at(-1)!.sparsity, 0.8);
  assert.equal((await pruner.report()).zeros, 128);
  pruner.dispose();
  model.dispose();
});
