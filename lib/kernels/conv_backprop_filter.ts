/**
 * `Conv2DBackpropFilter` (the weight gradient of `conv2d` and `conv1d`), which the wasm
 * backend of tfjs 4.22 lacks. For each filter tap it is one GEMM of the shifted input
 * rows against the output gradient (`dW[r, c] = Σ_b X_shiftᵀ · dY`), so the work runs
 * in {@linkcode gemm} (OpenBLAS where present). Channels-last, any stride and padding;
 * channels-first falls back to a direct loop.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "nn/kernels/mod.ts";
 * await tf.setBackend("wasm");
 * const x = tf.ones([1, 5, 2]) as tf.Tensor3D;
 * const dw = tf.grad((w: tf.Tensor) => tf.conv1d(x, w as tf.Tensor3D, 1, "valid").sum())(tf.ones([3, 2, 4]));
 * console.log(dw.shape); // [3, 2, 4]
 * ```
 * @module
 */

import { backend_util } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, f32 } from "./io.ts";
import { gemm } from "./gemm.ts";

interface Attrs {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Attrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const out = allocOutput(backend, info.filterShape, "float32");
  const dw = f32(backend, out);
  const xs = f32(backend, x);
  const dys = f32(backend, dy);
  dw.fill(0);
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const C = inChannels;
  const F = outChannels;
  const channelsLast = info.dataFormat === "channelsLast";
  for (let wR = 0; wR < filterHeight; wR++) {
    const yRMin = Math.max(0, Math.ceil((top - wR) / strideHeight));
    const yRMax = Math.min(outHeight, Math.ceil((inHeight + top - wR) / strideHeight));
    for (let wC = 0; wC < filterWidth; wC++) {
      const yCMin = Math.max(0, Math.ceil((left - wC) / strideWidth));
      const yCMax = Math.min(outWidth, Math.ceil((inWidth + left - wC) / strideWidth));
      const tap = dw.subarray((wR * filterWidth + wC) * C * F, (wR * filterWidth + wC + 1) * C * F);
      if (yCMax <= yCMin) continue;
      for (let b = 0; b < batchSize; b++) {
        for (let yR = yRMin; yR < yRMax; yR++) {
          const xR = wR + yR * strideHeight - top;
          if (channelsLast) {
            const xRow = ((b * inHeight + xR) * inWidth) * C;
            const yRow = ((b * outHeight + yR) * outWidth) * F;
            const xC0 = wC + yCMin * strideWidth - left;
            // rows yCMin..yCMax of dy against input pixels xC0, xC0+stride, …
            gemm(
              true,
              false,
              C,
              F,
              yCMax - yCMin,
              1,
              xs.subarray(xRow + xC0 * C),
              strideWidth * C,
              dys.subarray(yRow + yCMin * F),
              F,
              1,
              tap,
              F,
            );
          } else {
            for (let yC = yCMin; yC < yCMax; yC++) {
              const xC = wC + yC * strideWidth - left;
              for (let d1 = 0; d1 < C; d1++) {
                const xv = xs[((b * C + d1) * inHeight + xR) * inWidth + xC];
                for (let d2 = 0; d2 < F; d2++) {
                  tap[d1 * F + d2] += xv * dys[((b * F + d2) * outHeight + yR) * outWidth + yC];
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
};

/** Kernel configs for the backends this file serves. */
export function convBackpropFilterKernels(backendName: string): KernelConfig[] {
  return [{ kernelName: "Conv2DBackpropFilter", backendName, kernelFunc: conv2DBackpropFilter }];
}
