// The WebGPU attention (scaled scores, causal mask, softmax, weighted values) and layer
// norm against the layers' plain tfjs ops on the cpu backend: values and gradients,
// tiny odd shapes, no leaked tensors. Tolerance: the fused layers' own,
// max |a − b| ≤ 1e-4 · (1 + max |b|) (tests/lib/layers/layers_test.ts).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { attentionWebGPU } from "../../../../lib/kernels/webgpu/attention.ts";
import { addLayerNormWebGPU, layerNormWebGPU } from "../../../../lib/kernels/webgpu/layer_norm.ts";
import { gpuTest, type Input, input, valueAndGrads } from "./harness.ts";

const TOL = 1e-4;

function assertNear(a: Float32Array, b: Float32Array, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  const scale = Math.max(...Array.from(b, Math.abs));
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst <= TOL * (1 + scale), `${what}: max error ${worst} (scale ${scale})`);
}

/** Attention in plain tfjs ops, as MultiHeadSelfAttention's "ops" path computes it. */
function attentionOps(
  qkv: tf.Tensor,
  b: number,
  h: number,
  causal: boolean,
  keyMask?: tf.Tensor,
): tf.Tensor {
  const [rows, l] = qkv.shape as [number, number];
  const t = rows / b;
  const d = l / 3;
  const hd = d / h;
  const [q, k, v] = tf.split(qkv, 3, 1).map((p) =>
    tf.transpose(tf.reshape(p, [b, t, h, hd]), [0, 2, 1, 3])
  );
  let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd));
  if (causal) {
    const lower = tf.linalg.bandPart(tf.ones([t, t]), -1, 0);
    scores = tf.add(scores, tf.mul(tf.sub(1, lower), -1e9));
  }
  if (keyMask) scores = tf.add(scores, tf.mul(tf.sub(1, tf.reshape(keyMask, [b, 1, 1, t])), -1e9));
  const y = tf.matMul(tf.softmax(scores), v);
  return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [rows, d]);
}

for (const causal of [false, true]) {
  gpuTest(`webgpu attention (causal ${causal}) = cpu ops, value and gradient`, async () => {
    for (const [B, T, D, H] of [[2, 5, 6, 2], [1, 1, 4, 1], [3, 67, 8, 4]]) {
      const inputs = [input([B * T, 3 * D], 1, 1.5)];
      const want = await valueAndGrads("cpu", (x) => attentionOps(x, B, H, causal), inputs);
      const got = await valueAndGrads(
        "webgpu",
        (x) => attentionWebGPU(x as tf.Tensor2D, B, H, causal),
        inputs,
      );
      ["value", "dqkv"].forEach((n, i) =>
        assertNear(got[i], want[i], `[${B},${T},${D},${H}] ${n}`)
      );
    }
  });
}

/** Key mask [B, T]: sequence b has T − 2b tokens (at least 1), then padding. */
function keyMask(B: number, T: number): Input {
  const data = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < T; j++) data[b * T + j] = j < Math.max(1, T - 2 * b) ? 1 : 0;
  }
  return { shape: [B, T], data };
}

for (const causal of [false, true]) {
  gpuTest(`webgpu attention with a key padding mask (causal ${causal}) = cpu ops`, async () => {
    for (const [B, T, D, H] of [[3, 5, 6, 2], [2, 1, 4, 1], [3, 67, 8, 4]]) {
      const inputs = [input([B * T, 3 * D], 4, 1.5), keyMask(B, T)];
      const want = await valueAndGrads(
        "cpu",
        (x, m) => attentionOps(x, B, H, causal, m),
        inputs,
        [0],
      );
      const got = await valueAndGrads(
        "webgpu",
        (x, m) => attentionWebGPU(x as tf.Tensor2D, B, H, causal, m),
        inputs,
        [0],
      );
      ["value", "dqkv"].forEach((n, i) =>
        assertNear(got[i], want[i], `[${B},${T},${D},${H}] masked ${n}`)
      );
    }
  });
}

function layerNormOps(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const last = x.rank - 1;
  const mean = tf.mean(x, last, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), last, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), g), b);
}

gpuTest(
  "webgpu layer norm of x + residual (Add & Norm) = cpu ops, value and gradients",
  async () => {
    for (const shape of [[2, 3, 5], [1, 1, 1], [70, 67]]) {
      const D = shape[shape.length - 1];
      const inputs = [input(shape, 4, 2), input(shape, 5, 2), input([D], 6), input([D], 7)];
      const want = await valueAndGrads(
        "cpu",
        (x, r, g, b) => layerNormOps(tf.add(x, r), g, b, 1e-5),
        inputs,
      );
      const got = await valueAndGrads(
        "webgpu",
        (x, r, g, b) => layerNormWebGPU(x, g, b, 1e-5, r),
        inputs,
      );
      ["value", "dx", "dr", "dgamma", "dbeta"].forEach((n, i) =>
        assertNear(got[i], want[i], `[${shape}] ${n}`)
      );
    }
  },
);

gpuTest(
  "webgpu Add & Norm keeping the sum ([x + r, LN(x + r)], pre-norm) = cpu ops, values and gradients",
  async () => {
    for (const shape of [[2, 3, 5], [1, 1, 1], [70, 67]]) {
      const D = shape[shape.length - 1];
      const inputs = [input(shape, 8, 2), input(shape, 9, 2), input([D], 10), input([D], 11)];
      // both outputs reach the loss, so dx = the sum's gradient + the norm's
      const want = await valueAndGrads(
        "cpu",
        (x, r, g, b) => {
          const sum = tf.add(x, r);
          return tf.stack([sum, layerNormOps(sum, g, b, 1e-5)]);
        },
        inputs,
      );
      const got = await valueAndGrads(
        "webgpu",
        (x, r, g, b) => tf.stack(addLayerNormWebGPU(x, r, g, b, 1e-5)),
        inputs,
      );
      ["value", "dx", "dr", "dgamma", "dbeta"].forEach((n, i) =>
        assertNear(got[i], want[i], `[${shape}] ${n}`)
      );
    }
  },
);

gpuTest("webgpu layer norm = cpu ops, value and gradients", async () => {
  for (const shape of [[2, 3, 5], [1, 1, 1], [70, 67], [130, 8]]) {
    const D = shape[shape.length - 1];
    const inputs = [input(shape, 1, 2), input([D], 2), input([D], 3)];
    const want = await valueAndGrads("cpu", (x, g, b) => layerNormOps(x, g, b, 1e-5), inputs);
    const got = await valueAndGrads("webgpu", (x, g, b) => layerNormWebGPU(x, g, b, 1e-5), inputs);
    ["value", "dx", "dgamma", "dbeta"].forEach((n, i) =>
      assertNear(got[i], want[i], `[${shape}] ${n}`)
    );
  }
});
