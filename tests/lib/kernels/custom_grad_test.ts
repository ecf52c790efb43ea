// customGradMulti: an op with several outputs and a hand-written gradient, on the tape as
// one node (tf.customGrad allows one output only).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { customGradMulti } from "../../../lib/kernels/custom_grad.ts";

/** [a + b, a · b] with their gradients by hand. */
const sumAndProduct = customGradMulti(([a, b], save) => {
  save([a, b]);
  return {
    value: [tf.add(a, b), tf.mul(a, b)],
    gradFunc: ([dSum, dProduct], [sa, sb]) => [
      tf.add(dSum, tf.mul(dProduct, sb)),
      tf.add(dSum, tf.mul(dProduct, sa)),
    ],
  };
});

Deno.test("customGradMulti: values, gradients through both outputs and through one", async () => {
  await tf.setBackend("cpu");
  const before = tf.memory().numTensors;
  const a = tf.tensor1d([2, -1, 0.5]);
  const b = tf.tensor1d([3, 4, -2]);
  const [s, p] = sumAndProduct(a, b);
  assert.deepEqual(Array.from(await s.data()), [5, 3, -1.5]);
  assert.deepEqual(Array.from(await p.data()), [6, -4, -1]);
  // loss = Σ 2·sum + Σ 3·product: d/da = 2 + 3b, d/db = 2 + 3a
  const both = tf.grads((x: tf.Tensor, y: tf.Tensor) => {
    const [u, v] = sumAndProduct(x, y);
    return tf.add(tf.sum(tf.mul(u, 2)), tf.sum(tf.mul(v, 3)));
  })([a, b]);
  assert.deepEqual(Array.from(await both[0].data()), [11, 14, -4]);
  assert.deepEqual(Array.from(await both[1].data()), [8, -1, 3.5]);
  // only the product reaches the loss: the sum's dy is zeros, d/da = b
  const one = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(sumAndProduct(x, y)[1]))([a, b]);
  assert.deepEqual(Array.from(await one[0].data()), [3, 4, -2]);
  assert.deepEqual(Array.from(await one[1].data()), [2, -1, 0.5]);
  tf.dispose([a, b, s, p, ...both, ...one]);
  assert.equal(tf.memory().numTensors, before, "no tensor leaked");
});

Deno.test("customGradMulti: a gradient function with the wrong count says what to return", async () => {
  await tf.setBackend("cpu");
  const bad = customGradMulti(([a, b]) => ({
    value: [tf.add(a, b), tf.sub(a, b)],
    gradFunc: ([ds]) => [ds],
  }));
  const a = tf.scalar(1);
  const b = tf.scalar(2);
  assert.throws(
    () => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(bad(x, y)[0]))([a, b]),
    /returned 1 tensors for 2 inputs; return one gradient per input/,
  );
  assert.throws(
    () => bad(a, 3 as unknown as tf.Tensor),
    /every argument of the op must be a tensor/,
  );
  tf.dispose([a, b]);
});
