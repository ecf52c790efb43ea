/**
 * The mean over time of the real tokens as one kernel each way, for the cpu and wasm
 * backends: `NNMaskedMean` computes `y[b] = Σ_t m[b,t] · x[b,t] / max(Σ_t m[b,t], 1)` and
 * its registered gradient `NNMaskedMeanBackprop` computes `dx[b,t] = dy[b] · m[b,t] /
 * max(Σ_t m[b,t], 1)` (the mask gets a zero gradient). In tfjs ops the same pooling is
 * seven kernels forward (cast, expand, multiply, two sums, maximum, divide) and about as
 * many backward, two of them broadcasting multiplies over the whole `[B, T, D]` input.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maskedMean } from "nn/kernels/masked_mean.ts";
 * await tf.setBackend("cpu");
 * const y = maskedMean(tf.tensor3d([[[1, 2], [3, 4], [100, 100]]]), tf.tensor2d([[1, 1, 0]]));
 * console.log(await y.array()); // [[2, 3]]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { registerGradient } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, f32, view } from "./io.ts";

/** The forward kernel's name. */
export const MASKED_MEAN_KERNEL = "NNMaskedMean";
/** The backward kernel's name (the gradient with respect to x). */
export const MASKED_MEAN_BACKPROP_KERNEL = "NNMaskedMeanBackprop";

/** max(Σ_t m[b, t], 1) for every sequence b, summed in float32 as tfjs's `sum`. */
function counts(m: ArrayLike<number>, B: number, T: number): Float32Array {
  const c = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let t = 0; t < T; t++) s = Math.fround(s + m[b * T + t]);
    c[b] = Math.max(s, 1);
  }
  return c;
}

// The same float32 operations in the same order as the tfjs ops: Σ_t (x·m), then ÷ count
// (a double quotient of two floats rounds to the float32 quotient); backward (dy ÷ count)·m.
const forward: KernelFunc = ({ inputs, backend }) => {
  const { x, mask } = inputs as { x: TensorInfo; mask: TensorInfo };
  const [B, T, D] = x.shape;
  const out = allocOutput(backend, [B, D], "float32");
  const Y = f32(backend, out);
  const X = f32(backend, x);
  const m = view(backend, mask);
  const c = counts(m, B, T);
  const row = new Float32Array(D); // float32 sums
  for (let b = 0; b < B; b++) {
    row.fill(0);
    for (let t = 0; t < T; t++) {
      const w = m[b * T + t];
      const o = (b * T + t) * D;
      for (let d = 0; d < D; d++) row[d] += Math.fround(X[o + d] * w);
    }
    for (let d = 0; d < D; d++) Y[b * D + d] = row[d] / c[b];
  }
  return out;
};

const backward: KernelFunc = ({ inputs, backend }) => {
  const { dy, mask } = inputs as { dy: TensorInfo; mask: TensorInfo };
  const [B, T] = mask.shape;
  const D = dy.shape[1];
  const dx = allocOutput(backend, [B, T, D], "float32");
  const dX = f32(backend, dx);
  const dY = f32(backend, dy);
  const m = view(backend, mask);
  const c = counts(m, B, T);
  const g = new Float32Array(D);
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) g[d] = dY[b * D + d] / c[b];
    for (let t = 0; t < T; t++) {
      const w = m[b * T + t];
      const o = (b * T + t) * D;
      for (let d = 0; d < D; d++) dX[o + d] = g[d] * w;
    }
  }
  return dx;
};

/** The kernel configs of {@linkcode maskedMean} for `backendName` ("cpu" or "wasm"). */
export function maskedMeanKernels(backendName: string): KernelConfig[] {
  if (backendName !== "cpu" && backendName !== "wasm") return [];
  return [
    { kernelName: MASKED_MEAN_KERNEL, backendName, kernelFunc: forward },
    { kernelName: MASKED_MEAN_BACKPROP_KERNEL, backendName, kernelFunc: backward },
  ];
}

registerGradient({
  kernelName: MASKED_MEAN_KERNEL,
  inputsToSave: ["mask"],
  gradFunc: (dy, saved) => {
    const [mask] = saved;
    return {
      x: () =>
        tf.engine().runKernel(
          MASKED_MEAN_BACKPROP_KERNEL,
          { dy: dy as tf.Tensor, mask },
          {},
        ) as tf.Tensor,
      mask: () => tf.zerosLike(mask),
    };
  },
});

/** Whether {@linkcode maskedMean} runs its kernels on the current backend (cpu, wasm). */
export function maskedMeanFusedHere(): boolean {
  const b = tf.getBackend();
  return (b === "cpu" || b === "wasm") && tf.getKernel(MASKED_MEAN_KERNEL, b) !== undefined;
}

/**
 * `Σ_t m[b,t] · x[b,t] / max(Σ_t m[b,t], 1)`: `x [B, T, D]` (float32) and `mask [B, T]`
 * → `[B, D]`, one kernel each way on cpu and wasm, tfjs ops elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maskedMean } from "nn/kernels/masked_mean.ts";
 * console.log(maskedMean(tf.ones([2, 3, 4]), tf.ones([2, 3])).shape); // [2, 4]
 * ```
 */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  if (
    x.rank !== 3 || mask.rank !== 2 || x.shape[0] !== mask.shape[0] || x.shape[1] !== mask.shape[1]
  ) {
    throw new Error(
      `maskedMean takes x [B, T, D] and mask [B, T]; got [${x.shape}] and [${mask.shape}].`,
    );
  }
  if (maskedMeanFusedHere() && x.dtype === "float32") {
    return tf.engine().runKernel(MASKED_MEAN_KERNEL, { x, mask }, {}) as tf.Tensor;
  }
  return tf.tidy(() => {
    const m = tf.expandDims(tf.cast(mask, "float32"), 2); // [B, T, 1]
    const sum = tf.sum(tf.mul(x, m), 1); // [B, D]
    const count = tf.maximum(tf.sum(m, 1), 1); // [B, 1]: tokens per sequence, at least 1
    return tf.div(sum, count);
  });
}
