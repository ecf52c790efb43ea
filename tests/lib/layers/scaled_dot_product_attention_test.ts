// Scaled dot-product attention: shapes, rows summing to 1, the causal and padding masks
// (weights and gradients exactly zero where masked) and agreement with a loop reference.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  causalMask,
  MASKED_SCORE,
  paddingMask,
  scaledDotProductAttention,
} from "../../../lib/layers/scaled_dot_product_attention.ts";

function loopReference(q: number[][], k: number[][], v: number[][]): number[][] {
  const d = q[0].length;
  return q.map((qi) => {
    const s = k.map((kj) => kj.reduce((a, x, n) => a + x * qi[n], 0) / Math.sqrt(d));
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    return v[0].map((_, c) => e.reduce((a, w, j) => a + (w / z) * v[j][c], 0));
  });
}

Deno.test("scaledDotProductAttention: shapes, weights sum to 1, equals a loop reference", async () => {
  const q = tf.randomNormal([2, 3, 5, 4], 0, 1, "float32", 1);
  const k = tf.randomNormal([2, 3, 6, 4], 0, 1, "float32", 2);
  const v = tf.randomNormal([2, 3, 6, 7], 0, 1, "float32", 3);
  const { output, weights } = scaledDotProductAttention(q, k, v);
  assert.deepEqual(output.shape, [2, 3, 5, 7]);
  assert.deepEqual(weights.shape, [2, 3, 5, 6]);
  const sums = await tf.sum(weights, -1).data();
  assert.ok(sums.every((s) => Math.abs(s - 1) < 1e-5));
  const [qa, ka, va, oa] = await Promise.all(
    [q, k, v, output].map((t) => t.array() as Promise<number[][][][]>),
  );
  const ref = loopReference(qa[1][2], ka[1][2], va[1][2]);
  const err = Math.max(...ref.flatMap((r, i) => r.map((x, j) => Math.abs(x - oa[1][2][i][j]))));
  assert.ok(err < 1e-5, `max error ${err}`);
  tf.dispose([q, k, v, output, weights]);
});

Deno.test("causal mask: zero weight and exactly zero gradient from the future", async () => {
  const x = tf.randomNormal([1, 5, 4], 0, 1, "float32", 4);
  const { weights, output } = scaledDotProductAttention(x, x, x, { causal: true });
  const w = (await weights.array()) as number[][][];
  for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) assert.equal(w[0][i][j], 0);
  assert.ok(Math.abs(w[0][0][0] - 1) < 1e-6, "the first position sees only itself");
  // d(output at t = 2)/d(x) is exactly zero at positions 3 and 4
  const g = tf.grad((xx: tf.Tensor) =>
    tf.sum(
      tf.slice(scaledDotProductAttention(xx, xx, xx, { causal: true }).output, [0, 2, 0], [
        1,
        1,
        -1,
      ]),
    )
  )(x);
  const ga = (await g.array()) as number[][][];
  assert.ok(ga[0].slice(3).flat().every((v) => v === 0), "no gradient from the future");
  assert.ok(ga[0].slice(0, 3).flat().some((v) => v !== 0), "the past does get gradient");
  const cm = (await causalMask(2).array()).flat();
  assert.ok(cm[0] === 0 && cm[1] === MASKED_SCORE && cm[2] === 0 && cm[3] === 0);
  tf.dispose([x, weights, output, g]);
});

Deno.test("padding mask: padded keys get zero weight and change nothing", async () => {
  const ids = tf.tensor2d([[4, 7, 0, 0], [3, 1, 2, 5]], [2, 4], "int32");
  const mask = paddingMask(ids);
  assert.deepEqual(await mask.array(), [[1, 1, 0, 0], [1, 1, 1, 1]]);
  const x = tf.randomNormal([2, 4, 3], 0, 1, "float32", 5);
  const { weights, output } = scaledDotProductAttention(x, x, x, { keyMask: mask });
  const w = (await weights.array()) as number[][][];
  assert.ok(w[0].every((row) => row[2] === 0 && row[3] === 0));
  assert.ok(w[1].every((row) => row.every((p) => p > 0)));
  // the unpadded part alone gives the same outputs for the real tokens
  const short = tf.slice(x, [0, 0, 0], [1, 2, 3]);
  const alone = scaledDotProductAttention(short, short, short).output;
  const withPad = tf.slice(output, [0, 0, 0], [1, 2, 3]);
  const diff = (await tf.max(tf.abs(tf.sub(alone, withPad))).data())[0];
  assert.ok(diff < 1e-6, `diff ${diff}`);
  tf.dispose([ids, mask, x, weights, output, short, alone, withPad]);
});
