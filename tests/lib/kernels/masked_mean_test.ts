// NNMaskedMean / NNMaskedMeanBackprop (MaskedMeanPooling on cpu and wasm) against the same
// mean in plain tfjs ops on tfjs's cpu kernels: value and the gradient w.r.t. x, masks with
// padding, a sequence of padding only, fractional weights and an int32 mask; the pooling
// layer runs one kernel each way; no leaked tensors. The kernels do the ops' float32
// operations in the ops' order: the results agree to float32 rounding (max error
// ≤ 1e-6 · (1 + max |ref|)).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertClose } from "../numeric.ts";
import "../../../lib/kernels/mod.ts";
import { maskedMean } from "../../../lib/kernels/masked_mean.ts";
import { MaskedMeanPooling } from "../../../lib/layers/masked_mean_pooling.ts";

function reference(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const m = tf.expandDims(tf.cast(mask, "float32"), 2);
  return tf.div(tf.sum(tf.mul(x, m), 1), tf.maximum(tf.sum(m, 1), 1));
}

function values(n: number, seed: number): Float32Array {
  let s = seed * 7919 + 17;
  return Float32Array.from({ length: n }, () => {
    s = (s * 9301 + 49297) % 233280;
    return 2 * (s / 233280) - 1;
  });
}

const MASKS: Array<[string, number[][], "float32" | "int32"]> = [
  ["padding", [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], "float32"],
  ["all padding in one row", [[0, 0, 0, 0, 0], [1, 0, 1, 0, 1], [1, 1, 1, 1, 0]], "float32"],
  ["fractional weights", [[0.5, 1, 0.25, 0, 2], [1, 1, 1, 1, 1], [0, 0.1, 0, 0, 0]], "float32"],
  ["int32 mask", [[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]], "int32"],
];

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`maskedMean equals the tfjs ops on ${backend}: value and gradient`, async () => {
    for (const [what, rows, dtype] of MASKS) {
      const run = async (be: string, f: (x: tf.Tensor, m: tf.Tensor) => tf.Tensor) => {
        await tf.setBackend(be);
        const before = tf.memory().numTensors;
        const x = tf.tensor(values(3 * 5 * 7, 1), [3, 5, 7]);
        const m = tf.tensor2d(rows, [3, 5], dtype);
        const w = tf.tensor(values(3 * 7, 2), [3, 7]);
        const y = tf.tidy(() => f(x, m));
        const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx, m), w)))(x);
        const out = [await y.data(), await dx.data()];
        tf.dispose([x, m, w, y, dx]);
        assert.equal(tf.memory().numTensors, before, `${be}: leaked tensors`);
        return out;
      };
      const want = await run("cpu", reference);
      const got = await run(backend, maskedMean);
      assertClose(got[0], want[0], `${what}: value`, 1e-6);
      assertClose(got[1], want[1], `${what}: dx`, 1e-6);
    }
  });
}

Deno.test("MaskedMeanPooling trains with one kernel each way on wasm", async () => {
  await tf.setBackend("wasm");
  const x = tf.input({ shape: [4, 3] });
  const m = tf.input({ shape: [4] });
  const pooled = new MaskedMeanPooling().apply([x, m]) as tf.SymbolicTensor;
  const model = tf.model({
    inputs: [x, m],
    outputs: tf.layers.dense({ units: 1 }).apply(pooled) as tf.SymbolicTensor,
  });
  model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
  const xs = tf.tensor(values(2 * 4 * 3, 3), [2, 4, 3]);
  const ms = tf.tensor2d([[1, 1, 0, 0], [1, 1, 1, 1]]);
  const ys = tf.tensor2d([[1], [0]]);
  const info = await tf.profile(async () => {
    await model.trainOnBatch([xs, ms], ys);
    return [] as tf.Tensor[];
  });
  const names = info.kernels.map((k) => k.name);
  assert.equal(names.filter((n) => n === "NNMaskedMean").length, 1);
  // the layer's input x is the model's input: no gradient, so no backward kernel needed
  assert.ok(names.filter((n) => n === "NNMaskedMeanBackprop").length <= 1);
  tf.dispose([xs, ms, ys]);
  model.dispose();
});
