/**
 * Single-precision matrix multiply (GEMM) for the library's fast kernels: a native BLAS
 * through Deno's FFI where the system has one (OpenBLAS on Linux, Apple's Accelerate on
 * macOS), else the library's own WebAssembly SIMD GEMM (`simd/gemm.wat`: packed panels,
 * a 4×8 register tile, relaxed-SIMD fused multiply-add where the runtime has it), and a
 * plain TypeScript loop only where WebAssembly SIMD is missing.
 *
 * Arrays are row-major `Float32Array`s (views into the wasm heap work too: the pointer
 * is taken from the view, so no copy is made). `NN_BLAS` chooses:
 * - unset or `auto`: the first native library found, else the SIMD GEMM;
 * - `off` (also `none`, `0`, `false`, `simd`): no native library, the SIMD GEMM;
 * - `ts` (or `typescript`): the TypeScript loops (for comparisons);
 * - a path or library name (`/usr/lib/x86_64-linux-gnu/libopenblas.so.0`): that library.
 *
 * `NN_GEMM_THREADS` sets how many threads split large GEMMs and the attention's sequences,
 * on the process's helper threads (`simd/helper_threads.ts`): unset or `auto` (one per
 * core, at most 4), `off` (one) or a count (2–8, used whatever the load). Work below 2²²
 * multiply-adds, and (but for an explicit count) everything while the load average says
 * other work keeps the cores busy, runs on one thread. With a native BLAS the helpers
 * take bands of C, each a single-threaded `cblas_sgemm` on the same arrays, and OpenBLAS
 * stays on one thread (its own worker threads, spinning after each call, would take the
 * helpers' cores); with `NN_GEMM_THREADS=off` OpenBLAS uses its own threads for large
 * GEMMs and weight gradients, at most `NN_BLAS_THREADS`.
 *
 * @example
 * ```ts
 * import { gemm } from "nn/kernels/gemm.ts";
 * const a = new Float32Array([1, 2, 3, 4]); // [[1, 2], [3, 4]]
 * const b = new Float32Array([1, 0, 0, 1]); // identity
 * const c = new Float32Array(4);
 * gemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
 * console.log(c); // Float32Array [1, 2, 3, 4]
 * ```
 * @module
 */

import { type HelperThreads, helperThreads } from "./simd/helper_threads.ts";
import {
  MAX_SIMD_GEMM_THREADS,
  simdGemm,
  simdGemmKind,
  simdGemmThreadsStatus,
  startSimdGemmThreads,
} from "./simd/simd_gemm.ts";

/** What {@linkcode blasInfo} reports. */
export interface BlasInfo {
  /**
   * Which GEMM runs: `"openblas"`, `"accelerate"`, `"blas"` (another native library),
   * `"simd-wasm (relaxed fma)"`, `"simd-wasm (f32x4)"` or `"typescript"`.
   */
  gemm: string;
  /** Whether a native BLAS library is in use. */
  available: boolean;
  /** The library path or name that was loaded, or why none was. */
  library: string;
  /**
   * OpenBLAS's configuration string (core type, threads), when known; for the own SIMD
   * GEMM, how many threads it uses and why.
   */
  config: string;
  /**
   * Threads OpenBLAS uses, when known; for the own SIMD GEMM, the threads a large GEMM
   * is split across (1 when it runs single-threaded).
   */
  threads: number | null;
}

type Sgemm = (
  order: number,
  transA: number,
  transB: number,
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
) => void;

interface Loaded {
  sgemm: Sgemm | null;
  /** the own SIMD GEMM, when no native one runs */
  simd: boolean;
  info: BlasInfo;
  setThreads: ((n: number) => void) | null;
}

let loaded: Loaded | null = null;
let currentThreads = 0;

/**
 * GEMMs below this many multiply-adds run on one OpenBLAS thread: waking a second
 * thread costs more than it saves on small and mid-sized matrices (an LSTM step is
 * 64×64×256, a Transformer projection 2048×64×192).
 */
const SMALL_GEMM = 1 << 25;

/**
 * Whether a mid-sized GEMM is a weight gradient `Aᵀ·B` with a long reduction (k ≥ 1024,
 * the batch and time steps): OpenBLAS splits those well, 1.1–1.5× faster on two threads
 * (2048-row reductions of the Transformer's and 6400-row ones of the LSTM's and CNN's
 * weight gradients), while the mid-sized `A·B` and `A·Bᵀ` products with k ≤ 192 were
 * no faster, or slower, on two.
 */
function wideReduction(transA: boolean, transB: boolean, m: number, n: number, k: number) {
  return transA && !transB && k >= 1024 && m * n * k >= 1 << 22;
}

let busyCheckedAt = -Infinity;
let busy = false;
/** This process's CPU use (cores), averaged like the load average; 1 until measured. */
let ownLoad = 1;
let ownCpuAt: { wall: number; cpu: number } | null = null;

/**
 * This process's CPU seconds so far (all threads: utime + stime of /proc/self/stat, in
 * clock ticks of 1/100 s), or `null` where that cannot be read.
 */
function ownCpuSeconds(): number | null {
  try {
    if (!granted({ name: "read", path: "/proc/self/stat" })) return null;
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of stat
    return Number.isFinite(ticks) ? ticks / 100 : null;
  } catch {
    return null;
  }
}

/**
 * Updates {@linkcode ownLoad}: the CPU this process used since the last check (its
 * helper threads included), folded into an average with the load average's 1-minute
 * time constant.
 */
function updateOwnLoad(now: number): void {
  const cpu = ownCpuSeconds();
  if (cpu === null) return;
  if (ownCpuAt && now > ownCpuAt.wall) {
    const dt = (now - ownCpuAt.wall) / 1000;
    const rate = (cpu - ownCpuAt.cpu) / dt;
    ownLoad += (rate - ownLoad) * (1 - Math.exp(-dt / 60));
  }
  ownCpuAt = { wall: now, cpu };
}

/**
 * Whether other work already keeps the cores busy, checked at most every 2 s: the
 * 1-minute load average less this process's own share (itself averaged over about a
 * minute; taken as one busy thread where /proc/self/stat cannot be read) leaves less
 * than one core free besides this process's thread. A multi-threaded GEMM then waits for
 * threads that are not scheduled: on the shared 2-core benchmark machine one thread was
 * up to 2× faster. Subtracting the process's own share keeps its own extra threads from
 * turning its threads off.
 */
function coresBusy(): boolean {
  const now = performance.now();
  if (now - busyCheckedAt < 2000) return busy;
  busyCheckedAt = now;
  updateOwnLoad(now);
  try {
    const cores = navigator.hardwareConcurrency || 1;
    busy = granted({ name: "sys", kind: "loadavg" }) &&
      Deno.loadavg()[0] - Math.max(ownLoad, 1) + 1 >= cores;
  } catch {
    busy = false; // no --allow-sys: assume the cores are ours
  }
  return busy;
}

/** Whether a permission is granted (checked without prompting: a GEMM never asks). */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Threads of the own SIMD GEMM

/** What `NN_GEMM_THREADS` and {@linkcode setGemmThreads} take: a count, `auto` or `off`. */
export type GemmThreads = number | "auto" | "off";

/**
 * `auto`'s most threads: the copies in and out stay on the calling thread, so each
 * further thread adds less (measured on 2 cores only).
 */
const AUTO_GEMM_THREADS = 4;

/**
 * The own GEMM splits a GEMM across threads only from this many multiply-adds (m·n·k)
 * on: waking a helper thread and waiting for it costs 10–50 µs, and each thread packs its
 * own copy of the shared operand; 2²² (128×128×256) takes about 0.2 ms on one thread.
 * An LSTM step (64×64×256) stays on one thread; a Transformer projection (2048×64×192)
 * and the layers' weight gradients are split.
 */
const SIMD_THREADED_GEMM = 1 << 22;
let simdThreadedMin = SIMD_THREADED_GEMM;
let ignoreLoadForTesting = false;

/**
 * Parses a `NN_GEMM_THREADS` value: `auto` (also unset or empty), `off` (also `0`, `1`,
 * `false`, `no`, `single`), or a thread count ≥ 2 (capped at 8).
 *
 * @example
 * ```ts
 * import { parseGemmThreads } from "nn/kernels/gemm.ts";
 * parseGemmThreads("2"); // 2
 * parseGemmThreads(" OFF "); // "off"
 * parseGemmThreads(undefined); // "auto"
 * ```
 */
export function parseGemmThreads(value: string | number | undefined): GemmThreads {
  if (value === undefined) return "auto";
  const text = String(value).trim().toLowerCase();
  if (text === "" || text === "auto" || text === "default") return "auto";
  if (/^(off|false|no|single|0|1)$/.test(text)) return "off";
  const n = Number(text);
  if (!Number.isInteger(n) || n < 2) {
    throw new Error(
      `NN_GEMM_THREADS must be "auto", "off" or a whole number of threads ` +
        `(2-${MAX_SIMD_GEMM_THREADS}); got "${value}".`,
    );
  }
  return Math.min(n, MAX_SIMD_GEMM_THREADS);
}

interface ThreadPlan {
  /** threads a large GEMM uses */
  threads: number;
  /** an explicit count: used whatever the load average */
  forced: boolean;
  /** what was asked for and why this many */
  why: string;
}

let threadPlan: ThreadPlan | null = null;
let threadsChoice: { wanted: GemmThreads } | null = null;

function planThreads(): ThreadPlan {
  if (threadPlan) return threadPlan;
  let wanted: GemmThreads;
  let asked: string;
  if (threadsChoice) {
    wanted = threadsChoice.wanted;
    asked = `setGemmThreads(${JSON.stringify(wanted)})`;
  } else {
    const value = env("NN_GEMM_THREADS");
    try {
      wanted = parseGemmThreads(value);
    } catch (e) {
      console.warn(`${(e as Error).message} Using one thread.`);
      threadPlan = { threads: 1, forced: false, why: (e as Error).message };
      return threadPlan;
    }
    asked = value === undefined ? "NN_GEMM_THREADS unset: auto" : `NN_GEMM_THREADS=${value}`;
  }
  const cores = navigator.hardwareConcurrency || 1;
  const small = `one thread below 2^${Math.log2(simdThreadedMin)} multiply-adds`;
  if (wanted === "off") threadPlan = { threads: 1, forced: false, why: asked };
  else if (wanted === "auto") {
    threadPlan = cores < 2 ? { threads: 1, forced: false, why: `${asked}, one core` } : {
      threads: Math.min(cores, AUTO_GEMM_THREADS),
      forced: false,
      why: `${asked}, ${cores} cores; ${small} and while other work keeps the cores busy`,
    };
  } else threadPlan = { threads: wanted, forced: true, why: `${asked}; ${small}` };
  return threadPlan;
}

/**
 * Sets the own SIMD GEMM's threads from here on, overriding `NN_GEMM_THREADS`: `"auto"`
 * (one per core up to 4; one while other work keeps the cores busy), `"off"`, or a count
 * (used whatever the load); `null` goes back to `NN_GEMM_THREADS`. Large GEMMs only
 * (≥ 2²² multiply-adds): smaller ones always run on one thread. For benchmarks, and for
 * notebooks on a machine whose cores are free.
 *
 * @example
 * ```ts
 * import { blasInfo, selectGemm, setGemmThreads } from "nn/kernels/gemm.ts";
 * selectGemm("simd");
 * setGemmThreads(2);
 * console.log(blasInfo().gemm); // "simd-wasm (relaxed fma, 2 threads)"
 * setGemmThreads(null);
 * selectGemm("auto");
 * ```
 */
export function setGemmThreads(threads: GemmThreads | null): void {
  threadsChoice = threads === null ? null : { wanted: parseGemmThreads(threads) };
  threadPlan = null;
}

/**
 * Starts the helper threads that split large GEMMs (the own GEMM's, or a native BLAS's in
 * bands) now and waits up to `waitMs` for them (otherwise they start in the background on
 * the first large GEMM, which runs on one thread until they are ready). Returns the
 * threads a large GEMM can use now. For benchmarks, so that the first timed GEMM already
 * has its threads.
 *
 * @example
 * ```ts
 * import { selectGemm, startGemmThreads } from "nn/kernels/gemm.ts";
 * selectGemm("simd");
 * console.log(startGemmThreads()); // 2 on two free cores
 * ```
 */
export function startGemmThreads(waitMs = 10_000): number {
  const l = blas();
  const plan = planThreads();
  if (plan.threads < 2 || !(l.simd || l.sgemm)) return 1;
  if (l.simd) return startSimdGemmThreads(plan.threads, waitMs);
  return 1 + helperThreads().waitReady(plan.threads - 1, waitMs);
}

/**
 * For tests: splits GEMMs of at least `minWork` multiply-adds (default 2²²) across the
 * own GEMM's threads, and with `ignoreLoad` whatever the load average.
 * @internal
 */
export function setGemmThreadingForTesting(
  options: { minWork?: number; ignoreLoad?: boolean } = {},
): void {
  simdThreadedMin = options.minWork ?? SIMD_THREADED_GEMM;
  ignoreLoadForTesting = options.ignoreLoad ?? false;
  threadPlan = null;
}

/**
 * Threads the library's own wasm kernels split this much work (multiply-adds) across:
 * the own GEMM, and the attention's heads (`simd_threads.ts`), whichever GEMM runs.
 * `NN_GEMM_THREADS` (or {@linkcode setGemmThreads}) sets them; below 2²² multiply-adds,
 * and (but for an explicit count) while other work keeps the cores busy, one.
 *
 * @example
 * ```ts
 * import { wasmThreadsFor } from "nn/kernels/gemm.ts";
 * console.log(wasmThreadsFor(1000)); // 1: too little work to share
 * ```
 */
export function wasmThreadsFor(multiplyAdds: number): number {
  const plan = planThreads();
  if (plan.threads < 2 || multiplyAdds < simdThreadedMin) return 1;
  return plan.forced || ignoreLoadForTesting || !coresBusy() ? plan.threads : 1;
}

/** The own GEMM's entry of {@linkcode blasInfo}: label, threads and why. */
function simdInfo(info: BlasInfo): BlasInfo {
  const plan = planThreads();
  const status = simdGemmThreadsStatus();
  const threads = status.shared && !status.reason ? plan.threads : 1;
  const why = threads === plan.threads
    ? plan.why
    : `one thread: ${status.reason}; asked for ${plan.threads}`;
  return {
    ...info,
    gemm: threads > 1 ? info.gemm.replace(/\)$/, `, ${threads} threads)`) : info.gemm,
    config: `${threads} thread${threads > 1 ? "s" : ""} (${why})`,
    threads,
  };
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

const ACCELERATE = "/System/Library/Frameworks/Accelerate.framework/Accelerate";

const CANDIDATES = [
  ...(typeof Deno !== "undefined" && Deno.build?.os === "darwin" ? [ACCELERATE] : []),
  "libopenblas.so.0",
  "libopenblas.so",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
  "libopenblas.dylib",
];

/** The library's name in reports: `openblas`, `accelerate` or `blas`. */
function nativeName(library: string, config: string): string {
  if (/accelerate/i.test(library)) return "accelerate";
  if (config || /openblas/i.test(library)) return "openblas";
  return "blas";
}

/** The non-native GEMM: the own SIMD one, or the TypeScript loops (`ts`). */
function fallback(why: string, ts = false): Loaded {
  const kind = ts ? null : simdGemmKind();
  return {
    sgemm: null,
    simd: kind !== null,
    setThreads: null,
    info: {
      gemm: kind ? `simd-wasm (${kind})` : "typescript",
      available: false,
      library: why,
      config: "",
      threads: null,
    },
  };
}

function load(): Loaded {
  const choice = env("NN_BLAS");
  if (choice && /^(ts|typescript)$/i.test(choice)) {
    return fallback("NN_BLAS=ts: the TypeScript GEMM", true);
  }
  if (choice && /^(off|none|0|false|simd)$/i.test(choice)) {
    return fallback(`no native BLAS (NN_BLAS=${choice})`);
  }
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    return fallback("Deno FFI unavailable");
  }
  const names = choice && !/^auto$/i.test(choice) ? [choice] : CANDIDATES;
  for (const name of names) {
    try {
      const lib = Deno.dlopen(
        name,
        {
          cblas_sgemm: {
            parameters: [
              "i32",
              "i32",
              "i32",
              "i32",
              "i32",
              "i32",
              "f32",
              "buffer",
              "i32",
              "buffer",
              "i32",
              "f32",
              "buffer",
              "i32",
            ],
            result: "void",
          },
        } as const,
      );
      let config = "";
      let threads: number | null = null;
      let setThreads: ((n: number) => void) | null = null;
      try {
        const extra = Deno.dlopen(
          name,
          {
            openblas_get_config: { parameters: [], result: "pointer" },
            openblas_get_num_threads: { parameters: [], result: "i32" },
            openblas_set_num_threads: { parameters: ["i32"], result: "void" },
          } as const,
        );
        const p = extra.symbols.openblas_get_config();
        if (p) config = new Deno.UnsafePointerView(p).getCString();
        threads = extra.symbols.openblas_get_num_threads();
        const cap = Number(env("NN_BLAS_THREADS"));
        if (Number.isInteger(cap) && cap >= 1) threads = Math.min(threads, cap);
        currentThreads = -1;
        setThreads = (n) => extra.symbols.openblas_set_num_threads(n);
      } catch {
        // not OpenBLAS: fine, only cblas_sgemm is needed
      }
      return {
        sgemm: lib.symbols.cblas_sgemm as unknown as Sgemm,
        simd: false,
        setThreads,
        info: { gemm: nativeName(name, config), available: true, library: name, config, threads },
      };
    } catch {
      // try the next name
    }
  }
  return fallback(
    choice
      ? `NN_BLAS=${choice} could not be loaded`
      : "no native BLAS found (Debian: apt-get install libopenblas0)",
  );
}

function blas(): Loaded {
  loaded ??= load();
  return loaded;
}

/**
 * Which GEMM the fast kernels use, and which native library (if any) was loaded.
 *
 * @example
 * ```ts
 * import { blasInfo } from "nn/kernels/gemm.ts";
 * console.log(blasInfo().gemm); // "openblas", "accelerate", "simd-wasm (relaxed fma)", …
 * ```
 */
export function blasInfo(): BlasInfo {
  const l = blas();
  return l.simd ? simdInfo(l.info) : l.sgemm ? nativeInfo(l.info) : { ...l.info };
}

/**
 * A native BLAS's entry of {@linkcode blasInfo}: its configuration, and how large GEMMs
 * run (in bands on the helper threads, the library on one thread; or on its own threads).
 */
function nativeInfo(info: BlasInfo): BlasInfo {
  const plan = planThreads();
  const broken = plan.threads > 1 ? helperThreads().broken : null;
  const split = plan.threads > 1 && !broken ? plan.threads : 1;
  const how = split > 1
    ? `large GEMMs in bands on ${split} threads, the library on one (${plan.why})`
    : `large GEMMs on the library's own threads (${broken ?? plan.why})`;
  return {
    ...info,
    config: info.config ? `${info.config}; ${how}` : how,
    threads: split > 1 ? split : info.threads,
  };
}

/**
 * Whether {@linkcode gemm} runs a fast GEMM: a native BLAS or the own SIMD one (the
 * fused layers and matmul kernels take their fast path then).
 */
export function hasBlas(): boolean {
  const l = blas();
  return l.sgemm !== null || l.simd;
}

/** Whether {@linkcode gemm} calls a native BLAS library. */
export function hasNativeBlas(): boolean {
  return blas().sgemm !== null;
}

/** What {@linkcode selectGemm} takes. */
export type GemmChoice = "auto" | "simd" | "ts";

/**
 * Chooses the GEMM from here on: `"auto"` (as `NN_BLAS` says: a native BLAS when found,
 * else the own SIMD GEMM), `"simd"` (the own SIMD GEMM even where a native BLAS exists)
 * or `"ts"` (the TypeScript loops). For benchmarks and tests, side by side in one process.
 *
 * @example
 * ```ts
 * import { blasInfo, selectGemm } from "nn/kernels/gemm.ts";
 * selectGemm("simd");
 * console.log(blasInfo().gemm); // "simd-wasm (relaxed fma)" where relaxed SIMD validates
 * selectGemm("auto");
 * ```
 */
export function selectGemm(choice: GemmChoice): void {
  if (choice === "simd") loaded = fallback(`native BLAS not used (selectGemm("simd"))`);
  else if (choice === "ts") loaded = fallback(`selectGemm("ts"): the TypeScript GEMM`, true);
  else loaded = null;
}

/**
 * For tests: `true` forces the TypeScript path, `"native"` turns off only the native
 * library (the own SIMD GEMM runs), `false` restores the automatic choice.
 * @internal
 */
export function disableBlasForTesting(disabled: boolean | "native"): void {
  selectGemm(disabled === "native" ? "simd" : disabled ? "ts" : "auto");
}

/**
 * `C = alpha · op(A) · op(B) + beta · C`, row-major, where `op(X)` is `X` or its
 * transpose. `A` is `m×k` after `op`, `B` is `k×n`, `C` is `m×n`; `lda`, `ldb`, `ldc` are
 * the row strides of the arrays as stored.
 *
 * @example
 * ```ts
 * import { gemm } from "nn/kernels/gemm.ts";
 * const a = new Float32Array([1, 2, 3]); // 1×3
 * const c = new Float32Array(1);
 * gemm(false, true, 1, 1, 3, 1, a, 3, a, 3, 0, c, 1); // a·aᵀ
 * console.log(c[0]); // 14
 * ```
 */
export function gemm(
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
): void {
  if (m === 0 || n === 0) return;
  const lib = blas();
  const native = lib.sgemm;
  if (native && k > 0) {
    const parts = nativeParts(lib, m, n, k);
    if (lib.setThreads && lib.info.threads) {
      // OpenBLAS's own threads only where the helper threads do not split GEMMs: both
      // at once fight over the cores
      const want = parts.helpersOn ||
          coresBusy() || !(m * n * k >= SMALL_GEMM || wideReduction(transA, transB, m, n, k))
        ? 1
        : lib.info.threads;
      if (want !== currentThreads) {
        lib.setThreads(want);
        currentThreads = want;
      }
    }
    const ta = transA ? 112 : 111, tb = transB ? 112 : 111;
    if (parts.threads < 2) {
      native(101, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
    // bands of C's rows (or columns, when C is wider than tall), one per thread; each
    // helper calls cblas_sgemm on its band through raw addresses of the same arrays
    const byRows = m >= n;
    const extent = byRows ? m : n;
    const per = Math.ceil(extent / parts.threads / 8) * 8;
    const address = (x: Float32Array, floats: number) =>
      Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(x))) + 4 * floats;
    const jobs = [];
    for (let lo = per; lo < extent; lo += per) {
      const w = Math.min(per, extent - lo);
      const aAt = byRows ? (transA ? lo : lo * lda) : 0;
      const bAt = byRows ? 0 : (transB ? lo * ldb : lo);
      const cAt = byRows ? lo * ldc : lo;
      const [bm, bn] = byRows ? [w, n] : [m, w];
      const [pa, pb, pc] = [address(a, aAt), address(b, bAt), address(c, cAt)];
      jobs.push({ sgemm: [101, ta, tb, bm, bn, k, alpha, pa, lda, pb, ldb, beta, pc, ldc] });
    }
    parts.pool!.run(jobs, () => {
      const [bm, bn] = byRows ? [Math.min(per, m), n] : [m, Math.min(per, n)];
      native(101, ta, tb, bm, bn, k, alpha, a, lda, b, ldb, beta, c, ldc);
    });
    return;
  }
  if (lib.simd) {
    simdGemm(
      transA,
      transB,
      m,
      n,
      k,
      alpha,
      a,
      lda,
      b,
      ldb,
      beta,
      c,
      ldc,
      wasmThreadsFor(m * n * k),
    );
  } else gemmTs(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/**
 * How a native GEMM of m·n·k multiply-adds runs: whether the helper threads split GEMMs
 * at all (`NN_GEMM_THREADS`: then OpenBLAS stays on one thread), and on how many threads
 * this one runs (its bands go to the helpers that are ready).
 */
function nativeParts(
  lib: Loaded,
  m: number,
  n: number,
  k: number,
): { helpersOn: boolean; threads: number; pool: HelperThreads | null } {
  const plan = planThreads();
  const pool = plan.threads > 1 ? helperThreads() : null;
  if (!pool || pool.broken) return { helpersOn: false, threads: 1, pool: null };
  pool.useNativeBlas(lib.info.library);
  const want = Math.min(wasmThreadsFor(m * n * k), Math.ceil(Math.max(m, n) / 8));
  const threads = want > 1 ? 1 + pool.start(want - 1) : 1;
  return { helpersOn: true, threads: Math.min(want, threads), pool };
}

/** The TypeScript GEMM (same contract as {@linkcode gemm}). */
export function gemmTs(
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
): void {
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else if (beta !== 1) { for (let j = 0; j < n; j++) c[ci + j] *= beta; }
  }
  if (!transB) {
    // i-p-j order: the inner loop walks rows of B and C contiguously.
    for (let i = 0; i < m; i++) {
      const ci = i * ldc;
      for (let p = 0; p < k; p++) {
        const av = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
        if (av === 0) continue;
        const bp = p * ldb;
        for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
      }
    }
    return;
  }
  // B transposed: rows of B are columns of op(B); dot products.
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    for (let j = 0; j < n; j++) {
      const bj = j * ldb;
      let s = 0;
      if (transA) { for (let p = 0; p < k; p++) s += a[p * lda + i] * b[bj + p]; }
      else {
        const ai = i * lda;
        for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
      }
      c[ci + j] += alpha * s;
    }
  }
}

/**
 * Fills `out` with copies of `row` end to end (`out.length` a multiple of `row.length`):
 * the bias written into a GEMM's output before the GEMM adds the product (beta = 1).
 *
 * @example
 * ```ts
 * import { fillRows } from "nn/kernels/gemm.ts";
 * const out = new Float32Array(6);
 * fillRows(out, new Float32Array([1, 2]));
 * console.log(out); // Float32Array [1, 2, 1, 2, 1, 2]
 * ```
 */
export function fillRows(out: Float32Array, row: Float32Array): void {
  out.set(row);
  for (let n = row.length; n < out.length; n *= 2) {
    out.copyWithin(n, 0, Math.min(n, out.length - n));
  }
}

let ones = new Float32Array(0);

/** A vector of at least `n` ones (shared, read-only). */
function onesOf(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(Math.max(n, 2 * ones.length)).fill(1);
  return ones;
}

/**
 * `out[j] = Σ_r a[r·cols + j]`: the rows of `a` summed (a bias gradient), as one GEMV
 * `1ᵀ·A` (through {@linkcode gemm}). With `rowSums`, `out[r] = Σ_j a[r·cols + j]` (`A·1`).
 *
 * @example
 * ```ts
 * import { sumRows } from "nn/kernels/gemm.ts";
 * const out = new Float32Array(2);
 * sumRows(new Float32Array([1, 2, 3, 4, 5, 6]), 3, 2, out);
 * console.log(out); // Float32Array [9, 12]
 * ```
 */
export function sumRows(
  a: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
  rowSums = false,
): void {
  if (rowSums) gemm(false, false, rows, 1, cols, 1, a, cols, onesOf(cols), 1, 0, out, 1);
  else gemm(false, false, 1, cols, rows, 1, onesOf(rows), rows, a, cols, 0, out, cols);
}
