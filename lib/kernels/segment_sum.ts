/**
 * `UnsortedSegmentSum` as one scatter-add pass: the gradient of an embedding lookup
 * (`gather`). The wasm backend of tfjs 4.22 has no such kernel, and the cpu backend's
 * loops once per segment over the whole tensor (minutes at a vocabulary of 5 000). On
 * wasm the pass is the SIMD kernels' `scatter_add_rows` on tfjs's heap (float32; the same
 * adds in the same order: 2 048 rows of 64 into 5 000 in about 0.1 ms against 1 ms in
 * JavaScript), elsewhere a JavaScript loop.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "nn/kernels/mod.ts";
 * await tf.setBackend("wasm");
 * const out = tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]]), tf.tensor1d([1, 0, 1], "int32"), 3);
 * console.log(out.arraySync()); // [[3, 4], [6, 8], [0, 0]]
 * ```
 * @module
 */

import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, sizeOf, view } from "./io.ts";
import { wasmHeapKernels } from "./simd/simd.ts";

const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = Number((attrs as { numSegments: number }).numSegments);
  const rows = sizeOf(segmentIds.shape);
  const inner = rows === 0 ? 0 : sizeOf(x.shape) / rows;
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = allocOutput(backend, outShape, x.dtype);
  const heap = x.dtype === "float32" ? wasmHeapKernels(backend) : null;
  if (heap) {
    // the same adds in the same order, four floats at a time, where tfjs-wasm keeps them
    const at = heap.address;
    heap.kernels.scatter_add_rows(at(out), at(x), at(segmentIds), rows, inner, numSegments);
    return out;
  }
  const o = view(backend, out);
  const xs = view(backend, x);
  const ids = view(backend, segmentIds);
  o.fill(0);
  for (let r = 0; r < rows; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue; // TensorFlow drops out-of-range ids
    const src = r * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
  }
  return out;
};

/** Kernel configs for the backends this file serves. */
export function segmentSumKernels(backendName: string): KernelConfig[] {
  return [{ kernelName: "UnsortedSegmentSum", backendName, kernelFunc: unsortedSegmentSum }];
}
