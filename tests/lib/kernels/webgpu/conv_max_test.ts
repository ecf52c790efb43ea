// The WebGPU max over time of a Conv1D (forward, and the winning-window backward pass)
// against ConvMaxOverTime's plain tfjs ops on the cpu backend: values and gradients with
// respect to the input, kernel and bias, ReLU and linear, tiny odd shapes (one window
// included), no leaked tensors. Tolerance: the fused layers' own,
// max |a − b| ≤ 1e-4 · (1 + max |b|) (tests/lib/layers/layers_test.ts).
import type * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { convMaxOps } from "../../../../lib/layers/conv_max_over_time.ts";
import { convMaxWebGPU } from "../../../../lib/kernels/webgpu/conv_max.ts";
import { gpuTest, input, valueAndGrads } from "./harness.ts";

for (const relu of [true, false]) {
  gpuTest(`webgpu conv max over time (relu ${relu}) = cpu ops, value and gradients`, async () => {
    for (const [B, T, E, k, F] of [[2, 7, 3, 3, 5], [1, 4, 2, 4, 1], [3, 11, 5, 2, 67]]) {
      const inputs = [input([B, T, E], 1), input([k, E, F], 2), input([F], 3, 0.5)];
      const f = (fn: typeof convMaxOps) => (...t: tf.Tensor[]) =>
        fn(t[0] as tf.Tensor3D, t[1] as tf.Tensor3D, t[2] as tf.Tensor1D, relu);
      const want = await valueAndGrads("cpu", f(convMaxOps), inputs);
      const got = await valueAndGrads("webgpu", f(convMaxWebGPU), inputs);
      ["value", "dx", "dW", "db"].forEach((n, i) => {
        const scale = Math.max(...Array.from(want[i], Math.abs));
        let worst = 0;
        for (let j = 0; j < want[i].length; j++) {
          worst = Math.max(worst, Math.abs(got[i][j] - want[i][j]));
        }
        assert.ok(worst <= 1e-4 * (1 + scale), `[${B},${T},${E},${k},${F}] ${n}: error ${worst}`);
      });
    }
  });
}
