/**
 * The library in the reader's browser: what the site's live panels import (bundled with the
 * panels' code into `live/nn-live.js` by `deno task build`). It registers the library's
 * layers (`FusedLSTM`, `MultiHeadSelfAttention`, `CrossAttention`, `ConvMaxOverTime`,
 * `LayerNorm`, the position layers, `SeededDropout`), re-exports the generation code with
 * its key/value cache and the panels' computations, and starts a tfjs backend: webgpu when
 * the browser has an adapter, else webgl, else wasm, else cpu (or the one asked for).
 *
 * The same layer code runs as in Deno, without Deno's APIs: on webgpu the layers' WGSL
 * programs (now through the browser's WebGPU, Dawn in Chromium), on webgl plain tfjs ops, on
 * wasm and cpu plain tfjs ops too (the native-BLAS and multi-threaded GEMMs are Deno's, so
 * the browser uses the TypeScript GEMM setting, which sends the fused layers to their
 * ops path; layer norm runs the same SIMD WebAssembly kernel). The wasm backend's binary
 * arrives as a script (`live/wasm/<file>.js`, base64) instead of a `fetch`, so a page opened
 * from `file://` works.
 *
 * @example
 * ```ts ignore
 * import { startBackend } from "nn/live/browser.ts";
 * const info = await startBackend({ loadScript: (file) => addScript(`live/${file}`) });
 * console.log(info.backend); // "webgpu", "webgl", "wasm" or "cpu"
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "../layers/mod.ts";
import "../models/dense.ts";
import { selectGemm, setGemmThreads } from "../kernels/gemm.ts";
import { decodeBase64Bytes } from "./format.ts";

export { tf };
export { seq2seqParts } from "../models/generation.ts";
export { loadScriptNetworks, MODEL_MIME } from "./format.ts";
export type { LiveMeta, LiveModelScript } from "./format.ts";
export { classifyDigit, digitPixels, predictSentiment, sampleChars, translate } from "./demos.ts";

/** The backends a page can run on, in the order they are tried. */
export const BROWSER_BACKENDS = ["webgpu", "webgl", "wasm", "cpu"] as const;

/** A backend name of {@linkcode BROWSER_BACKENDS}. */
export type BrowserBackendName = typeof BROWSER_BACKENDS[number];

/** What {@linkcode startBackend} chose, and why. */
export interface BrowserBackend {
  /** The backend running. */
  backend: BrowserBackendName;
  /** The WebGPU adapter (vendor, architecture, description), on webgpu. */
  adapter?: string;
  /** Whether that adapter is a software fallback (e.g. SwiftShader). */
  fallback?: boolean;
  /** The wasm binary, on wasm. */
  wasmBinary?: string;
  /** Why this one: asked for, or the first that started. */
  reason: string;
  /** Backends tried before it, with why each did not start. */
  skipped: string[];
}

/** Options of {@linkcode startBackend}. */
export interface StartBackendOptions {
  /** A backend to use (e.g. from the page's `?backend=`); `auto` or absent: the first that starts. */
  asked?: string | null;
  /** Loads a script of the site's `live/` folder (for the wasm binaries), resolving once it ran. */
  loadScript(file: string): Promise<void>;
}

let embedded = false;

/** Makes tfjs's wasm backend take its binary from the scripts in `live/wasm/`. */
async function prepareWasm(loadScript: (file: string) => Promise<void>): Promise<string> {
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false); // needs cross-origin isolation
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const file = simd ? "tfjs-backend-wasm-simd.wasm" : "tfjs-backend-wasm.wasm";
  const store = globalThis as unknown as { nnWasmBinaries?: Record<string, string> };
  if (!store.nnWasmBinaries?.[file]) await loadScript(`wasm/${file}.js`);
  if (!store.nnWasmBinaries?.[file]) {
    throw new Error(`live/wasm/${file}.js did not provide the wasm binary`);
  }
  if (!embedded) {
    const platform = tf.env().platform as unknown as {
      fetch(path: string, init?: unknown): Promise<Response>;
    };
    const original = platform.fetch.bind(platform);
    platform.fetch = (path: string, init?: unknown) => {
      const name = String(path).split("/").pop()!;
      const base64 = store.nnWasmBinaries?.[name];
      if (!String(path).startsWith("nn-embedded/") || !base64) return original(path, init);
      const bytes = decodeBase64Bytes(base64) as Uint8Array<ArrayBuffer>;
      return Promise.resolve(
        new Response(bytes, { headers: { "Content-Type": "application/wasm" } }),
      );
    };
    setWasmPaths("nn-embedded/", true);
    embedded = true;
  }
  return file;
}

async function webgpuAdapter(): Promise<{ adapter: string; fallback: boolean } | string> {
  const gpu = (globalThis.navigator as unknown as { gpu?: GPU }).gpu;
  if (!gpu) return "this browser has no WebGPU (navigator.gpu)";
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return "no WebGPU adapter";
  const info = (adapter as unknown as { info?: Record<string, unknown> }).info ?? {};
  const description = [info.vendor, info.architecture, info.description]
    .filter((v) => typeof v === "string" && v !== "").join(" ");
  const fallback = Boolean(
    (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      info.isFallbackAdapter,
  );
  return { adapter: description || "unnamed adapter", fallback };
}

/**
 * Starts a tfjs backend for the live panels (see the module doc) and says which and why.
 * A backend asked for that cannot start gives way to the usual order, and `reason` says so.
 */
export async function startBackend(options: StartBackendOptions): Promise<BrowserBackend> {
  selectGemm("ts");
  setGemmThreads("off");
  const asked = options.asked && options.asked !== "auto" ? options.asked : null;
  const skipped: string[] = [];
  if (asked && !(BROWSER_BACKENDS as readonly string[]).includes(asked)) {
    skipped.push(`${asked}: not a backend here (${BROWSER_BACKENDS.join(", ")})`);
  }
  const order = asked && (BROWSER_BACKENDS as readonly string[]).includes(asked)
    ? [asked as BrowserBackendName, ...BROWSER_BACKENDS.filter((b) => b !== asked)]
    : [...BROWSER_BACKENDS];
  for (const backend of order) {
    const facts: Partial<BrowserBackend> = {};
    try {
      if (backend === "webgpu") {
        const found = await webgpuAdapter();
        if (typeof found === "string") {
          skipped.push(`webgpu: ${found}`);
          continue;
        }
        Object.assign(facts, found);
      }
      if (backend === "wasm") facts.wasmBinary = await prepareWasm(options.loadScript);
      // shapes as uniforms: one shader per op instead of one per op and shape (generation
      // grows its key/value cache by a position every step)
      if (backend === "webgl") tf.env().set("WEBGL_USE_SHAPES_UNIFORMS", true);
      if (!(await tf.setBackend(backend))) {
        skipped.push(`${backend}: did not start`);
        continue;
      }
      await tf.ready();
    } catch (error) {
      skipped.push(`${backend}: ${(error as Error)?.message ?? error}`);
      continue;
    }
    const reason = asked === backend
      ? "asked for (?backend=)"
      : asked
      ? `asked for ${asked}, which did not start; the first that did`
      : "the first of webgpu, webgl, wasm, cpu that started";
    return { backend, ...facts, reason, skipped };
  }
  throw new Error(`no tfjs backend started: ${skipped.join("; ")}`);
}
