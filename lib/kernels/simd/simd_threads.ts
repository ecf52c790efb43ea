/**
 * The SIMD kernels ({@linkcode simd}) on several threads: where {@linkcode simd}'s memory
 * is a shared `WebAssembly.Memory`, helper threads ({@linkcode HelperThreads}) instantiate
 * the same module on it, and a kernel that works on a range of independent items (the
 * attention's sequences) runs one contiguous range per thread, the calling thread
 * included. The call stays synchronous and computes exactly what one thread computes:
 * each item is done by the same instructions whichever thread takes it.
 *
 * Where shared memory or workers are missing, or no helper is ready yet (they start in the
 * background on the first call that asks for them), everything runs on the calling thread;
 * {@linkcode simdThreadsStatus} says why. How many threads a call asks for is the caller's
 * choice (`wasmThreadsFor` in `lib/kernels/gemm.ts`: `NN_GEMM_THREADS`, the work, the
 * load average).
 *
 * @example
 * ```ts
 * import { simdAlloc } from "nn/kernels/simd/simd.ts";
 * import { simdSplit } from "nn/kernels/simd/simd_threads.ts";
 * // one sequence of 4 positions, width 4, one head: qkv [4, 12] of zeros; Kᵀ scratch of
 * // 4 × 4 floats for each of up to 2 threads
 * const [qkv, y, p, kt] = simdAlloc([48, 16, 16, 16 * 2]);
 * qkv.view().fill(0);
 * const parts = simdSplit("attention_forward", 1, 2, (from, to, part) => [
 *   qkv.offset, y.offset, p.offset, kt.at(16 * part), 4, 4, 1, 0.5, 0, from, to, 0, 0,
 * ]);
 * console.log(parts, p.view()[0]); // 1 0.25: one sequence is one part; uniform weights
 * for (const b of [qkv, y, p, kt]) b.free();
 * ```
 * @module
 */

import { helperThreads } from "./helper_threads.ts";
import { simd, simdSharedModule } from "./simd.ts";

/** The kernels that take a range of items, and so can be split across threads. */
export type ThreadedKernel = "attention_forward" | "attention_backward";

/** Parts helper threads have run so far. */
let parts = 0;

/** The process's helper threads where they can run the SIMD kernels, else `null`. */
function helpers() {
  if (!simdSharedModule()) return null;
  const p = helperThreads();
  return p.has("kernels") ? p : null;
}

/**
 * Runs `kernel` over `count` items in contiguous ranges, one per thread: this thread and
 * up to `threads − 1` helper threads that are ready (more start in the background when
 * asked for). `args(from, to, part)` gives the kernel's arguments for items `from … to −
 * 1`; `part` is 0 for this thread and 1, 2, … for the helpers (an index for per-thread
 * scratch, below `threads`). Returns how many parts ran. Throws if a helper failed
 * (helpers are then off for the process).
 */
export function simdSplit(
  kernel: ThreadedKernel,
  count: number,
  threads: number,
  args: (from: number, to: number, part: number) => number[],
): number {
  const k = simd();
  const fn = k[kernel] as (...a: number[]) => void;
  const p = threads > 1 && count > 1 ? helpers() : null;
  const ready = p ? Math.min(threads - 1, p.start(threads - 1)) : 0;
  const n = Math.min(count, 1 + ready);
  if (n < 2) {
    fn(...args(0, count, 0));
    return 1;
  }
  const per = Math.ceil(count / n);
  const used = Math.ceil(count / per); // no empty ranges
  const jobs = [];
  for (let part = 1; part < used; part++) {
    const from = part * per;
    jobs.push({
      module: "kernels",
      fn: kernel,
      args: args(from, Math.min(count, from + per), part),
    });
  }
  parts += jobs.length;
  p!.run(jobs, () => fn(...args(0, per, 0)));
  return used;
}

/**
 * Starts helper threads so that `threads` threads can share a kernel, and waits up to
 * `waitMs` milliseconds for them; returns how many threads a call can use now (1 where
 * helpers cannot run). For benchmarks and tests.
 *
 * @example
 * ```ts
 * import { startSimdThreads } from "nn/kernels/simd/simd_threads.ts";
 * console.log(startSimdThreads(2, 5000)); // 2 where shared memory and workers exist
 * ```
 */
export function startSimdThreads(threads: number, waitMs = 0): number {
  const p = threads > 1 ? helpers() : null;
  return p ? 1 + p.waitReady(threads - 1, waitMs) : 1;
}

/** What {@linkcode simdThreadsStatus} reports. */
export interface SimdThreadsStatus {
  /** Whether {@linkcode simd}'s memory is shared (helpers can run the kernels). */
  shared: boolean;
  /** Helper threads started. */
  helpers: number;
  /** Helper threads ready to take work. */
  ready: number;
  /** Parts helpers have run so far in this process. */
  parts: number;
  /** Why no helper can run, or `""`. */
  reason: string;
}

/**
 * Whether the SIMD kernels can use helper threads, how many are started and ready, and
 * why none can run when that is so.
 *
 * @example
 * ```ts
 * import { simdThreadsStatus } from "nn/kernels/simd/simd_threads.ts";
 * console.log(simdThreadsStatus().shared); // true where shared WebAssembly memory exists
 * ```
 */
export function simdThreadsStatus(): SimdThreadsStatus {
  const shared = simdSharedModule() !== null;
  const p = helperThreads();
  return {
    shared,
    helpers: p.started,
    ready: p.ready(),
    parts,
    reason: !shared ? "the SIMD kernels' memory is not shared here" : p.broken ?? "",
  };
}
