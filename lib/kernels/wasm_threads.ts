/**
 * tfjs's multi-threaded SIMD wasm build under Deno.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22.0 ships three binaries; under Deno it always loads
 * the single-threaded SIMD one, for three reasons this module works around:
 *
 * 1. Deno loads the package's Node build, and its `WASM_HAS_MULTITHREAD_SUPPORT` flag
 *    answers `false` whenever tfjs thinks it runs in Node.
 * 2. Forcing the flag makes emscripten (seeing Deno's `process` global) start its
 *    pthreads with `node:worker_threads` on a `blob:` URL, which Deno rejects
 *    (`ERR_WORKER_PATH`); Deno's own `Worker` takes module workers only, and emscripten's
 *    worker script is a classic one (`importScripts`).
 * 3. The C++ side caps the XNNPACK thread pool at `navigator.hardwareConcurrency / 2`
 *    (it assumes two hyper-threads per core), which is 1 on a 2-core machine.
 *
 * Here the emscripten glue runs in its "shell" mode with `navigator.hardwareConcurrency`
 * reported as twice the wanted threads; each pthread is a `node:worker_threads` worker
 * started from a `data:` URL module that wraps emscripten's worker script. The workers
 * are unref'd, so a script still exits when its work is done. The module it builds is
 * handed to tfjs's own `BackendWasm`, so every tfjs kernel, and the library's own wasm
 * kernels, work unchanged (the wasm heap is then a `SharedArrayBuffer`).
 *
 * `NN_WASM_THREADS` chooses: `off` (the default: tfjs's single-threaded SIMD build),
 * `auto` (one thread per core; single-threaded on one core) or a number of threads
 * (2–8). Anything that fails falls back to the single-threaded build, and
 * {@linkcode wasmThreadsReport} says why.
 *
 * Off by default because on a 2-core machine it did not make training faster. With
 * both cores free, single kernels run 1.3–1.6× faster on 2 threads (matmul 1024² 1.6×,
 * conv2d 1.3×); when another process holds the second core they gain nothing, and a
 * small kernel that XNNPACK splits waits 0.3–0.7 ms for the other thread. The library
 * already sends large matmuls to a multi-threaded OpenBLAS, so in training (reference
 * models, ms per batch, threads vs off) the CNN gained 1.3× with free cores but the MLP
 * lost 1.2×, and on a shared machine every model was 1.2–2× slower.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { installThreadedWasm, wasmThreadsReport } from "nn/kernels/wasm_threads.ts";
 * installThreadedWasm({ threads: 2 });
 * await tf.setBackend("wasm");
 * console.log(wasmThreadsReport()); // { build: "threaded-simd", threads: 2, ... }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { BackendWasm, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { Worker as NodeWorker } from "node:worker_threads";

/** Which wasm binary the `wasm` backend runs and why. */
export interface WasmThreadsReport {
  /** `threaded-simd` when the threaded build runs; `simd` for tfjs's default build. */
  build: "threaded-simd" | "simd";
  /** Threads XNNPACK uses (1 for the single-threaded build). */
  threads: number;
  /** What was asked for: `auto`, `off` or a number, and where it came from. */
  requested: string;
  /** One sentence: why this build runs. */
  reason: string;
}

/** Options for {@linkcode installThreadedWasm}. */
export interface ThreadedWasmOptions {
  /**
   * `"off"`, `"auto"` (one per core) or a thread count. Defaults to `NN_WASM_THREADS`,
   * then `"off"`.
   */
  threads?: number | "auto" | "off";
  /** The tfjs backend name to register (default `"wasm"`, replacing tfjs's factory). */
  backendName?: string;
  /** Give up on the threaded build after this many milliseconds (default 30 000). */
  timeoutMs?: number;
}

/** The most threads tfjs's wasm build uses (its C++ side caps the pool at 8). */
export const MAX_WASM_THREADS = 8;

/**
 * Parses a `NN_WASM_THREADS` value: `off` (also unset, empty, `0`, `1`, `false`, `no`,
 * `single`), `auto`, or a thread count ≥ 2 (capped at {@linkcode MAX_WASM_THREADS}).
 *
 * @example
 * ```ts
 * import { parseWasmThreads } from "nn/kernels/wasm_threads.ts";
 * parseWasmThreads("4"); // 4
 * parseWasmThreads(" OFF "); // "off"
 * ```
 */
export function parseWasmThreads(value: string | number | undefined): number | "auto" | "off" {
  if (value === undefined) return "off";
  const text = String(value).trim().toLowerCase();
  if (text === "" || text === "default") return "off";
  if (text === "auto") return "auto";
  if (/^(off|false|no|single|0|1)$/.test(text)) return "off";
  const n = Number(text);
  if (!Number.isInteger(n) || n < 2) {
    throw new Error(
      `NN_WASM_THREADS must be "auto", "off" or a whole number of threads (2-${MAX_WASM_THREADS}); ` +
        `got "${value}".`,
    );
  }
  return Math.min(n, MAX_WASM_THREADS);
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/**
 * Resolves `auto`/`off`/N to a thread count (1 means the single-threaded build) and a
 * reason when it is 1.
 */
function resolveThreads(
  wanted: number | "auto" | "off",
  cores: number,
): { threads: number; why?: string } {
  if (wanted === "off") {
    return { threads: 1, why: "threads are off (NN_WASM_THREADS=auto or a count turns them on)" };
  }
  if (wanted === "auto") {
    if (cores < 2) return { threads: 1, why: `only ${cores} core is available` };
    return { threads: Math.min(cores, MAX_WASM_THREADS) };
  }
  return { threads: wanted };
}

let report: WasmThreadsReport = {
  build: "simd",
  threads: 1,
  requested: "off (default)",
  reason: "the wasm backend has not been initialised yet",
};

/**
 * Which wasm build the last initialised wasm backend runs, with the reason.
 *
 * @example
 * ```ts
 * import { wasmThreadsReport } from "nn/kernels/wasm_threads.ts";
 * console.log(wasmThreadsReport().threads); // 1 until a threaded backend starts
 * ```
 */
export function wasmThreadsReport(): WasmThreadsReport {
  return { ...report };
}

/** Backend names this module registered, with tfjs's original wasm factory. */
const installed = new Map<string, () => tf.KernelBackend | Promise<tf.KernelBackend>>();

// deno-lint-ignore no-explicit-any
type EmscriptenModule = any;

const HEAP_VIEWS = {
  HEAP8: Int8Array,
  HEAPU8: Uint8Array,
  HEAP16: Int16Array,
  HEAPU16: Uint16Array,
  HEAP32: Int32Array,
  HEAPU32: Uint32Array,
  HEAPF32: Float32Array,
  HEAPF64: Float64Array,
} as const;

/**
 * Makes `Module.HEAPU8` and friends always view the current memory. With threads the
 * glue refreshes them only on the thread that grew the memory, or lazily; tfjs's
 * `BackendWasm` and the library's kernels read `HEAPU8` directly.
 */
function liveHeapViews(module: EmscriptenModule): void {
  const memory = module.wasmMemory as WebAssembly.Memory;
  for (const [name, View] of Object.entries(HEAP_VIEWS)) {
    let view: ArrayBufferView | null = null;
    Object.defineProperty(module, name, {
      configurable: true,
      get() {
        if (view === null || view.buffer !== memory.buffer) {
          view = new View(memory.buffer as ArrayBuffer);
        }
        return view;
      },
      set() {
        // the glue's own refresh: the getter already follows the memory
      },
    });
  }
}

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/**
 * Emscripten's pthread `Worker`, backed by a `node:worker_threads` worker: unref'd, so
 * idle (or blocked) pool threads never keep the process alive, and with the
 * `onmessage`/`onerror` properties emscripten's web code path expects.
 */
function pthreadWorkerClass(url: URL) {
  return class PthreadWorker {
    onmessage: ((e: { data: unknown }) => void) | null = null;
    onerror: ((e: unknown) => void) | null = null;
    #worker: NodeWorker;
    constructor(_scriptUrl: string) {
      this.#worker = new NodeWorker(url);
      this.#worker.unref();
      this.#worker.on("message", (data: unknown) => this.onmessage?.({ data }));
      this.#worker.on("error", (e: unknown) => this.onerror?.(e));
    }
    postMessage(message: unknown, transfer?: unknown[]): void {
      // deno-lint-ignore no-explicit-any
      this.#worker.postMessage(message, transfer as any);
    }
    terminate(): void {
      void this.#worker.terminate();
    }
    ref(): void {}
    unref(): void {}
  };
}

/**
 * Builds the threaded emscripten module and tfjs's wrappers around it, as tfjs's own
 * `init()` does for the browser.
 */
async function createThreadedModule(threads: number): Promise<EmscriptenModule> {
  const glue = await import(
    "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js"
  );
  const workerGlue = await import(
    "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js"
  );
  const factorySource = String(glue.default ?? glue);
  const workerScript = String(
    (workerGlue.default ?? workerGlue).wasmWorkerContents ?? workerGlue.wasmWorkerContents,
  );
  if (!factorySource.startsWith("function") || !workerScript.includes("onmessage")) {
    throw new Error("the threaded glue of @tensorflow/tfjs-backend-wasm has an unexpected shape");
  }
  const wasmUrl = new URL(
    import.meta.resolve(
      "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm",
    ),
  );
  const wasmBinary = await Deno.readFile(wasmUrl);
  // Emscripten's C++ side sees navigator.hardwareConcurrency / 2 cores.
  const fakeNavigator = { hardwareConcurrency: 2 * threads };
  // One pthread per pool thread besides the caller (the default pool is 8 workers).
  const source = factorySource.replace(
    "var pthreadPoolSize=8;",
    `var pthreadPoolSize=${Math.max(1, threads - 1)};`,
  );
  // The pthread side: emscripten's worker script and the glue, with process/require
  // hidden so that both take their web-worker path; messages come through parentPort.
  const workerSource = `import { parentPort as nnPort } from "node:worker_threads";
globalThis.self = globalThis;
globalThis.postMessage = (message, transfer) => nnPort.postMessage(message, transfer);
(function (process, require, global, __filename, __dirname, _scriptDir, navigator) {
function importScripts() {}
${workerScript.replace(/\n/g, "\\n")}
var WasmBackendModuleThreadedSimd = ${source};
nnPort.on("message", (data) => self.onmessage({ data }));
})(undefined, undefined, undefined, undefined, undefined, undefined, ${
    JSON.stringify(fakeNavigator)
  });
`;
  const workerUrl = new URL("data:text/javascript," + encodeURIComponent(workerSource));
  // The main side: the glue in emscripten's shell mode (no process/require, no window).
  const factory = new Function(
    "process",
    "require",
    "Worker",
    "global",
    "__filename",
    "__dirname",
    "_scriptDir",
    "navigator",
    `return (${source});`,
  )(
    undefined,
    undefined,
    pthreadWorkerClass(workerUrl),
    {},
    undefined,
    undefined,
    undefined,
    fakeNavigator,
  ) as Factory;
  let aborted: unknown = null;
  const module = await factory({
    wasmBinary,
    mainScriptUrlOrBlob: "inline", // the worker has the glue already
    locateFile: (path: string) => path,
    // Deno's main thread may block (Atomics.wait); the browser warning does not apply.
    printErr: (text: string) => {
      if (!text.includes("Blocking on the main thread")) console.warn(text);
    },
    onAbort: (what: unknown) => {
      aborted = what;
    },
  });
  if (aborted) throw new Error(`the threaded wasm module aborted: ${aborted}`);
  liveHeapViews(module);
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
  return module;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Registers a `wasm` backend factory (or `backendName`) that loads tfjs's threaded SIMD
 * build, falling back to tfjs's own single-threaded factory when the threads are off or
 * anything fails. Call before the wasm backend is first initialised; afterwards it only
 * records why it changed nothing. Returns whether it registered a factory.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { installThreadedWasm } from "nn/kernels/wasm_threads.ts";
 * installThreadedWasm({ threads: "auto" }); // one thread per core
 * await tf.setBackend("wasm");
 * ```
 */
export function installThreadedWasm(options: ThreadedWasmOptions = {}): boolean {
  const name = options.backendName ?? "wasm";
  const fromOption = options.threads !== undefined;
  const env = fromOption ? undefined : readEnv("NN_WASM_THREADS");
  const wanted = parseWasmThreads(fromOption ? options.threads : env);
  const requested = `${wanted} (${fromOption ? "option" : env ? "NN_WASM_THREADS" : "default"})`;
  const cores = navigator.hardwareConcurrency || 1;
  const { threads, why } = resolveThreads(wanted, cores);
  const engine = tf.engine() as unknown as {
    registry: Record<string, unknown>;
    registryFactory: Record<
      string,
      { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number }
    >;
  };
  const stock = engine.registryFactory["wasm"];
  if (!stock) {
    report = {
      build: "simd",
      threads: 1,
      requested,
      reason: "the wasm backend is not registered",
    };
    return false;
  }
  if (engine.registry[name] !== undefined) {
    if (!installed.has(name)) {
      report = {
        build: "simd",
        threads: 1,
        requested,
        reason: `the ${name} backend was already initialised single-threaded in this process`,
      };
    }
    return false;
  }
  const stockFactory = installed.get("wasm") ?? stock.factory;
  const factory = async (): Promise<tf.KernelBackend> => {
    if (threads < 2) {
      report = { build: "simd", threads: 1, requested, reason: why ?? "one thread" };
      return await stockFactory();
    }
    let module: EmscriptenModule;
    try {
      module = await withTimeout(
        createThreadedModule(threads),
        options.timeoutMs ?? 30_000,
        "starting the wasm threads",
      );
    } catch (e) {
      report = {
        build: "simd",
        threads: 1,
        requested,
        reason: `the threaded build failed (${describe(e)}); using the single-threaded one`,
      };
      return await stockFactory();
    }
    setThreadsCount(threads);
    const backend = new BackendWasm(module);
    const actual = Number(module.tfjs.getThreadsCount());
    report = {
      build: "threaded-simd",
      threads: actual,
      requested,
      reason: `${actual} XNNPACK threads on ${cores} cores`,
    };
    return backend;
  };
  if (tf.findBackendFactory(name)) tf.removeBackend(name);
  tf.registerBackend(name, factory, stock.priority);
  installed.set(name, stockFactory);
  return true;
}
