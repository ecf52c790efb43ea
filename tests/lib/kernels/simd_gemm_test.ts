// The own SIMD GEMM (lib/kernels/simd/gemm.wat) against tfjs's stock cpu matMul: every
// combination of 1, 3, 17, 65 and 257 for m, n and k (tile edges, a single row or column,
// several cache blocks of k), all four transposes, strided operands, alpha and beta (the
// bias path: C holds a bias the product is added to), for both builds (relaxed-SIMD fma
// and plain f32x4). Rows of C outside the m×n window must stay untouched.
// Tolerance: max |ours − tfjs| ≤ 1e-5 · (1 + Σ_p |a_ip·b_pj|) per entry (float32 sums
// in another order, fused or not).
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { forcePlainSimdGemm, simdGemm, simdGemmKind } from "../../../lib/kernels/simd/simd_gemm.ts";
import { blasInfo, disableBlasForTesting, gemm } from "../../../lib/kernels/gemm.ts";
import { renderGemm } from "../../../lib/kernels/simd/build.ts";

const SIZES = [1, 3, 17, 65, 257];

function filled(length: number, seed: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(seed + i * 0.731) * 2);
}

/** tfjs's cpu matMul of the stored operands (transposes as tfjs attributes). */
function reference(
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
): { product: Float32Array; magnitude: Float32Array } {
  const [ar, ac] = tA ? [k, m] : [m, k];
  const [br, bc] = tB ? [n, k] : [k, n];
  return tf.tidy(() => {
    const A = tf.tensor2d(a.subarray(0, ar * lda), [ar, lda]).slice([0, 0], [ar, ac]);
    const B = tf.tensor2d(b.subarray(0, br * ldb), [br, ldb]).slice([0, 0], [br, bc]);
    return {
      product: tf.matMul(A, B, tA, tB).dataSync() as Float32Array,
      magnitude: tf.matMul(A.abs(), B.abs(), tA, tB).dataSync() as Float32Array,
    };
  });
}

Deno.test("gemm_wasm.ts is the assembly of gemm.wat (run `deno task build:wasm`)", async () => {
  const here = new URL("../../../lib/kernels/simd/", import.meta.url);
  const expected = await renderGemm(await Deno.readTextFile(new URL("gemm.wat", here)));
  const actual = await Deno.readTextFile(new URL("gemm_wasm.ts", here));
  assert.ok(actual === expected, "gemm_wasm.ts is out of date: run `deno task build:wasm`");
});

Deno.test("own GEMM equals tfjs's cpu matMul on odd shapes, both builds", async () => {
  await tf.setBackend("cpu");
  disableBlasForTesting(true); // tfjs's own cpu kernel, not the library's
  try {
    assert.ok(simdGemmKind() !== null, "WebAssembly SIMD is unavailable");
    let cases = 0;
    for (const m of SIZES) {
      for (const n of SIZES) {
        for (const k of SIZES) {
          for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
            const pad = cases % 3; // contiguous and strided operands
            const lda = (tA ? m : k) + pad;
            const ldb = (tB ? k : n) + 2 * pad;
            const ldc = n + pad;
            const a = filled((tA ? k : m) * lda, cases);
            const b = filled((tB ? n : k) * ldb, cases + 0.5);
            const c0 = filled(m * ldc + 5, cases + 0.25);
            const alpha = cases % 2 ? 0.75 : 1;
            const beta = [0, 1, 0.5][cases % 3];
            const { product, magnitude } = reference(tA, tB, m, n, k, a, lda, b, ldb);
            for (const plain of [false, true]) {
              forcePlainSimdGemm(plain);
              const c = c0.slice();
              simdGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
              const what =
                `${simdGemmKind()}: m=${m} n=${n} k=${k} tA=${tA} tB=${tB} lda=${lda} ldc=${ldc}`;
              for (let i = 0; i < m; i++) {
                for (let j = 0; j < n; j++) {
                  const want = alpha * product[i * n + j] + beta * c0[i * ldc + j];
                  const got = c[i * ldc + j];
                  const tol = 1e-5 *
                    (1 + alpha * magnitude[i * n + j] + Math.abs(beta * c0[i * ldc + j]));
                  if (!(Math.abs(got - want) <= tol)) {
                    assert.fail(`${what}: C[${i},${j}] = ${got}, want ${want}`);
                  }
                }
                for (let j = n; j < ldc; j++) {
                  assert.equal(c[i * ldc + j], c0[i * ldc + j], `${what}: gap in row ${i} written`);
                }
              }
              for (let i = m * ldc; i < c.length; i++) assert.equal(c[i], c0[i], `${what}: tail`);
            }
            cases++;
          }
        }
      }
    }
    assert.equal(cases, 500);
  } finally {
    forcePlainSimdGemm(false);
    disableBlasForTesting(false);
  }
});

Deno.test("own GEMM: beta = 0 overwrites NaN in C; k = 0 only scales C", () => {
  const a = new Float32Array([1, 2, 3, 4]);
  const c = new Float32Array([NaN, NaN, NaN, NaN]);
  simdGemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2);
  assert.deepEqual(Array.from(c), [7, 10, 15, 22]);
  simdGemm(false, false, 2, 2, 0, 1, a, 2, a, 2, 2, c, 2);
  assert.deepEqual(Array.from(c), [14, 20, 30, 44]);
});

Deno.test("a strided time step of a long sequence (row-by-row copies) is written in place", () => {
  // C is one time step of [B, T, U]: rows T·U floats apart, everything else untouched
  const B = 5, T = 40, U = 6, K = 7;
  const hs = filled(B * T * U, 3);
  const before = hs.slice();
  const x = filled(B * K, 1);
  const w = filled(K * U, 2);
  const t = 17;
  simdGemm(false, false, B, U, K, 1, x, K, w, U, 1, hs.subarray(t * U), T * U);
  for (let i = 0; i < hs.length; i++) {
    const row = Math.floor(i / (T * U));
    const step = Math.floor((i % (T * U)) / U);
    const j = i % U;
    if (step !== t) assert.equal(hs[i], before[i]);
    else {
      let s = before[i];
      for (let p = 0; p < K; p++) s += x[row * K + p] * w[p * U + j];
      assert.ok(Math.abs(hs[i] - s) < 1e-5 * (1 + Math.abs(s)), `hs[${row}, ${t}, ${j}]`);
    }
  }
});

Deno.test("gemm() runs the own SIMD GEMM when no native BLAS is used", () => {
  disableBlasForTesting("native");
  try {
    assert.match(blasInfo().gemm, /^simd-wasm \((relaxed fma|f32x4)(, \d+ threads)?\)$/);
    assert.equal(blasInfo().available, false);
    const c = new Float32Array(1);
    gemm(
      false,
      true,
      1,
      1,
      3,
      1,
      new Float32Array([1, 2, 3]),
      3,
      new Float32Array([4, 5, 6]),
      3,
      0,
      c,
      1,
    );
    assert.equal(c[0], 32);
  } finally {
    disableBlasForTesting(false);
  }
});
