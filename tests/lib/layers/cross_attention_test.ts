// CrossAttention and PaddingMask: shapes, padded keys and future positions get exactly
// zero weight, output and gradients equal a per-head plain version built on
// scaledDotProductAttention (tfjs autodiff of both), and a serialisation round trip.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { CrossAttention, PaddingMask, scaledDotProductAttention } from "../../../lib/layers/mod.ts";

await tf.setBackend("cpu");

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b)))).data().then((d) => d[0]);
}

const B = 2, TQ = 3, TK = 5, D = 8, H = 2;
const mask = () => tf.tensor2d([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]);

Deno.test("CrossAttention: output shape, and padded keys get exactly zero weight", async () => {
  const att = new CrossAttention({ numHeads: H, seed: 1 });
  const q = tf.randomNormal([B, TQ, D], 0, 1, "float32", 1);
  const c = tf.randomNormal([B, TK, D], 0, 1, "float32", 2);
  const m = mask();
  const y = att.apply([q, c, m]) as tf.Tensor;
  assert.deepEqual(y.shape, [B, TQ, D]);
  const w = await att.attentionWeights(q, c, m).array();
  assert.equal(w.length, B);
  assert.equal(w[0].length, H);
  for (const head of w[0]) {
    for (const row of head) {
      assert.equal(row[3], 0);
      assert.equal(row[4], 0);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, "rows sum to 1");
    }
  }
  assert.ok(w[1][0][0][4] > 0, "unpadded keys are seen");
  tf.dispose([q, c, m, y]);
});

Deno.test("CrossAttention: causal self-attention gives zero weight to later positions", async () => {
  const att = new CrossAttention({ numHeads: H, causal: true, seed: 2 });
  const x = tf.randomNormal([1, 4, D], 0, 1, "float32", 3);
  assert.deepEqual((att.apply(x) as tf.Tensor).shape, [1, 4, D]);
  const w = await att.attentionWeights(x, x).array();
  for (const head of w[0]) {
    head.forEach((row, i) => row.forEach((v, j) => j > i ? assert.equal(v, 0) : assert.ok(v > 0)));
  }
  // a single new query at the end (a cached decoder's step) sees every key
  const q = att.queries(tf.slice(x, [0, 3, 0], [1, 1, D]));
  const last = await att.scores(q, att.keysValues(x).k).array();
  assert.ok(last[0][0][0].every((v) => v > 0));
});

/** The same attention from its weights, head by head, with scaledDotProductAttention. */
function plainAttention(
  weights: tf.Tensor[],
  x: tf.Tensor,
  context: tf.Tensor,
  keyMask: tf.Tensor,
): tf.Tensor {
  const [wq, bq, wkv, bkv, wo, bo] = weights;
  const lin = (t: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.add(tf.matMul(t, w), b);
  const q = tf.stack(tf.unstack(x).map((t) => lin(t, wq, bq)));
  const kv = tf.stack(tf.unstack(context).map((t) => lin(t, wkv, bkv)));
  const [k, v] = tf.split(kv, 2, 2);
  const hd = D / H;
  const heads = [];
  for (let h = 0; h < H; h++) {
    const part = (t: tf.Tensor) => tf.slice(t, [0, 0, h * hd], [-1, -1, hd]);
    heads.push(scaledDotProductAttention(part(q), part(k), part(v), { keyMask }).output);
  }
  const merged = tf.concat(heads, 2);
  return tf.stack(tf.unstack(merged).map((t) => lin(t, wo, bo)));
}

Deno.test("CrossAttention: output and gradients equal a per-head plain version", async () => {
  const att = new CrossAttention({ numHeads: H, seed: 4 });
  const x = tf.randomNormal([B, TQ, D], 0, 1, "float32", 5);
  const c = tf.randomNormal([B, TK, D], 0, 1, "float32", 6);
  const m = mask();
  const dy = tf.randomNormal([B, TQ, D], 0, 1, "float32", 7);
  att.apply([x, c, m]);
  const w = att.getWeights();
  const f1 = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(att.apply([a, b, m]) as tf.Tensor, dy));
  const f2 = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(plainAttention(w, a, b, m), dy));
  assert.ok(await maxAbsDiff(att.apply([x, c, m]) as tf.Tensor, plainAttention(w, x, c, m)) < 1e-5);
  const [gx1, gc1] = tf.grads(f1)([x, c]);
  const [gx2, gc2] = tf.grads(f2)([x, c]);
  assert.ok(await maxAbsDiff(gx1, gx2) < 1e-4, "d/d queries");
  assert.ok(await maxAbsDiff(gc1, gc2) < 1e-4, "d/d context");
  const gc = await gc1.array() as number[][][];
  assert.ok(gc[0][4].every((v) => v === 0), "a padded key position gets no gradient");
  assert.ok(gc[0][0].some((v) => v !== 0), "a real key position does");
  assert.ok((await tf.abs(gx1).sum().data())[0] > 0, "non-zero gradient");
  // and the weights' gradients are finite and non-zero
  const { grads } = tf.variableGrads(() =>
    tf.sum(tf.mul(att.apply([x, c, m]) as tf.Tensor, dy)) as tf.Scalar
  );
  for (const [name, g] of Object.entries(grads)) {
    const v = await g.data();
    assert.ok(v.every(Number.isFinite), `${name} finite`);
    assert.ok(v.some((e) => e !== 0), `${name} non-zero`);
  }
});

Deno.test("CrossAttention and PaddingMask: serialisation round trip", async () => {
  const ids = tf.input({ shape: [TK], dtype: "int32" });
  const queries = tf.input({ shape: [TQ, D] });
  const ctx = tf.layers.embedding({ inputDim: 9, outputDim: D }).apply(ids) as tf.SymbolicTensor;
  const m = new PaddingMask({ padId: 0 }).apply(ids) as tf.SymbolicTensor;
  const y = new CrossAttention({ numHeads: H, seed: 3 }).apply([queries, ctx, m]);
  const model = tf.model({ inputs: [ids, queries], outputs: y as tf.SymbolicTensor });
  const artifacts = await new Promise<tf.io.ModelArtifacts>((resolve) => {
    model.save(tf.io.withSaveHandler((a) => {
      resolve(a);
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
  });
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const xi = tf.tensor2d([[3, 4, 0, 0, 0], [1, 2, 3, 4, 5]], [2, 5], "int32");
  const xq = tf.randomNormal([2, TQ, D], 0, 1, "float32", 8);
  const a = model.predict([xi, xq]) as tf.Tensor;
  const b = loaded.predict([xi, xq]) as tf.Tensor;
  assert.equal(await maxAbsDiff(a, b), 0);
  assert.deepEqual(
    loaded.layers.map((l) => l.getClassName()).filter((n) => n.startsWith("NN")).sort(),
    ["NNCrossAttention", "NNPaddingMask"],
  );
  assert.deepEqual(await (new PaddingMask().apply(xi) as tf.Tensor).array(), [[1, 1, 0, 0, 0], [
    1,
    1,
    1,
    1,
    1,
  ]]);
});
