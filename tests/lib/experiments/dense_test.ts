import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "nn";
import { denseProfile, epochsFor, measureThroughput, powerLawFit } from "nn/experiments/dense.ts";

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

Deno.test("epochsFor adds epochs only for small sets", () => {
  assert.equal(epochsFor(10_000, { epochs: 5, batchSize: 100, minSteps: 50 }), 5);
  assert.equal(epochsFor(100, { epochs: 5, batchSize: 32, minSteps: 100 }), 25);
  assert.equal(epochsFor(100, { epochs: 5, batchSize: 32 }), 5);
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
