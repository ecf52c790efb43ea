/**
 * A dense layer's training step on WebGPU with bias and activation fused, as three
 * kernels registered for the webgpu backend under the names of the cpu and wasm ones
 * (`NNDense`, `NNDenseBackprop`, `NNDenseBackpropInput`, see `../dense.ts`): forward, one
 * `_FusedMatMul` program (tfjs-webgpu's matmul with the bias and ReLU in its epilogue);
 * backward, one program for `dz = dy ∘ [y > 0]`, then `dW = xᵀ · dz` and the bias
 * gradient `Σ dz`, and `dX = dz · Wᵀ` only where the input needs a gradient.
 *
 * tfjs's `fused.matMul` fuses only where no gradient is taped: while training, a dense
 * layer with ReLU dispatches a matmul, a bias add and the ReLU forward, and `Step`,
 * `Multiply` and the rest backward. A registered kernel with a registered gradient keeps
 * the fused program while training, and its gradient gives tfjs `dX` as a thunk: the
 * first version ran inside a `tf.customGrad`, which computes every input's gradient, so
 * each model's first layer computed a `dX` nobody used — in LeNet-300-100 its largest
 * product (`[128, 300] · [300, 784]`): a training step on Mesa's lavapipe took 351 ms
 * with it against 297 ms for tfjs's unfused ops (`deno task bench --backends webgpu
 * --models mlp --no-matmul`, 2-core AMD EPYC).
 *
 * @example
 * ```ts
 * import { denseWebGPUKernels } from "nn/kernels/webgpu/dense.ts";
 * // registered by the library when the webgpu backend is set; before that: []
 * const names = { forward: "NNDense", backward: "NNDenseBackprop", backwardInput: "NNDenseBackpropInput" };
 * console.log(denseWebGPUKernels(names).map((k) => k.kernelName));
 * ```
 * @module
 */

import { getKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { sizeOf } from "../io.ts";
import { WGSLProgram, WORKGROUP } from "./program.ts";

/** Lanes that each handle this many elements of the ReLU gradient. */
const PER_LANE = 4;

function reluGradCode(): string {
  return `
fn main(index : i32) {
  for (var e = 0; e < ${PER_LANE}; e++) {
    let i = index * ${PER_LANE} + e;
    if (i < uniforms.size) { result[i] = select(0.0, dy[i], y[i] > 0.0); }
  }
}`;
}

/** Runs the webgpu backend's kernel `name` (the registered one: the library's wrappers too). */
function call(
  name: string,
  backend: unknown,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const kernel = getKernel(name, "webgpu");
  if (!kernel) {
    throw new Error(`The webgpu backend has no ${name} kernel: is tfjs-backend-webgpu loaded?`);
  }
  return kernel.kernelFunc({
    inputs,
    backend: backend as never,
    attrs: attrs as never,
  }) as TensorInfo;
}

const reshape = (backend: unknown, x: TensorInfo, shape: number[]) =>
  call("Reshape", backend, { x }, { shape });

const free = (backend: unknown, ...infos: TensorInfo[]) => {
  for (const t of infos) (backend as WebGPUBackend).disposeData(t.dataId);
};

/** `NNDense` on webgpu: one `_FusedMatMul` program (bias and activation in its epilogue). */
const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, kernel, bias } = inputs as { x: TensorInfo; kernel: TensorInfo; bias?: TensorInfo };
  const activation = (attrs as { activation?: string }).activation ?? "linear";
  const K = kernel.shape[0];
  const N = kernel.shape[1];
  const x2 = reshape(backend, x, [sizeOf(x.shape) / K, K]);
  const y2 = call(
    "_FusedMatMul",
    backend,
    bias ? { a: x2, b: kernel, bias } : { a: x2, b: kernel },
    {
      transposeA: false,
      transposeB: false,
      activation,
      leakyreluAlpha: 0,
    },
  );
  const y = reshape(backend, y2, [...x.shape.slice(0, -1), N]);
  free(backend, x2, y2);
  return y;
};

/**
 * `NNDenseBackprop` on webgpu: `dz = dy ∘ [y > 0]` in one program (ReLU; else dz = dy),
 * `dW = xᵀ · dz` and the bias gradient `Σ dz`; returns `[dz, dW, db]` (ReLU) or `[dW, db]`,
 * as the cpu and wasm kernels do, so that the one registered gradient serves them all.
 */
const backward: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, kernel, y } = inputs as Record<string, TensorInfo>;
  const relu = (attrs as { activation?: string }).activation === "relu";
  const K = kernel.shape[0];
  const N = kernel.shape[1];
  const rows = sizeOf(x.shape) / K;
  const dy2 = reshape(backend, dy, [rows, N]);
  let dz2 = dy2;
  if (relu) {
    const y2 = reshape(backend, y, [rows, N]);
    dz2 = (backend as WebGPUBackend).runWebGPUProgram(
      new WGSLProgram({
        key: "dense_relu_grad",
        inputs: ["dy", "y"],
        outputShape: [rows, N],
        workgroups: Math.ceil((rows * N) / (PER_LANE * WORKGROUP)),
        code: reluGradCode(),
      }),
      [dy2, y2],
      "float32",
    );
    free(backend, y2);
  }
  const x2 = reshape(backend, x, [rows, K]);
  const dw = call("BatchMatMul", backend, { a: x2, b: dz2 }, {
    transposeA: true,
    transposeB: false,
  });
  const db = call("Sum", backend, { x: dz2 }, { axis: [0], keepDims: false });
  free(backend, x2);
  if (!relu) {
    free(backend, dy2);
    return [dw, db];
  }
  const dz = reshape(backend, dz2, dy.shape);
  free(backend, dy2, dz2);
  return [dz, dw, db];
};

/** `NNDenseBackpropInput` on webgpu: `dx = dz · Wᵀ`, run only where x needs a gradient. */
const backwardInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dz, kernel } = inputs as Record<string, TensorInfo>;
  const shape = (attrs as { xShape: number[] }).xShape;
  const N = kernel.shape[1];
  const dz2 = reshape(backend, dz, [sizeOf(dz.shape) / N, N]);
  const dx2 = call("BatchMatMul", backend, { a: dz2, b: kernel }, {
    transposeA: false,
    transposeB: true,
  });
  const dx = reshape(backend, dx2, shape);
  free(backend, dz2, dx2);
  return dx;
};

/**
 * The webgpu kernels of the fused dense layer, under the names of the cpu and wasm ones
 * (`NNDense`, `NNDenseBackprop`, `NNDenseBackpropInput`, passed in by `../dense.ts`): the
 * gradient registered there hands tfjs the input gradient as a thunk, so a model's first
 * layer never computes `dx` (its largest product in an MLP). Empty until the webgpu
 * backend's own kernels are registered.
 */
export function denseWebGPUKernels(names: {
  forward: string;
  backward: string;
  backwardInput: string;
}): KernelConfig[] {
  if (!getKernel("_FusedMatMul", "webgpu")) return [];
  return [
    { kernelName: names.forward, backendName: "webgpu", kernelFunc: forward },
    { kernelName: names.backward, backendName: "webgpu", kernelFunc: backward },
    { kernelName: names.backwardInput, backendName: "webgpu", kernelFunc: backwardInput },
  ];
}
