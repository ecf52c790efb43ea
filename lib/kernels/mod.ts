/**
 * The library's kernel registrations: kernels tfjs's wasm backend lacks (so that every
 * reference model trains on it) and faster replacements where tfjs is slow.
 *
 * | kernel | backend | why |
 * | --- | --- | --- |
 * | `UnsortedSegmentSum` | wasm, cpu | missing on wasm (embedding gradient); one pass instead of one per segment on cpu |
 * | `Conv2DBackpropFilter` | wasm | missing (Conv1D/Conv2D weight gradient); per-tap GEMM |
 * | `Conv2DBackpropInput` | wasm | channels-last input gradient as per-tap GEMMs: tfjs-wasm's direct loop was the slow step of a `conv1d` text CNN |
 * | `BatchMatMul`, `_FusedMatMul` | wasm, cpu | a native BLAS (OpenBLAS, Accelerate) via FFI when present, else the own SIMD GEMM (`simd/gemm.wat`) |
 * | `Identity` | wasm | shares the input's memory (reference-counted, as tfjs-cpu does) instead of copying it |
 * | `Transpose` | wasm | the identity permutation only (a gather's gradient on axis 0): shares the input's memory |
 * | `Sum` | wasm | contiguous axes without tfjs-wasm's transpose-first (bias gradients) |
 * | `GatherV2` | wasm | row copies: tfjs-wasm's per-element gather took 15 ms for one embedding lookup |
 * | `Add`, `Sub`, `Multiply`, `RealDiv`, `Maximum`, `Minimum`, `SquaredDifference`, comparisons | wasm | the broadcasting case only: tfjs-wasm's generic path is up to 100× slower |
 * | `NNMaskedMean`, `NNMaskedMeanBackprop` (new) | wasm, cpu | the mean over the real tokens (`MaskedMeanPooling`) as one kernel each way (`masked_mean.ts`) |
 * | `NNDense`, `NNDenseBackprop`, `NNDenseBackpropInput` (new) | wasm, cpu | a dense layer's matmul + bias + ReLU as one kernel, its weight gradients as one, its input gradient as one where needed (`dense.ts`, `FusedDense`) |
 *
 * Importing this module registers them (and again whenever `setupBackend` picks a
 * backend, through `onBackendSet`); {@linkcode registerFastKernels} is idempotent.
 *
 * The fused layers' inner loops and the Adam update run in the SIMD kernels of
 * `simd/simd.ts` (WebAssembly f32x4, assembled from `simd/kernels.wat`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerFastKernels } from "nn/kernels/mod.ts";
 * registerFastKernels("wasm");
 * await tf.setBackend("wasm");
 * const grad = tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([0, 0], "int32")).sum());
 * console.log(grad(tf.ones([3, 2])).arraySync()); // [[2, 2], [0, 0], [0, 0]]
 * ```
 * @module
 */

import { registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig } from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { onBackendSet, probeWebGpu } from "../backend.ts";
import { noteFallbackAdapter } from "./webgpu/matmul_software.ts";
import { segmentSumKernels } from "./segment_sum.ts";
import { convBackpropFilterKernels } from "./conv_backprop_filter.ts";
import { convBackpropInputKernels } from "./conv_backprop_input.ts";
import { matmulKernels } from "./matmul.ts";
import { broadcastKernels } from "./broadcast.ts";
import { gatherKernels } from "./gather.ts";
import { reduceKernels } from "./reduce.ts";
import { identityCastKernels, identityKernels, identityTransposeKernels } from "./identity.ts";
import { denseKernels } from "./dense.ts";
import { maskedMeanKernels } from "./masked_mean.ts";
import { transposedMatMulKernels } from "./webgpu/matmul.ts";

export {
  blasInfo,
  gemm,
  hasBlas,
  hasNativeBlas,
  parseGemmThreads,
  selectGemm,
  setGemmThreads,
  startGemmThreads,
} from "./gemm.ts";
export type { GemmChoice, GemmThreads } from "./gemm.ts";

const done = new Set<string>();

/** The kernels this library registers for `backendName` (wasm, cpu, webgpu). */
export function fastKernelConfigs(backendName: string): KernelConfig[] {
  if (backendName === "wasm") {
    return [
      ...segmentSumKernels("wasm"),
      ...convBackpropFilterKernels("wasm"),
      ...convBackpropInputKernels("wasm"),
      ...matmulKernels("wasm"),
      ...broadcastKernels("wasm"),
      ...gatherKernels("wasm"),
      ...reduceKernels("wasm"),
      ...identityKernels("wasm"),
      ...identityTransposeKernels("wasm"),
      ...identityCastKernels("wasm"),
      ...denseKernels("wasm"),
      ...maskedMeanKernels("wasm"),
    ];
  }
  if (backendName === "cpu") {
    return [
      ...segmentSumKernels("cpu"),
      ...matmulKernels("cpu"),
      ...denseKernels("cpu"),
      ...maskedMeanKernels("cpu"),
    ];
  }
  if (backendName === "webgpu") {
    return [...transposedMatMulKernels("webgpu"), ...denseKernels("webgpu")];
  }
  return [];
}

/**
 * Registers the library's kernels for one backend ("wasm", "cpu", "webgpu"; others: nothing).
 * Safe to call many times.
 *
 * @example
 * ```ts
 * import { registerFastKernels } from "nn/kernels/mod.ts";
 * console.log(registerFastKernels("wasm")); // names registered the first time, [] after
 * ```
 * @returns the kernel names registered by this call
 */
export function registerFastKernels(backendName: string): string[] {
  if (done.has(backendName)) return [];
  const configs = fastKernelConfigs(backendName);
  for (const config of configs) {
    try {
      unregisterKernel(config.kernelName, config.backendName);
    } catch {
      // not registered before: fine
    }
    registerKernel(config);
  }
  if (configs.length) done.add(backendName); // webgpu: none until its backend is loaded
  return configs.map((c) => c.kernelName);
}

registerFastKernels("wasm");
registerFastKernels("cpu");
onBackendSet(async (backend) => {
  registerFastKernels(backend);
  // on a software adapter (llvmpipe, SwiftShader) the products run as register-blocked
  // programs without workgroup memory (webgpu/matmul_software.ts)
  if (backend === "webgpu") noteFallbackAdapter((await probeWebGpu())?.fallback ?? false);
});
export { adam, FastAdam } from "./adam.ts";
export { softmaxCrossEntropy } from "./softmax_cross_entropy.ts";
export { dense, denseFusion, reluInPlace, setDenseFusion } from "./dense.ts";
export { maskedMean } from "./masked_mean.ts";
export { customGradMulti } from "./custom_grad.ts";
export type { MultiGradFunc, MultiGradResult } from "./custom_grad.ts";
export {
  countPrograms,
  setSoftwareAdapter,
  setWebGPUFusion,
  softwareAdapter,
  startCounting,
  webgpuFusion,
} from "./webgpu/mod.ts";
