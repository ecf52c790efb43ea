/**
 * Memory helpers for the library's fused ops (ops written in TypeScript over
 * `Float32Array`s and wrapped in `tf.customGrad`).
 *
 * Fresh large typed arrays are expensive on small virtual machines: every new page is
 * a fault, and a new 1.6 MB array cost 7–9 ms against 0.7 ms for refilling a used
 * one. So the fused ops read their inputs in place (a view into the wasm heap instead
 * of `dataSync`'s copy), take scratch space from a pool, and return it after use.
 *
 * @example
 * ```ts
 * import { acquire, release } from "nn/kernels/memory.ts";
 * const scratch = acquire(1024, true); // zero-filled
 * release(scratch); // the next acquire(1024) gets it back
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

const free = new Map<number, Float32Array[]>();
let pooledBytes = 0;
const MAX_POOLED_BYTES = 256 * 2 ** 20;

/** A `Float32Array` of `n` elements from the pool (zero-filled when `zero`). */
export function acquire(n: number, zero = false): Float32Array {
  const list = free.get(n);
  const a = list?.pop();
  if (a) {
    pooledBytes -= a.byteLength;
    if (zero) a.fill(0);
    return a;
  }
  return new Float32Array(n);
}

/** Returns arrays to the pool; they must not be used afterwards. */
export function release(...arrays: Float32Array[]): void {
  for (const a of arrays) {
    if (pooledBytes + a.byteLength > MAX_POOLED_BYTES) continue;
    let list = free.get(a.length);
    if (!list) free.set(a.length, list = []);
    list.push(a);
    pooledBytes += a.byteLength;
  }
}

interface HeapBackend {
  typedArrayFromHeap(t: { shape: number[]; dtype: string; dataId: object }): Float32Array;
}

function heapOf(): HeapBackend | null {
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof b.typedArrayFromHeap === "function" ? (b as HeapBackend) : null;
}

/**
 * A float32 tensor's values without copying where the backend allows (wasm: a view
 * into its heap, valid until tfjs next allocates; cpu: its own array). Read-only.
 */
export function readF32(t: tf.Tensor): Float32Array {
  if (t.dtype !== "float32") throw new Error(`readF32 needs a float32 tensor, got ${t.dtype}.`);
  const heap = heapOf();
  if (heap) return heap.typedArrayFromHeap(t);
  return t.dataSync() as Float32Array;
}

/** An int32 tensor's values, as {@linkcode readF32} reads float32 ones. Read-only. */
export function readInt32(t: tf.Tensor): Int32Array {
  if (t.dtype !== "int32") throw new Error(`readInt32 needs an int32 tensor, got ${t.dtype}.`);
  const heap = heapOf();
  if (heap) return heap.typedArrayFromHeap(t) as unknown as Int32Array;
  return t.dataSync() as Int32Array;
}

/**
 * Makes a tensor from `values`. On wasm the values are copied into the heap and the
 * array goes back to the pool; elsewhere the tensor keeps the array.
 */
export function toTensor(values: Float32Array, shape: number[]): tf.Tensor {
  const t = tf.tensor(values, shape, "float32");
  if (heapOf()) release(values);
  return t;
}

/**
 * Makes a tensor from a copy of `values` (which the tensor never keeps: for arrays whose
 * memory is reused, such as views into the SIMD kernels' memory).
 */
export function copyToTensor(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(heapOf() ? values : values.slice(), shape, "float32");
}
