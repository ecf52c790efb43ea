/**
 * The process's helper threads: one pool for every kernel that splits its work across
 * cores and stays synchronous — the own GEMM (`simd_gemm.ts`: bands of C), the SIMD
 * kernels (`simd_threads.ts`: the attention's sequences) and a native BLAS's GEMM
 * (`lib/kernels/gemm.ts`: bands of C, each a single-threaded `cblas_sgemm`).
 *
 * One pool, because two would fight over the cores: OpenBLAS's own worker threads spin
 * for a while after each call, and a second pool's thread scheduled beside them got half
 * a core (the reference Transformer's step was 10–15 % slower with both than with
 * neither). Here the helpers are the only extra threads: the library keeps OpenBLAS on
 * one thread while they run.
 *
 * Each helper is a `node:worker_threads` worker (unref'd: an idle one never keeps a script
 * alive) with its own instances of the registered WebAssembly modules, each on its shared
 * memory ({@linkcode provideHelperModule}), and, once a caller names one
 * ({@linkcode HelperThreads.useNativeBlas}), the native BLAS library opened through
 * Deno's FFI. The calling thread writes each helper's job (a module's export and its
 * arguments, or `cblas_sgemm` with raw addresses) into a shared control block and wakes
 * it with `Atomics.notify`, runs its own part, then waits for the helpers. A helper spins
 * for {@linkcode HELPER_SPIN_MS} after a job before it sleeps in `Atomics.wait`: the next
 * job of a training step usually comes sooner than a sleeping thread wakes. Helpers start
 * in the background (about 0.1 s on a busy machine); until they are ready a caller uses
 * the threads it has. A helper that cannot start, throws or stops answering turns the
 * helpers off for the rest of the process, with the reason in
 * {@linkcode HelperThreads.broken}.
 *
 * @example
 * ```ts
 * import { helperThreads } from "nn/kernels/simd/helper_threads.ts";
 * import { simd, simdAlloc } from "nn/kernels/simd/simd.ts"; // registers "kernels"
 * const pool = helperThreads();
 * if (pool.has("kernels") && pool.waitReady(1, 5000) === 1) {
 *   const [a, b] = simdAlloc([4, 4]);
 *   a.view().set([-1, 2, -3, 4]);
 *   b.view().set([5, -6, 7, -8]);
 *   pool.run([{ module: "kernels", fn: "relu", args: [b.offset, 4] }], () => simd().relu(a.offset, 4));
 *   console.log(a.view(), b.view()); // [0, 2, 0, 4] [5, 0, 7, 0]
 *   a.free();
 *   b.free();
 * }
 * ```
 * @module
 */

import { Worker as NodeWorker } from "node:worker_threads";

/** The most helper threads the pool runs. */
export const MAX_HELPERS = 7;

/** How long a helper spins, looking for its next job, before it sleeps (milliseconds). */
export const HELPER_SPIN_MS = 3;

/** A module the helpers instantiate, on its shared memory. */
export interface HelperModule {
  /** The compiled module (importing `env.memory`), or `null` where it cannot run here. */
  module: WebAssembly.Module | null;
  /** The shared memory it imports. */
  memory: WebAssembly.Memory | null;
  /** The exports jobs may call. */
  exports: string[];
}

/** One helper's part of a call. */
export type HelperJob =
  | {
    /** A registered module's name ({@linkcode provideHelperModule}). */
    module: string;
    /** One of its exports. */
    fn: string;
    /** The export's arguments (numbers: i32 and f32 values pass exactly). */
    args: number[];
  }
  | {
    /**
     * `cblas_sgemm` of the native BLAS ({@linkcode HelperThreads.useNativeBlas}): its 14
     * arguments, the three matrices as raw addresses (`Deno.UnsafePointer.value`).
     */
    sgemm: number[];
  };

const providers = new Map<string, () => HelperModule>();

/**
 * Registers a module the helpers can run, by name (`"kernels"`, `"gemm"`): `provide` is
 * called when the pool is created (on its first use), so a module registered after that
 * is not available to it ({@linkcode HelperThreads.has}). The SIMD kernels and the own
 * GEMM register theirs when their files load.
 */
export function provideHelperModule(name: string, provide: () => HelperModule): void {
  providers.set(name, provide);
}

// The control block (Int32 words of a SharedArrayBuffer): PENDING counts the helpers
// still working; FAILED is 1 + the index of a helper whose job threw; BLAS_LENGTH and the
// bytes from BLAS_PATH name the native library. Helper i owns the 64 words from SLOTS +
// 64·i (256 bytes: two helpers' SEQ words never share a cache line): SEQ (bumped to start
// a job; the helper waits on it), READY (1 once its instances exist), MODULE (−1 stops
// the helper, −2 is the native GEMM), FN, ARGC, then the arguments as float64 from word
// ARGS on.
const PENDING = 0;
const FAILED = 1;
const BLAS_LENGTH = 2;
const BLAS_PATH = 4; // words: 4 … 4 + 240 / 4
const BLAS_PATH_BYTES = 240;
const SLOTS = 64;
const SLOT = 64;
const SEQ = 0;
const READY = 1;
const MODULE = 2;
const FN = 3;
const ARGC = 4;
const ARGS = 8;
const STOP = -1;
const NATIVE = -2;
/** The most arguments a job passes. */
const MAX_JOB_ARGS = (SLOT - ARGS) / 2;

const HELPER_SOURCE = `import { parentPort } from "node:worker_threads";
parentPort.once("message", ({ modules, control, index }) => {
  const ctl = new Int32Array(control);
  const f64 = new Float64Array(control);
  const s = ${SLOTS} + index * ${SLOT};
  let fns;
  try {
    fns = modules.map(({ module, memory, exports }) => {
      if (!module) return null;
      const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
      return exports.map((name) => e[name]);
    });
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) });
    return;
  }
  let sgemm = null;
  const native = () => {
    const path = new TextDecoder().decode(
      new Uint8Array(control, ${4 * BLAS_PATH}, ctl[${BLAS_LENGTH}]).slice());
    const t = "i32";
    const parameters = [t, t, t, t, t, t, "f32", "pointer", t, "pointer", t, "f32", "pointer", t];
    return Deno.dlopen(path, { cblas_sgemm: { parameters, result: "void" } }).symbols.cblas_sgemm;
  };
  const ptr = (x) => Deno.UnsafePointer.create(BigInt(x));
  // the job count before saying ready: the first job may come at once
  let seq = Atomics.load(ctl, s + ${SEQ});
  Atomics.store(ctl, s + ${READY}, 1);
  Atomics.notify(ctl, s + ${READY});
  for (;;) {
    const until = performance.now() + ${HELPER_SPIN_MS};
    while (Atomics.load(ctl, s + ${SEQ}) === seq && performance.now() < until);
    while (Atomics.load(ctl, s + ${SEQ}) === seq) Atomics.wait(ctl, s + ${SEQ}, seq);
    seq = Atomics.load(ctl, s + ${SEQ});
    const module = ctl[s + ${MODULE}];
    if (module === ${STOP}) break;
    const at = (s + ${ARGS}) / 2;
    try {
      if (module === ${NATIVE}) {
        sgemm ??= native();
        const a = f64.subarray(at, at + 14);
        sgemm(a[0], a[1], a[2], a[3], a[4], a[5], a[6], ptr(a[7]), a[8], ptr(a[9]), a[10],
          a[11], ptr(a[12]), a[13]);
      } else fns[module][ctl[s + ${FN}]](...f64.subarray(at, at + ctl[s + ${ARGC}]));
    } catch (e) {
      Atomics.store(ctl, ${FAILED}, index + 1);
    }
    if (Atomics.sub(ctl, ${PENDING}, 1) === 1) Atomics.notify(ctl, ${PENDING});
  }
});
`;

/** The message of a thrown value. */
export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A pool of helper threads running registered modules' exports and a native GEMM. */
export class HelperThreads {
  readonly #names: string[];
  readonly #modules: HelperModule[];
  #control: Int32Array | null = null;
  #f64: Float64Array | null = null;
  #workers: NodeWorker[] = [];
  /** whether this thread may block in `Atomics.wait` (else it spins) */
  #canWait = true;
  #broken: string | null = null;
  #jobs = 0;
  #blas = "";

  /** A pool for these modules (see {@linkcode helperThreads} for the process's pool). */
  constructor(modules: Map<string, HelperModule>) {
    this.#names = [...modules.keys()];
    this.#modules = [...modules.values()];
  }

  /** Why the helpers cannot run (they never start again), or `null`. */
  get broken(): string | null {
    return this.#broken;
  }

  /** Helper threads started. */
  get started(): number {
    return this.#workers.length;
  }

  /** Jobs helpers have run so far. */
  get jobs(): number {
    return this.#jobs;
  }

  /** Whether the helpers can run the module of that name. */
  has(name: string): boolean {
    const i = this.#names.indexOf(name);
    return i >= 0 && this.#modules[i].module !== null;
  }

  /**
   * Names the native BLAS library (a path or name `Deno.dlopen` takes) whose
   * `cblas_sgemm` native jobs call; each helper opens it on its first such job.
   */
  useNativeBlas(library: string): void {
    if (library === this.#blas) return;
    const bytes = new TextEncoder().encode(library);
    if (bytes.length > BLAS_PATH_BYTES) {
      throw new RangeError(`HelperThreads: a library path of at most ${BLAS_PATH_BYTES} bytes.`);
    }
    this.#blas = library;
    if (this.#control) this.#writeBlas(this.#control);
  }

  #writeBlas(ctl: Int32Array): void {
    const bytes = new TextEncoder().encode(this.#blas);
    new Uint8Array(ctl.buffer, 4 * BLAS_PATH, BLAS_PATH_BYTES).set(bytes);
    Atomics.store(ctl, BLAS_LENGTH, bytes.length);
  }

  /** Helpers ready to take a job now. */
  ready(): number {
    const ctl = this.#control;
    if (!ctl || this.#broken) return 0;
    let n = 0;
    while (n < this.#workers.length && Atomics.load(ctl, SLOTS + n * SLOT + READY) === 1) n++;
    return n;
  }

  /**
   * Starts helpers (in the background) until there are `helpers` of them (at most
   * {@linkcode MAX_HELPERS}); returns how many are ready now (0 where they cannot run).
   */
  start(helpers: number): number {
    if (this.#broken) return 0;
    const want = Math.min(helpers, MAX_HELPERS);
    if (this.#workers.length >= want) return this.ready();
    try {
      if (!this.#control) {
        const sab = new SharedArrayBuffer(4 * (SLOTS + SLOT * MAX_HELPERS));
        this.#control = new Int32Array(sab);
        this.#f64 = new Float64Array(sab);
        this.#writeBlas(this.#control);
        try {
          Atomics.wait(this.#control, 0, 1); // "not-equal" at once where blocking is allowed
        } catch {
          this.#canWait = false; // a browser's main thread: spin instead
        }
      }
      const url = new URL("data:text/javascript," + encodeURIComponent(HELPER_SOURCE));
      const control = this.#control;
      // a helper of a pool since stopped must not break the current one
      const fail = (why: string) => this.#control === control && this.#break(why);
      while (this.#workers.length < want) {
        const index = this.#workers.length;
        const worker = new NodeWorker(url);
        worker.unref();
        worker.on("message", (m: { error?: string }) => {
          if (m?.error) fail(`a helper thread could not start (${m.error})`);
        });
        worker.on("error", (e: unknown) => fail(`a helper thread failed (${describeError(e)})`));
        worker.postMessage({ modules: this.#modules, control: control.buffer, index });
        this.#workers.push(worker);
      }
    } catch (e) {
      this.#break(`helper threads could not start (${describeError(e)})`);
    }
    return this.ready();
  }

  /**
   * Starts `helpers` helpers and waits up to `waitMs` milliseconds for them to be ready;
   * returns how many are.
   */
  waitReady(helpers: number, waitMs: number): number {
    this.start(helpers);
    const ctl = this.#control;
    const want = Math.min(helpers, this.#workers.length);
    const deadline = performance.now() + waitMs;
    while (ctl && !this.#broken && this.ready() < want) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const at = SLOTS + this.ready() * SLOT + READY;
      if (this.#canWait) Atomics.wait(ctl, at, 0, Math.min(left, 50));
    }
    return Math.min(want, this.ready());
  }

  /**
   * Runs `jobs[i]` on helper i (which must be ready: see {@linkcode HelperThreads.ready})
   * and `own` on this thread, and returns when all have finished. Throws if a helper's job
   * threw or a helper stopped answering (helpers are then off for the process).
   */
  run(jobs: HelperJob[], own: () => void): void {
    const ctl = this.#control;
    if (!ctl || jobs.length > this.ready()) {
      throw new Error(`HelperThreads: ${jobs.length} jobs for ${this.ready()} ready helpers.`);
    }
    const coded = jobs.map((job) => {
      if ("sgemm" in job) {
        if (!this.#blas) throw new Error("HelperThreads: no native BLAS named (useNativeBlas).");
        return { module: NATIVE, fn: 0, args: job.sgemm };
      }
      const module = this.#names.indexOf(job.module);
      const fn = this.#modules[module]?.exports.indexOf(job.fn) ?? -1;
      if (!this.has(job.module) || fn < 0 || job.args.length > MAX_JOB_ARGS) {
        throw new Error(`HelperThreads: helpers cannot run ${job.module}.${job.fn}.`);
      }
      return { module, fn, args: job.args };
    });
    // a call whose caller was terminated mid-wait (a notebook interrupted: no `finally`
    // runs) may have left helpers working; their jobs must end before new ones are posted
    if (Atomics.load(ctl, PENDING) !== 0) this.#wait(ctl, 0);
    Atomics.store(ctl, PENDING, jobs.length);
    this.#jobs += jobs.length;
    coded.forEach((job, i) => {
      const s = SLOTS + i * SLOT;
      ctl[s + MODULE] = job.module;
      ctl[s + FN] = job.fn;
      ctl[s + ARGC] = job.args.length;
      this.#f64!.set(job.args, (s + ARGS) / 2);
      Atomics.add(ctl, s + SEQ, 1);
      Atomics.notify(ctl, s + SEQ, 1);
    });
    const t0 = performance.now();
    try {
      own();
    } finally {
      this.#wait(ctl, performance.now() - t0);
    }
  }

  /**
   * Blocks until the helpers are done (spinning briefly first: a wake-up from
   * `Atomics.wait` costs tens of microseconds). A helper that has not finished long after
   * this thread finished its own part (the parts are about equal) is taken for dead.
   */
  #wait(ctl: Int32Array, ownMs: number): void {
    const limit = performance.now() + Math.max(60_000, 100 * ownMs);
    let spins = 0;
    for (;;) {
      const left = Atomics.load(ctl, PENDING);
      if (left === 0) break;
      if (++spins < 2000) continue;
      if (performance.now() > limit) {
        this.#break("a helper thread stopped responding");
        throw new Error(
          "A helper thread did not finish its part of a kernel; helper threads are now off " +
            "for this process (set NN_GEMM_THREADS=off to keep them off from the start).",
        );
      }
      if (this.#canWait) Atomics.wait(ctl, PENDING, left, 1000);
    }
    const failed = Atomics.exchange(ctl, FAILED, 0);
    if (failed) {
      this.#break(`helper thread ${failed} threw`);
      throw new Error(
        `Helper thread ${failed} failed in its part of a kernel; helper threads are now off ` +
          "for this process (set NN_GEMM_THREADS=off to keep them off from the start).",
      );
    }
  }

  /** Marks the helpers unusable (with the first reason) and stops them. */
  #break(why: string): void {
    this.#broken ??= why;
    this.#stopWorkers();
  }

  #stopWorkers(): NodeWorker[] {
    const ctl = this.#control;
    const workers = this.#workers;
    this.#workers = [];
    workers.forEach((w, i) => {
      if (ctl) {
        const s = SLOTS + i * SLOT;
        Atomics.store(ctl, s + MODULE, STOP);
        Atomics.store(ctl, s + READY, 0);
        Atomics.add(ctl, s + SEQ, 1);
        Atomics.notify(ctl, s + SEQ);
      }
      void w.terminate();
    });
    return workers;
  }

  /** Stops the helpers (a later {@linkcode HelperThreads.start} starts new ones). */
  async stop(): Promise<void> {
    const workers = this.#stopWorkers();
    this.#control = null;
    this.#f64 = null;
    await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
  }
}

let pool: HelperThreads | null = null;

/**
 * The process's helper threads, created on first use with the modules registered by then
 * ({@linkcode provideHelperModule}); none start until a caller asks for them.
 */
export function helperThreads(): HelperThreads {
  if (!pool) {
    const modules = new Map<string, HelperModule>();
    for (const [name, provide] of providers) {
      try {
        modules.set(name, provide());
      } catch {
        modules.set(name, { module: null, memory: null, exports: [] }); // not here
      }
    }
    pool = new HelperThreads(modules);
  }
  return pool;
}

/**
 * Stops the process's helper threads and forgets the pool: the next
 * {@linkcode helperThreads} builds a new one from the registered modules (after a test
 * replaced a module's memory). A broken pool's reason is forgotten too.
 */
export async function resetHelperThreads(): Promise<void> {
  const p = pool;
  pool = null;
  await p?.stop();
}
