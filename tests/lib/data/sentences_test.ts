// The sentence split shared by the recurrent and Transformer notebooks: sizes, stratified
// labels, a seeded split, a training-only vocabulary, and tensors that match the texts.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { sentenceData, sentimentTensors, Vocabulary, wordTokenize } from "../../../lib/data/mod.ts";

Deno.test("sentenceData splits 3000 sentences 2400/300/300, stratified and seeded", async () => {
  await tf.setBackend("cpu");
  const a = await sentenceData({ length: 12, seed: 0 });
  const b = await sentenceData({ length: 12, seed: 0 });
  const c = await sentenceData({ length: 12, seed: 1 });
  assert.deepEqual(
    [a.texts.train.length, a.texts.val.length, a.texts.test.length],
    [2400, 300, 300],
  );
  // the data set is half positive, and each part keeps that share
  for (const part of ["train", "val", "test"] as const) {
    const n = a.labels[part].length;
    assert.equal(a.labels[part].filter((y) => y === 1).length, n / 2, part);
  }
  assert.deepEqual(a.texts.test, b.texts.test);
  assert.notDeepEqual(a.texts.test, c.texts.test);
  // no sentence is in two parts
  const train = new Set(a.texts.train);
  assert.ok(a.texts.test.filter((t) => train.has(t)).length < 5, "test overlaps training");
  [a, b, c].forEach((d) => d.dispose());
});

Deno.test("sentenceData's tensors encode the texts with the training vocabulary", async () => {
  await tf.setBackend("cpu");
  const d = await sentenceData({ length: 12, seed: 0 });
  const { xTrain, yTrain, xTest, yTest } = d.tensors;
  assert.deepEqual(xTrain.shape, [2400, 12]);
  assert.deepEqual(yTest.shape, [300, 2]);
  assert.equal(xTrain.dtype, "int32");
  // the vocabulary comes from the training part: every word in it occurs there twice or more
  const counts = new Map<string, number>();
  for (const t of d.texts.train) {
    for (const w of wordTokenize(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  for (let id = 2; id < d.vocabulary.size; id++) {
    assert.ok((counts.get(d.vocabulary.token(id)) ?? 0) >= 2, d.vocabulary.token(id));
  }
  // the first test row is the first test sentence's last 12 ids, padded in front with 0;
  // its label row is one-hot
  const row = (await xTest.array())[0];
  const ids = Array.from(d.vocabulary.encode(wordTokenize(d.texts.test[0]))).slice(-12);
  assert.deepEqual(row, [...new Array(12 - ids.length).fill(Vocabulary.PAD), ...ids]);
  assert.ok(row.every((id) => id >= 0 && id < d.vocabulary.size));
  assert.deepEqual((await yTest.array())[0], d.labels.test[0] === 1 ? [0, 1] : [1, 0]);
  const before = tf.memory().numTensors;
  d.dispose();
  assert.equal(tf.memory().numTensors, before - 6);
  assert.ok(yTrain.isDisposed);
});

Deno.test("sentimentTensors is sentenceData's tensors with the vocabulary size", async () => {
  await tf.setBackend("cpu");
  const d = await sentenceData({ length: 8, seed: 2 });
  const t = await sentimentTensors({ length: 8, seed: 2 });
  assert.equal(t.vocabSize, d.vocabulary.size);
  assert.deepEqual(await t.xVal.array(), await d.tensors.xVal.array());
  d.dispose();
  t.dispose();
});
