// The process's helper threads (lib/kernels/simd/helper_threads.ts) on their two new
// jobs: the attention's sequences split across threads in the SIMD kernels' memory
// (simd_threads.ts) must give exactly what one thread gives, masks included, and the
// fused attention with threads the same as on tfjs-wasm's heap; a native BLAS's GEMM split
// into bands (lib/kernels/gemm.ts) must agree with the unsplit one and leave C's padding
// alone (to float32 rounding of the sums of k terms, each at most 4 here: OpenBLAS blocks
// a band differently from the whole; 4·10⁻⁶·k allowed); a helper whose job fails turns the helpers off with a reason, and a new pool
// starts again.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import { helperThreads, resetHelperThreads } from "../../../lib/kernels/simd/helper_threads.ts";
import {
  forceOwnSimdMemory,
  simd,
  simdAlloc,
  simdSharedModule,
} from "../../../lib/kernels/simd/simd.ts";
import {
  simdSplit,
  simdThreadsStatus,
  startSimdThreads,
} from "../../../lib/kernels/simd/simd_threads.ts";
import {
  blasInfo,
  gemm,
  hasNativeBlas,
  setGemmThreadingForTesting,
  setGemmThreads,
} from "../../../lib/kernels/gemm.ts";
import { attentionFused, setAttentionProducts } from "../../../lib/layers/multi_head_attention.ts";
import { MASKED_SCORE } from "../../../lib/layers/scaled_dot_product_attention.ts";

function filled(length: number, seed: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(seed + i * 0.731) * 2);
}

/** Index of the first entry where the two differ bit for bit, or -1. */
function firstDifference(x: Float32Array, y: Float32Array): number {
  const xi = new Int32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Int32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return i;
  return -1;
}

Deno.test("attention split across threads equals one thread bit for bit, masks included", () => {
  assert.ok(simdSharedModule(), "the SIMD kernels' memory is shared under Deno");
  assert.equal(startSimdThreads(3, 60_000), 3, JSON.stringify(simdThreadsStatus()));
  const parts0 = simdThreadsStatus().parts;
  // B = 7 sequences over 3 threads (3 + 3 + 1), T = 9 (a tail), 3 heads of 4
  const [B, T, H, hd] = [7, 9, 3, 4];
  const D = H * hd, L = 3 * D, rows = B * T, scratch = hd * T + 3 * T * T;
  const [q, dy, bias, starts] = simdAlloc([rows * L, rows * D, B * T, B]);
  q.view().set(filled(rows * L, 1));
  dy.view().set(filled(rows * D, 2));
  // sequence b: padding from position 9 − b on (b = 0: none; b = 8 would be all padding)
  const startsView = new Int32Array(simd().memory.buffer, starts.offset, B);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < T; j++) bias.view()[b * T + j] = j >= T - b ? MASKED_SCORE : 0;
    startsView[b] = b === 0 ? -1 : 0;
  }
  const run = (threads: number, causal: number, masked: boolean) => {
    const [y, p, kt, dq, work] = simdAlloc([
      rows * D,
      B * H * T * T,
      3 * hd * T,
      rows * L,
      3 * scratch,
    ]);
    const used = simdSplit("attention_forward", B, threads, (from, to, part) => [
      ...[q.offset, y.offset, p.offset, kt.at(part * hd * T), T, D, H, 0.5, causal, from, to],
      ...[masked ? starts.offset : 0, bias.offset],
    ]);
    simdSplit("attention_backward", B, threads, (from, to, part) => [
      ...[q.offset, dy.offset, p.offset, dq.offset, work.at(part * scratch), T, D, H, 0.5],
      ...[from, to],
    ]);
    const out = [y.view().slice(), p.view().slice(), dq.view().slice()];
    for (const blk of [y, p, kt, dq, work]) blk.free();
    return { out, used };
  };
  for (const causal of [0, 1]) {
    for (const masked of [false, true]) {
      const one = run(1, causal, masked);
      const three = run(3, causal, masked);
      assert.equal(one.used, 1);
      assert.equal(three.used, 3);
      ["y", "P", "dqkv"].forEach((name, i) => {
        const at = firstDifference(three.out[i], one.out[i]);
        assert.equal(at, -1, `${name}[${at}] differs (causal ${causal}, masked ${masked})`);
      });
    }
  }
  assert.equal(simdThreadsStatus().parts - parts0, 4 * 2 * 2); // 2 helpers, 2 kernels, 4 runs
  for (const blk of [q, dy, bias, starts]) blk.free();
});

Deno.test("fused attention on threads equals the same op on tfjs-wasm's heap", async () => {
  await tf.setBackend("wasm");
  const was = setAttentionProducts("module");
  try {
    const [B, T, H] = [6, 12, 2];
    const qkv = tf.tensor2d(filled(B * T * 3 * 8, 3), [B * T, 24]);
    const mask = tf.tensor2d(
      Array.from({ length: B * T }, (_, i) => (i % T < T - (i / T | 0) ? 1 : 0)),
      [B, T],
    );
    const grads = async () => {
      const f = (x: tf.Tensor) =>
        tf.sum(
          tf.mul(attentionFused(x as tf.Tensor2D, B, H, true, mask), qkv.slice([0, 0], [B * T, 8])),
        );
      const { value, grad } = tf.valueAndGrad(f)(qkv);
      const out = [await value.data(), await grad.data()] as Float32Array[];
      tf.dispose([value, grad]);
      return out;
    };
    setGemmThreads("off");
    const heap = await grads();
    setGemmThreads(2);
    setGemmThreadingForTesting({ minWork: 1, ignoreLoad: true });
    assert.equal(startSimdThreads(2, 60_000), 2);
    const parts0 = simdThreadsStatus().parts;
    const threaded = await grads();
    assert.equal(simdThreadsStatus().parts - parts0, 2, "the helper took part");
    assert.equal(firstDifference(threaded[0], heap[0]), -1, "value");
    assert.equal(firstDifference(threaded[1], heap[1]), -1, "gradient");
    tf.dispose([qkv, mask]);
  } finally {
    setGemmThreadingForTesting();
    setGemmThreads(null);
    setAttentionProducts(was);
  }
});

Deno.test({
  name: "a native GEMM split into bands on the helpers agrees with the unsplit one",
  ignore: !hasNativeBlas(),
  fn: () => {
    setGemmThreadingForTesting({ minWork: 1, ignoreLoad: true });
    try {
      setGemmThreads(3);
      assert.equal(helperThreads().waitReady(2, 60_000), 2);
      const jobs0 = helperThreads().jobs;
      let cases = 0;
      for (const m of [1, 7, 33, 130]) {
        for (const n of [1, 9, 40, 200]) {
          for (const k of [1, 17, 300]) {
            for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
              const lda = (tA ? m : k) + 1, ldb = (tB ? k : n) + 2, ldc = n + 3;
              const a = filled((tA ? k : m) * lda, cases);
              const b = filled((tB ? n : k) * ldb, cases + 0.5);
              const c0 = filled(m * ldc, cases + 0.25);
              const [one, split] = [c0.slice(), c0.slice()];
              setGemmThreads("off");
              gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, one, ldc);
              setGemmThreads(3);
              gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, split, ldc);
              for (let i = 0; i < one.length; i++) {
                const label = `${m}×${n}×${k} tA=${tA} tB=${tB}: C[${i}]`;
                if (i % ldc >= n) assert.equal(split[i], c0[i], `${label} (padding) changed`);
                else {assert.ok(
                    Math.abs(split[i] - one[i]) <= 4e-6 * k + 1e-5 * Math.abs(one[i]),
                    label,
                  );}
              }
              cases++;
            }
          }
        }
      }
      assert.ok(helperThreads().jobs - jobs0 > 200, "helpers computed bands");
      assert.match(blasInfo().gemm, /openblas|blas|accelerate/);
    } finally {
      setGemmThreadingForTesting();
      setGemmThreads(null);
    }
  },
});

Deno.test("a helper whose job fails turns the helpers off, with the reason; a new pool runs", async () => {
  const pool = helperThreads();
  assert.equal(pool.waitReady(1, 60_000), 1);
  // an address far outside the memory: the helper's kernel traps
  assert.throws(
    () => pool.run([{ module: "kernels", fn: "relu", args: [0x7fff_0000, 64] }], () => {}),
    /Helper thread 1 failed in its part of a kernel; helper threads are now off/,
  );
  assert.match(pool.broken ?? "", /helper thread 1 threw/);
  assert.equal(pool.start(1), 0);
  assert.equal(
    simdSplit("attention_forward", 2, 2, () => [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0]),
    1,
  );
  await resetHelperThreads();
  assert.equal(helperThreads().waitReady(1, 60_000), 1);
  assert.equal(helperThreads().broken, null);
  await resetHelperThreads();
});

Deno.test("without shared memory the SIMD kernels run on one thread, and say why", () => {
  forceOwnSimdMemory(true);
  try {
    assert.equal(simdSharedModule(), null);
    const status = simdThreadsStatus();
    assert.equal(status.shared, false);
    assert.match(status.reason, /not shared/);
    assert.equal(startSimdThreads(2, 1000), 1);
    // one sequence of T = 2, D = 2, one head: the weights of two equal keys are ½ each
    const [qkv, y, p, kt] = simdAlloc([12, 4, 4, 4]);
    qkv.view().set([1, 0, 1, 0, 3, 4, 1, 0, 1, 0, 5, 6]);
    const used = simdSplit("attention_forward", 1, 4, (from, to) => [
      ...[qkv.offset, y.offset, p.offset, kt.offset, 2, 2, 1, 1, 0, from, to, 0, 0],
    ]);
    assert.equal(used, 1);
    assert.deepEqual(Array.from(p.view()), [0.5, 0.5, 0.5, 0.5]);
    assert.deepEqual(Array.from(y.view()), [4, 5, 4, 5]);
    for (const b of [qkv, y, p, kt]) b.free();
  } finally {
    forceOwnSimdMemory(false);
  }
  assert.ok(simdSharedModule(), "shared again");
});
