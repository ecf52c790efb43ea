// The own SIMD GEMM split across helper threads (lib/kernels/simd/simd_gemm.ts) against
// the same GEMM on one thread: every combination of 1, 3, 17, 65 and 257 (and 5, 9, whose
// splits leave a thread without rows) for m, n and k, all four transposes, strided
// operands and C, alpha and beta, on 2 and 4 threads. Bands of C are whole 4×8 tiles, so
// each entry is computed by the same instructions in the same order: the results must be
// identical, bit for bit. Then gemm() with the size threshold lowered against tfjs's cpu
// matMul, the fallbacks (threads off, no shared memory), NN_GEMM_THREADS parsing, and a
// script that uses the threads still exits on its own.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import {
  forceOwnMemorySimdGemm,
  forcePlainSimdGemm,
  simdGemm,
  simdGemmThreadsStatus,
  startSimdGemmThreads,
  stopSimdGemmThreads,
} from "../../../lib/kernels/simd/simd_gemm.ts";
import {
  blasInfo,
  disableBlasForTesting,
  gemm,
  parseGemmThreads,
  setGemmThreadingForTesting,
  setGemmThreads,
} from "../../../lib/kernels/gemm.ts";

const SIZES = [1, 3, 5, 9, 17, 65, 257];

function filled(length: number, seed: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(seed + i * 0.731) * 2);
}

interface Case {
  tA: boolean;
  tB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  lda: number;
  ldb: number;
  ldc: number;
  a: Float32Array;
  b: Float32Array;
  c0: Float32Array;
}

function* cases(sizes = SIZES): Generator<Case> {
  let i = 0;
  for (const m of sizes) {
    for (const n of sizes) {
      for (const k of sizes) {
        for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
          const pad = i % 3;
          const lda = (tA ? m : k) + pad;
          const ldb = (tB ? k : n) + 2 * pad;
          const ldc = n + pad;
          yield {
            tA,
            tB,
            m,
            n,
            k,
            alpha: i % 2 ? 0.75 : 1,
            beta: [0, 1, 0.5][i % 3],
            lda,
            ldb,
            ldc,
            a: filled((tA ? k : m) * lda, i),
            b: filled((tB ? n : k) * ldb, i + 0.5),
            c0: filled(m * ldc + 5, i + 0.25),
          };
          i++;
        }
      }
    }
  }
}

function run(x: Case, threads: number): Float32Array {
  const c = x.c0.slice();
  simdGemm(x.tA, x.tB, x.m, x.n, x.k, x.alpha, x.a, x.lda, x.b, x.ldb, x.beta, c, x.ldc, threads);
  return c;
}

function label(x: Case): string {
  return `m=${x.m} n=${x.n} k=${x.k} tA=${x.tA} tB=${x.tB} ldc=${x.ldc} beta=${x.beta}`;
}

/** Index of the first entry where the two differ (NaN-safe, -0 ≠ 0), or -1. */
function firstDifference(x: Float32Array, y: Float32Array): number {
  const xi = new Int32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Int32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return i;
  return -1;
}

Deno.test("threaded own GEMM equals the single-threaded one bit for bit on odd shapes", () => {
  assert.equal(startSimdGemmThreads(4, 60_000), 4, JSON.stringify(simdGemmThreadsStatus()));
  const bands = simdGemmThreadsStatus().bands;
  let count = 0;
  for (const plain of [false, true]) {
    forcePlainSimdGemm(plain);
    try {
      for (const x of cases(plain ? [1, 5, 17, 65] : SIZES)) {
        const one = run(x, 1);
        for (const threads of [2, 4]) {
          const at = firstDifference(run(x, threads), one);
          if (at >= 0) assert.fail(`${threads} threads, ${label(x)}: C[${at}] differs`);
        }
        count++;
      }
    } finally {
      forcePlainSimdGemm(false);
    }
  }
  assert.equal(count, 7 ** 3 * 4 + 4 ** 3 * 4);
  const status = simdGemmThreadsStatus();
  assert.equal(status.reason, "");
  assert.ok(status.bands - bands > 1000, `helpers computed only ${status.bands - bands} bands`);
});

Deno.test("threaded own GEMM: the shared memory grows while helpers hold it", () => {
  assert.equal(startSimdGemmThreads(3, 60_000), 3);
  // each larger than the last: the memory grows between GEMMs the helpers take part in
  for (const [m, n, k] of [[64, 64, 64], [300, 200, 260], [700, 513, 301], [129, 1100, 257]]) {
    const x: Case = {
      tA: false,
      tB: true,
      m,
      n,
      k,
      alpha: 1,
      beta: 0,
      lda: k,
      ldb: k,
      ldc: n,
      a: filled(m * k, 1),
      b: filled(n * k, 2),
      c0: new Float32Array(m * n),
    };
    const at = firstDifference(run(x, 3), run(x, 1));
    assert.equal(at, -1, `${label(x)}: C[${at}] differs`);
  }
});

Deno.test("gemm() splits GEMMs above the (lowered) threshold; = tfjs cpu matMul", async () => {
  await tf.setBackend("cpu");
  disableBlasForTesting("native");
  setGemmThreads(3);
  setGemmThreadingForTesting({ minWork: 1, ignoreLoad: true });
  try {
    assert.match(blasInfo().gemm, /^simd-wasm \((relaxed fma|f32x4), 3 threads\)$/);
    assert.equal(blasInfo().threads, 3);
    assert.equal(startSimdGemmThreads(3, 60_000), 3);
    const bands = simdGemmThreadsStatus().bands;
    for (const [m, n, k, tA, tB] of [[17, 9, 65, true, false], [5, 66, 3, false, true]] as const) {
      const a = filled(m * k, 3), b = filled(k * n, 4);
      const c = new Float32Array(m * n);
      gemm(tA, tB, m, n, k, 1, a, tA ? m : k, b, tB ? k : n, 0, c, n);
      const want = tf.tidy(() =>
        tf.matMul(
          tf.tensor2d(a, tA ? [k, m] : [m, k]),
          tf.tensor2d(b, tB ? [n, k] : [k, n]),
          tA,
          tB,
        ).dataSync()
      );
      for (let i = 0; i < c.length; i++) {
        assert.ok(Math.abs(c[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `C[${i}]`);
      }
    }
    assert.equal(simdGemmThreadsStatus().bands - bands, 4); // 2 + 2 bands: 17 = 8 + 8 + 1 rows
    // and below the threshold, one thread
    setGemmThreadingForTesting({ minWork: 1e9, ignoreLoad: true });
    const c = new Float32Array(64 * 64);
    gemm(false, false, 64, 64, 64, 1, filled(4096, 1), 64, filled(4096, 2), 64, 0, c, 64);
    assert.equal(simdGemmThreadsStatus().bands - bands, 4);
  } finally {
    setGemmThreadingForTesting();
    setGemmThreads(null);
    disableBlasForTesting(false);
  }
});

Deno.test("own GEMM threads off: one thread, and the report says so", () => {
  disableBlasForTesting("native");
  setGemmThreads("off");
  try {
    assert.match(blasInfo().gemm, /^simd-wasm \((relaxed fma|f32x4)\)$/);
    assert.equal(blasInfo().threads, 1);
    assert.match(blasInfo().config, /setGemmThreads\("off"\)/);
  } finally {
    setGemmThreads(null);
    disableBlasForTesting(false);
  }
});

Deno.test("without shared memory the single-threaded build runs, and says why", () => {
  const x = [...cases([17, 65])][5];
  const want = run(x, 1);
  forceOwnMemorySimdGemm(true);
  disableBlasForTesting("native");
  setGemmThreads(4);
  try {
    const status = simdGemmThreadsStatus();
    assert.equal(status.shared, false);
    assert.match(status.reason, /single-threaded build/);
    assert.equal(firstDifference(run(x, 4), want), -1);
    assert.equal(blasInfo().threads, 1);
    assert.match(blasInfo().config, /^1 thread \(one thread: .*asked for 4\)$/);
  } finally {
    setGemmThreads(null);
    disableBlasForTesting(false);
    forceOwnMemorySimdGemm(false);
  }
});

Deno.test("stopped helper threads are started again by the next threaded GEMM", async () => {
  assert.equal(startSimdGemmThreads(2, 60_000), 2);
  await stopSimdGemmThreads();
  assert.equal(simdGemmThreadsStatus().helpers, 0);
  const x = [...cases([65])][0];
  const one = run(x, 1);
  assert.equal(firstDifference(run(x, 2), one), -1); // one thread while they start
  assert.equal(simdGemmThreadsStatus().helpers, 1);
  assert.equal(startSimdGemmThreads(2, 60_000), 2);
  assert.equal(firstDifference(run(x, 2), one), -1);
  await stopSimdGemmThreads();
});

Deno.test("parseGemmThreads: auto, off, counts, and a clear error", () => {
  assert.equal(parseGemmThreads(undefined), "auto");
  assert.equal(parseGemmThreads(" Auto "), "auto");
  assert.equal(parseGemmThreads("off"), "off");
  assert.equal(parseGemmThreads("1"), "off");
  assert.equal(parseGemmThreads("3"), 3);
  assert.equal(parseGemmThreads(64), 8);
  assert.throws(() => parseGemmThreads("two"), /NN_GEMM_THREADS must be "auto", "off" or a whole/);
});

Deno.test("a script whose GEMMs used helper threads exits on its own", async () => {
  const script = `
    import { simdGemm, startSimdGemmThreads } from ${
    JSON.stringify(new URL("../../../lib/kernels/simd/simd_gemm.ts", import.meta.url).href)
  };
    const threads = startSimdGemmThreads(2, 60000);
    const a = new Float32Array(200 * 200).fill(1), c = new Float32Array(200 * 200);
    simdGemm(false, false, 200, 200, 200, 1, a, 200, a, 200, 0, c, 200, 2);
    console.log(threads, c[0]);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  // a hang would fail here rather than stall the suite (no time is asserted)
  const guard = setTimeout(() => child.kill(), 120_000);
  const out = await child.output();
  clearTimeout(guard);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "2 200");
});
