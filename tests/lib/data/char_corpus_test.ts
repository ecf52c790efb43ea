// The character corpus shared by the recurrent and Transformer notebooks: vocabulary and
// held-out tail, windows and their tensors, the unigram baseline, the Moby-Dick chapters.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  charCorpus,
  charWindows,
  charWindowTensors,
  loadMobyDick,
  unigramBitsPerChar,
} from "../../../lib/data/mod.ts";

Deno.test("charCorpus, charWindows and the unigram baseline", () => {
  const c = charCorpus(["abab", "cc"], { valFraction: 0.3 });
  assert.deepEqual(c.chars, ["\n", "a", "b", "c"]);
  assert.equal(c.train.length + c.val.length, 7);
  assert.equal(c.val.length, 2);
  assert.deepEqual(Array.from(c.val), [c.id("c"), c.id("c")]);
  assert.throws(() => c.id("z"), /not in the corpus/);
  const w = charWindows(Int32Array.of(0, 1, 2, 3, 4, 5), 2);
  assert.deepEqual(w.inputs, [[0, 1], [2, 3]]);
  assert.deepEqual(w.targets, [[1, 2], [3, 4]]);
  assert.equal(charWindows(Int32Array.of(0, 1, 2, 3), 2, 1).inputs.length, 2);
  // uniform over 4 symbols with add-one smoothing: 2 bits
  assert.equal(unigramBitsPerChar(Int32Array.of(0, 1, 2, 3), Int32Array.of(0, 1, 2, 3), 4), 2);
  // skewed training text, validation of the rare symbol: more bits
  assert.ok(unigramBitsPerChar(Int32Array.of(0, 0, 0, 0, 0, 0), Int32Array.of(1), 2) > 2);
});

Deno.test("charWindowTensors: int32 ids and one-hot next characters", async () => {
  await tf.setBackend("cpu");
  const { x, y } = charWindowTensors(Int32Array.of(0, 1, 2, 0, 1, 2, 0), 3, 3);
  assert.equal(x.dtype, "int32");
  assert.deepEqual(await x.array(), [[0, 1, 2], [0, 1, 2]]);
  assert.deepEqual(y.shape, [2, 3, 3]);
  assert.deepEqual((await y.array())[1], [[0, 1, 0], [0, 0, 1], [1, 0, 0]]);
  tf.dispose([x, y]);
  assert.throws(() => charWindowTensors(Int32Array.of(0, 1), 2, 3), /shorter than a window/);
});

Deno.test("loadMobyDick reads the sha256-checked chapters", async () => {
  const [one, two] = await loadMobyDick(2);
  assert.ok(one.startsWith("CHAPTER 1. Loomings."));
  assert.ok(two.startsWith("CHAPTER 2."));
  assert.ok(one.includes("Call me Ishmael."));
  await assert.rejects(() => loadMobyDick(11), /chapters 1–10/);
});
