/**
 * Training-speed benchmark of the four reference models (shared/bench/REFERENCE.md),
 * built with the library's own builders, on each tfjs backend.
 *
 * ```
 * deno task bench                                   # all models, wasm + cpu + webgpu
 * deno task bench --models mlp,lstm --backends wasm --reps 5
 * deno task bench --compare-torch                   # also runs torch_reference.py
 * deno task bench --backends wasm --blas both        # native BLAS and own SIMD GEMM rows
 * deno task bench --backends wasm --blas off --gemm-threads off,2   # own GEMM, 1 and 2 threads
 * deno task bench --backends webgpu --models lstm,transformer --no-matmul
 * deno task bench --backends wasm --profile        # per-op profiles beside PyTorch's
 *
 * Adam (lr 1e-3) is the library's one-pass `adam` unless `--optimizer tfjs`; the loss is the
 * library's one-pass `softmaxCrossEntropy` unless `--loss tfjs` (`tf.losses.softmaxCrossEntropy`).
 * With `--compare-torch`, ../shared/bench/torch_reference.py runs model by model just
 * before the tfjs runs of that model (Debian's /usr/bin/python3 with python3-torch,
 * `OPENBLAS_NUM_THREADS=1`, `--threads 2` unless `--torch-threads`).
 * ```
 *
 * `--blas on` (default) runs cpu and wasm with the GEMM `NN_BLAS` picks (a native BLAS
 * where found), `off` with the library's own SIMD GEMM, `both` with each, row by row
 * (same model, same load), `ts` with the TypeScript loops; the backend cell says which
 * GEMM ran, e.g. `wasm (simd-wasm (relaxed fma))`. Where the own SIMD GEMM runs, the
 * matmul rows show it on one thread and on the threads `NN_GEMM_THREADS` gives it
 * (`simd-wasm (relaxed fma, 2 threads)`); `--gemm-threads off,2` (a list of `off`, `auto`
 * or counts, as `NN_GEMM_THREADS` takes) runs the matmul and every model row once per
 * setting instead. The `load_avg` of each row says how busy the machine was, `cpu` and
 * `cpu_extensions` which CPU ran it (model name and vector extensions: AVX2, AVX-512, AMX,
 * NEON), since the ratios to PyTorch differ from one CPU to the next.
 *
 * `--profile` adds, for every cpu/wasm row, a per-op profile of one training step
 * (`step_profile.ts`: self time of each kernel, fused backward passes and the optimizer as
 * rows of their own) beside PyTorch's (`torch_profile.py`, `torch.profiler`'s self CPU
 * time), summed by category (matmul, attention, layer norm, element-wise, copies, …) so
 * that the gap shows op by op; the JSON goes to `out/bench_profile.json`.
 *
 * Reports training samples/s (median of `--reps` timed epochs after a warm-up of two
 * batches; `--warmup-reps N` first runs N more epochs, untimed, on both sides: V8 compiles
 * the step's JavaScript over its first ~100 batches, which the MLP's 40-batch epochs
 * otherwise fall within) as a
 * table and as JSON in `out/bench.json`: a list of rows `{model, backend,
 * samples_per_s, ms_per_batch, …, torch_samples_per_s?, ratio?}`. Matmul GFLOP/s at
 * 1024² per backend, the machine's FP32 peak and the BLAS in use go to
 * `out/bench_machine.json`. On webgpu each model runs twice, interleaved, with the
 * library's fused WebGPU programs and with plain tfjs ops (`setWebGPUFusion(false)`),
 * one `trainOnBatch` per batch, and reports the
 * GPU programs one training step dispatches (`webgpu_path`, `programs_per_step`,
 * `speedup_vs_ops`, `fewer_programs`, `load_avg`). No figure here is a
 * test: timing depends on the machine and its load.
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { setupBackend } from "../../lib/backend.ts";
import { disposeModel, train } from "../../lib/train.ts";
import {
  adam,
  blasInfo,
  parseGemmThreads,
  selectGemm,
  setGemmThreads,
  softmaxCrossEntropy,
  startGemmThreads,
} from "../../lib/kernels/mod.ts";
import type { GemmChoice, GemmThreads } from "../../lib/kernels/mod.ts";
import { rnnClassifier } from "../../lib/models/recurrent.ts";
import { transformerClassifier } from "../../lib/models/transformer.ts";
import { cnnTextClassifier } from "../../lib/models/cnn_text.ts";
import { mlp } from "../../lib/models/dense.ts";
import { setWebGPUFusion, startCounting, webgpuFusion } from "../../lib/kernels/webgpu/program.ts";
import { formatSideBySide, profileTrainStep, type StepProfile } from "./step_profile.ts";

/** Ids of the reference models. */
export const MODELS = ["mlp", "lstm", "transformer", "cnn"] as const;
/** One of {@linkcode MODELS}. */
export type ModelId = typeof MODELS[number];
const VOCAB = 5000;

/** How to build and feed one reference model. */
export interface Spec {
  batch: number;
  build: (seed: number) => tf.LayersModel;
  data: (n: number) => { x: tf.Tensor; y: tf.Tensor };
}

function tokens(n: number, t: number, classes: number) {
  return {
    x: tf.randomUniform([n, t], 0, VOCAB, "int32", 1),
    y: tf.oneHot(tf.randomUniform([n], 0, classes, "int32", 2), classes),
  };
}

/** The reference models (REFERENCE.md) built with the library's builders. */
export const SPECS: Record<ModelId, Spec> = {
  mlp: {
    batch: 128,
    build: (seed) =>
      mlp({ inputs: 784, hidden: [256, 256], outputs: 10, outputActivation: "linear", seed }),
    data: (n) => ({
      x: tf.randomNormal([n, 784], 0, 1, "float32", 1),
      y: tf.oneHot(tf.randomUniform([n], 0, 10, "int32", 2), 10),
    }),
  },
  lstm: {
    batch: 64,
    build: (seed) =>
      rnnClassifier({
        vocabSize: VOCAB,
        sequenceLength: 100,
        embeddingDim: 64,
        units: 64,
        cell: "lstm",
        outputs: 2,
        seed,
      }),
    data: (n) => tokens(n, 100, 2),
  },
  transformer: {
    batch: 32,
    build: (seed) =>
      transformerClassifier({
        vocabSize: VOCAB,
        sequenceLength: 64,
        dModel: 64,
        numHeads: 4,
        ffDim: 128,
        numLayers: 2,
        outputs: 2,
        seed,
      }),
    data: (n) => tokens(n, 64, 2),
  },
  cnn: {
    batch: 64,
    build: (seed) =>
      cnnTextClassifier({
        vocabSize: VOCAB,
        sequenceLength: 100,
        embeddingDim: 64,
        filters: 100,
        kernelSizes: [3, 4, 5],
        outputs: 2,
        seed,
      }),
    data: (n) => tokens(n, 100, 2),
  },
};

/** One row of the result table. */
export interface BenchRow {
  model: ModelId;
  backend: string;
  samples_per_s: number | null;
  ms_per_batch: number | null;
  ms_per_batch_all: number[];
  batch: number;
  batches_per_rep: number;
  error?: string;
  torch_samples_per_s?: number;
  ratio?: number;
  /** webgpu rows: the library's fused WebGPU programs, or plain tfjs ops (fusion off). */
  webgpu_path?: "fused" | "ops";
  /** webgpu rows: GPU programs dispatched by one training step (after warm-up). */
  programs_per_step?: number;
  /** webgpu fused rows: samples/s against the ops row of the same run. */
  speedup_vs_ops?: number;
  /** webgpu fused rows: how many times fewer programs per step than the ops row. */
  fewer_programs?: number;
  /** 1-minute load average when the row finished (the machine may be shared). */
  load_avg?: number;
  /** The GEMM the cpu/wasm kernels ran (`blasInfo().gemm`), e.g. "openblas". */
  gemm?: string;
  /** The CPU's model name (`/proc/cpuinfo`), e.g. "AMD EPYC" or "Intel(R) Xeon(R) …". */
  cpu?: string;
  /** Its vector extensions: "avx2", "fma", "avx512f", "amx (tile, bf16, int8)", "neon", … */
  cpu_extensions?: string[];
}

/**
 * `--blas`: the GEMMs to bench cpu and wasm with, row by row in one run: `on` (a native
 * BLAS where found, the default), `off` (the own SIMD GEMM), `both`, or `ts`.
 */
export function gemmChoices(flag: string): GemmChoice[] {
  const choices: Record<string, GemmChoice[]> = {
    on: ["auto"],
    off: ["simd"],
    both: ["auto", "simd"],
    ts: ["ts"],
  };
  const c = choices[flag];
  if (!c) throw new Error(`--blas must be on, off, both or ts (got "${flag}").`);
  return c;
}

/**
 * The own GEMM's thread settings for the rows of one GEMM choice: the `--gemm-threads`
 * list where given (`null`: as `NN_GEMM_THREADS` says). Without it, matmul rows compare
 * one thread with the configured threads, model rows run as configured.
 */
function threadSettings(list: GemmThreads[] | null, matmul: boolean): (GemmThreads | null)[] {
  const own = !blasInfo().available && blasInfo().gemm.startsWith("simd-wasm");
  if (!own) return [null];
  if (list) return list;
  const threads = blasInfo().threads ?? 1;
  return matmul && threads > 1 ? ["off", threads] : [null];
}

/** Sets the own GEMM's threads for the next rows, with the helper threads started. */
function useThreads(setting: GemmThreads | null): void {
  setGemmThreads(setting);
  startGemmThreads();
}

/** The GEMM choices for a backend's rows (webgpu runs no GEMM of ours: one row). */
function choicesFor(backend: string, choices: GemmChoice[]): GemmChoice[] {
  return backend === "cpu" || backend === "wasm" ? choices : ["auto"];
}

/** The backend cell of the table: `wasm (openblas)` where the GEMM is known. */
function backendLabel(r: BenchRow): string {
  return r.gemm ? `${r.backend} (${r.gemm})` : r.backend;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function epochMs(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, batch: number) {
  const t0 = performance.now();
  await train(model, x, y, { epochs: 1, batchSize: batch, seed: 0, progress: "none" });
  return performance.now() - t0;
}

async function benchModel(
  id: ModelId,
  backend: string,
  opts: BenchOptions,
): Promise<BenchRow> {
  const spec = SPECS[id];
  const bs = spec.batch;
  const row: BenchRow = {
    model: id,
    backend,
    samples_per_s: null,
    ms_per_batch: null,
    ms_per_batch_all: [],
    batch: bs,
    batches_per_rep: 0,
  };
  const model = spec.build(0);
  model.compile({ optimizer: optimizerOf(opts.optimizer), loss: lossOf(opts.loss) });
  let data = spec.data(2 * bs);
  try {
    await epochMs(model, data.x, data.y, bs); // warm-up: compiles, allocates
    const perBatch = (await epochMs(model, data.x, data.y, bs)) / 2;
    const nb = Math.max(2, Math.min(opts.maxBatches, Math.ceil(opts.targetMs / perBatch)));
    tf.dispose([data.x, data.y]);
    data = spec.data(nb * bs);
    for (let r = 0; r < opts.warmupReps; r++) await epochMs(model, data.x, data.y, bs);
    for (let r = 0; r < opts.reps; r++) {
      row.ms_per_batch_all.push((await epochMs(model, data.x, data.y, bs)) / nb);
    }
    row.batches_per_rep = nb;
    row.ms_per_batch = median(row.ms_per_batch_all);
    row.samples_per_s = (bs * 1000) / row.ms_per_batch;
  } catch (e) {
    row.error = (e as Error).message.split("\n")[0];
  } finally {
    tf.dispose([data.x, data.y]);
    disposeModel(model);
  }
  return row;
}

async function matmulGflops(
  size: number,
  reps: number,
): Promise<{ median: number; best: number }> {
  const a = tf.randomNormal([size, size], 0, 1, "float32", 1);
  const b = tf.randomNormal([size, size], 0, 1, "float32", 2);
  // cpu and wasm compute synchronously: reading the result back would time a 4 MB copy
  const sync = tf.getBackend() === "cpu" || tf.getBackend() === "wasm";
  const run = async () => {
    const c = tf.matMul(a, b);
    if (!sync) await c.data();
    c.dispose();
  };
  await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  tf.dispose([a, b]);
  const gflops = (ms: number) => (2 * size ** 3) / (ms / 1000) / 1e9;
  return { median: gflops(median(times)), best: gflops(Math.min(...times)) };
}

/**
 * The FP32 ceiling of each GEMM path at the nominal clock: a native BLAS uses the CPU's
 * widest vectors (`lanes`), the own GEMM WebAssembly's 128-bit SIMD (4 lanes).
 */
function ceilings(
  cpu: CpuInfo,
  peak: { gflops: number | null; fmaLanes?: number },
): {
  native_blas: number | null;
  wasm_simd128: number | null;
  wasm_simd128_one_thread: number | null;
} {
  if (peak.gflops === null) {
    return { native_blas: null, wasm_simd128: null, wasm_simd128_one_thread: null };
  }
  const simd = (peak.gflops * 4) / (peak.fmaLanes ?? cpu.lanes);
  return {
    native_blas: peak.gflops,
    wasm_simd128: simd,
    wasm_simd128_one_thread: simd / navigator.hardwareConcurrency,
  };
}

/** What `--reps`, `--target-ms`, `--max-batches`, `--optimizer` and `--loss` set. */
interface BenchOptions {
  reps: number;
  /** Untimed epochs after the warm-up, before the timed ones (PyTorch's too). */
  warmupReps: number;
  targetMs: number;
  maxBatches: number;
  optimizer: string;
  loss: string;
}

/** The optimizer `--optimizer` names: the library's one-pass Adam or tfjs's (lr 1e-3). */
function optimizerOf(name: string): tf.Optimizer {
  return name === "tfjs" ? tf.train.adam(1e-3) : adam(1e-3);
}

/** The loss `--loss` names: the library's one-pass op or tfjs's. */
function lossOf(name: string): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar {
  return name === "tfjs"
    ? (yTrue, yPred) => tf.losses.softmaxCrossEntropy(yTrue, yPred) as tf.Scalar
    : softmaxCrossEntropy;
}

/** One model's per-op training-step profile on the current backend (`step_profile.ts`). */
async function profileModel(
  id: ModelId,
  steps: number,
  optimizer: string,
  loss: string,
): Promise<StepProfile> {
  const spec = SPECS[id];
  const model = spec.build(0);
  model.compile({
    optimizer: optimizerOf(optimizer),
    loss: lossOf(loss),
  });
  const { x, y } = spec.data(spec.batch);
  try {
    return await profileTrainStep(model, x, y, { steps });
  } finally {
    tf.dispose([x, y]);
    disposeModel(model);
  }
}

/**
 * FP32 FMA peak from /proc/cpuinfo: cores × clock × FLOP/cycle (2 FMA units assumed), and
 * the float32 lanes each FMA unit handles a cycle (AMD's Zen 4, family 25 with AVX-512,
 * runs a 512-bit FMA as two 256-bit halves: 8 lanes, as with AVX2).
 */
function cpuPeak(): { gflops: number | null; how: string; fmaLanes?: number } {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1]);
    const flags = /flags\s*:\s*(.*)/.exec(info)?.[1] ?? "";
    const cores = navigator.hardwareConcurrency;
    const lanes = flags.includes("avx512f") ? 16 : flags.includes("avx") ? 8 : 4;
    const zen4 = /AuthenticAMD/.test(info) && /cpu family\s*:\s*25\b/.test(info) && lanes === 16;
    const fmaLanes = zen4 ? 8 : lanes;
    const perCycle = fmaLanes * 2 /* FMA */ * 2 /* units */;
    return {
      gflops: (cores * mhz * perCycle) / 1000,
      how: `${cores} cores × ${(mhz / 1000).toFixed(2)} GHz (nominal) × ${perCycle} FLOP/cycle` +
        (zen4 ? " (Zen 4: AVX-512 on 256-bit FMA units)" : ""),
      fmaLanes,
    };
  } catch {
    return { gflops: null, how: "unknown (no /proc/cpuinfo)" };
  }
}

/** The CPU: its model name and the vector extensions that set each path's ceiling. */
export interface CpuInfo {
  /** Model name, e.g. "AMD EPYC 9R14" or "Apple M2". */
  model: string;
  /** Vector extensions found, e.g. ["sse4.2", "avx", "avx2", "fma", "avx512f", "amx"]. */
  extensions: string[];
  /** The widest float32 SIMD of the CPU in lanes (4: SSE/NEON, 8: AVX2, 16: AVX-512). */
  lanes: number;
  /** Where it was read. */
  source: string;
}

/**
 * The CPU model and its vector extensions (AVX2, AVX-512, AMX, NEON, SVE) from
 * `/proc/cpuinfo` (Linux), `sysctl` (macOS), or the architecture alone elsewhere.
 */
export function cpuInfo(): CpuInfo {
  const text = safeRead("/proc/cpuinfo");
  if (text) return parseCpuInfo(text);
  if (Deno.build.os === "darwin") {
    const sysctl = (key: string) => {
      try {
        const out = new Deno.Command("sysctl", { args: ["-n", key] }).outputSync();
        return new TextDecoder().decode(out.stdout).trim();
      } catch {
        return "";
      }
    };
    const model = sysctl("machdep.cpu.brand_string") || "unknown";
    const flags = `${sysctl("machdep.cpu.features")} ${sysctl("machdep.cpu.leaf7_features")}`
      .toLowerCase().replace(/\./g, "_");
    const arm = Deno.build.arch === "aarch64";
    return {
      ...extensionsOf(arm ? "asimd" : flags),
      model,
      source: "sysctl",
    };
  }
  return {
    model: "unknown",
    ...extensionsOf(Deno.build.arch === "aarch64" ? "asimd" : ""),
    source: "none (no /proc/cpuinfo)",
  };
}

/** {@linkcode cpuInfo} of a `/proc/cpuinfo` text (x86 `flags`, Arm `Features`). */
export function parseCpuInfo(text: string): CpuInfo {
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ??
    /^Hardware\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ??
    /^CPU part\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? "unknown";
  const flags = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(text)?.[1] ?? "";
  return { model, ...extensionsOf(flags), source: "/proc/cpuinfo" };
}

function extensionsOf(flagText: string): { extensions: string[]; lanes: number } {
  const flags = new Set(flagText.toLowerCase().split(/\s+/).filter(Boolean));
  const has = (f: string) => flags.has(f);
  const ext: string[] = [];
  if (has("sse4_2")) ext.push("sse4.2");
  if (has("avx")) ext.push("avx");
  if (has("avx2")) ext.push("avx2");
  if (has("fma")) ext.push("fma");
  if (has("avx512f")) ext.push("avx512f");
  for (const f of ["avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16"]) {
    if (has(f)) ext.push(f);
  }
  const amx = ["amx_tile", "amx_bf16", "amx_int8", "amx_fp16"].filter(has);
  if (amx.length) ext.push(`amx (${amx.map((f) => f.slice(4)).join(", ")})`);
  if (has("asimd") || has("neon")) ext.push("neon");
  if (has("sve")) ext.push("sve");
  if (has("sve2")) ext.push("sve2");
  const lanes = has("avx512f") ? 16 : has("avx") ? 8 : 4;
  return { extensions: ext, lanes };
}

/** `Model name (ext, ext)`: the CPU as one line. */
export function cpuLabel(c: CpuInfo): string {
  return `${c.model} (${c.extensions.filter((e) => !/^sse/.test(e)).join(", ") || "no AVX/NEON"})`;
}

function torchScript(name: string): string {
  return new URL(name, import.meta.url).pathname;
}

/**
 * PyTorch's per-op profile of one training step of `model` (`torch_profile.py`, Debian's
 * python3 with python3-torch, `OPENBLAS_NUM_THREADS=1`), or null (with a message on
 * stderr) where PyTorch cannot run.
 */
export async function torchProfile(
  model: ModelId,
  threads: number,
  steps = 5,
): Promise<StepProfile | null> {
  const cmd = new Deno.Command("/usr/bin/python3", {
    args: [
      torchScript("./torch_profile.py"),
      "--models",
      model,
      "--threads",
      String(threads),
      "--steps",
      String(steps),
    ],
    env: { OPENBLAS_NUM_THREADS: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  try {
    const r = await cmd.output();
    const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.startsWith("{"));
    if (!r.success || !line) {
      console.error(
        `torch profile of ${model} failed (Debian: apt-get install -y python3-torch):\n` +
          new TextDecoder().decode(r.stderr).slice(-600),
      );
      return null;
    }
    return JSON.parse(line) as StepProfile;
  } catch (e) {
    console.error(`torch profile: could not run /usr/bin/python3: ${(e as Error).message}`);
    return null;
  }
}

/**
 * PyTorch's samples/s for `models` from torch_reference.py, run with the same protocol as
 * ours: `--reps`, `--target-ms` and `--max-batches` passed on (the script's own defaults
 * are ours, so without them a changed `--max-batches` would time the two sides on
 * different numbers of batches).
 */
async function runTorch(
  models: string[],
  opts: Pick<BenchOptions, "reps" | "warmupReps" | "targetMs" | "maxBatches">,
  threads: number,
): Promise<Map<string, number>> {
  // NN_TORCH_REFERENCE: the script's path where the checkout is not next to shared/ (a worktree)
  const script = Deno.env.get("NN_TORCH_REFERENCE") ??
    new URL("../../../shared/bench/torch_reference.py", import.meta.url).pathname;
  const python = "/usr/bin/python3";
  const out = new Map<string, number>();
  try {
    await Deno.stat(script);
  } catch {
    console.error(`--compare-torch: ${script} not found; skipping PyTorch.`);
    return out;
  }
  const cmd = new Deno.Command(python, {
    args: [
      script,
      "--threads",
      String(threads),
      "--reps",
      String(opts.reps + opts.warmupReps),
      "--target",
      String(opts.targetMs),
      "--maxbatches",
      String(opts.maxBatches),
      "--models",
      models.join(","),
    ],
    env: { OPENBLAS_NUM_THREADS: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  let result: Deno.CommandOutput;
  try {
    result = await cmd.output();
  } catch (e) {
    console.error(`--compare-torch: could not run ${python}: ${(e as Error).message}`);
    return out;
  }
  const text = new TextDecoder().decode(result.stdout);
  if (!result.success) {
    console.error(
      `--compare-torch: torch_reference.py failed (install Debian's python3-torch: ` +
        `apt-get install -y python3-torch):\n${
          new TextDecoder().decode(result.stderr).slice(-800)
        }`,
    );
  }
  for (const line of text.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    const j = JSON.parse(line) as {
      model: string;
      batch: number;
      samples_per_s: number;
      ms_per_batch_all: number[];
    };
    // the script times reps + warmupReps epochs: the median of the last reps
    const timed = j.ms_per_batch_all.slice(opts.warmupReps);
    out.set(
      j.model,
      opts.warmupReps > 0 && timed.length ? (j.batch * 1000) / median(timed) : j.samples_per_s,
    );
  }
  return out;
}

function fmt(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined ? "–" : v.toFixed(digits);
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      models: { type: "string", default: MODELS.join(",") },
      backends: { type: "string", default: "wasm,cpu,webgpu" },
      reps: { type: "string", default: "3" },
      "warmup-reps": { type: "string", default: "0" },
      "target-ms": { type: "string", default: "2500" },
      "max-batches": { type: "string", default: "40" },
      "compare-torch": { type: "boolean", default: false },
      "torch-threads": { type: "string", default: "2" },
      optimizer: { type: "string", default: "fast" },
      loss: { type: "string", default: "fused" },
      "no-matmul": { type: "boolean", default: false },
      blas: { type: "string", default: "on" },
      "gemm-threads": { type: "string" },
      profile: { type: "boolean", default: false },
      "profile-steps": { type: "string", default: "3" },
      out: { type: "string", default: "out/bench.json" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "deno task bench [--models mlp,lstm,transformer,cnn] [--backends wasm,cpu,webgpu] " +
        "[--reps 3] [--warmup-reps 0] [--target-ms 2500] [--max-batches 40] [--compare-torch [--torch-threads 2]] " +
        "[--optimizer fast|tfjs] [--loss fused|tfjs] [--blas on|off|both|ts] [--gemm-threads off,auto,2] " +
        "[--no-matmul] [--profile [--profile-steps 3]] " +
        "[--out out/bench.json]",
    );
    return;
  }
  const models = values.models.split(",").map((s) => s.trim()).filter(Boolean) as ModelId[];
  for (const m of models) {
    if (!MODELS.includes(m)) throw new Error(`Unknown model "${m}": use ${MODELS.join(", ")}.`);
  }
  const backends = values.backends.split(",").map((s) => s.trim()).filter(Boolean);
  const opts = {
    reps: Number(values.reps),
    warmupReps: Number(values["warmup-reps"]),
    targetMs: Number(values["target-ms"]),
    maxBatches: Number(values["max-batches"]),
    optimizer: values.optimizer,
    loss: values.loss,
  };
  if (!["fused", "tfjs"].includes(opts.loss)) {
    throw new Error(
      `--loss must be "fused" (the library's softmaxCrossEntropy) or "tfjs" ` +
        `(tf.losses.softmaxCrossEntropy).`,
    );
  }
  if (!Number.isInteger(opts.warmupReps) || opts.warmupReps < 0) {
    throw new Error(`--warmup-reps must be a whole number ≥ 0, not "${values["warmup-reps"]}".`);
  }
  if (!["fast", "tfjs"].includes(opts.optimizer)) {
    throw new Error(`--optimizer must be "fast" (the library's Adam) or "tfjs" (tf.train.adam).`);
  }
  const gemms = gemmChoices(values.blas);
  const threadList = values["gemm-threads"]?.split(",").map((t) => parseGemmThreads(t)) ?? null;
  const rows: BenchRow[] = [];
  const matmul: Array<{
    backend: string;
    size: number;
    gflops: number;
    gflops_best: number;
    reps: number;
    gemm?: string;
    load_avg: number;
  }> = [];
  const blas = blasInfo();
  const cpu = cpuInfo();
  console.error(`CPU: ${cpuLabel(cpu)}`);
  console.error(`BLAS: ${blas.available ? `${blas.library} (${blas.config})` : blas.library}`);
  const profiles: Array<
    { model: ModelId; backend: string; gemm?: string; ours: StepProfile; torch: StepProfile | null }
  > = [];
  const torchProfiles = new Map<ModelId, StepProfile | null>();
  const available: string[] = [];
  for (const backend of backends) {
    try {
      await setupBackend({ backend });
      available.push(backend);
    } catch (e) {
      console.error(`${backend}: skipped (${(e as Error).message.split("\n")[0]})`);
      continue;
    }
    for (const choice of values["no-matmul"] ? [] : choicesFor(backend, gemms)) {
      selectGemm(choice);
      const settings = backend === "webgpu" ? [null] : threadSettings(threadList, true);
      for (const setting of settings) {
        useThreads(setting);
        const gemm = backend === "webgpu" ? undefined : blasInfo().gemm;
        const reps = backend === "cpu" ? 1 : 5;
        const g = await matmulGflops(1024, reps);
        const load = Deno.loadavg()[0];
        matmul.push({
          backend,
          size: 1024,
          gflops: g.median,
          gflops_best: g.best,
          reps,
          gemm,
          load_avg: load,
        });
        console.error(
          `${backend}${gemm ? ` (${gemm})` : ""}: matmul 1024² ${g.median.toFixed(1)} GFLOP/s ` +
            `(best of ${reps} ${g.best.toFixed(1)}; load ${load.toFixed(1)})`,
        );
      }
      useThreads(null);
    }
    selectGemm("auto");
  }
  // Model by model, PyTorch first, so that both see the same load on a shared machine.
  for (const m of models) {
    const torch = values["compare-torch"]
      ? await runTorch([m], opts, Number(values["torch-threads"]))
      : new Map<string, number>();
    if (torch.has(m)) console.error(`torch ${m}: ${fmt(torch.get(m))} samples/s`);
    for (const backend of backends) {
      if (!available.includes(backend)) {
        rows.push({
          model: m,
          backend,
          samples_per_s: null,
          ms_per_batch: null,
          ms_per_batch_all: [],
          batch: SPECS[m].batch,
          batches_per_rep: 0,
          error: "backend unavailable",
        });
        continue;
      }
      await setupBackend({ backend });
      if (backend === "webgpu") {
        rows.push(...await benchWebGPUPaths(m, opts));
        continue;
      }
      for (const choice of choicesFor(backend, gemms)) {
        selectGemm(choice);
        for (const setting of threadSettings(threadList, false)) {
          useThreads(setting);
          // the cpu backend is 10–100× slower: one short rep keeps the run short
          const o = backend === "cpu" ? { ...opts, targetMs: 1, maxBatches: 2 } : opts;
          const row = await benchModel(m, backend, o);
          row.gemm = blasInfo().gemm;
          row.load_avg = Deno.loadavg()[0];
          if (torch.has(m)) {
            row.torch_samples_per_s = torch.get(m);
            if (row.samples_per_s) row.ratio = row.samples_per_s / torch.get(m)!;
          }
          rows.push(row);
          if (values.profile && !row.error) {
            if (!torchProfiles.has(m)) {
              torchProfiles.set(m, await torchProfile(m, Number(values["torch-threads"])));
            }
            profiles.push({
              model: m,
              backend,
              gemm: row.gemm,
              ours: await profileModel(
                m,
                Number(values["profile-steps"]),
                opts.optimizer,
                opts.loss,
              ),
              torch: torchProfiles.get(m) ?? null,
            });
          }
          console.error(
            `${backendLabel(row)} ${m}: ${
              row.error ? `error: ${row.error}` : `${fmt(row.ms_per_batch, 1)} ms/batch ` +
                `(best ${fmt(Math.min(...row.ms_per_batch_all), 1)}), ` +
                `${fmt(row.samples_per_s)} samples/s`
            } (load ${row.load_avg.toFixed(1)})`,
          );
        }
        useThreads(null);
      }
      selectGemm("auto");
    }
  }
  for (const r of rows) {
    r.cpu = cpu.model;
    r.cpu_extensions = cpu.extensions;
  }
  const peak = cpuPeak();
  const machine = {
    cpu: cpu.model,
    cpu_extensions: cpu.extensions,
    cpu_lanes_fp32: cpu.lanes,
    ceilings_gflops: ceilings(cpu, peak),
    cores: navigator.hardwareConcurrency,
    fp32_peak_gflops: peak.gflops,
    fp32_peak_how: peak.how,
    blas,
    deno: Deno.version.deno,
    tfjs: tf.version.tfjs,
  };
  console.log(`\nCPU: ${cpuLabel(cpu)}, ${navigator.hardwareConcurrency} cores`);
  console.log(
    "\n| model | backend | batch | ms/batch (median) | samples/s | torch samples/s | ratio | " +
      "load avg | cpu |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${backendLabel(r)} | ${r.batch} | ${
        r.error ? r.error : fmt(r.ms_per_batch, 1)
      } | ` +
        `${fmt(r.samples_per_s)} | ${fmt(r.torch_samples_per_s)} | ${fmt(r.ratio, 2)} | ` +
        `${fmt(r.load_avg, 2)} | ${cpuLabel(cpu)} |`,
    );
  }
  if (matmul.length) {
    console.log(
      `\nmatmul 1024² (FP32): ${
        matmul.map((m) => `${m.backend}${m.gemm ? ` (${m.gemm})` : ""} ${m.gflops.toFixed(1)}`)
          .join(", ")
      } GFLOP/s; ` +
        `machine FP32 peak ≈ ${fmt(peak.gflops)} GFLOP/s (${peak.how})`,
    );
    const c = ceilings(cpu, peak);
    console.log(
      `ceilings (FP32 FMA, nominal clock): native BLAS ${fmt(c.native_blas)} GFLOP/s ` +
        `(${cpu.lanes} lanes), own wasm SIMD GEMM ${fmt(c.wasm_simd128)} GFLOP/s (4 lanes, ` +
        `all cores), ${fmt(c.wasm_simd128_one_thread)} on one thread`,
    );
  }
  for (const p of profiles) {
    console.log(
      formatSideBySide(p.model, p.ours, p.torch, `${p.backend}${p.gemm ? ` (${p.gemm})` : ""}`),
    );
  }
  printWebGPUPaths(rows);
  await Deno.mkdir(values.out.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await Deno.writeTextFile(values.out, JSON.stringify(rows, null, 2) + "\n");
  const extra = values.out.replace(/\.json$/, "") + "_machine.json";
  await Deno.writeTextFile(extra, JSON.stringify({ matmul, machine }, null, 2) + "\n");
  console.error(`wrote ${values.out} and ${extra}`);
  if (profiles.length) {
    const file = values.out.replace(/\.json$/, "") + "_profile.json";
    await Deno.writeTextFile(
      file,
      JSON.stringify({ cpu, profiles }, null, 2) + "\n",
    );
    console.error(`wrote ${file}`);
  }
}

/**
 * The webgpu rows of one model: the library's fused WebGPU programs (layers, attention,
 * layer norm, Adam; `nn/kernels/webgpu/`) and the same model in plain tfjs ops
 * (`setWebGPUFusion(false)`), on the same adapter, with the GPU programs per training
 * step of each. The two run interleaved (`reps` rounds of `nb` batches each, fused then
 * ops), so that a shared machine's changing load falls on both alike.
 */
async function benchWebGPUPaths(
  id: ModelId,
  opts: BenchOptions,
): Promise<BenchRow[]> {
  const spec = SPECS[id];
  const bs = spec.batch;
  const paths = ["fused", "ops"] as const;
  const rows: BenchRow[] = paths.map((path) => ({
    model: id,
    backend: path === "fused" ? "webgpu" : "webgpu-ops",
    webgpu_path: path,
    samples_per_s: null,
    ms_per_batch: null,
    ms_per_batch_all: [],
    batch: bs,
    batches_per_rep: 0,
  }));
  const models = paths.map(() => {
    const model = spec.build(0);
    model.compile({ optimizer: optimizerOf(opts.optimizer), loss: lossOf(opts.loss) });
    return model;
  });
  const { x, y } = spec.data(bs);
  const was = webgpuFusion();
  // one training step of path p: its time, and the programs it dispatched
  const step = async (p: number) => {
    setWebGPUFusion(paths[p] === "fused");
    const counter = startCounting();
    const t0 = performance.now();
    try {
      await models[p].trainOnBatch(x, y); // reads the loss back: the step has finished
    } finally {
      counter.stop();
    }
    return { ms: performance.now() - t0, programs: counter.programs };
  };
  try {
    let slowest = 0;
    for (let p = 0; p < paths.length; p++) {
      await step(p); // warm-up: compiles the shaders, allocates
      const s = await step(p);
      rows[p].programs_per_step = s.programs;
      slowest = Math.max(slowest, s.ms);
    }
    const nb = Math.max(1, Math.min(opts.maxBatches, Math.ceil(opts.targetMs / slowest)));
    for (let r = 0; r < opts.warmupReps * nb; r++) {
      for (let p = 0; p < paths.length; p++) await step(p);
    }
    for (let r = 0; r < opts.reps; r++) {
      for (let p = 0; p < paths.length; p++) {
        let ms = 0;
        for (let b = 0; b < nb; b++) ms += (await step(p)).ms;
        rows[p].ms_per_batch_all.push(ms / nb);
      }
    }
    for (const row of rows) {
      row.batches_per_rep = nb;
      row.ms_per_batch = median(row.ms_per_batch_all);
      row.samples_per_s = (bs * 1000) / row.ms_per_batch;
    }
  } catch (e) {
    for (const row of rows) row.error = (e as Error).message.split("\n")[0];
  } finally {
    setWebGPUFusion(was);
    tf.dispose([x, y]);
    for (const m of models) disposeModel(m);
  }
  const load = Deno.loadavg()[0];
  for (const row of rows) {
    row.load_avg = load;
    console.error(
      `webgpu (${row.webgpu_path}) ${id}: ${
        row.error ? `error: ${row.error}` : `${fmt(row.ms_per_batch, 1)} ms/batch, ` +
          `${fmt(row.samples_per_s)} samples/s, ${row.programs_per_step} programs/step`
      } (load ${load.toFixed(1)})`,
    );
  }
  const [fused, ops] = rows;
  if (fused.samples_per_s && ops.samples_per_s) {
    fused.speedup_vs_ops = fused.samples_per_s / ops.samples_per_s;
  }
  if (fused.programs_per_step && ops.programs_per_step) {
    fused.fewer_programs = ops.programs_per_step / fused.programs_per_step;
  }
  return rows;
}

/** The table of the webgpu rows: fused against plain ops, samples/s and programs/step. */
function printWebGPUPaths(rows: BenchRow[]): void {
  const gpu = rows.filter((r) => r.webgpu_path);
  if (!gpu.length) return;
  console.log(
    "\n| model | webgpu path | ms/batch | samples/s | programs/step | fused ÷ ops samples/s | " +
      "ops ÷ fused programs | load avg |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of gpu) {
    console.log(
      `| ${r.model} | ${r.webgpu_path} | ${r.error ? r.error : fmt(r.ms_per_batch, 1)} | ` +
        `${fmt(r.samples_per_s)} | ${fmt(r.programs_per_step)} | ${fmt(r.speedup_vs_ops, 2)} | ` +
        `${fmt(r.fewer_programs, 1)} | ${fmt(r.load_avg, 1)} |`,
    );
  }
}

function safeRead(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    // bad arguments (and any failure outside a model's row): one line, a non-zero exit
    console.error(`deno task bench: ${(e as Error).message} (--help lists the options)`);
    Deno.exit(2);
  }
}
