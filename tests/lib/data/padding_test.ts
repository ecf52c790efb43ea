import assert from "node:assert/strict";
import { encodeTexts, padSequences, Vocabulary } from "../../../lib/data/mod.ts";

const rows = (r: Int32Array[]) => r.map((x) => Array.from(x));

Deno.test("pre padding and pre truncation are the defaults (as Keras)", () => {
  const out = padSequences([[1, 2], [3, 4, 5, 6], []], { length: 3 });
  assert.ok(out.every((r) => r instanceof Int32Array && r.length === 3));
  assert.deepEqual(rows(out), [[0, 1, 2], [4, 5, 6], [0, 0, 0]]);
});

Deno.test("post padding and post truncation", () => {
  const out = padSequences([[1, 2], [3, 4, 5, 6]], {
    length: 3,
    padding: "post",
    truncating: "post",
  });
  assert.deepEqual(rows(out), [[1, 2, 0], [3, 4, 5]]);
});

Deno.test("padding and truncation sides are independent", () => {
  assert.deepEqual(rows(padSequences([[1], [1, 2, 3, 4]], { length: 2, padding: "post" })), [
    [1, 0],
    [3, 4],
  ]);
  assert.deepEqual(rows(padSequences([[1], [1, 2, 3, 4]], { length: 2, truncating: "post" })), [[
    0,
    1,
  ], [1, 2]]);
});

Deno.test("length defaults to the longest sequence; value sets the pad id", () => {
  assert.deepEqual(rows(padSequences([[1], [2, 3, 4]])), [[0, 0, 1], [2, 3, 4]]);
  assert.deepEqual(rows(padSequences([[7]], { length: 3, value: -1, padding: "post" })), [[
    7,
    -1,
    -1,
  ]]);
});

Deno.test("rows share one contiguous buffer in row order", () => {
  const out = padSequences([[1, 2], [3, 4]], { length: 2 });
  assert.equal(out[0].buffer, out[1].buffer);
  assert.deepEqual(Array.from(new Int32Array(out[0].buffer)), [1, 2, 3, 4]);
});

Deno.test("bad options are refused", () => {
  assert.throws(
    () => padSequences([[1]], { padding: "left" as never }),
    /padding must be "pre" or "post"/,
  );
  assert.throws(() => padSequences([[1]], { length: -1 }), /length must be an integer >= 0/);
});

Deno.test("encodeTexts tokenises, maps unknown words to OOV and pads", () => {
  const vocab = Vocabulary.fromTexts(["good film", "good"]);
  const out = encodeTexts(["Good, GOOD film!", "bad"], vocab, { length: 4, padding: "post" });
  const g = vocab.id("good"), f = vocab.id("film");
  // "good , good film !" is 5 tokens: pre truncation keeps the last 4
  assert.deepEqual(rows(out), [[1, g, f, 1], [1, 0, 0, 0]]);
});
