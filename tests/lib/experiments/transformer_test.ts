// Experiment helpers of the Transformer notebook: profiles, attention by hand against
// mathjs, causal gradients, position dot products, the sentence split (the recurrent
// notebook's), the decoder and encoder runs, timing and the recall task; no leaked tensors.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../lib/kernels/mod.ts";
import { charLanguageModel } from "../../../lib/models/recurrent.ts";
import { disposeModel } from "../../../lib/train.ts";
import * as ex from "../../../lib/experiments/transformer.ts";
import { charCorpus, sentimentTensors } from "../../../lib/experiments/recurrent.ts";

await tf.setBackend("cpu");

Deno.test("transformerProfile merges overrides and rejects unknown profiles", () => {
  const p = ex.transformerProfile("full", { chars: { epochs: 2 } });
  assert.equal(p.chars.epochs, 2);
  assert.equal(p.chars.window, 64);
  assert.throws(() => ex.transformerProfile("huge"), /Unknown profile/);
});

Deno.test("attentionByHand: tfjs equals mathjs; causal rows see only the past", async () => {
  const plain = await ex.attentionByHand({ seed: 3 });
  assert.ok(plain.maxDifference < 1e-5, `${plain.maxDifference}`);
  assert.ok(plain.weights.every((row) => Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6));
  assert.ok(plain.weights.every((row) => row.every((w) => w > 0)), "no mask: every weight > 0");
  const causal = await ex.attentionByHand({ seed: 3, causal: true });
  assert.ok(causal.maxDifference < 1e-5);
  causal.weights.forEach((row, i) => row.forEach((w, j) => j > i && assert.equal(w, 0)));
  assert.deepEqual(causal.weights[0], [1, 0, 0, 0]);
});

Deno.test("causalGradients: zero above the diagonal, non-zero on and below", async () => {
  const before = tf.memory().numTensors;
  const g = await ex.causalGradients({ seed: 1, length: 5, dModel: 8 });
  assert.equal(g.norms.length, 5);
  assert.equal(g.leak, 0);
  assert.ok(g.smallestPast > 0);
  assert.ok(g.norms.every((row, t) => row.every((v, s) => (s > t ? v === 0 : v > 0))));
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
});

Deno.test("positionDotProducts: D/2 at distance 0, falls with distance, same for every p", () => {
  const r = ex.positionDotProducts({ length: 40, d: 16, maxDistance: 10 });
  assert.ok(Math.abs(r.meanDot[0] - 8) < 1e-5);
  assert.ok(r.meanDot[1] < r.meanDot[0] && r.meanDot[2] < r.meanDot[1]);
  assert.ok(r.maxSpread < 1e-4, `${r.maxSpread}`);
  assert.equal(r.distances.length, 11);
});

Deno.test("matchingLstmUnits picks the units whose model size is closest", () => {
  const target = 50000;
  const u = ex.matchingLstmUnits({ params: target, vocabSize: 40, embeddingDim: 16 });
  const size = (n: number) => {
    const m = charLanguageModel({ vocabSize: 40, embeddingDim: 16, units: n });
    const c = m.countParams();
    m.dispose();
    return c;
  };
  const d = Math.abs(size(u) - target);
  assert.ok(d <= Math.abs(size(u - 1) - target) && d <= Math.abs(size(u + 1) - target));
});

Deno.test("recallFirstTask: the label is the first symbol", async () => {
  const d = ex.recallFirstTask({ n: 50, length: 7, symbols: 5, seed: 2 });
  const x = (await d.x.array()) as number[][];
  const y = (await tf.argMax(d.y, 1).array()) as number[];
  assert.ok(x.every((row, i) => row[0] - 1 === y[i] && row.every((v) => v >= 1 && v <= 5)));
  assert.ok(new Set(y).size > 1, "several classes");
  d.dispose();
});

Deno.test("sentenceData splits as the recurrent notebook does", async () => {
  const d = await ex.sentenceData({ length: 12, seed: 0 });
  const r = await sentimentTensors({ length: 12, seed: 0 });
  assert.equal(d.texts.test.length, 300);
  assert.deepEqual(d.tensors.xTest.shape, [300, 12]);
  assert.deepEqual(Array.from(await d.tensors.xTest.data()), Array.from(await r.xTest.data()));
  assert.deepEqual(
    Array.from(await tf.argMax(r.yTest, 1).data()),
    d.labels.test,
    "same test labels",
  );
  d.dispose();
  r.dispose();
});

Deno.test("fitEncoderClassifier and sentenceAttention on a tiny run", async () => {
  const d = await ex.sentenceData({ length: 8, seed: 0 });
  const run = await ex.fitEncoderClassifier(d, {
    dModel: 8,
    numHeads: 2,
    ffDim: 8,
    numLayers: 1,
    epochs: 1,
    seed: 0,
    progress: "none",
  });
  assert.ok(run.testAccuracy >= 0 && run.testAccuracy <= 1);
  assert.equal(run.testPredictions.length, 300);
  const att = await ex.sentenceAttention(run.model, d.vocabulary, "Good food, bad service.", {
    length: 8,
  });
  assert.equal(att.tokens.length, 6);
  assert.equal(att.weights.length, 2, "one matrix per head");
  assert.ok(att.weights[0].every((row) => row.length === 6));
  disposeModel(run.model);
  d.dispose();
});

Deno.test("fitDecoderModel reports bits per character and the unigram baseline", async () => {
  const before = tf.memory().numTensors;
  const c = charCorpus(["the cat sat on the mat. ".repeat(30)]);
  const run = await ex.fitDecoderModel(c, {
    window: 12,
    dModel: 16,
    numHeads: 2,
    ffDim: 32,
    numLayers: 1,
    epochs: 3,
    learningRate: 0.01,
    seed: 0,
    progress: "none",
  });
  assert.equal(run.valBitsCurve.length, 3);
  assert.ok(run.valBits < run.valBitsCurve[0], "validation loss falls on a repetitive text");
  assert.ok(run.unigramBits > 2 && run.unigramBits < 4);
  disposeModel(run.model);
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
});

Deno.test("timeForwardBackward and fitRecall return one row per model and length", async () => {
  const rows = await ex.timeForwardBackward({
    lengths: [4, 8],
    batchSize: 2,
    width: 8,
    repeats: 1,
    seed: 0,
  });
  assert.deepEqual(rows.map((r) => `${r.kind}${r.length}`), [
    "lstm4",
    "transformer4",
    "lstm8",
    "transformer8",
  ]);
  assert.ok(rows.every((r) => r.ms > 0));
  assert.equal(rows[0].params, rows[2].params, "the LSTM's size does not depend on T");
  const r = await ex.fitRecall({
    kind: "transformer",
    length: 6,
    symbols: 3,
    trainSize: 64,
    testSize: 32,
    width: 8,
    epochs: 1,
    seed: 0,
    progress: "none",
  });
  assert.ok(r.testAccuracy >= 0 && r.testAccuracy <= 1);
  assert.equal(r.length, 6);
});
