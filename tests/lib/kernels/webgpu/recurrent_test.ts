// The WebGPU time loops of the LSTM, GRU and simple RNN against the same layers' plain
// tfjs ops on the cpu backend: forward (last state and every state) and gradients with
// respect to the input and the three weights, tiny odd shapes (llvmpipe is slow), B = 1
// and T = 1 included, and B = 11 (a partly live second workgroup); no leaked tensors. The
// lane-per-unit forward loops (U ≤ 64) give the general loop's results (same order of sums;
// 1e-6 relative, for a shader compiler that contracts multiply-adds differently).
// Tolerance: the fused recurrent layers' own, |a − b| ≤ 1e-6 + 1e-5 · |b|, widened to
// 1e-5 + 1e-4 · |b| for gradients (BPTT sums T·U products in another order than tfjs's
// autodiff; float32).
import {
  gruSequenceOps,
  lstmSequenceOps,
  simpleRnnSequenceOps,
} from "../../../../lib/layers/mod.ts";
import type * as tf from "@tensorflow/tfjs";
import {
  type Cell,
  recurrentSequenceWebGPU,
  setRecurrentByUnit,
} from "../../../../lib/kernels/webgpu/recurrent.ts";
import { assertClose, gpuTest, input, valueAndGrads } from "./harness.ts";

const OPS = { lstm: lstmSequenceOps, gru: gruSequenceOps, simple: simpleRnnSequenceOps };
const GATES: Record<Cell, number> = { lstm: 4, gru: 3, simple: 1 };

for (const cell of ["lstm", "gru", "simple"] as Cell[]) {
  for (const seq of [false, true]) {
    gpuTest(
      `webgpu ${cell} loop (returnSequences ${seq}) = cpu ops, value and gradients`,
      async () => {
        // B = 11: a full workgroup of 8 sequences, then one of 3 live and 5 clamped rows; B = 5:
        // tiles of 4
        for (
          const [B, T, I, U] of [[3, 5, 2, 5], [1, 1, 3, 2], [2, 4, 3, 67], [11, 3, 2, 6], [
            5,
            2,
            3,
            4,
          ]]
        ) {
          const G = GATES[cell] * U;
          const inputs = [
            input([B, T, I], 1),
            input([I, G], 2, 0.7),
            input([U, G], 3, 0.7),
            input([G], 4, 0.3),
          ];
          const f = (fn: typeof lstmSequenceOps) => (...t: tf.Tensor[]) =>
            fn(
              t[0] as tf.Tensor3D,
              t[1] as tf.Tensor2D,
              t[2] as tf.Tensor2D,
              t[3] as tf.Tensor1D,
              seq,
            );
          // at T = 1 the recurrent kernel is never used: tfjs has no gradient for it
          const wrt = T === 1 ? [0, 1, 3] : [0, 1, 2, 3];
          const want = await valueAndGrads("cpu", f(OPS[cell]), inputs, wrt);
          const got = await valueAndGrads(
            "webgpu",
            f((...a) => recurrentSequenceWebGPU(cell, ...a)),
            inputs,
            wrt,
          );
          const names = ["value", ...wrt.map((k) => ["dX", "dW", "dR", "db"][k])];
          names.forEach((n, i) =>
            assertClose(
              got[i],
              want[i],
              `${cell} [${B},${T},${I},${U}] ${n}`,
              i ? 1e-4 : 1e-5,
              i ? 1e-5 : 1e-6,
            )
          );
        }
      },
    );
  }
}

for (const cell of ["lstm", "gru", "simple"] as Cell[]) {
  gpuTest(`webgpu ${cell}: the lane-per-unit forward loop equals the general one`, async () => {
    for (const [B, T, I, U] of [[3, 5, 2, 5], [11, 3, 2, 6], [2, 4, 3, 64]]) {
      const G = GATES[cell] * U;
      const inputs = [
        input([B, T, I], 5),
        input([I, G], 6, 0.7),
        input([U, G], 7, 0.7),
        input([G], 8, 0.3),
      ];
      const run = async (byUnit: boolean) => {
        const was = setRecurrentByUnit(byUnit);
        try {
          return await valueAndGrads(
            "webgpu",
            (...t: tf.Tensor[]) =>
              recurrentSequenceWebGPU(
                cell,
                t[0] as tf.Tensor3D,
                t[1] as tf.Tensor2D,
                t[2] as tf.Tensor2D,
                t[3] as tf.Tensor1D,
                true,
              ),
            inputs,
          );
        } finally {
          setRecurrentByUnit(was);
        }
      };
      const [unit, general] = [await run(true), await run(false)];
      unit.forEach((v, i) =>
        assertClose(v, general[i], `${cell} [${B},${T},${I},${U}] [${i}]`, 1e-6, 1e-7)
      );
    }
  });
}
