/**
 * A dense layer's whole step as one kernel each way, for the cpu and wasm backends:
 * `NNDense` computes `y = act(x · W + b)` (the bias written into the output before the
 * GEMM, ReLU in the same pass over it), `NNDenseBackprop` the weight gradients
 * (`dz = dy ∘ [y > 0]` and the bias gradient in one pass, then `dW = xᵀ · dz`) and
 * `NNDenseBackpropInput` the input's, `dx = dz · Wᵀ`, only where `x` needs one (a first
 * layer's input does not: that GEMM, the largest of an MLP's step, is skipped).
 *
 * Why: tfjs's `fused.matMul` fuses bias and activation only where no gradient is being
 * taped, so while training a `tf.layers.dense` with ReLU runs `BatchMatMul`, a
 * broadcasting `Add` of the bias and `Relu` forward, and `Step`, `Cast`, `Multiply`, `Sum`,
 * two `BatchMatMul`s and a few `Reshape`s backward (rank-3 inputs are reshaped, and the
 * kernel transposed, on every call). Here `x` of any rank ≥ 2 is read as rows of its
 * last axis in place.
 *
 * The maths is tfjs's: the ReLU gradient is `dy · step(y)` (0 where `y ≤ 0`), as in its
 * fused matMul's gradient; float32 sums in the GEMM's order (OpenBLAS, the own SIMD GEMM
 * or the TypeScript loops, see `gemm.ts`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dense } from "nn/kernels/dense.ts";
 * await tf.setBackend("cpu");
 * const y = dense(tf.tensor2d([[1, -2]]), tf.tensor2d([[1], [1]]), tf.tensor1d([0.5]), "relu");
 * console.log(await y.array()); // [[0]]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { registerGradient } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, f32, sizeOf } from "./io.ts";
import { fillRows, gemm } from "./gemm.ts";
import { denseWebGPUKernels } from "./webgpu/dense.ts";
import { webgpuFusion } from "./webgpu/program.ts";
import { wasmHeapKernels } from "./simd/simd.ts";

/** The activations {@linkcode dense} fuses. */
export type DenseActivation = "linear" | "relu";

/** The forward kernel's name. */
export const DENSE_KERNEL = "NNDense";
/** The backward kernel's name: outputs `[dz, dW, db]` (ReLU) or `[dW, db]` (linear). */
export const DENSE_BACKPROP_KERNEL = "NNDenseBackprop";
/** The input gradient's kernel, `dx = dz · Wᵀ` (run only where x needs a gradient). */
export const DENSE_BACKPROP_INPUT_KERNEL = "NNDenseBackpropInput";

function activationOf(attrs: NamedAttrMap | undefined): DenseActivation {
  const a = String(attrs?.activation ?? "linear");
  if (a !== "linear" && a !== "relu") {
    throw new Error(`${DENSE_KERNEL}: activation "${a}" is not fused; use "linear" or "relu".`);
  }
  return a;
}

const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, kernel, bias } = inputs as { x: TensorInfo; kernel: TensorInfo; bias?: TensorInfo };
  const act = activationOf(attrs);
  const K = x.shape[x.shape.length - 1];
  const N = kernel.shape[1];
  const rows = K === 0 ? 0 : sizeOf(x.shape) / K;
  const out = allocOutput(backend, [...x.shape.slice(0, -1), N], "float32");
  // views after the allocation (on wasm it may grow the heap)
  const Y = f32(backend, out);
  if (bias) fillRows(Y, f32(backend, bias));
  else Y.fill(0);
  if (rows > 0 && K > 0) {
    gemm(false, false, rows, N, K, 1, f32(backend, x), K, f32(backend, kernel), N, 1, Y, N);
  }
  if (act === "relu") {
    const heap = wasmHeapKernels(backend);
    if (heap) heap.kernels.relu(heap.address(out), Y.length);
    else reluInPlace(Y);
  }
  return out;
};

/**
 * `y = max(y, 0)` in place, without a branch per element: on the float32 bits, a set
 * sign bit clears the word (negative values and −0 become +0). A data-dependent branch
 * mispredicts on half of a layer's outputs: 5–6 ns per element against under 1.
 *
 * @example
 * ```ts
 * import { reluInPlace } from "nn/kernels/dense.ts";
 * const y = new Float32Array([-1, 2, -0]);
 * reluInPlace(y);
 * console.log(y); // Float32Array [0, 2, 0]
 * ```
 */
export function reluInPlace(y: Float32Array): void {
  const bits = new Int32Array(y.buffer, y.byteOffset, y.length);
  const n = bits.length;
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    bits[i] = b & ~(b >> 31);
  }
}

const backward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, kernel, y } = inputs as Record<string, TensorInfo>;
  const act = activationOf(attrs);
  const K = x.shape[x.shape.length - 1];
  const N = kernel.shape[1];
  const rows = K === 0 ? 0 : sizeOf(x.shape) / K;
  // ReLU: dz = dy ∘ step(y) is an output (the input gradient's kernel reads it)
  const dzOut = act === "relu" ? allocOutput(backend, dy.shape, "float32") : null;
  const dw = allocOutput(backend, kernel.shape, "float32");
  const db = allocOutput(backend, [N], "float32");
  // views after the allocations (on wasm they may grow the heap)
  const dY = f32(backend, dy);
  const dz = dzOut ? f32(backend, dzOut) : dY;
  const heap = wasmHeapKernels(backend);
  if (heap) {
    // on wasm: the SIMD kernel, in place on the heap (the same float32 sums, row by row)
    heap.kernels.dense_backward_epilogue(
      heap.address(dy),
      dzOut ? heap.address(y) : 0,
      dzOut ? heap.address(dzOut) : 0,
      heap.address(db),
      rows,
      N,
      dzOut ? 1 : 0,
    );
  } else {
    backwardEpilogue(dY, dzOut ? f32(backend, y) : null, dz, f32(backend, db), rows, N);
  }
  const dW = f32(backend, dw);
  if (rows > 0 && K > 0 && N > 0) {
    gemm(true, false, K, N, rows, 1, f32(backend, x), K, dz, N, 0, dW, N); // dW = xᵀ · dz
  } else dW.fill(0);
  return dzOut ? [dzOut, dw, db] : [dw, db];
};

/**
 * `dz = dy · step(y)` (when `Y` is given; else `dz` is `dY`) and `dB` = the column sums
 * of dz, row by row in float32: the TypeScript twin of `kernels.wat`'s
 * `dense_backward_epilogue`, for the cpu backend.
 */
function backwardEpilogue(
  dY: Float32Array,
  Y: Float32Array | null,
  dz: Float32Array,
  dB: Float32Array,
  rows: number,
  N: number,
): void {
  dB.fill(0);
  if (!Y) {
    for (let r = 0, i = 0; r < rows; r++) for (let j = 0; j < N; j++, i++) dB[j] += dY[i];
    return;
  }
  // dy · step(y), branch-free (a comparison as 0 or 1, see reluInPlace)
  for (let r = 0, i = 0; r < rows; r++) {
    for (let j = 0; j < N; j++, i++) {
      const v = dY[i] * Number(Y[i] > 0);
      dz[i] = v;
      dB[j] += v;
    }
  }
}

/** `dx = dz · Wᵀ` in `x`'s shape: run only where `x` needs a gradient. */
const backwardInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dz, kernel } = inputs as Record<string, TensorInfo>;
  const shape = (attrs as { xShape: number[] }).xShape;
  const K = kernel.shape[0];
  const N = kernel.shape[1];
  const rows = K === 0 ? 0 : sizeOf(shape) / K;
  const dx = allocOutput(backend, shape, "float32");
  const dX = f32(backend, dx);
  if (rows > 0 && K > 0 && N > 0) {
    gemm(false, true, rows, K, N, 1, f32(backend, dz), N, f32(backend, kernel), N, 0, dX, K);
  } else dX.fill(0);
  return dx;
};

/**
 * The kernel configs of {@linkcode dense} for `backendName` ("cpu", "wasm", or "webgpu":
 * `webgpu/dense.ts`'s programs under the same names, sharing the gradient below).
 */
export function denseKernels(backendName: string): KernelConfig[] {
  if (backendName === "webgpu") {
    return denseWebGPUKernels({
      forward: DENSE_KERNEL,
      backward: DENSE_BACKPROP_KERNEL,
      backwardInput: DENSE_BACKPROP_INPUT_KERNEL,
    });
  }
  if (backendName !== "cpu" && backendName !== "wasm") return [];
  return [
    { kernelName: DENSE_KERNEL, backendName, kernelFunc: forward },
    { kernelName: DENSE_BACKPROP_KERNEL, backendName, kernelFunc: backward },
    { kernelName: DENSE_BACKPROP_INPUT_KERNEL, backendName, kernelFunc: backwardInput },
  ];
}

registerGradient({
  kernelName: DENSE_KERNEL,
  inputsToSave: ["x", "kernel"],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, kernel, y] = saved;
    const relu = activationOf(attrs as unknown as NamedAttrMap) === "relu";
    const out = tf.engine().runKernel(
      DENSE_BACKPROP_KERNEL,
      { dy: dy as tf.Tensor, x, kernel, y },
      attrs as unknown as NamedAttrMap,
    ) as tf.Tensor[];
    const [dz, dw, db] = relu ? out : [dy as tf.Tensor, ...out];
    return {
      // only when x needs a gradient (not a model's input): tfjs calls the thunks it needs
      x: () =>
        tf.engine().runKernel(DENSE_BACKPROP_INPUT_KERNEL, { dz, kernel }, {
          xShape: x.shape,
        }) as tf.Tensor,
      kernel: () => dw,
      bias: () => db,
    };
  },
});

let enabled = true;

/**
 * Turns the fused dense kernels on or off (on by default; off: `FusedDense` and the
 * attention projections run tfjs's own ops, for comparisons).
 *
 * @example
 * ```ts
 * import { denseFusion, setDenseFusion } from "nn/kernels/dense.ts";
 * setDenseFusion(false);
 * console.log(denseFusion()); // false
 * setDenseFusion(true);
 * ```
 */
export function setDenseFusion(on: boolean): void {
  enabled = on;
}

/** Whether the fused dense kernels are on (see {@linkcode setDenseFusion}). */
export function denseFusion(): boolean {
  return enabled;
}

/**
 * Whether {@linkcode dense} runs fused on the current backend: its kernels on cpu and
 * wasm, the fused WebGPU programs (`webgpu/dense.ts`) on webgpu while `webgpuFusion()`.
 */
export function denseFusedHere(): boolean {
  if (!enabled) return false;
  const b = tf.getBackend();
  if (b === "webgpu" && !webgpuFusion()) return false;
  // registered (by ./mod.ts) for cpu, wasm and webgpu only
  return tf.getKernel(DENSE_KERNEL, b) !== undefined;
}

/**
 * `act(x · kernel + bias)` over the last axis of `x` (`[..., K]` · `[K, N]` → `[..., N]`)
 * as one kernel with a one-kernel gradient on cpu and wasm (`NNDense`, `NNDenseBackprop`),
 * as one fused program on webgpu (`webgpu/dense.ts`, while `webgpuFusion()`), elsewhere
 * tfjs's `fused.matMul`. Float32 inputs only.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { dense } from "nn/kernels/dense.ts";
 * const x = tf.ones([2, 3, 4]);
 * console.log(dense(x, tf.ones([4, 5]), null, "linear").shape); // [2, 3, 5]
 * ```
 */
export function dense(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor | null,
  activation: DenseActivation = "linear",
): tf.Tensor {
  if (kernel.rank !== 2 || x.rank < 1 || x.shape[x.rank - 1] !== kernel.shape[0]) {
    throw new Error(
      `dense: x [${x.shape}] and kernel [${kernel.shape}] do not fit (kernel must be ` +
        `[K, N] with K the last axis of x).`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== kernel.shape[1])) {
    throw new Error(`dense: bias [${bias.shape}] must be [${kernel.shape[1]}].`);
  }
  if (!denseFusedHere() || x.rank < 2) {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const y = tf.fused.matMul({
        a: tf.reshape(x, [-1, kernel.shape[0]]),
        b: kernel,
        bias: bias ?? undefined,
        activation,
      });
      return tf.reshape(y, [...lead, kernel.shape[1] as number]);
    });
  }
  const inputs: Record<string, tf.Tensor> = { x, kernel };
  if (bias) inputs.bias = bias;
  return tf.engine().runKernel(DENSE_KERNEL, inputs, { activation }) as tf.Tensor;
}
