/**
 * Live panels on the site: the models a notebook published (`nn.publishModel`) run in the
 * reader's browser under the cell that published them.
 *
 * For each trusted notebook, the build looks up every published-model output
 * (`application/vnd.neural-notebooks.model+json`) in the folder the runner gave the kernel,
 * `<out>/<notebook>.models/<name>/`, and writes it as one script,
 * `live/models/<page>.<name>.js`, holding the demo's facts, each network's topology and its
 * weights gzip-compressed and base64-encoded: a page opened from `file://` cannot `fetch`,
 * but it can run a script beside it. The library's browser side (`lib/live/browser.ts`, the
 * layers, the generation code with its key/value cache, the demos) and the panels' code
 * (`live/panels.js`) are bundled with esbuild into `live/nn-live.js`; the wasm backend's
 * binaries travel as scripts in `live/wasm/`. Pages with panels load `live/nn-live.js` and
 * carry {@linkcode LIVE_CSP}: no inline script, no network.
 *
 * @example
 * ```ts ignore
 * import { buildLiveBundle } from "./live.ts";
 * const js = await buildLiveBundle();
 * console.log(js.length > 1e6); // true: tfjs with its webgpu, webgl, wasm and cpu backends
 * ```
 * @module
 */

import { createRequire } from "node:module";
import { basename, dirname, extname, join } from "node:path";
import type { LiveMeta, LiveModelScript, ScriptNetwork } from "../../lib/live/format.ts";
import { encodeBase64Bytes, gzip } from "../../lib/live/format.ts";
import type { Notebook } from "../notebook.ts";
import { outputsOf } from "./summary.ts";

/** The mime type of a published-model output (as `nn.MODEL_MIME`). */
export const MODEL_MIME = "application/vnd.neural-notebooks.model+json";

/**
 * The Content-Security-Policy of pages with live panels: scripts only from the site's own
 * files (`'wasm-unsafe-eval'` lets them compile WebAssembly: tfjs's wasm backend and the
 * library's SIMD kernels), no connection anywhere, images only from the page and `data:`.
 */
export const LIVE_CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; " +
  "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; " +
  "connect-src 'none'; worker-src 'none'; base-uri 'none'; form-action 'none'; frame-src 'none'";

/**
 * Where the models published while executing a notebook go: `<out>/<notebook>.models/`,
 * next to its executed copy `<out>/<notebook>.ipynb` (the runner sets `NN_PUBLISH_DIR` to it).
 *
 * @example
 * ```ts
 * import { modelsDirFor } from "./live.ts";
 * console.log(modelsDirFor("out/05_cnn_text_models.ipynb")); // out/05_cnn_text_models.models
 * ```
 */
export function modelsDirFor(executedPath: string): string {
  return join(dirname(executedPath), `${basename(executedPath, extname(executedPath))}.models`);
}

/** One published model as the page shows it. */
export interface LivePanel {
  /** The model's name (its folder under `<notebook>.models/`). */
  name: string;
  /** `globalThis.nnLiveModels` key: `<page stem>/<name>`. */
  key: string;
  /** The script's path relative to the site, e.g. `live/models/05.sentiment-cnn.js`. */
  src: string;
  /** The script's size in bytes. */
  bytes: number;
  /** The model's facts (from its `live.json`). */
  meta?: LiveMeta;
  /** Why it cannot be shown (files missing or unreadable). */
  error?: string;
}

/** The published models' names in a notebook's outputs, in order. */
export function publishedModels(notebook: Notebook): string[] {
  const names: string[] = [];
  for (const cell of notebook.cells) {
    for (const output of outputsOf(cell)) {
      const data = (output as { data?: Record<string, unknown> }).data;
      const record = data?.[MODEL_MIME] as { name?: unknown } | undefined;
      if (record && typeof record.name === "string" && !names.includes(record.name)) {
        names.push(record.name);
      }
    }
  }
  return names;
}

/** The model script of one published model folder (see the module doc). */
export async function modelScript(key: string, folder: string): Promise<string> {
  const meta = JSON.parse(await Deno.readTextFile(join(folder, "live.json"))) as LiveMeta;
  if (meta.format !== 1 || !Array.isArray(meta.networks)) {
    throw new Error(`${join(folder, "live.json")} is not a published model's description`);
  }
  const networks: ScriptNetwork[] = [];
  for (const n of meta.networks) {
    const model = JSON.parse(await Deno.readTextFile(join(folder, n.path, "model.json")));
    const weights = await Deno.readFile(join(folder, n.path, "weights.bin"));
    const specs = model.weightsManifest?.[0]?.weights;
    if (!model.modelTopology || !Array.isArray(specs)) {
      throw new Error(`${join(folder, n.path, "model.json")} is not a tfjs layers model`);
    }
    const expected = specs.reduce(
      (s: number, w: { shape: number[] }) => s + 4 * w.shape.reduce((a, b) => a * b, 1),
      0,
    );
    if (expected !== weights.length) {
      throw new Error(
        `${join(folder, n.path, "weights.bin")} holds ${weights.length} bytes, its model.json ` +
          `${expected}: the export is incomplete; run the notebook again`,
      );
    }
    networks.push({
      modelTopology: model.modelTopology,
      weightSpecs: specs,
      weightsGzipBase64: encodeBase64Bytes(await gzip(weights)),
    });
  }
  const script: LiveModelScript = { meta, networks };
  return `// ${meta.title}: a model published by its notebook (nn.publishModel), for the live panel.\n` +
    `(globalThis.nnLiveModels ??= {})[${JSON.stringify(key)}] = ${JSON.stringify(script)};\n`;
}

/**
 * The live panels of one page and the files they need (`live/models/…` scripts), from the
 * notebook's published-model outputs and the folder the runner gave its kernel.
 */
export async function livePanels(
  notebook: Notebook,
  page: string,
  modelsDir: string,
): Promise<{ panels: Map<string, LivePanel>; files: Map<string, string> }> {
  const stem = page.replace(/\.html$/, "");
  const panels = new Map<string, LivePanel>();
  const files = new Map<string, string>();
  for (const name of publishedModels(notebook)) {
    const key = `${stem}/${name}`;
    const src = `live/models/${stem}.${name}.js`;
    try {
      const text = await modelScript(key, join(modelsDir, name));
      files.set(src, text);
      const meta = JSON.parse(await Deno.readTextFile(join(modelsDir, name, "live.json")));
      panels.set(name, { name, key, src, bytes: new TextEncoder().encode(text).length, meta });
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? `its files are not in ${join(modelsDir, name)} (run the notebook again: ` +
          "deno task build --force)"
        : (error as Error).message;
      panels.set(name, { name, key, src, bytes: 0, error: reason });
    }
  }
  return { panels, files };
}

function packageDir(name: string): string {
  return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
}

/** The wasm backend's binaries as scripts: `live/wasm/<file>.js` → its text. */
export async function wasmBinaryScripts(): Promise<Map<string, string>> {
  const dir = join(packageDir("@tensorflow/tfjs-backend-wasm"), "wasm-out");
  const out = new Map<string, string>();
  for (const file of ["tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm.wasm"]) {
    const bytes = await Deno.readFile(join(dir, file));
    out.set(
      `live/wasm/${file}.js`,
      `// ${file} of @tensorflow/tfjs-backend-wasm (Apache-2.0), for file:// pages\n` +
        `(globalThis.nnWasmBinaries ??= {})[${JSON.stringify(file)}] = "${
          encodeBase64Bytes(bytes)
        }";\n`,
    );
  }
  return out;
}

const ENTRY = new URL("./live/panels.js", import.meta.url);

/**
 * Bundles the panels' code with the library's browser side (see the module doc) into one
 * minified script. esbuild (pinned in deno.json) resolves the npm packages from
 * `node_modules/`; `node:worker_threads`, which only the library's Deno-side GEMM threads
 * use, becomes a stub that throws.
 */
export async function buildLiveBundle(): Promise<string> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild"); // loaded only when a page has panels
  } catch (error) {
    throw new Error(
      `esbuild, which bundles the live panels, cannot be loaded (${(error as Error).message}): ` +
        "run `deno install` in the project folder.",
    );
  }
  try {
    const result = await esbuild.build({
      entryPoints: [ENTRY.pathname],
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2022",
      minify: true,
      write: false,
      legalComments: "none",
      logLevel: "silent",
      banner: {
        js: "// Neural Notebooks live panels: the library's layers and tfjs 4.22 " +
          "(Apache-2.0), bundled by esbuild.",
      },
      plugins: [{
        name: "node-builtins",
        setup(build) {
          build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "stub" }));
          build.onLoad({ filter: /.*/, namespace: "stub" }, (args) => ({
            contents: `export class Worker { constructor() { throw new Error(` +
              `${JSON.stringify(`${args.path} does not exist in a browser`)}); } }`,
            loader: "js",
          }));
        },
      }],
    });
    return result.outputFiles[0].text;
  } catch (error) {
    throw new Error(`bundling the live panels failed: ${(error as Error).message}`);
  } finally {
    await esbuild.stop();
  }
}
