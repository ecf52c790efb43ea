/**
 * tfjs-webgpu's `BatchMatMul` and `_FusedMatMul` with `transposeB`, replaced while the
 * library's WebGPU fusion is on by a transpose of B and a plain product. On Mesa's
 * software adapter the transposed form ran 2.7× slower (`dZ [6400, 256] · Wᵀ`, W
 * `[64, 256]`: 92 ms against 34 ms with the transpose included), and every backward pass
 * of a dense layer takes that form (`dX = dY · Wᵀ`). The transpose is one small program
 * when B is a weight; B larger than A keeps tfjs's own kernel. On a software adapter the
 * products it takes run as `matmul_software.ts`'s program instead (transposes read in
 * place). `setWebGPUFusion(false)` restores tfjs's kernels, for comparison.
 *
 * @example
 * ```ts
 * import { transposedMatMulKernels } from "nn/kernels/webgpu/matmul.ts";
 * // registered by the library when the webgpu backend is set; without it: []
 * console.log(transposedMatMulKernels("webgpu").map((k) => k.kernelName));
 * ```
 * @module
 */

import { getKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { sizeOf } from "../io.ts";
import { webgpuFusion } from "./program.ts";
import { softwareAdapter, softwareMatMul } from "./matmul_software.ts";

/**
 * Kernel configs wrapping `BatchMatMul` and `_FusedMatMul` of `backendName` (webgpu):
 * with `transposeB` and fusion on, B is transposed (its last two axes) by the backend's
 * `Transpose` kernel and multiplied plainly. Empty where the backend lacks the kernels.
 */
export function transposedMatMulKernels(backendName = "webgpu"): KernelConfig[] {
  const transpose = getKernel("Transpose", backendName);
  if (!transpose) return [];
  return ["BatchMatMul", "_FusedMatMul"].flatMap((kernelName): KernelConfig[] => {
    const original = getKernel(kernelName, backendName);
    if (!original) return [];
    const kernelFunc: KernelFunc = (args) => {
      if (webgpuFusion() && softwareAdapter()) {
        const out = softwareMatMul(kernelName, args);
        if (out) return out;
      }
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      const transposeB = (args.attrs as { transposeB?: boolean } | undefined)?.transposeB;
      if (!transposeB || !webgpuFusion() || sizeOf(b.shape) > sizeOf(a.shape)) {
        return original.kernelFunc(args);
      }
      const rank = b.shape.length;
      const perm = [...Array(rank).keys()];
      [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
      const bt = transpose.kernelFunc({
        inputs: { x: b },
        backend: args.backend,
        attrs: { perm },
      }) as TensorInfo;
      try {
        return original.kernelFunc({
          ...args,
          inputs: { ...args.inputs, b: bt },
          attrs: { ...args.attrs, transposeB: false },
        });
      } finally {
        (args.backend as { disposeData(dataId: object): void }).disposeData(bt.dataId);
      }
    };
    return [{ kernelName, backendName, kernelFunc, setupFunc: original.setupFunc }];
  });
}
