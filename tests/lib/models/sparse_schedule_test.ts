import assert from "node:assert/strict";
import {
  isPruningStep,
  pruningPlan,
  scheduleSparsity,
  scheduleUntil,
  sparsityInForce,
} from "nn/models/sparse_schedule.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

Deno.test("schedule: s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³ at every step", () => {
  const s = {
    initialSparsity: 0.1,
    finalSparsity: 0.9,
    beginStep: 7,
    frequency: 3,
    pruningSteps: 5,
  };
  for (let t = 7; t <= 7 + 15; t++) {
    const expected = 0.9 + (0.1 - 0.9) * (1 - (t - 7) / 15) ** 3;
    close(scheduleSparsity(t, s), expected);
  }
  close(scheduleSparsity(7, s), 0.1); // s_i at t0
  close(scheduleSparsity(22, s), 0.9); // s_f at t0 + nΔt
});

Deno.test("schedule: known values, clamping before t0 and after the last step", () => {
  const s = { finalSparsity: 0.8, beginStep: 0, frequency: 10, pruningSteps: 4 };
  close(scheduleSparsity(20, s), 0.8 - 0.8 / 8); // half way: (1/2)³ of the way left
  close(scheduleSparsity(10, s), 0.8 - 0.8 * 27 / 64);
  assert.equal(scheduleSparsity(-5, { ...s, beginStep: 0 }), 0);
  assert.equal(scheduleSparsity(1000, s), 0.8);
  // the cubic front-loads pruning: more than half the sparsity in the first quarter
  assert.ok(scheduleSparsity(10, s) > 0.4);
  // power 1 is a linear ramp
  close(scheduleSparsity(10, { ...s, power: 1 }), 0.2);
});

Deno.test("schedule: pruning steps are t0, t0+Δt, …, t0+nΔt and nothing else", () => {
  const s = { finalSparsity: 0.5, beginStep: 4, frequency: 3, pruningSteps: 3 };
  const steps = Array.from({ length: 20 }, (_, t) => t).filter((t) => isPruningStep(t, s));
  assert.deepEqual(steps, [4, 7, 10, 13]);
  assert.deepEqual(pruningPlan(s).map((p) => p.step), [4, 7, 10, 13]);
  assert.equal(pruningPlan(s).at(-1)!.sparsity, 0.5);
  assert.equal(isPruningStep(5.5, s), false);
});

Deno.test("schedule: the sparsity in force changes only at pruning steps", () => {
  const s = { finalSparsity: 0.8, beginStep: 5, frequency: 10, pruningSteps: 4 };
  assert.equal(sparsityInForce(4, s), 0);
  assert.equal(sparsityInForce(5, s), 0);
  assert.equal(sparsityInForce(24, s), scheduleSparsity(15, s));
  assert.equal(sparsityInForce(25, s), scheduleSparsity(25, s));
  assert.equal(sparsityInForce(500, s), 0.8);
  let last = 0;
  for (let t = 0; t < 60; t++) {
    const v = sparsityInForce(t, s);
    assert.ok(v >= last, "never decreases");
    if (v !== last) assert.ok(isPruningStep(t, s), `changed at ${t}, not a pruning step`);
    last = v;
  }
});

Deno.test("schedule: scheduleUntil spreads n steps up to the end step", () => {
  const s = scheduleUntil({ finalSparsity: 0.9, endStep: 105, pruningSteps: 10 });
  assert.equal(s.frequency, 10);
  assert.equal(s.beginStep, 0);
  assert.ok(s.beginStep! + s.pruningSteps * s.frequency <= 105);
  assert.equal(scheduleUntil({ finalSparsity: 0.5, endStep: 3, pruningSteps: 10 }).frequency, 1);
  assert.throws(
    () => scheduleUntil({ finalSparsity: 0.5, endStep: 0, pruningSteps: 2 }),
    RangeError,
  );
});

Deno.test("schedule: invalid options say what is wrong", () => {
  const base = { finalSparsity: 0.5, frequency: 1, pruningSteps: 1 };
  assert.throws(() => scheduleSparsity(0, { ...base, finalSparsity: 1 }), /finalSparsity/);
  assert.throws(() => scheduleSparsity(0, { ...base, initialSparsity: 0.6 }), /initialSparsity/);
  assert.throws(() => scheduleSparsity(0, { ...base, frequency: 0 }), /frequency/);
  assert.throws(() => scheduleSparsity(0, { ...base, pruningSteps: 1.5 }), /pruningSteps/);
  assert.throws(() => scheduleSparsity(0, { ...base, beginStep: -1 }), /beginStep/);
  assert.throws(() => scheduleSparsity(0, { ...base, power: 0 }), /power/);
});
