// Masked-token examples: the picked position is masked, its target is the original id,
// padding is never masked, about 15 % of the real tokens are masked, seeded; sentences split.
import assert from "node:assert/strict";
import { maskedTokenTensors, splitSentences } from "../../../lib/data/masked_tokens.ts";

Deno.test("maskedTokenTensors: masks, picks and targets", async () => {
  const rows = [
    Int32Array.from([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0, 0, 0, 0]),
    Int32Array.from([3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    new Int32Array(20), // all padding: skipped
  ];
  const t = maskedTokenTensors(rows, { maskId: 99, copies: 3, seed: 1 });
  assert.deepEqual(t.ids.shape, [6, 20]);
  const ids = await t.ids.array();
  const pick = await t.pick.array();
  const target = await t.target.array();
  ids.forEach((row, i) => {
    const src = rows[Math.floor(i / 3)];
    const at = pick[i].indexOf(1);
    assert.equal(pick[i].reduce((a, b) => a + b, 0), 1, "one picked position");
    assert.equal(row[at], 99, "the picked position is masked");
    assert.equal(target[i][0], src[at], "its target is the original id");
    row.forEach((id, j) => {
      if (src[j] === 0) assert.equal(id, 0, "padding is never masked");
      else assert.ok(id === src[j] || id === 99);
    });
    const masked = row.filter((id) => id === 99).length;
    assert.equal(masked, Math.max(1, Math.round(0.15 * src.filter((v) => v !== 0).length)));
  });
  const again = maskedTokenTensors(rows, { maskId: 99, copies: 3, seed: 1 });
  assert.deepEqual(await again.ids.array(), ids);
  t.dispose();
  again.dispose();
});

Deno.test("splitSentences", () => {
  assert.deepEqual(splitSentences("Call me Ishmael. Some years\nago I went! Ok? Yes it is."), [
    "Call me Ishmael.",
    "Some years ago I went!",
    "Yes it is.",
  ]);
});
