// The webgpu matMul with a transposed B (a transpose, then a plain product, while fusion
// is on) against tfjs's cpu kernels: value and gradients, ranks 2 and 3, the fused form
// with bias and ReLU; with fusion on it dispatches one program more (the transpose) than
// tfjs's own kernel, which `setWebGPUFusion(false)` restores. The software adapter's
// products (matmul_software.ts: every transpose, batch against 1, bias, ReLU, odd sizes)
// against the same cpu kernels, in one program each. No leaked tensors.
// Tolerance 1e-5 · |b| + 1e-6 (float32 dot products of at most 37 terms).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../../lib/kernels/mod.ts"; // registers the wrapped kernels when webgpu is set
import { setWebGPUFusion, startCounting } from "../../../../lib/kernels/webgpu/program.ts";
import { setSoftwareAdapter } from "../../../../lib/kernels/webgpu/matmul_software.ts";
import { setupBackend } from "../../../../lib/backend.ts";
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
    await valueAndGrads("webgpu", (a) => a, [input([1], 0)]); // the backend set
    const was = setSoftwareAdapter(false); // tfjs's product after the transpose
    try {
      const got = await valueAndGrads("webgpu", f, inputs);
      ["value", "dA", "dB"].forEach((n, i) =>
        assertClose(got[i], want[i], `${name} ${n}`, 1e-5, 1e-6)
      );
    } finally {
      setSoftwareAdapter(was);
    }
  }
});

const SOFTWARE_CASES: typeof CASES = [
  ...CASES,
  ["A·B, 13 × 37 · 37 × 7 (tails)", [13, 37], [37, 7], (a, b) => tf.matMul(a, b)],
  ["Aᵀ·B", [9, 6], [9, 5], (a, b) => tf.matMul(a, b, true, false)],
  ["batch 2, Aᵀ·Bᵀ", [2, 4, 9], [2, 3, 4], (a, b) => tf.matMul(a, b, true, true)],
  [
    "fused 3-D + bias + relu",
    [2, 10, 3],
    [2, 3, 9],
    (a, b) =>
      tf.fused.matMul({
        a: a as tf.Tensor3D,
        b: b as tf.Tensor3D,
        bias: tf.linspace(-0.5, 0.5, 9),
        activation: "relu",
      }),
  ],
];

gpuTest("software adapter's matMul = cpu, value and gradients, one program", async () => {
  await valueAndGrads("webgpu", (a) => a, [input([1], 0)]); // the backend set
  const was = setSoftwareAdapter(true);
  try {
    for (const [name, sa, sb, f] of SOFTWARE_CASES) {
      const inputs = [input(sa, 1), input(sb, 2, 0.7)];
      const want = await valueAndGrads("cpu", f, inputs);
      const got = await valueAndGrads("webgpu", f, inputs);
      ["value", "dA", "dB"].forEach((n, i) =>
        assertClose(got[i], want[i], `${name} ${n}`, 1e-5, 1e-6)
      );
    }
    // a batch against a batch of 1 (values only: tfjs's gradient does not sum the
    // broadcast batch back)
    for (const [sa, sb] of [[[3, 5, 4], [1, 4, 6]], [[1, 5, 4], [2, 4, 6]]]) {
      const [x, w] = [input(sa, 3), input(sb, 4)];
      const value = async (backend: string) => {
        await setupBackend({ backend });
        const [tx, tw] = [tf.tensor(x.data, x.shape), tf.tensor(w.data, w.shape)];
        const y = tf.matMul(tx, tw);
        const v = await y.data() as Float32Array;
        tf.dispose([tx, tw, y]);
        return v;
      };
      const want = await value("cpu");
      assertClose(await value("webgpu"), want, `batch ${sa[0]} · batch ${sb[0]}`, 1e-5, 1e-6);
    }
    const [a, b] = [tf.mul(tf.ones([128, 64]), 2), tf.mul(tf.ones([96, 64]), 3)];
    const counter = startCounting();
    const y = tf.matMul(a, b, false, true);
    await y.data();
    counter.stop();
    assert.equal(counter.programs, 1, "Aᵀ read in place: no transpose program");
    tf.dispose([a, b, y]);
  } finally {
    setSoftwareAdapter(was);
  }
});

gpuTest(
  "webgpu matMul with transposeB: one transpose more with fusion, tfjs's own without",
  async () => {
    await valueAndGrads("webgpu", (a) => a, [input([1], 0)]); // the backend set
    const soft = setSoftwareAdapter(false);
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
    setSoftwareAdapter(soft);
    tf.dispose([a, b]);
    assert.equal(fused, plain + 1);
  },
);
