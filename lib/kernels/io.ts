/**
 * Reading and writing tensor memory inside a kernel, for the wasm and cpu backends.
 *
 * On wasm a view points into the wasm heap, which moves when the heap grows: allocate
 * every output first ({@linkcode allocOutput}), then take the views ({@linkcode view}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { allocOutput, view } from "nn/kernels/io.ts";
 * await tf.setBackend("cpu");
 * const backend = tf.backend();
 * const out = allocOutput(backend, [2], "float32");
 * view(backend, out).set([1, 2]);
 * console.log(tf.engine().makeTensorFromTensorInfo(out).dataSync()); // [1, 2]
 * ```
 * @module
 */

import { engine } from "@tensorflow/tfjs-core";
import type { DataType, Tensor, TensorInfo } from "@tensorflow/tfjs-core";

/** The typed arrays a numeric tensor is stored in. */
export type NumericArray = Float32Array | Int32Array | Uint8Array;

interface WasmLike {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): NumericArray;
  disposeData(dataId: object, force?: boolean): boolean;
}

interface CpuLike {
  makeTensorInfo(shape: number[], dtype: DataType, values?: unknown): TensorInfo;
  data: { get(dataId: object): { values: unknown } };
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Whether `backend` is tfjs's wasm backend. */
export function isWasm(backend: object): boolean {
  return typeof (backend as unknown as WasmLike).typedArrayFromHeap === "function";
}

function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates an output tensor (zero-filled on cpu, uninitialised on wasm). */
export function allocOutput(backend: object, shape: number[], dtype: DataType): TensorInfo {
  if (isWasm(backend)) return (backend as unknown as WasmLike).makeOutput(shape, dtype);
  const n = size(shape);
  const values = dtype === "int32"
    ? new Int32Array(n)
    : dtype === "bool"
    ? new Uint8Array(n)
    : new Float32Array(n);
  return (backend as unknown as CpuLike).makeTensorInfo(shape, dtype, values);
}

/**
 * An uninitialised float32 (or int32) tensor of `shape` on `backend`, for code outside a
 * kernel that fills it through {@linkcode view} or a heap address (on wasm, allocate
 * every tensor before taking views: an allocation may grow the heap).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { allocTensor, view } from "nn/kernels/io.ts";
 * await tf.setBackend("cpu");
 * const t = allocTensor(tf.backend(), [2]);
 * view(tf.backend(), t).set([3, 4]);
 * console.log(await t.data()); // Float32Array [3, 4]
 * ```
 */
export function allocTensor(
  backend: object,
  shape: number[],
  dtype: "float32" | "int32" = "float32",
): Tensor {
  return engine().makeTensorFromTensorInfo(allocOutput(backend, shape, dtype));
}

/** The tensor's memory as a typed array (a view into the heap on wasm). */
export function view(backend: object, t: TensorInfo): NumericArray {
  if (isWasm(backend)) return (backend as unknown as WasmLike).typedArrayFromHeap(t);
  const values = (backend as unknown as CpuLike).data.get(t.dataId).values;
  if (
    !(values instanceof Float32Array || values instanceof Int32Array ||
      values instanceof Uint8Array)
  ) {
    throw new Error(`Kernel input of dtype ${t.dtype} has no numeric storage on this backend.`);
  }
  return values;
}

/** A float32 view; throws for other dtypes. */
export function f32(backend: object, t: TensorInfo): Float32Array {
  const v = view(backend, t);
  if (!(v instanceof Float32Array)) {
    throw new Error(`Expected a float32 tensor, got ${t.dtype}.`);
  }
  return v;
}

/** Frees an intermediate made inside a kernel. */
export function release(backend: object, t: TensorInfo): void {
  (backend as unknown as CpuLike).disposeData(t.dataId);
}

/** Number of elements of a shape. */
export function sizeOf(shape: number[]): number {
  return size(shape);
}

/**
 * Throws unless a layer norm's residual has `x`'s shape (the fused Add & Norm adds
 * element by element; `who` names the op in the message).
 */
export function assertResidualShape(who: string, x: number[], residual: number[]): void {
  if (residual.length !== x.length || residual.some((d, i) => d !== x[i])) {
    throw new Error(
      `${who}: the residual's shape [${residual}] is not x's [${x}]; ` +
        "add them with tf.add (which broadcasts) and normalise the sum.",
    );
  }
}
