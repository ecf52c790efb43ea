// CNN text notebook helpers and the shared baselines: split, encoding, the hand
// receptive field, confusion matrix, filter n-grams, AFINN scoring and
// bag-of-words logistic regression.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../lib/kernels/mod.ts";
import { cnnTextClassifier } from "../../../lib/models/cnn_text.ts";
import { disposeModel, train } from "../../../lib/train.ts";
import { adam } from "../../../lib/kernels/adam.ts";
import {
  afinnBaseRate,
  cnnTextProfile,
  confusionMatrix,
  encodeSplit,
  filterNgrams,
  hasAfinnWord,
  receptiveFieldByGradient,
  sentenceSplit,
} from "../../../lib/experiments/cnn_text.ts";
import {
  accuracy,
  AFINN,
  afinnMatches,
  afinnPredict,
  afinnScore,
  bagOfWords,
  bowLogisticRegression,
} from "../../../lib/models/baselines.ts";
import { Vocabulary } from "../../../lib/data/vocabulary.ts";

await tf.setBackend("cpu");

Deno.test("AFINN: scores, longest phrase first, tie rule", () => {
  assert.equal(Object.keys(AFINN).length, 3382);
  assert.equal(afinnScore("a good, good film"), 2 * AFINN["good"]);
  assert.equal(afinnScore("the table"), 0);
  // "does not work" is one entry (−3), not does + not + work
  assert.deepEqual(afinnMatches("It does not work").map((m) => m.phrase), ["does not work"]);
  assert.equal(afinnScore("It does not work"), AFINN["does not work"]);
  assert.deepEqual(afinnPredict(["great food", "terrible", "a table"]), [1, 0, 1]);
  assert.deepEqual(afinnPredict(["a table"], { tie: 0 }), [0]);
  assert.equal(accuracy([1, 0, 1], [1, 1, 1]), 2 / 3);
  assert.throws(() => accuracy([1], [1, 0]), /one per label/);
});

Deno.test("AFINN on the UCI sentences is in the range the sentiment package reports", async () => {
  const s = await sentenceSplit({ seed: 0 });
  const all = [...s.train.texts, ...s.val.texts, ...s.test.texts];
  const labels = [...s.train.labels, ...s.val.labels, ...s.test.labels];
  const acc = accuracy(afinnPredict(all), labels);
  assert.ok(acc > 0.68 && acc < 0.78, `AFINN accuracy ${acc}`);
});

Deno.test("split: stratified 80/10/10, seeded; cross-domain holds one source out", async () => {
  const a = await sentenceSplit({ seed: 3 });
  const b = await sentenceSplit({ seed: 3 });
  const c = await sentenceSplit({ seed: 4 });
  assert.equal(a.train.texts.length, 2400);
  assert.equal(a.test.labels.filter((y) => y === 1).length, 150);
  assert.deepEqual(a.test.texts, b.test.texts);
  assert.notDeepEqual(a.test.texts, c.test.texts);
  const x = await sentenceSplit({ heldOut: "imdb", seed: 0 });
  assert.equal(x.test.texts.length, 1000);
  assert.ok(x.test.source.every((s) => s === "imdb"));
  assert.ok([...x.train.source, ...x.val.source].every((s) => s !== "imdb"));
  assert.equal(x.train.texts.length + x.val.texts.length, 2000);
  await assert.rejects(() => sentenceSplit({ heldOut: "twitter" as never, seed: 0 }), /heldOut/);
});

Deno.test("encodeSplit: post padding keeps word t at position t; pre for recurrent models", async () => {
  const s = await sentenceSplit({ seed: 0 });
  const post = encodeSplit(s, { length: 12, minCount: 2 });
  const pre = encodeSplit(s, { length: 12, minCount: 2, padding: "pre" });
  assert.deepEqual(post.xTrain.shape, [2400, 12]);
  assert.deepEqual(await post.yVal.array().then((y) => y.map((r) => r.indexOf(1))), s.val.labels);
  assert.deepEqual(post.testLabels, s.test.labels);
  const first = post.testIds[0];
  assert.equal(post.vocab.token(first[0]) !== Vocabulary.PAD_TOKEN, true);
  const short = post.testIds.findIndex((r) => r[11] === Vocabulary.PAD);
  assert.ok(short >= 0);
  assert.equal(pre.testIds[short][0], Vocabulary.PAD);
  post.dispose();
  pre.dispose();
});

Deno.test("receptive field by gradient: 1 + Σ(k − 1)", async () => {
  assert.equal(await receptiveFieldByGradient([1]), 1);
  assert.equal(await receptiveFieldByGradient([4]), 4);
  assert.equal(await receptiveFieldByGradient([3, 2]), 4);
});

Deno.test("confusion matrix and profiles", () => {
  assert.deepEqual(confusionMatrix([1, 0, 1, 1], [1, 0, 0, 1], 2), [[1, 1], [0, 2]]);
  assert.throws(() => confusionMatrix([1], [1, 0], 2), /predictions/);
  assert.equal(cnnTextProfile("smoke").epochs < cnnTextProfile("full").epochs, true);
  assert.equal(cnnTextProfile("full", { filters: 7 }).filters, 7);
  // every run of the full profile can stop by early stopping before its cap
  const full = cnnTextProfile("full");
  for (const cap of [full.epochs, full.transferEpochs, full.compareEpochs]) {
    assert.ok(cap > 2 * full.patience, `cap ${cap}`);
  }
  assert.throws(() => cnnTextProfile("huge"), /Unknown profile/);
});

Deno.test("AFINN window helpers", () => {
  assert.equal(hasAfinnWord(["was", "really", "good"]), true);
  assert.equal(hasAfinnWord(["the", "table"]), false);
  assert.equal(hasAfinnWord(["does", "not", "work"]), true);
  const v = Vocabulary.fromTexts(["good food", "the table"]);
  const rows = [v.encode(["good", "food"]), v.encode(["the", "table"])];
  const rate = afinnBaseRate(rows, v, { width: 1, samples: 4000, seed: 0 });
  assert.ok(Math.abs(rate - 0.25) < 0.03, `rate ${rate}`);
  // width 2: one window per sentence, one of the two holds "good"
  const rate2 = afinnBaseRate(rows, v, { width: 2, samples: 4000, seed: 0 });
  assert.ok(Math.abs(rate2 - 0.5) < 0.03, `rate ${rate2}`);
});

Deno.test("a small CNN trained on the split beats chance; its filters report n-grams of their width", async () => {
  const s = await sentenceSplit({ seed: 0 });
  const d = encodeSplit(s, { length: 20, minCount: 2 });
  const model = cnnTextClassifier({
    vocabSize: d.vocab.size,
    sequenceLength: 20,
    embeddingDim: 16,
    filters: 6,
    kernelSizes: [2, 3],
    outputs: 2,
    seed: 0,
  });
  model.compile({ optimizer: adam(0.01), loss: tf.losses.softmaxCrossEntropy, metrics: ["acc"] });
  const run = await train(model, d.xTrain, d.yTrain, {
    epochs: 2,
    batchSize: 50,
    seed: 0,
    validationData: [d.xVal, d.yVal],
    progress: "none",
  });
  const valAccuracy = run.history.val_acc.at(-1)!;
  assert.ok(valAccuracy > 0.6, `validation accuracy ${valAccuracy}`);
  const report = await filterNgrams(model, d, { top: 4 });
  assert.equal(report.length, 12);
  for (let i = 1; i < report.length; i++) assert.ok(report[i - 1].strength >= report[i].strength);
  for (const f of report) {
    assert.ok(f.top.length <= 4 && f.top.length > 0);
    for (const h of f.top) assert.ok(h.words.length <= f.width && h.words.length > 0);
    for (let i = 1; i < f.top.length; i++) {
      assert.ok(f.top[i - 1].activation >= f.top[i].activation);
    }
  }
  const only3 = await filterNgrams(model, d, { top: 1, widths: [3] });
  assert.ok(only3.length === 6 && only3.every((f) => f.width === 3));
  disposeModel(model);
  d.dispose();
});

Deno.test("bag-of-words logistic regression learns word polarity and leaks no tensors", async () => {
  const before = tf.memory().numTensors;
  const v = Vocabulary.fromTexts(["good film", "bad film"]);
  const x = bagOfWords(["good good film", "unknownword"], v);
  const rows = x.arraySync();
  assert.equal(rows[0][v.encode(["good"])[0]], 1);
  assert.equal(rows[1][Vocabulary.OOV], 1);
  x.dispose();
  const texts = ["good", "bad", "very good", "very bad", "good stuff", "bad stuff"];
  const labels = [1, 0, 1, 0, 1, 0];
  const m = await bowLogisticRegression({
    train: { texts, labels },
    val: { texts, labels },
    epochs: 40,
    learningRate: 0.1,
  });
  assert.deepEqual(await m.predict(["good", "bad"]), [1, 0]);
  assert.equal(m.topWords(1)[0].word, "good");
  m.dispose();
  assert.equal(tf.memory().numTensors, before);
});
