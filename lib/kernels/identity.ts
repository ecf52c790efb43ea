/**
 * `Identity` for the wasm backend without a copy: the output shares the input's memory.
 *
 * tfjs runs `Identity` wherever a tensor is passed through unchanged (`tf.clone`, the
 * gradients of `add` and `reshape`, custom gradients, layers' outputs): about 100 calls
 * per Transformer training step. tfjs-wasm 4.22 copies the data each time (3.6 ms of a
 * 35 ms step); tfjs's cpu backend instead shares it and counts references, as wasm's
 * own `Reshape` does. Tensors are immutable, so sharing is safe. Strings go to tfjs's
 * kernel. The same holds for a `Cast` to the dtype the tensor already has: `Identity`'s
 * gradient is `cast(dy, "float32")`, one 512 kB copy for each residual `add` layer of the
 * reference Transformer (tfjs-layers' `Add` starts from a clone of its first input).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "nn/kernels/mod.ts";
 * await tf.setBackend("wasm");
 * const a = tf.tensor1d([1, 2]);
 * const b = tf.clone(a);
 * a.dispose();
 * console.log(b.arraySync()); // [1, 2]
 * ```
 * @module
 */

import { getKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";

/** Kernel configs that replace `Identity` on `backendName` (wasm). */
export function identityKernels(backendName: string): KernelConfig[] {
  const original = getKernel("Identity", backendName);
  if (!original) return [];
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const backend = args.backend as { incRef?: (dataId: object) => void };
    if (x.dtype === "string" || typeof backend.incRef !== "function") {
      return original.kernelFunc(args);
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return [{ kernelName: "Identity", backendName, kernelFunc, setupFunc: original.setupFunc }];
}

/**
 * Kernel configs that run `Transpose` with the identity permutation on `backendName`
 * (wasm) without a copy: tfjs's gather gradient transposes the gradient and the summed
 * table with the identity permutation when the gathered axis is 0 (every embedding), and
 * tfjs-wasm copies them (a 5 000 × 64 table: 1.3 MB a step). Other permutations go to
 * tfjs's kernel.
 */
export function identityTransposeKernels(backendName: string): KernelConfig[] {
  const original = getKernel("Transpose", backendName);
  if (!original) return [];
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const perm = (args.attrs as { perm?: number[] } | undefined)?.perm ?? [];
    const backend = args.backend as { incRef?: (dataId: object) => void };
    const identity = perm.length === x.shape.length && perm.every((p, i) => p === i);
    if (!identity || x.dtype === "string" || typeof backend.incRef !== "function") {
      return original.kernelFunc(args);
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return [{ kernelName: "Transpose", backendName, kernelFunc, setupFunc: original.setupFunc }];
}

/**
 * Kernel configs that run a `Cast` to the tensor's own dtype on `backendName` (wasm)
 * without a copy (tfjs-wasm 4.22 copies). Other casts go to tfjs's kernel.
 */
export function identityCastKernels(backendName: string): KernelConfig[] {
  const original = getKernel("Cast", backendName);
  if (!original) return [];
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const dtype = (args.attrs as { dtype?: string } | undefined)?.dtype;
    const backend = args.backend as { incRef?: (dataId: object) => void };
    if (dtype !== x.dtype || x.dtype === "string" || typeof backend.incRef !== "function") {
      return original.kernelFunc(args);
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return [{ kernelName: "Cast", backendName, kernelFunc, setupFunc: original.setupFunc }];
}
