import assert from "node:assert/strict";
import {
  csrBytes,
  csrBytesFor,
  csrFromDense,
  csrMatMul,
  csrMatVec,
  csrNnz,
  csrToDense,
  denseBytes,
  denseCsrMatMul,
} from "nn/models/sparse_csr.ts";
import { Rng } from "nn";

function randomSparse(rng: Rng, rows: number, cols: number, sparsity: number): Float32Array {
  return new Float32Array(rows * cols).map(() => (rng.next() < sparsity ? 0 : rng.normal()));
}

function denseMatMul(a: Float32Array, m: number, k: number, b: Float32Array, n: number) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      for (let j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
    }
  }
  return c;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, eps = 1e-4) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= eps, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

Deno.test("csr: round trip is exact at every sparsity, empty rows and all-zero included", () => {
  const rng = new Rng(3);
  for (const sparsity of [0, 0.3, 0.9, 0.99, 1]) {
    for (const [rows, cols] of [[1, 1], [7, 5], [40, 33], [0, 4]]) {
      const dense = randomSparse(rng, rows, cols, sparsity);
      const csr = csrFromDense(dense, rows, cols);
      assert.deepEqual(csrToDense(csr), dense, `${rows}×${cols} at ${sparsity}`);
      const nnz = dense.filter((v) => v !== 0).length;
      assert.equal(csrNnz(csr), nnz);
      assert.equal(csr.rowPtr.length, rows + 1);
      assert.equal(csr.rowPtr[rows], nnz);
      assert.ok(csr.values.every((v) => v !== 0), "no stored zeros");
      for (let r = 0; r < rows; r++) {
        for (let p = csr.rowPtr[r] + 1; p < csr.rowPtr[r + 1]; p++) {
          assert.ok(csr.colIndex[p] > csr.colIndex[p - 1], "columns increase within a row");
        }
      }
    }
  }
});

Deno.test("csr: a hand-made example", () => {
  const csr = csrFromDense([0, 2, 0, 3, 0, 0, 0, 0, 4], 3, 3);
  assert.deepEqual(Array.from(csr.rowPtr), [0, 1, 2, 3]);
  assert.deepEqual(Array.from(csr.colIndex), [1, 0, 2]);
  assert.deepEqual(Array.from(csr.values), [2, 3, 4]);
});

Deno.test("csr: bytes are 8·nnz + 4·(rows+1); smaller than dense below half density", () => {
  const rng = new Rng(1);
  const dense = randomSparse(rng, 30, 20, 0.7);
  const csr = csrFromDense(dense, 30, 20);
  assert.equal(csrBytes(csr), 8 * csrNnz(csr) + 4 * 31);
  assert.equal(csrBytesFor(30, 20, csrNnz(csr)), csrBytes(csr));
  assert.equal(denseBytes(30, 20), 2400);
  assert.ok(csrBytesFor(784, 300, 0.45 * 784 * 300) < denseBytes(784, 300));
  assert.ok(csrBytesFor(784, 300, 0.55 * 784 * 300) > denseBytes(784, 300));
  assert.throws(() => csrBytesFor(2, 2, 5), RangeError);
});

Deno.test("csr: matVec, matMul and dense×CSR equal the dense products", () => {
  const rng = new Rng(7);
  const [m, k, n] = [9, 13, 6];
  for (const sparsity of [0, 0.5, 0.95]) {
    const a = randomSparse(rng, m, k, sparsity);
    const b = randomSparse(rng, k, n, 0.2);
    const x = new Float32Array(k).map(() => rng.normal());
    const csrA = csrFromDense(a, m, k);
    assertClose(csrMatVec(csrA, x), denseMatMul(a, m, k, x, 1));
    assertClose(csrMatMul(csrA, b, n), denseMatMul(a, m, k, b, n));
    // dense X (m × k, with zeros) times CSR W (k × n)
    const w = randomSparse(rng, k, n, sparsity);
    const xs = randomSparse(rng, m, k, 0.3);
    assertClose(denseCsrMatMul(xs, m, csrFromDense(w, k, n)), denseMatMul(xs, m, k, w, n));
  }
});

Deno.test("csr: shape mismatches are refused with the sizes", () => {
  assert.throws(() => csrFromDense([1, 2, 3], 2, 2), /3 values do not make a 2 × 2/);
  const csr = csrFromDense([1, 0, 0, 1], 2, 2);
  assert.throws(() => csrMatVec(csr, new Float32Array(3)), /3 entries/);
  assert.throws(() => csrMatMul(csr, new Float32Array(5), 2), RangeError);
  assert.throws(() => denseCsrMatMul(new Float32Array(3), 1, csr), RangeError);
});
