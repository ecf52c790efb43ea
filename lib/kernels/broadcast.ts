/**
 * Broadcasting element-wise binary kernels for the wasm backend.
 *
 * tfjs-wasm 4.22 runs same-shape binary ops fast (XNNPACK), but when one operand is
 * broadcast (a bias `[D]` against `[B, T, D]`, a row statistic `[B, T, 1]`, the
 * `equal(x, max)` in a max-pool gradient) it takes a generic per-element path that
 * can be 100× slower. These kernels take over only the broadcasting case and walk the
 * output with a tight loop over the last axis; same-shape calls go to tfjs's own.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "nn/kernels/mod.ts";
 * await tf.setBackend("wasm");
 * console.log(tf.add(tf.ones([2, 3]), tf.tensor1d([1, 2, 3])).arraySync()); // [[2, 3, 4], [2, 3, 4]]
 * ```
 * @module
 */

import { backend_util, getKernel } from "@tensorflow/tfjs-core";
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, sizeOf, view } from "./io.ts";

/** Element-wise expressions of `a` and `b`, compiled once per op into a tight loop. */
const ARITHMETIC: Record<string, string> = {
  Add: "a + b",
  Sub: "a - b",
  Multiply: "a * b",
  RealDiv: "a / b",
  Maximum: "(a > b || a !== a) ? a : b",
  Minimum: "(a < b || a !== a) ? a : b",
  SquaredDifference: "(a - b) * (a - b)",
};

const COMPARISON: Record<string, string> = {
  Equal: "a === b ? 1 : 0",
  NotEqual: "a !== b ? 1 : 0",
  Greater: "a > b ? 1 : 0",
  GreaterEqual: "a >= b ? 1 : 0",
  Less: "a < b ? 1 : 0",
  LessEqual: "a <= b ? 1 : 0",
};

/** Names of the kernels this file can take over. */
export const BROADCAST_KERNELS = [...Object.keys(ARITHMETIC), ...Object.keys(COMPARISON)];

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

type Loop = (
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  O: { [i: number]: number },
  n: number,
  offA: number,
  offB: number,
  o: number,
  ia: number,
  ib: number,
) => void;

const loops = new Map<string, Loop>();

/** One output row: `O[o + j] = f(A[offA + j·ia], B[offB + j·ib])`, `f` inlined. */
function rowLoop(expr: string): Loop {
  let loop = loops.get(expr);
  if (!loop) {
    // Generated once per expression so that V8 sees one monomorphic loop per op.
    loop = new Function(
      "A",
      "B",
      "O",
      "n",
      "offA",
      "offB",
      "o",
      "ia",
      "ib",
      `"use strict";
      if (ia === 1 && ib === 1) { for (let j = 0; j < n; j++) { const a = A[offA + j], b = B[offB + j]; O[o + j] = ${expr}; } }
      else if (ia === 1) { const b = B[offB]; for (let j = 0; j < n; j++) { const a = A[offA + j]; O[o + j] = ${expr}; } }
      else if (ib === 1) { const a = A[offA]; for (let j = 0; j < n; j++) { const b = B[offB + j]; O[o + j] = ${expr}; } }
      else { const a = A[offA], b = B[offB]; const v = ${expr}; for (let j = 0; j < n; j++) O[o + j] = v; }`,
    ) as Loop;
    loops.set(expr, loop);
  }
  return loop;
}

/**
 * Writes `expr(a, b)` broadcast into `out` (numpy rules); `expr` is a JS expression of
 * `a` and `b` such as `"a + b"`. Exported for tests.
 */
export function broadcastInto(
  expr: string,
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  out: { [i: number]: number },
  outShape: number[],
): void {
  const loop = rowLoop(expr);
  const R = outShape.length;
  if (R === 0) {
    loop(a, b, out, 1, 0, 0, 0, 1, 1);
    return;
  }
  const pad = (s: number[]) => [...Array(R - s.length).fill(1), ...s];
  const as = pad(aShape);
  const bs = pad(bShape);
  // element strides, 0 along broadcast axes
  const sa = new Array<number>(R);
  const sb = new Array<number>(R);
  let accA = 1;
  let accB = 1;
  for (let d = R - 1; d >= 0; d--) {
    sa[d] = as[d] === 1 ? 0 : accA;
    sb[d] = bs[d] === 1 ? 0 : accB;
    accA *= as[d];
    accB *= bs[d];
  }
  // the inner run: the last axis, merged with the axes before it while both operands
  // continue the same way (contiguous, or broadcast): a [32, 64, 64] + [64, 64] add
  // then runs 32 loops of 4 096 instead of 2 048 loops of 64
  const ia = sa[R - 1];
  const ib = sb[R - 1];
  let n = outShape[R - 1];
  let inner = R - 1; // the first axis of the inner run
  while (inner > 0 && sa[inner - 1] === ia * n && sb[inner - 1] === ib * n) {
    inner--;
    n *= outShape[inner];
  }
  const outer = n === 0 ? 0 : sizeOf(outShape) / n;
  const idx = new Array<number>(R - 1).fill(0);
  let offA = 0;
  let offB = 0;
  let o = 0;
  for (let r = 0; r < outer; r++) {
    loop(a, b, out, n, offA, offB, o, ia, ib);
    o += n;
    // advance the counter over the outer axes
    for (let d = inner - 1; d >= 0; d--) {
      idx[d]++;
      offA += sa[d];
      offB += sb[d];
      if (idx[d] < outShape[d]) break;
      offA -= sa[d] * outShape[d];
      offB -= sb[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

/** Kernel configs that take over broadcasting binary ops on `backendName`. */
export function broadcastKernels(backendName: string): KernelConfig[] {
  const configs: KernelConfig[] = [];
  for (const [name, op] of [...Object.entries(ARITHMETIC), ...Object.entries(COMPARISON)]) {
    const original = getKernel(name, backendName);
    if (!original) continue;
    const comparison = name in COMPARISON;
    const kernelFunc: KernelFunc = (args) => {
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      const backend = args.backend as object;
      if (
        sameShape(a.shape, b.shape) || a.dtype !== b.dtype ||
        !(a.dtype === "float32" || a.dtype === "int32")
      ) {
        return original.kernelFunc(args);
      }
      const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const dtype: DataType = comparison ? "bool" : a.dtype;
      const out = allocOutput(backend, outShape, dtype);
      const o = view(backend, out);
      broadcastInto(op, view(backend, a), a.shape, view(backend, b), b.shape, o, outShape);
      return out;
    };
    configs.push({ kernelName: name, backendName, kernelFunc, setupFunc: original.setupFunc });
  }
  return configs;
}
