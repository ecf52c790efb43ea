/**
 * `Sum` over a contiguous block of axes for the wasm backend (bias gradients: the sum
 * over batch and time of a `[B·T, D]` gradient).
 *
 * tfjs-wasm 4.22 sums only along the last axis, so it first transposes the input to
 * bring the reduced axes last: for a `[2048, 192]` gradient that transpose dominated
 * the step. Here the input is seen as `[outer, reduced, inner]`; each outer block is
 * summed as one GEMM with a vector of ones (`1ᵀ·X`, or `X·1` when `inner` is 1) through
 * OpenBLAS where present, else rows are added in place in float64 accumulators. Other
 * axis sets and non-float tensors go to tfjs's kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "nn/kernels/mod.ts";
 * await tf.setBackend("wasm");
 * console.log(tf.sum(tf.tensor2d([[1, 2], [3, 4]]), 0).arraySync()); // [4, 6]
 * ```
 * @module
 */

import { getKernel, util } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, f32, sizeOf } from "./io.ts";
import { hasNativeBlas, sumRows } from "./gemm.ts";

/** Kernel configs that take over contiguous-axes `Sum` on `backendName`. */
export function reduceKernels(backendName: string): KernelConfig[] {
  const original = getKernel("Sum", backendName);
  if (!original) return [];
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const attrs = args.attrs as { axis: number | number[]; keepDims: boolean };
    const backend = args.backend as object;
    if (x.dtype !== "float32" || x.shape.length === 0) return original.kernelFunc(args);
    const axes = util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
    if (axes.length === 0) return original.kernelFunc(args);
    for (let i = 1; i < axes.length; i++) {
      if (axes[i] !== axes[i - 1] + 1) return original.kernelFunc(args);
    }
    const first = axes[0];
    const last = axes[axes.length - 1];
    const outer = sizeOf(x.shape.slice(0, first));
    const reduced = sizeOf(x.shape.slice(first, last + 1));
    const inner = sizeOf(x.shape.slice(last + 1));
    const outShape = attrs.keepDims
      ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
      : x.shape.filter((_, i) => i < first || i > last);
    const out = allocOutput(backend, outShape, "float32");
    const o = f32(backend, out);
    const xs = f32(backend, x);
    if (hasNativeBlas() && reduced > 1) {
      if (inner === 1) sumRows(xs, outer, reduced, o, true);
      else {
        for (let p = 0; p < outer; p++) {
          sumRows(xs.subarray(p * reduced * inner), reduced, inner, o.subarray(p * inner));
        }
      }
    } else if (inner === 1) {
      for (let p = 0; p < outer; p++) {
        let s = 0;
        const base = p * reduced;
        for (let r = 0; r < reduced; r++) s += xs[base + r];
        o[p] = s;
      }
    } else {
      const acc = new Float64Array(inner);
      for (let p = 0; p < outer; p++) {
        acc.fill(0);
        const base = p * reduced * inner;
        for (let r = 0; r < reduced; r++) {
          const row = base + r * inner;
          for (let j = 0; j < inner; j++) acc[j] += xs[row + j];
        }
        o.set(acc, p * inner);
      }
    }
    return out;
  };
  return [{ kernelName: "Sum", backendName, kernelFunc, setupFunc: original.setupFunc }];
}
