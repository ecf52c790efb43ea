// The encoder–decoder and its generation: shapes, a padded source token changes nothing,
// a later target token does not change earlier outputs, finite non-zero gradients of every
// weight, serialisation round trip, the decoder pass and the cached steps equal predict,
// greedy with and without the cache and beam width 1 give the same tokens, beam scores are
// the log-probabilities of their sequences, no tensors leak.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  encoderDecoder,
  transferWeights,
  transformerEncoder,
} from "../../../lib/models/encoder_decoder.ts";
import {
  beamSearch,
  disposeEncoded,
  greedyDecode,
  greedyDecodeModel,
  seq2seqParts,
  timeGeneration,
} from "../../../lib/models/generation.ts";

await tf.setBackend("cpu");

const opts = {
  sourceVocabSize: 12,
  targetVocabSize: 7,
  sourceLength: 6,
  targetLength: 8,
  dModel: 16,
  numHeads: 2,
  ffDim: 24,
  seed: 5,
};
const source = () => tf.tensor2d([[3, 4, 5, 0, 0, 0], [7, 8, 9, 10, 11, 2]], [2, 6], "int32");

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b)))).data().then((d) => d[0]);
}

Deno.test("encoderDecoder: shape, padding and causality", async () => {
  const m = encoderDecoder(opts);
  assert.deepEqual(m.outputs[0].shape, [null, null, 7]);
  const src = source();
  const prefix = tf.tensor2d([[1, 3, 4, 5], [1, 6, 2, 3]], [2, 4], "int32");
  const p = m.predict([src, prefix]) as tf.Tensor;
  assert.deepEqual(p.shape, [2, 4, 7]);
  // the padded source positions are masked out: changing their ids... (pad id 0 stays 0
  // in the mask, so instead change the embedding row of padding: it must not matter)
  const emb = m.getLayer("encoder_embedding");
  const w = emb.getWeights()[0];
  emb.setWeights([
    tf.tidy(() =>
      tf.concat([tf.onesLike(tf.slice(w, [0, 0], [1, -1])).mul(7), tf.slice(w, [1, 0], [-1, -1])])
    ),
  ]);
  const p2 = m.predict([src, prefix]) as tf.Tensor;
  assert.ok(
    (await maxAbsDiff(tf.slice(p, [0], [1]), tf.slice(p2, [0], [1]))) < 1e-5,
    "padding ignored",
  );
  // changing the last target token leaves the earlier positions' outputs unchanged
  const other = tf.tensor2d([[1, 3, 4, 2], [1, 6, 2, 5]], [2, 4], "int32");
  const p3 = m.predict([src, other]) as tf.Tensor;
  assert.equal(
    await maxAbsDiff(tf.slice(p2, [0, 0, 0], [-1, 3, -1]), tf.slice(p3, [0, 0, 0], [-1, 3, -1])),
    0,
  );
  assert.ok((await maxAbsDiff(p2, p3)) > 0);
  m.dispose();
});

Deno.test("encoderDecoder: every weight gets a finite, non-zero gradient", async () => {
  const m = encoderDecoder(opts);
  const src = source();
  const tin = tf.tensor2d([[1, 3, 4], [1, 6, 2]], [2, 3], "int32");
  const y = tf.oneHot(tf.tensor2d([[3, 4, 2], [6, 2, 2]], [2, 3], "int32"), 7);
  const { grads } = tf.variableGrads(() =>
    tf.losses.softmaxCrossEntropy(y, tf.log(m.apply([src, tin]) as tf.Tensor)) as tf.Scalar
  );
  assert.equal(Object.keys(grads).length, m.trainableWeights.length);
  for (const [name, g] of Object.entries(grads)) {
    const v = await g.data();
    assert.ok(v.every(Number.isFinite), `${name} finite`);
    if (!name.includes("embedding") && !name.includes("positions")) {
      assert.ok(v.some((e) => e !== 0), `${name} non-zero`);
    }
  }
  m.dispose();
});

Deno.test("encoderDecoder: save/load round trip, generation from the loaded model", async () => {
  const m = encoderDecoder(opts);
  const artifacts = await new Promise<tf.io.ModelArtifacts>((resolve) => {
    m.save(tf.io.withSaveHandler((a) => {
      resolve(a);
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
  });
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const src = source();
  const prefix = tf.tensor2d([[1, 3], [1, 6]], [2, 2], "int32");
  assert.equal(
    await maxAbsDiff(
      m.predict([src, prefix]) as tf.Tensor,
      loaded.predict([src, prefix]) as tf.Tensor,
    ),
    0,
  );
  const a = await greedyDecode(seq2seqParts(m), src, { startId: 1, steps: 5 });
  const b = await greedyDecode(seq2seqParts(loaded), src, { startId: 1, steps: 5 });
  assert.deepEqual(a, b);
});

Deno.test("generation: decoder pass and cached steps equal predict; greedy with/without cache, beam 1", async () => {
  const m = encoderDecoder(opts);
  const parts = seq2seqParts(m);
  assert.equal(parts.numLayers, 2);
  assert.equal(parts.maxTargetLength, 8);
  const src = source();
  const prefix = tf.tensor2d([[1, 3, 4, 5, 6], [1, 6, 2, 3, 3]], [2, 5], "int32");
  const full = m.predict([src, prefix]) as tf.Tensor3D;
  const enc = parts.encode(src);
  const { probs } = parts.decode(prefix, enc);
  assert.ok((await maxAbsDiff(full, probs)) < 1e-6, "decode = predict");
  let cache = parts.emptyCache();
  for (let t = 0; t < 5; t++) {
    const r = parts.step(tf.slice(prefix, [0, t], [-1, 1]), enc, cache);
    cache = r.cache;
    const expected = tf.squeeze(tf.slice(full, [0, t, 0], [-1, 1, -1]), [1]);
    assert.ok((await maxAbsDiff(r.probs, expected)) < 1e-5, `cached step ${t}`);
  }
  disposeEncoded(enc);
  const before = tf.memory().numTensors;
  const cached = await greedyDecode(parts, src, { startId: 1, steps: 7 });
  const uncached = await greedyDecode(parts, src, { startId: 1, steps: 7, cache: false });
  const viaPredict = await greedyDecodeModel(m, src, { startId: 1, steps: 7 });
  const beam1 = await beamSearch(parts, src, { startId: 1, steps: 7, beamWidth: 1 });
  await beamSearch(parts, src, { startId: 1, steps: 7, beamWidth: 3, endId: 2 });
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  assert.deepEqual(cached, uncached);
  assert.deepEqual(cached, viaPredict);
  assert.deepEqual(beam1.tokens, cached);
  assert.equal(cached[0].length, 7);
});

Deno.test("beamSearch: each returned score is the log-probability of its sequence, and ≥ greedy's here", async () => {
  const m = encoderDecoder({ ...opts, seed: 9 });
  const parts = seq2seqParts(m);
  const src = source();
  const steps = 6;
  const scoreOf = async (seqs: number[][]) => {
    const prefix = tf.tensor2d(
      seqs.map((s) => [1, ...s.slice(0, -1)]),
      [seqs.length, steps],
      "int32",
    );
    const p = await (m.predict([src, prefix]) as tf.Tensor).array() as number[][][];
    return seqs.map((s, i) => s.reduce((a, tok, t) => a + Math.log(p[i][t][tok]), 0));
  };
  const beam = await beamSearch(parts, src, { startId: 1, steps, beamWidth: 4 });
  const expect = await scoreOf(beam.tokens);
  beam.logProbs.forEach((s, i) =>
    assert.ok(Math.abs(s - expect[i]) < 1e-4, `${s} vs ${expect[i]}`)
  );
  const greedy = await scoreOf(await greedyDecode(parts, src, { startId: 1, steps }));
  beam.logProbs.forEach((s, i) => assert.ok(s >= greedy[i] - 1e-6));
});

Deno.test("timeGeneration: the fastest of `repeats` timed runs, no tensor leaks, repeats checked", async () => {
  const parts = seq2seqParts(encoderDecoder(opts));
  const src = source();
  const before = tf.memory().numTensors;
  const t = await timeGeneration(parts, src, { startId: 1, steps: 4, cache: true, repeats: 3 });
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  assert.equal(t.steps, 4);
  assert.equal(t.cache, true);
  assert.ok(t.seconds > 0 && Number.isFinite(t.seconds));
  assert.ok(Math.abs(t.tokensPerSecond - (2 * 4) / t.seconds) < 1e-9 * t.tokensPerSecond);
  await assert.rejects(
    () => timeGeneration(parts, src, { startId: 1, steps: 4, repeats: 0 }),
    RangeError,
  );
  src.dispose();
});

Deno.test("transformerEncoder + transferWeights: the encoder's layers move to a classifier", () => {
  const enc = { vocabSize: 20, maxLength: 6, dModel: 8, numHeads: 2, numLayers: 1, seed: 1 };
  const ids = tf.input({ shape: [6], dtype: "int32" });
  const { memory } = transformerEncoder(ids, enc);
  const mlm = tf.model({
    inputs: ids,
    outputs: tf.layers.dense({ units: 20, name: "mlm_head" }).apply(memory) as tf.SymbolicTensor,
  });
  const ids2 = tf.input({ shape: [6], dtype: "int32" });
  const { memory: m2 } = transformerEncoder(ids2, { ...enc, seed: 2 });
  const pooled = tf.layers.globalAveragePooling1d({}).apply(m2) as tf.SymbolicTensor;
  const clf = tf.model({
    inputs: ids2,
    outputs: tf.layers.dense({ units: 2, name: "head" }).apply(pooled) as tf.SymbolicTensor,
  });
  const copied = transferWeights(mlm, clf);
  assert.ok(copied.includes("encoder_embedding") && copied.includes("encoder1_attention"));
  assert.ok(!copied.includes("head"));
  const a = mlm.getLayer("encoder1_attention").getWeights();
  const b = clf.getLayer("encoder1_attention").getWeights();
  a.forEach((w, i) => assert.deepEqual(w.shape, b[i].shape));
});
