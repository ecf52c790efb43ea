import assert from "node:assert/strict";
import { pairedComparison } from "../../lib/mod.ts";

Deno.test("pairedComparison: counts the disagreements and their standard error", () => {
  // A right on 0–7, B right on 0–3 and 8–9, of 10: onlyA = 4 (4–7), onlyB = 2 (8, 9)
  const a = Array.from({ length: 10 }, (_, i) => i < 8);
  const b = Array.from({ length: 10 }, (_, i) => i < 4 || i >= 8);
  const p = pairedComparison(a, b);
  assert.equal(p.onlyA, 4);
  assert.equal(p.onlyB, 2);
  assert.equal(p.difference, 0.2); // 0.8 − 0.6
  const se = Math.sqrt(6 - 4 / 10) / 10;
  assert.ok(Math.abs(p.standardError - se) < 1e-12);
  assert.ok(Math.abs(p.z - 0.2 / se) < 1e-12);
  // swapping A and B flips the sign only
  const q = pairedComparison(b, a);
  assert.equal(q.difference, -p.difference);
  assert.equal(q.standardError, p.standardError);
});

Deno.test("pairedComparison: agreement everywhere gives z = 0, not NaN", () => {
  const same = [true, false, true];
  const p = pairedComparison(same, same);
  assert.deepEqual([p.onlyA, p.onlyB, p.difference, p.z], [0, 0, 0, 0]);
  assert.equal(p.standardError, 1 / 3);
});

Deno.test("pairedComparison: different lengths or no examples are one clear error", () => {
  assert.throws(() => pairedComparison([true], [true, false]), /on 1 examples and B on 2/);
  assert.throws(() => pairedComparison([], []), /no test examples/);
});
