/**
 * The library's own GEMM (`gemm.wat`: packed panels, a 4×8 register tile of f32x4
 * accumulators, cache blocking), for machines without a system BLAS. It uses relaxed
 * SIMD's fused multiply-add where the runtime validates it (V8 compiles
 * `f32x4.relaxed_madd` to one FMA instruction on CPUs that have it), plain f32x4
 * multiply and add elsewhere.
 *
 * The module works in a memory of its own (so that growing it never detaches the views
 * the fused ops hold into the other SIMD module's memory): the operands are copied in (a
 * `memcpy` per matrix, or per row for a strided slice of a wider array), and C copied
 * back; that is O(m·k + k·n + m·n) next to the product's O(m·n·k).
 *
 * **Threads.** That memory is a shared `WebAssembly.Memory`, so a large GEMM can be split
 * across threads: {@linkcode simdGemm}'s last argument says how many may work on it. The
 * helpers are the process's helper threads (`helper_threads.ts`), each with its own
 * instance of the same module on the same memory. The calling thread copies the operands
 * in, hands each helper a band of C (rows, or columns when C is wider than tall) through a
 * shared control block and `Atomics.notify`, computes the first band itself, then
 * `Atomics.wait`s for the others: `simdGemm` stays synchronous.
 * Each thread packs into its own workspaces. The helpers start in the background on the
 * first call that asks for them (about 0.1 s on a busy machine); until they are ready the
 * GEMM runs on the threads it has. Where shared WebAssembly memory is unavailable the
 * single-threaded build (a memory of its own) runs; where workers cannot start, the
 * calling thread alone; {@linkcode simdGemmThreadsStatus} says why. Whether threads pay
 * for a given GEMM is decided by the caller (`lib/kernels/gemm.ts`: `NN_GEMM_THREADS`,
 * the size, the load average).
 *
 * @example
 * ```ts
 * import { simdGemm } from "nn/kernels/simd/simd_gemm.ts";
 * const a = new Float32Array([1, 2, 3, 4]); // [[1, 2], [3, 4]]
 * const c = new Float32Array([10, 10, 10, 10]);
 * simdGemm(false, true, 2, 2, 2, 1, a, 2, a, 2, 1, c, 2); // c += a·aᵀ
 * console.log(c); // Float32Array [15, 21, 21, 35]
 * ```
 * @module
 */

import { decodeBase64 } from "./base64.ts";
import {
  describeError,
  type HelperThreads,
  helperThreads,
  provideHelperModule,
} from "./helper_threads.ts";
import {
  GEMM_OWN_MEMORY_RELAXED_WASM_BASE64,
  GEMM_OWN_MEMORY_WASM_BASE64,
  GEMM_RELAXED_WASM_BASE64,
  GEMM_WASM_BASE64,
} from "./gemm_wasm.ts";

type GemmFn = (
  ta: number,
  tb: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  beta: number,
  c: number,
  ldc: number,
  wa: number,
  wb: number,
  tile: number,
) => void;

/** Which build of the own GEMM runs. */
export type SimdGemmKind = "relaxed fma" | "f32x4";

/** The kinds in the order the helper threads index them. */
const KINDS: SimdGemmKind[] = ["f32x4", "relaxed fma"];

interface Loaded {
  kind: SimdGemmKind;
  gemm: GemmFn;
  memory: WebAssembly.Memory;
  /** the compiled module, when it imports the shared memory (helpers can run it) */
  shared: WebAssembly.Module | null;
}

/** Pages of 64 KiB the shared memory may grow to (as `gemm.wat` declares: 4 GiB). */
const MAX_PAGES = 65536;

let instance: Loaded | null | undefined;
let forcePlain = false;
let forceOwnMemory = false;
const built = new Map<string, Loaded | null>();
let sharedMemory: WebAssembly.Memory | null | undefined;
/** Why the shared-memory builds do not run, when they do not. */
let noSharedWhy = "";

function theSharedMemory(): WebAssembly.Memory | null {
  if (sharedMemory === undefined) {
    try {
      sharedMemory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    } catch (e) {
      sharedMemory = null;
      noSharedWhy = `no shared WebAssembly memory (${describeError(e)})`;
    }
  }
  return sharedMemory;
}

/** The build of that kind, or `null` where this runtime does not validate it. */
function build(kind: SimdGemmKind, own: boolean): Loaded | null {
  const key = `${kind}/${own ? "own" : "shared"}`;
  if (!built.has(key)) {
    const relaxed = kind === "relaxed fma";
    const b64 = own
      ? (relaxed ? GEMM_OWN_MEMORY_RELAXED_WASM_BASE64 : GEMM_OWN_MEMORY_WASM_BASE64)
      : (relaxed ? GEMM_RELAXED_WASM_BASE64 : GEMM_WASM_BASE64);
    const bytes = decodeBase64(b64);
    let loaded: Loaded | null = null;
    const memory = own ? null : theSharedMemory();
    if ((own || memory) && WebAssembly.validate(bytes)) {
      try {
        const module = new WebAssembly.Module(bytes);
        const inst = new WebAssembly.Instance(module, memory ? { env: { memory } } : {});
        const exports = inst.exports as unknown as { gemm: GemmFn; memory?: WebAssembly.Memory };
        loaded = {
          kind,
          gemm: exports.gemm,
          memory: memory ?? exports.memory!,
          shared: memory ? module : null,
        };
      } catch (e) {
        if (!own) noSharedWhy = `the shared-memory build failed to load (${describeError(e)})`;
      }
    } else if (!own && memory && !noSharedWhy && !relaxed) {
      noSharedWhy = "this runtime does not validate the shared-memory build";
    }
    built.set(key, loaded);
  }
  return built.get(key)!;
}

function instantiate(): Loaded | null {
  if (typeof WebAssembly === "undefined") return null;
  const pick = (own: boolean) =>
    (forcePlain ? null : build("relaxed fma", own)) ?? build("f32x4", own);
  return (forceOwnMemory ? null : pick(false)) ?? pick(true);
}

function loaded(): Loaded | null {
  if (instance === undefined) instance = instantiate();
  return instance;
}

/**
 * The build that runs: `"relaxed fma"` (relaxed SIMD validated), `"f32x4"` (plain
 * SIMD), or `null` where this runtime has no WebAssembly SIMD.
 *
 * @example
 * ```ts
 * import { simdGemmKind } from "nn/kernels/simd/simd_gemm.ts";
 * console.log(simdGemmKind()); // "relaxed fma" under Deno 2.9
 * ```
 */
export function simdGemmKind(): SimdGemmKind | null {
  return loaded()?.kind ?? null;
}

/**
 * Uses the plain f32x4 build even where relaxed SIMD validates (`true`), or chooses
 * again (`false`); for tests and benchmarks.
 * @internal
 */
export function forcePlainSimdGemm(plain: boolean): void {
  forcePlain = plain;
  instance = undefined;
}

/**
 * Uses the single-threaded build with a memory of its own, as where shared memory is
 * missing (`true`), or chooses again (`false`); for tests of that fallback.
 * @internal
 */
export function forceOwnMemorySimdGemm(own: boolean): void {
  forceOwnMemory = own;
  instance = undefined;
}

// ---------------------------------------------------------------------------------------
// Helper threads

/** The most threads one GEMM is split across (the caller and up to 7 helpers). */
export const MAX_SIMD_GEMM_THREADS = 8;

/** Bands of C helper threads have computed so far. */
let bands = 0;

/** The helper pool's name of each build's module (`helper_threads.ts`). */
const helperModule = (kind: SimdGemmKind) => `gemm (${kind})`;

for (const kind of KINDS) {
  provideHelperModule(helperModule(kind), () => {
    const module = build(kind, false)?.shared ?? null;
    return { module, memory: module ? theSharedMemory() : null, exports: ["gemm"] };
  });
}

/** The process's helper threads, where this build can run on them (else `null`). */
function helpersOf(build: Loaded): HelperThreads | null {
  if (!build.shared) return null;
  const p = helperThreads();
  return p.has(helperModule(build.kind)) ? p : null;
}

/**
 * Starts the own GEMM's helper threads so that `threads` threads (the caller and
 * `threads − 1` helpers) can share a GEMM, and waits up to `waitMs` milliseconds for them
 * to be ready (they start in the background otherwise, on the first GEMM that asks for
 * them). Returns how many threads a GEMM can use now: 1 where threads cannot run (see
 * {@linkcode simdGemmThreadsStatus}).
 *
 * @example
 * ```ts
 * import { startSimdGemmThreads } from "nn/kernels/simd/simd_gemm.ts";
 * console.log(startSimdGemmThreads(2, 5000)); // 2 where workers and shared memory exist
 * ```
 */
export function startSimdGemmThreads(threads: number, waitMs = 0): number {
  const l = loaded();
  if (!l || threads < 2) return 1;
  const p = helpersOf(l);
  return p ? 1 + p.waitReady(Math.min(threads - 1, MAX_SIMD_GEMM_THREADS - 1), waitMs) : 1;
}

/**
 * Stops the helper threads (a later threaded GEMM starts new ones); for tests and for
 * scripts that want their threads gone before they exit.
 *
 * @example
 * ```ts
 * import { stopSimdGemmThreads } from "nn/kernels/simd/simd_gemm.ts";
 * await stopSimdGemmThreads();
 * ```
 */
export async function stopSimdGemmThreads(): Promise<void> {
  await helperThreads().stop();
}

/** What {@linkcode simdGemmThreadsStatus} reports. */
export interface SimdGemmThreadsStatus {
  /** Whether the build that runs can use helper threads (it imports shared memory). */
  shared: boolean;
  /** Helper threads started. */
  helpers: number;
  /** Helper threads ready to take work. */
  ready: number;
  /** Bands of C helper threads have computed so far in this process. */
  bands: number;
  /** Why no helper can run, or `""`. */
  reason: string;
}

/**
 * Whether the own GEMM can use helper threads, how many are started and ready, and why
 * none can run when that is so.
 *
 * @example
 * ```ts
 * import { simdGemmThreadsStatus } from "nn/kernels/simd/simd_gemm.ts";
 * console.log(simdGemmThreadsStatus().shared); // true where helper threads can run
 * ```
 */
export function simdGemmThreadsStatus(): SimdGemmThreadsStatus {
  const l = loaded();
  const shared = !!l?.shared;
  const reason = !l
    ? "no WebAssembly SIMD"
    : !shared
    ? (forceOwnMemory ? "the single-threaded build was forced (tests)" : noSharedWhy ||
      "the shared-memory build is unavailable")
    : helperThreads().broken ?? "";
  const p = helperThreads();
  return {
    shared,
    helpers: p.started,
    ready: p.ready(),
    bands,
    reason,
  };
}

// ---------------------------------------------------------------------------------------
// The GEMM

// must match gemm.wat's blocking
const MC = 128;
const KC = 256;
const NC = 1024;
/** Micro-kernel tiles are MR × NR: bands of C are whole tiles but for the last one. */
const MR = 4;
const NR = 8;
const TILE_BYTES = 128;

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** Where a matrix operand goes in the module's memory, and how to copy it there. */
interface Placement {
  /** floats the copy occupies */
  floats: number;
  /** row stride of the copy */
  ld: number;
  /** copy the whole span (rows − 1)·ld + cols at once (else row by row, compacted) */
  span: boolean;
}

function place(rows: number, cols: number, ld: number): Placement {
  const spanFloats = (rows - 1) * ld + cols;
  // a strided slice of a much wider array (a time step of a sequence) goes row by row
  if (ld === cols || spanFloats <= 2 * rows * cols) return { floats: spanFloats, ld, span: true };
  return { floats: rows * cols, ld: cols, span: false };
}

/** Rows at most this long are copied by a loop (a `subarray` and `set` per row cost more). */
const SHORT_ROW = 64;

function copyIn(
  heap: Float32Array,
  at: number,
  src: Float32Array,
  rows: number,
  cols: number,
  ld: number,
  p: Placement,
) {
  if (p.span) heap.set(p.floats === src.length ? src : src.subarray(0, p.floats), at);
  else if (cols <= SHORT_ROW) {
    for (let r = 0; r < rows; r++) {
      const s = r * ld, d = at + r * cols;
      for (let j = 0; j < cols; j++) heap[d + j] = src[s + j];
    }
  } else {
    for (let r = 0; r < rows; r++) heap.set(src.subarray(r * ld, r * ld + cols), at + r * cols);
  }
}

function copyOut(
  heap: Float32Array,
  at: number,
  c: Float32Array,
  m: number,
  n: number,
  ldc: number,
  p: Placement,
) {
  if (p.span) c.set(heap.subarray(at, at + p.floats));
  else if (n <= SHORT_ROW) {
    for (let r = 0; r < m; r++) {
      const s = at + r * n, d = r * ldc;
      for (let j = 0; j < n; j++) c[d + j] = heap[s + j];
    }
  } else {
    for (let r = 0; r < m; r++) c.set(heap.subarray(at + r * n, at + r * n + n), r * ldc);
  }
}

let heapView: Float32Array | null = null;

/** A view of the whole memory, made again only after the memory grew. */
function heapOf(memory: WebAssembly.Memory): Float32Array {
  if (heapView?.buffer !== memory.buffer) heapView = new Float32Array(memory.buffer);
  return heapView;
}

/** One thread's band of C: its arguments to `gemm` (byte addresses, strides in floats). */
interface Band {
  m: number;
  n: number;
  a: number;
  b: number;
  c: number;
}

/**
 * `C = alpha · op(A) · op(B) + beta · C` in the own SIMD GEMM (same contract as
 * `gemm` in `lib/kernels/gemm.ts`: row-major arrays, strides in floats), on up to
 * `threads` threads (1, the default: this thread only). More threads run only where the
 * shared-memory build runs and helper threads are ready; the first call that asks for
 * them starts them in the background (see {@linkcode startSimdGemmThreads}). Throws
 * where WebAssembly SIMD is unavailable (see {@linkcode simdGemmKind}), or if a helper
 * thread fails mid-GEMM (helpers are then off for the rest of the process).
 *
 * @example
 * ```ts
 * import { simdGemm } from "nn/kernels/simd/simd_gemm.ts";
 * const a = new Float32Array(512 * 512).fill(1);
 * const c = new Float32Array(512 * 512);
 * simdGemm(false, false, 512, 512, 512, 1, a, 512, a, 512, 0, c, 512, 2); // up to 2 threads
 * console.log(c[0]); // 512
 * ```
 */
export function simdGemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
  threads = 1,
): void {
  if (m <= 0 || n <= 0) return;
  const l = loaded();
  if (!l) {
    throw new Error(
      "simdGemm: this runtime cannot compile WebAssembly SIMD; use the TypeScript GEMM (gemmTs).",
    );
  }
  const useAB = k > 0 && alpha !== 0;
  // helpers that are ready now (starting more in the background when asked for)
  let helpers = 0;
  const p = useAB && threads > 1 ? helpersOf(l) : null;
  if (p) helpers = Math.min(threads - 1, MAX_SIMD_GEMM_THREADS - 1, p.start(threads - 1));
  // bands of whole tiles: rows of C, or columns where C is wider than tall (each thread
  // packs all of the other operand: the smaller share of duplicated packing)
  const byRows = m >= n;
  const unit = byRows ? MR : NR;
  const extent = byRows ? m : n;
  const per = Math.ceil(Math.ceil(extent / unit) / (helpers + 1)) * unit;
  const bandCount = Math.ceil(extent / per);
  const aRows = transA ? k : m, aCols = transA ? m : k;
  const bRows = transB ? n : k, bCols = transB ? k : n;
  const pa = useAB ? place(aRows, aCols, lda) : { floats: 0, ld: lda, span: true };
  const pb = useAB ? place(bRows, bCols, ldb) : { floats: 0, ld: ldb, span: true };
  const pc = place(m, n, ldc);
  const offA = 0;
  const offB = offA + align(4 * pa.floats);
  const offC = offB + align(4 * pb.floats);
  // per thread: the scratch tile, then the packed A block, then the packed B block
  const bandN = byRows ? n : Math.min(per, n);
  const waBytes = useAB ? 4 * MC * KC : 0;
  const wbBytes = useAB ? 4 * KC * Math.ceil(Math.min(bandN, NC) / NR) * NR : 0;
  const perThread = TILE_BYTES + waBytes + wbBytes;
  const offW = offC + align(4 * pc.floats);
  const end = offW + bandCount * perThread;
  const memory = l.memory;
  if (end > memory.buffer.byteLength) {
    memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  }
  const heap = heapOf(memory);
  if (useAB) {
    copyIn(heap, offA / 4, a, aRows, aCols, lda, pa);
    copyIn(heap, offB / 4, b, bRows, bCols, ldb, pb);
  }
  // C's old values are needed when beta ≠ 0, and in the gaps of a span copied back whole
  if (beta !== 0 || (pc.span && pc.ld !== n)) copyIn(heap, offC / 4, c, m, n, ldc, pc);
  const band = (t: number): Band => {
    const lo = t * per, hi = Math.min(extent, lo + per);
    if (byRows) {
      return {
        m: hi - lo,
        n,
        a: offA + 4 * (transA ? lo : lo * pa.ld),
        b: offB,
        c: offC + 4 * lo * pc.ld,
      };
    }
    return {
      m,
      n: hi - lo,
      a: offA,
      b: offB + 4 * (transB ? lo * pb.ld : lo),
      c: offC + 4 * lo,
    };
  };
  const ta = transA ? 1 : 0, tb = transB ? 1 : 0, kk = useAB ? k : 0;
  if (p && bandCount > 1) {
    const module = helperModule(l.kind);
    const jobs = Array.from({ length: bandCount - 1 }, (_, i) => {
      const w = band(i + 1);
      const work = offW + (i + 1) * perThread;
      const args = [ta, tb, w.m, w.n, kk, alpha, w.a, pa.ld, w.b, pb.ld, beta, w.c, pc.ld];
      return {
        module,
        fn: "gemm",
        args: [...args, work + TILE_BYTES, work + TILE_BYTES + waBytes, work],
      };
    });
    bands += jobs.length;
    p.run(jobs, () => {
      const w = band(0);
      l.gemm(
        ta,
        tb,
        w.m,
        w.n,
        kk,
        alpha,
        w.a,
        pa.ld,
        w.b,
        pb.ld,
        beta,
        w.c,
        pc.ld,
        offW + TILE_BYTES,
        offW + TILE_BYTES + waBytes,
        offW,
      );
    });
  } else {
    l.gemm(
      ta,
      tb,
      m,
      n,
      kk,
      alpha,
      offA,
      pa.ld,
      offB,
      pb.ld,
      beta,
      offC,
      pc.ld,
      offW + TILE_BYTES,
      offW + TILE_BYTES + waBytes,
      offW,
    );
  }
  copyOut(heap, offC / 4, c, m, n, ldc, pc);
}
