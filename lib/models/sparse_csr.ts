/**
 * Compressed sparse row (CSR, 压缩稀疏行) matrices in plain TypeScript: conversion from
 * and to dense row-major `Float32Array`s, storage size, and products with dense
 * matrices and vectors.
 *
 * A CSR matrix keeps only its non-zero values (`values`), the column of each
 * (`colIndex`), and where each row starts in those two arrays (`rowPtr`, `rows + 1`
 * entries). With 32-bit values and indices it takes `8 · nnz + 4 · (rows + 1)` bytes
 * against `4 · rows · cols` dense, so it is smaller once fewer than about half the
 * entries are non-zero. A product with it visits only the non-zeros: its work falls
 * in proportion to the density, but each multiply-add needs an indirect load, which
 * dense matrix kernels (SIMD, BLAS, GPUs) never pay.
 *
 * @example
 * ```ts
 * import { csrBytes, csrFromDense, csrMatVec, csrToDense } from "nn/models/sparse_csr.ts";
 * const dense = new Float32Array([1, 0, 0, 0, 0, 2]); // 2 × 3
 * const csr = csrFromDense(dense, 2, 3);
 * console.log(csr.values, csr.colIndex, csr.rowPtr); // [1, 2] [0, 2] [0, 1, 2]
 * console.log(csrMatVec(csr, new Float32Array([1, 1, 1]))); // [1, 2]
 * console.log(csrBytes(csr), csrToDense(csr)); // 28, the dense array again
 * ```
 * @module
 */

/** A `rows × cols` matrix in compressed sparse row form. */
export interface CsrMatrix {
  /** Number of rows. */
  rows: number;
  /** Number of columns. */
  cols: number;
  /** `rows + 1` offsets: row `r` holds entries `rowPtr[r]` … `rowPtr[r + 1] − 1`. */
  rowPtr: Int32Array;
  /** Column of each stored entry, increasing within a row. */
  colIndex: Int32Array;
  /** Value of each stored entry (never 0 when built by {@linkcode csrFromDense}). */
  values: Float32Array;
}

function checkShape(what: string, length: number, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(
      `${what}: rows and cols must be whole numbers ≥ 0, got ${rows} × ${cols}.`,
    );
  }
  if (length !== rows * cols) {
    throw new RangeError(
      `${what}: ${length} values do not make a ${rows} × ${cols} matrix (need ${rows * cols}).`,
    );
  }
}

/**
 * Converts a dense row-major matrix to CSR, keeping the entries that are not 0.
 *
 * @example
 * ```ts
 * import { csrFromDense } from "nn/models/sparse_csr.ts";
 * console.log(csrFromDense(new Float32Array([0, 3, 4, 0]), 2, 2).values); // [3, 4]
 * ```
 */
export function csrFromDense(dense: ArrayLike<number>, rows: number, cols: number): CsrMatrix {
  checkShape("csrFromDense", dense.length, rows, cols);
  let nnz = 0;
  for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) nnz++;
  const rowPtr = new Int32Array(rows + 1);
  const colIndex = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = dense[base + c];
      if (v !== 0) {
        colIndex[k] = c;
        values[k] = v;
        k++;
      }
    }
    rowPtr[r + 1] = k;
  }
  return { rows, cols, rowPtr, colIndex, values };
}

/**
 * Expands a CSR matrix to a dense row-major `Float32Array`.
 *
 * @example
 * ```ts
 * import { csrFromDense, csrToDense } from "nn/models/sparse_csr.ts";
 * const d = new Float32Array([0, 1, 2, 0]);
 * console.log(csrToDense(csrFromDense(d, 2, 2))); // Float32Array [0, 1, 2, 0]
 * ```
 */
export function csrToDense(csr: CsrMatrix): Float32Array {
  const out = new Float32Array(csr.rows * csr.cols);
  for (let r = 0; r < csr.rows; r++) {
    for (let k = csr.rowPtr[r]; k < csr.rowPtr[r + 1]; k++) {
      out[r * csr.cols + csr.colIndex[k]] = csr.values[k];
    }
  }
  return out;
}

/** Stored (non-zero) entries of a CSR matrix. */
export function csrNnz(csr: CsrMatrix): number {
  return csr.values.length;
}

/**
 * Bytes of a CSR matrix with 32-bit values and indices: `8 · nnz + 4 · (rows + 1)`.
 *
 * @example
 * ```ts
 * import { csrBytes, csrFromDense } from "nn/models/sparse_csr.ts";
 * console.log(csrBytes(csrFromDense(new Float32Array(6), 2, 3))); // 12: only row offsets
 * ```
 */
export function csrBytes(csr: CsrMatrix): number {
  return csr.values.byteLength + csr.colIndex.byteLength + csr.rowPtr.byteLength;
}

/**
 * Bytes of a CSR matrix of the given shape and number of non-zeros, without building
 * it (same formula as {@linkcode csrBytes}).
 *
 * @example
 * ```ts
 * import { csrBytesFor, denseBytes } from "nn/models/sparse_csr.ts";
 * console.log(csrBytesFor(784, 300, 23520), denseBytes(784, 300)); // 191300 940800
 * ```
 */
export function csrBytesFor(rows: number, cols: number, nnz: number): number {
  if (!(nnz >= 0 && nnz <= rows * cols)) {
    throw new RangeError(`csrBytesFor: nnz ${nnz} is outside 0 … ${rows * cols}.`);
  }
  return 8 * nnz + 4 * (rows + 1);
}

/**
 * Bytes of a dense float32 `rows × cols` matrix.
 *
 * @example
 * ```ts
 * import { denseBytes } from "nn/models/sparse_csr.ts";
 * console.log(denseBytes(100, 10)); // 4000
 * ```
 */
export function denseBytes(rows: number, cols: number): number {
  return 4 * rows * cols;
}

/**
 * Sparse matrix × dense vector: `y = A x` (`x` has `cols` entries, `y` gets `rows`).
 *
 * @example
 * ```ts
 * import { csrFromDense, csrMatVec } from "nn/models/sparse_csr.ts";
 * const a = csrFromDense(new Float32Array([1, 2, 0, 3]), 2, 2);
 * console.log(csrMatVec(a, new Float32Array([1, 1]))); // Float32Array [3, 3]
 * ```
 */
export function csrMatVec(csr: CsrMatrix, x: Float32Array): Float32Array {
  if (x.length !== csr.cols) {
    throw new RangeError(`csrMatVec: x has ${x.length} entries, the matrix ${csr.cols} columns.`);
  }
  const y = new Float32Array(csr.rows);
  const { rowPtr, colIndex, values } = csr;
  for (let r = 0; r < csr.rows; r++) {
    let sum = 0;
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) sum += values[k] * x[colIndex[k]];
    y[r] = sum;
  }
  return y;
}

/**
 * Sparse × dense: `C = A B` with `A` in CSR (`m × k`) and `B` dense row-major
 * (`k × n`); returns `C` dense row-major (`m × n`).
 *
 * @example
 * ```ts
 * import { csrFromDense, csrMatMul } from "nn/models/sparse_csr.ts";
 * const a = csrFromDense(new Float32Array([2, 0, 0, 1]), 2, 2);
 * console.log(csrMatMul(a, new Float32Array([1, 2, 3, 4]), 2)); // Float32Array [2, 4, 3, 4]
 * ```
 */
export function csrMatMul(a: CsrMatrix, b: Float32Array, n: number): Float32Array {
  checkShape("csrMatMul (B)", b.length, a.cols, n);
  const c = new Float32Array(a.rows * n);
  const { rowPtr, colIndex, values } = a;
  for (let r = 0; r < a.rows; r++) {
    const out = r * n;
    for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) {
      const v = values[p];
      const row = colIndex[p] * n;
      for (let j = 0; j < n; j++) c[out + j] += v * b[row + j];
    }
  }
  return c;
}

/**
 * Dense × sparse: `Y = X W` with `X` dense row-major (`m × k`) and `W` in CSR
 * (`k × n`); returns `Y` dense row-major (`m × n`). This is a dense layer's forward
 * pass with a pruned kernel stored as CSR (`X` a batch of inputs, `W` the kernel,
 * inputs × units): every non-zero weight costs one multiply-add per example, and
 * zero inputs (blank pixels, ReLU zeros) are skipped too.
 *
 * @example
 * ```ts
 * import { csrFromDense, denseCsrMatMul } from "nn/models/sparse_csr.ts";
 * const w = csrFromDense(new Float32Array([1, 0, 0, 2]), 2, 2); // [[1, 0], [0, 2]]
 * console.log(denseCsrMatMul(new Float32Array([3, 4]), 1, w)); // Float32Array [3, 8]
 * ```
 */
export function denseCsrMatMul(x: Float32Array, m: number, w: CsrMatrix): Float32Array {
  checkShape("denseCsrMatMul (X)", x.length, m, w.rows);
  const n = w.cols;
  const y = new Float32Array(m * n);
  const { rowPtr, colIndex, values } = w;
  for (let i = 0; i < m; i++) {
    const xi = i * w.rows;
    const yi = i * n;
    for (let r = 0; r < w.rows; r++) {
      const xv = x[xi + r];
      if (xv === 0) continue;
      for (let p = rowPtr[r]; p < rowPtr[r + 1]; p++) y[yi + colIndex[p]] += xv * values[p];
    }
  }
  return y;
}
