// The webgpu matMul with a transposed B (a transpose, then a plain product, while fusion
// is on) against tfjs's cpu kernels: value and gradients, ranks 2 and 3, the fused form
// with bias and ReLU; with fusion on it dispatches one program more (the transpose) than
// tfjs's own kernel, which `setWebGPUFusion(false)` restores. No leaked tensors.
// Tolerance 1e-5 · |b| + 1e-6 (float32 dot products of at most 17 terms).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../../lib/kernels/mod.ts"; // registers the wrapped kernels when webgpu is set
import { setWebGPUFusion, startCounting } from "../../../../lib/kernels/webgpu/program.ts";
import { assertClose, gpuTest, input, valueAndGrads } from "./harness.ts";

const CASES: Array<[string, number[], number[], (...t: tf.Tensor[]) => tf.Tensor]> = [
  ["matMul 2-D", [33, 17], [9, 17], (a, b) => tf.matMul(a, b, false, true)],
  ["matMul 3-D", [3, 5, 7], [3, 4, 7], (a, b) => tf.matMul(a, b, false, true)],
  ["matMul Aᵀ·Bᵀ", [7, 5], [4, 7], (a, b) => tf.matMul(a, b, true, true)],
  [
    "fused matMul + bias + relu",
    [6, 3],
    [5, 3],
    (a, b) =>
      tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: b as tf.Tensor2D,
        transposeB: true,
        bias: tf.linspace(-0.5, 0.5, 5),
        activation: "relu",
      }),
  ],
];

gpuTest("webgpu matMul with transposeB = cpu, value and gradients", async () => {
  for (const [name, sa, sb, f] of CASES) {
    const inputs = [input(sa, 1), input(sb, 2, 0.7)];
    const want = await valueAndGrads("cpu", f, inputs);
    const got = await valueAndGrads("webgpu", f, inputs);
    ["value", "dA", "dB"].forEach((n, i) =>
      assertClose(got[i], want[i], `${name} ${n}`, 1e-5, 1e-6)
    );
  }
});

gpuTest(
  "webgpu matMul with transposeB: one transpose more with fusion, tfjs's own without",
  async () => {
    await valueAndGrads("webgpu", (a) => a, [input([1], 0)]); // the backend set
    // results of GPU programs, large enough that tfjs does not transpose them on the CPU
    const [a, b] = [tf.mul(tf.ones([128, 64]), 2), tf.mul(tf.ones([96, 64]), 3)];
    const programs = async () => {
      const counter = startCounting();
      const y = tf.matMul(a, b, false, true);
      await y.data();
      y.dispose();
      const n = counter.programs;
      counter.stop();
      return n;
    };
    const fused = await programs();
    const was = setWebGPUFusion(false);
    const plain = await programs();
    setWebGPUFusion(was);
    tf.dispose([a, b]);
    assert.equal(fused, plain + 1);
  },
);
