/**
 * `Conv2DBackpropInput` (the input gradient of `conv2d` and `conv1d`) for the wasm
 * backend, through {@linkcode gemm}: tfjs-wasm 4.22's own kernel is a direct loop, the
 * slowest step of a Conv1D text CNN built from `tf.layers.conv1d`. For each filter tap
 * and each output row it is one GEMM, `dX[rows hit by the tap] += dY[row] · W[tap]ᵀ`
 * (the output pixels against the tap's `[C, F]` weights), accumulated in place.
 * Channels-last; channels-first goes to tfjs's kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "nn/kernels/mod.ts";
 * await tf.setBackend("wasm");
 * const w = tf.ones([3, 2, 4]) as tf.Tensor3D;
 * const dx = tf.grad((x: tf.Tensor) => tf.conv1d(x as tf.Tensor3D, w, 1, "valid").sum())(tf.ones([1, 5, 2]));
 * console.log(await dx.array()); // [[[4, 4], [8, 8], [12, 12], [8, 8], [4, 4]]]
 * ```
 * @module
 */

import { backend_util, getKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, f32 } from "./io.ts";
import { gemm, hasBlas } from "./gemm.ts";

interface Attrs {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: [number, number, number, number];
}

/** Kernel configs that take over `Conv2DBackpropInput` on `backendName` (channels-last). */
export function convBackpropInputKernels(backendName: string): KernelConfig[] {
  const original = getKernel("Conv2DBackpropInput", backendName);
  if (!original) return [];
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Attrs;
    if (
      !hasBlas() || dataFormat === "NCHW" || dy.dtype !== "float32" ||
      filter.dtype !== "float32"
    ) {
      return original.kernelFunc(args) as TensorInfo;
    }
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      "channelsLast",
    );
    const out = allocOutput(backend as object, inputShape, "float32");
    const dx = f32(backend as object, out);
    const dys = f32(backend as object, dy);
    const w = f32(backend as object, filter);
    dx.fill(0);
    const {
      batchSize,
      inHeight,
      inWidth,
      inChannels: C,
      outHeight,
      outWidth,
      outChannels: F,
      strideHeight,
      strideWidth,
      filterHeight,
      filterWidth,
    } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    for (let wR = 0; wR < filterHeight; wR++) {
      const yRMin = Math.max(0, Math.ceil((top - wR) / strideHeight));
      const yRMax = Math.min(outHeight, Math.ceil((inHeight + top - wR) / strideHeight));
      for (let wC = 0; wC < filterWidth; wC++) {
        const yCMin = Math.max(0, Math.ceil((left - wC) / strideWidth));
        const yCMax = Math.min(outWidth, Math.ceil((inWidth + left - wC) / strideWidth));
        if (yCMax <= yCMin) continue;
        const tap = w.subarray((wR * filterWidth + wC) * C * F); // [C, F]
        const xC0 = wC + yCMin * strideWidth - left;
        for (let b = 0; b < batchSize; b++) {
          for (let yR = yRMin; yR < yRMax; yR++) {
            const xR = wR + yR * strideHeight - top;
            const xRow = ((b * inHeight + xR) * inWidth) * C;
            const yRow = ((b * outHeight + yR) * outWidth) * F;
            // dX[xR, xC0 + i·stride, :] += dY[yR, yCMin + i, :] · tapᵀ
            gemm(
              false,
              true,
              yCMax - yCMin,
              C,
              F,
              1,
              dys.subarray(yRow + yCMin * F),
              F,
              tap,
              F,
              1,
              dx.subarray(xRow + xC0 * C),
              strideWidth * C,
            );
          }
        }
      }
    }
    return out;
  };
  return [{
    kernelName: "Conv2DBackpropInput",
    backendName,
    kernelFunc,
    setupFunc: original.setupFunc,
  }];
}
