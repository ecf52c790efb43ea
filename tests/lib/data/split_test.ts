import assert from "node:assert/strict";
import { allocate, splitData, splitIndices, take, takeRows } from "../../../lib/data/mod.ts";
import { Rng } from "../../../lib/random.ts";

const labels = Array.from({ length: 1000 }, (_, i) => (i < 700 ? 0 : 1)); // 70 % / 30 %
const arr = (a: Int32Array) => Array.from(a);

Deno.test("allocate gives exact totals by largest remainder", () => {
  assert.deepEqual(allocate(10, [0.8, 0.1, 0.1]), [8, 1, 1]);
  assert.deepEqual(allocate(10, [0.7, 0.15, 0.15]), [7, 2, 1]);
  assert.deepEqual(allocate(7, [1 / 3, 1 / 3, 1 / 3]), [3, 2, 2]);
  assert.deepEqual(allocate(0, [0.5, 0.5]), [0, 0]);
});

Deno.test("same seed gives the same split, a different seed a different one", () => {
  const a = splitIndices(1000, { seed: 42 });
  const b = splitIndices(1000, { seed: 42 });
  const c = splitIndices(1000, { seed: 43 });
  assert.deepEqual(arr(a.train), arr(b.train));
  assert.deepEqual(arr(a.val), arr(b.val));
  assert.deepEqual(arr(a.test), arr(b.test));
  assert.notDeepEqual(arr(a.test), arr(c.test));
  const sa = splitIndices(1000, { seed: 42, stratify: labels });
  const sb = splitIndices(1000, { seed: 42, stratify: labels });
  const sc = splitIndices(1000, { seed: 7, stratify: labels });
  assert.deepEqual(arr(sa.train), arr(sb.train));
  assert.notDeepEqual(arr(sa.train), arr(sc.train));
});

Deno.test("a generator can be passed instead of a seed", () => {
  assert.deepEqual(
    arr(splitIndices(50, { seed: new Rng(5) }).train),
    arr(splitIndices(50, { seed: 5 }).train),
  );
});

Deno.test("parts are disjoint, cover every index and have the asked sizes", () => {
  for (const stratify of [undefined, labels]) {
    const s = splitIndices(1000, { seed: 1, train: 0.7, val: 0.2, test: 0.1, stratify });
    assert.deepEqual([s.train.length, s.val.length, s.test.length], [700, 200, 100]);
    const all = [...s.train, ...s.val, ...s.test].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 1000 }, (_, i) => i));
  }
});

Deno.test("stratified parts keep the class proportions exactly when they divide evenly", () => {
  const s = splitIndices(1000, { seed: 3, stratify: labels });
  const ones = (idx: Int32Array) => Array.from(idx).filter((i) => labels[i] === 1).length;
  assert.deepEqual([ones(s.train), ones(s.val), ones(s.test)], [240, 30, 30]);
  // Parts are shuffled, not grouped by class.
  const firstTen = Array.from(s.train.slice(0, 40), (i) => labels[i]);
  assert.ok(firstTen.includes(0) && firstTen.includes(1));
});

Deno.test("fractions: missing parts share the rest; bad sums are refused", () => {
  const s = splitIndices(100, { seed: 0, train: 0.8, test: 0.2 });
  assert.deepEqual([s.train.length, s.val.length, s.test.length], [80, 0, 20]);
  const t = splitIndices(100, { seed: 0, train: 0.6 });
  assert.deepEqual([t.train.length, t.val.length, t.test.length], [60, 20, 20]);
  assert.throws(() => splitIndices(10, { train: 0.8, val: 0.8, test: 0.1 }), /must add up to 1/);
  assert.throws(() => splitIndices(10, { train: -0.1 }), /must be in \[0, 1\]/);
  assert.throws(
    () => splitIndices(10, { stratify: [0, 1] }),
    /stratify has 2 labels for 10 samples/,
  );
});

Deno.test("splitData splits aligned columns the same way", () => {
  const texts = labels.map((y, i) => `text ${i} label ${y}`);
  const parts = splitData({ texts, labels }, { seed: 9, stratify: labels });
  parts.train.texts.forEach((t, k) => assert.ok(t.endsWith(`label ${parts.train.labels[k]}`)));
  assert.deepEqual(parts.test.texts, take(texts, parts.indices.test));
  assert.throws(() => splitData({ a: [1, 2], b: [1] }), /Column "b" has 1 items but "a" has 2/);
});

Deno.test("takeRows picks rows of a flat matrix and keeps the array type", () => {
  const x = Int32Array.from([0, 0, 1, 1, 2, 2]);
  const out = takeRows(x, 2, [2, 0]);
  assert.ok(out instanceof Int32Array);
  assert.deepEqual(Array.from(out), [2, 2, 0, 0]);
  assert.throws(() => takeRows(x, 2, [3]), /Row 3 is outside 0 … 2/);
});
