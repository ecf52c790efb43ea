/**
 * Fused WebGPU kernels: WGSL programs run through tfjs-webgpu's program interface for
 * the hot paths of the library's layers, so that a training step on the webgpu backend
 * dispatches tens of GPU programs instead of hundreds or thousands.
 *
 * - `recurrent.ts`: the LSTM, GRU and simple RNN time loop, forward and BPTT;
 * - `attention.ts`: scaled scores, causal mask, softmax and weighted values, and back;
 * - `layer_norm.ts`: layer norm forward and backward;
 * - `conv_max.ts`: max over time of a Conv1D, with the winning-window backward pass;
 * - `adam.ts`: the Adam update, three programs per weight;
 * - `matmul.ts`: tfjs's matMul with a transposed B, as a transpose and a plain matMul;
 * - `program.ts`: the program wrapper, the fusion switch and a program counter.
 *
 * The layers (`FusedLSTM`, `FusedGRU`, `FusedSimpleRNN`, `MultiHeadSelfAttention`,
 * `LayerNorm`, `ConvMaxOverTime`) and `FastAdam` use them on webgpu by themselves;
 * `setWebGPUFusion(false)` makes them run plain tfjs ops instead, for comparison.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { countPrograms, layerNormWebGPU } from "nn/kernels/webgpu/mod.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const { programs } = countPrograms(() =>
 *     layerNormWebGPU(tf.ones([4, 8]), tf.ones([8]), tf.zeros([8]), 1e-5)
 *   );
 *   console.log(programs); // 1
 * }
 * ```
 * @module
 */

export {
  countPrograms,
  fusedOnWebGPU,
  onWebGPU,
  type ProgramCounter,
  runProgram,
  setWebGPUFusion,
  startCounting,
  type Uniform,
  webgpuFusion,
  WGSLProgram,
  type WGSLProgramArgs,
  WORKGROUP,
} from "./program.ts";
export { type Cell, recurrentFitsWebGPU, recurrentSequenceWebGPU } from "./recurrent.ts";
export { attentionWebGPU, MAX_ATTENTION_LENGTH } from "./attention.ts";
export { addLayerNormWebGPU, layerNormWebGPU } from "./layer_norm.ts";
export { type AdamConstants, adamUpdateWebGPU } from "./adam.ts";
export { convMaxWebGPU } from "./conv_max.ts";
export { transposedMatMulKernels } from "./matmul.ts";
export { setSoftwareAdapter, softwareAdapter, softwareMatMul } from "./matmul_software.ts";
export { denseWebGPUKernels } from "./dense.ts";
