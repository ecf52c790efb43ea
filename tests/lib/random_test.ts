import assert from "node:assert/strict";
import { Rng, rng, setupBackend } from "nn";

Deno.test("Rng: the same seed gives the same stream, another seed another stream", () => {
  const a = rng(7), b = rng(7), c = rng(8);
  const sa = Array.from({ length: 20 }, () => a.next());
  const sb = Array.from({ length: 20 }, () => b.next());
  const sc = Array.from({ length: 20 }, () => c.next());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  assert.ok(sa.every((v) => v >= 0 && v < 1));
});

Deno.test("Rng: uniform enough (mean and per-bucket counts of 100 000 draws)", () => {
  const r = rng(1);
  const buckets = new Array(10).fill(0);
  let sum = 0;
  for (let i = 0; i < 100_000; i++) {
    const v = r.next();
    sum += v;
    buckets[Math.floor(v * 10)]++;
  }
  assert.ok(Math.abs(sum / 100_000 - 0.5) < 0.005);
  // Each bucket expects 10 000 ± 95 (1 sd); 5 sd is a loose, failing-on-bugs bound.
  for (const n of buckets) assert.ok(Math.abs(n - 10_000) < 475, `bucket count ${n}`);
});

Deno.test("Rng: permutation and shuffle are permutations, deterministic per seed", () => {
  const p = rng(3).permutation(1000);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(p, rng(3).permutation(1000));
  assert.notDeepEqual(p, rng(4).permutation(1000));
  const items = ["a", "b", "c", "d", "e"];
  const s = rng(5).shuffle(items.slice());
  assert.deepEqual(s.slice().sort(), items);
});

Deno.test("Rng: fork depends on the label and seed only, not on use", () => {
  const a = rng(9);
  const f1 = a.fork("split").next();
  a.next();
  a.next();
  assert.equal(a.fork("split").next(), f1);
  assert.notEqual(a.fork("init").next(), f1);
  assert.notEqual(rng(10).fork("split").next(), f1);
});

Deno.test("Rng: int range, normal moments, bad seeds", () => {
  const r = new Rng(11);
  for (let i = 0; i < 1000; i++) {
    const v = r.int(6);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 6);
  }
  let s = 0, s2 = 0;
  for (let i = 0; i < 20_000; i++) {
    const v = r.normal();
    s += v;
    s2 += v * v;
  }
  assert.ok(Math.abs(s / 20_000) < 0.05);
  assert.ok(Math.abs(s2 / 20_000 - 1) < 0.05);
  assert.throws(() => new Rng(NaN), /finite number/);
  assert.throws(() => r.int(0), /max >= 1/);
});

Deno.test("Rng.initializer: seeded tfjs initializers repeat per seed", async () => {
  const tf = await import("@tensorflow/tfjs");
  await setupBackend({ backend: "cpu" });
  const w1 = rng(0).initializer("glorotUniform").apply([4, 3]);
  const w2 = rng(0).initializer("glorotUniform").apply([4, 3]);
  const w3 = rng(1).initializer("glorotUniform").apply([4, 3]);
  assert.deepEqual(await w1.data(), await w2.data());
  assert.notDeepEqual(await w1.data(), await w3.data());
  tf.dispose([w1, w2, w3]);
  assert.throws(() => rng(0).initializer("nope" as never), /Unknown initializer/);
});
