/**
 * Choosing and reporting the TensorFlow.js backend.
 *
 * Order when nothing is asked for: `webgpu` on a real (hardware) adapter, then `wasm`,
 * then `cpu`. An explicit choice — the `backend` option or the `NN_BACKEND`
 * environment variable, in that order — always wins. A software WebGPU adapter (for
 * example Mesa llvmpipe, `isFallbackAdapter: true`) is skipped by the automatic choice
 * because it trains slower than wasm; ask for `webgpu` to use it anyway.
 *
 * Importing the webgpu backend makes it tfjs's default, so this module always calls
 * `tf.setBackend` explicitly; until {@linkcode setupBackend} is called, importing the
 * library selects `cpu`. It also turns on tfjs's production mode, which silences the
 * "running TensorFlow.js in Node.js" banner.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * const report = await setupBackend({ backend: "cpu" });
 * console.log(report.backend); // "cpu"
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { plotlyLoaderHtml } from "./charts.ts";
import { escapeHtml, type MimeBundle, publish } from "./display.ts";
import {
  installThreadedWasm,
  type WasmThreadsReport,
  wasmThreadsReport,
} from "./kernels/wasm_threads.ts";
import { blasInfo } from "./kernels/gemm.ts";

// Until setupBackend runs, use cpu: importing the webgpu backend made it tfjs's default,
// and an op on a WebGPU backend that is not initialised yet throws. cpu initialises
// synchronously, so this takes effect before any op; production mode silences tfjs's
// "running in Node.js" banner.
tf.enableProdMode();
void tf.setBackend("cpu");
// The wasm backend loads tfjs's threaded SIMD build per NN_WASM_THREADS (default off):
// see kernels/wasm_threads.ts. Nothing starts until the wasm backend is first set.
try {
  installThreadedWasm();
} catch {
  // a bad NN_WASM_THREADS: setupBackend raises the error with the valid values
}

/** The backends this library knows how to choose between. */
export const BACKENDS = ["webgpu", "wasm", "cpu"] as const;

/** One of {@linkcode BACKENDS}. */
export type BackendName = typeof BACKENDS[number];

/** What the WebGPU adapter says about itself, or `null` when there is none. */
export interface AdapterReport {
  /** Human-readable adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Vendor id or name as reported. */
  vendor: string;
  /** Architecture as reported (often empty). */
  architecture: string;
  /** True for software adapters such as llvmpipe or SwiftShader. */
  fallback: boolean;
}

/** Where the backend choice came from. */
export type BackendSource = "argument" | "NN_BACKEND" | "auto";

/** The outcome of {@linkcode setupBackend}: what runs and why. */
export interface BackendReport {
  /** The backend tfjs now uses. */
  backend: BackendName;
  /** Who chose it. */
  source: BackendSource;
  /** One sentence explaining the choice. */
  reason: string;
  /** The WebGPU adapter seen, if any. */
  adapter: AdapterReport | null;
  /** Whether the WebGPU adapter is a software fallback (`null` without an adapter). */
  fallback: boolean | null;
  /** Library and runtime versions. */
  versions: { tfjs: string; deno: string; v8: string; typescript: string };
  /** On wasm: which binary runs (threaded or not), with how many threads and why. */
  wasm?: WasmThreadsReport;
  /**
   * On cpu and wasm: the GEMM the library's fused layers and matmul kernels run
   * (`"openblas"`, `"accelerate"`, `"simd-wasm (relaxed fma)"`, …; see `kernels/gemm.ts`).
   */
  gemm?: string;
}

/** Options for {@linkcode setupBackend}. */
export interface SetupBackendOptions {
  /** A backend to use, or "auto". Defaults to `NN_BACKEND`, then "auto". */
  backend?: BackendName | "auto" | string;
  /**
   * Let the automatic choice take a software WebGPU adapter. Default false: software
   * WebGPU is useful for testing the WebGPU path but slower than wasm for training.
   */
  allowFallbackAdapter?: boolean;
  /**
   * Threads for the wasm backend: "auto", "off" or a count. Defaults to
   * `NN_WASM_THREADS`, then "off". Takes effect only before wasm is first initialised.
   */
  wasmThreads?: number | "auto" | "off";
}

/** Raised for a backend name this library does not know. */
export class UnknownBackendError extends Error {
  constructor(name: string, where: string) {
    super(
      `Unknown backend "${name}" (from ${where}): use one of ${BACKENDS.join(", ")} or "auto".`,
    );
    this.name = "UnknownBackendError";
  }
}

/**
 * Parses a backend name; throws {@linkcode UnknownBackendError} listing the valid ones.
 *
 * @example
 * ```ts
 * import { parseBackendName } from "nn";
 * parseBackendName("WASM"); // "wasm"
 * ```
 */
export function parseBackendName(name: string, where = "argument"): BackendName | "auto" {
  const lower = name.trim().toLowerCase();
  if (lower === "auto" || lower === "") return "auto";
  if ((BACKENDS as readonly string[]).includes(lower)) return lower as BackendName;
  throw new UnknownBackendError(name, where);
}

/**
 * The pure decision rule, separated from I/O so it can be tested.
 *
 * @example
 * ```ts
 * import { chooseBackend } from "nn";
 * const soft = { description: "llvmpipe", vendor: "", architecture: "", fallback: true };
 * chooseBackend({ requested: "auto", adapter: soft }).backend; // "wasm"
 * ```
 */
export function chooseBackend(input: {
  requested: BackendName | "auto";
  adapter: AdapterReport | null;
  allowFallbackAdapter?: boolean;
  wasmAvailable?: boolean;
}): { backend: BackendName; reason: string } {
  const { requested, adapter } = input;
  const wasmAvailable = input.wasmAvailable ?? true;
  if (requested !== "auto") {
    if (requested === "webgpu" && adapter?.fallback) {
      return {
        backend: "webgpu",
        reason: `webgpu was asked for; the adapter "${adapter.description}" is a software ` +
          "fallback, so expect slow training",
      };
    }
    return { backend: requested, reason: `${requested} was asked for` };
  }
  if (adapter && (!adapter.fallback || input.allowFallbackAdapter)) {
    return {
      backend: "webgpu",
      reason: `a WebGPU adapter is present ("${adapter.description}")`,
    };
  }
  const why = adapter
    ? `the WebGPU adapter "${adapter.description}" is a software fallback`
    : "no WebGPU adapter is available";
  if (wasmAvailable) return { backend: "wasm", reason: `${why}; wasm is the fastest CPU backend` };
  return { backend: "cpu", reason: `${why} and wasm did not initialise` };
}

let adapterProbe: Promise<AdapterReport | null> | undefined;

/**
 * Asks WebGPU for an adapter (once per process) and describes it; `null` when WebGPU
 * is unavailable.
 *
 * @example
 * ```ts
 * import { probeWebGpu } from "nn";
 * const adapter = await probeWebGpu();
 * console.log(adapter?.description ?? "no WebGPU");
 * ```
 */
export function probeWebGpu(): Promise<AdapterReport | null> {
  adapterProbe ??= (async () => {
    const gpu = (navigator as unknown as {
      gpu?: { requestAdapter(o?: unknown): Promise<unknown> };
    }).gpu;
    if (!gpu) return null;
    try {
      const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" }) as
        | null
        | {
          info?: Record<string, unknown>;
          isFallbackAdapter?: boolean;
        };
      if (!adapter) return null;
      const info = adapter.info ?? {};
      return {
        description: String(info.description ?? info.device ?? "unknown adapter"),
        vendor: String(info.vendor ?? ""),
        architecture: String(info.architecture ?? ""),
        fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false),
      };
    } catch {
      return null;
    }
  })();
  return adapterProbe;
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/** Hooks run after a backend is set (the library registers its faster kernels here). */
const afterSetHooks: Array<(backend: BackendName) => void | Promise<void>> = [];

/**
 * Registers a function to run each time {@linkcode setupBackend} selects a backend.
 * @internal used by the library's kernel registrations
 */
export function onBackendSet(hook: (backend: BackendName) => void | Promise<void>): void {
  afterSetHooks.push(hook);
}

let lastReport: BackendReport | null = null;

/**
 * Chooses, initialises and reports the backend. Call once at the top of a notebook.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * const report = await setupBackend(); // auto, or NN_BACKEND
 * console.log(report.reason);
 * ```
 */
export async function setupBackend(options: SetupBackendOptions = {}): Promise<BackendReport> {
  tf.enableProdMode();
  let source: BackendSource = "auto";
  let requested: BackendName | "auto" = "auto";
  if (options.backend !== undefined && options.backend !== "auto") {
    requested = parseBackendName(options.backend, "the backend option");
    source = requested === "auto" ? "auto" : "argument";
  } else {
    const env = readEnv("NN_BACKEND");
    if (env !== undefined && env.trim() !== "") {
      requested = parseBackendName(env, "the NN_BACKEND environment variable");
      source = requested === "auto" ? "auto" : "NN_BACKEND";
    }
  }
  const adapter = await probeWebGpu();
  let choice = chooseBackend({
    requested,
    adapter,
    allowFallbackAdapter: options.allowFallbackAdapter,
  });
  if (choice.backend === "webgpu" && !adapter) {
    throw new Error(
      "The webgpu backend was asked for but no WebGPU adapter is available: install a " +
        'Vulkan driver (Debian: mesa-vulkan-drivers) or choose "wasm" or "cpu".',
    );
  }
  if (choice.backend === "wasm" || requested === "auto") {
    installThreadedWasm(options.wasmThreads === undefined ? {} : { threads: options.wasmThreads });
  }
  let ok = await tf.setBackend(choice.backend);
  if (!ok && choice.backend === "wasm" && requested === "auto") {
    choice = chooseBackend({ requested, adapter, wasmAvailable: false });
    ok = await tf.setBackend(choice.backend);
  }
  if (!ok) {
    throw new Error(
      `tfjs could not initialise the ${choice.backend} backend; try NN_BACKEND=cpu.`,
    );
  }
  await tf.ready();
  for (const hook of afterSetHooks) await hook(choice.backend);
  lastReport = {
    backend: choice.backend,
    source,
    reason: choice.reason,
    adapter,
    fallback: adapter ? adapter.fallback : null,
    versions: {
      tfjs: tf.version.tfjs,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    },
  };
  if (choice.backend === "wasm") lastReport.wasm = wasmThreadsReport();
  if (choice.backend !== "webgpu") lastReport.gemm = blasInfo().gemm;
  return lastReport;
}

/**
 * The report of the last {@linkcode setupBackend} call, or `null` before the first.
 */
export function currentBackendReport(): BackendReport | null {
  return lastReport;
}

/** The mime type carrying a {@linkcode BackendReport} in notebook outputs. */
export const BACKEND_MIME = "application/vnd.neural-notebooks.backend+json";

/** Options of {@linkcode backendBundle}. */
export interface BackendBundleOptions {
  /**
   * Prepend plotly.js's loader to the HTML (what {@linkcode showBackend} shows); the
   * session's charts then leave it out. Default false.
   */
  includePlotly?: boolean;
}

/**
 * The mimebundle of a backend report: a one-line text, a small HTML table and the JSON the
 * runner and the site read.
 *
 * @example
 * ```ts
 * import { backendBundle, setupBackend } from "nn";
 * const bundle = backendBundle(await setupBackend({ backend: "cpu" }));
 * console.log(bundle["text/plain"]);
 * ```
 */
export function backendBundle(
  report: BackendReport,
  options: BackendBundleOptions = {},
): MimeBundle {
  const adapter = report.adapter
    ? `${report.adapter.description}${report.adapter.fallback ? " (software fallback)" : ""}`
    : "none";
  const w = report.wasm;
  const wasm = w ? `${w.build}, ${w.threads} thread(s) (${w.reason})` : null;
  const text = `backend ${report.backend} (${report.source}: ${report.reason}); ` +
    (wasm ? `wasm: ${wasm}; ` : "") + (report.gemm ? `GEMM: ${report.gemm}; ` : "") +
    `WebGPU adapter: ${adapter}; tfjs ${report.versions.tfjs}, Deno ${report.versions.deno}`;
  const rows: Array<[string, string]> = [
    ["backend", report.backend],
    ["chosen by", `${report.source}: ${report.reason}`],
    ["WebGPU adapter", adapter],
    ...(wasm ? [["wasm build", wasm] as [string, string]] : []),
    ...(report.gemm ? [["GEMM", report.gemm] as [string, string]] : []),
    ["tfjs", report.versions.tfjs],
    ["Deno", `${report.versions.deno} (V8 ${report.versions.v8})`],
  ];
  const html = `<table class="nn-backend">${
    rows.map(([k, v]) => `<tr><th style="text-align:left">${k}</th><td>${escapeHtml(v)}</td></tr>`)
      .join("")
  }</table>`;
  const loader = options.includePlotly ? plotlyLoaderHtml() + "\n" : "";
  return { [BACKEND_MIME]: report, "text/html": loader + html, "text/plain": text };
}

/**
 * Displays a backend report at once (see {@linkcode backendBundle}); returns nothing.
 *
 * Its HTML also carries plotly.js (inlined, gzip; see {@linkcode plotlyLoaderHtml}) every
 * time it is shown, and the charts of the session leave it out. A notebook shows the
 * report in its setup cell, so every Run All leaves exactly one copy in the saved
 * notebook, in that cell. Carried by the first chart instead, it was lost from the
 * saved file whenever that chart's cell was re-run (or Run All repeated) without a
 * kernel restart, and the reopened notebook's HTML charts stayed blank (measured in
 * JupyterLab 4.6; any front end that draws the HTML fallback depends on that copy).
 *
 * @example
 * ```ts
 * import { setupBackend, showBackend } from "nn";
 * showBackend(await setupBackend({ backend: "cpu" }));
 * ```
 */
export function showBackend(report: BackendReport): void {
  publish(backendBundle(report, { includePlotly: true }));
}
