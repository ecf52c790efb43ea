/**
 * Training with seeded batches, history, validation, early stopping and live progress.
 *
 * {@linkcode train} runs one `trainOnBatch` per mini-batch over an order drawn from the
 * library's seeded generator (tfjs's own `fit({shuffle: true})` uses `Math.random`, so
 * runs could not be repeated). In Jupyter it shows one output that is updated in
 * place (`update_display_data` on one display id): the loss/accuracy chart with the
 * progress in its title and a progress bar; elsewhere it draws a one-line bar on
 * stderr. Every tensor made per batch and per epoch is disposed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { setupBackend, train } from "nn";
 * await setupBackend({ backend: "cpu" });
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
 * model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
 * const x = tf.tensor2d([[0, 0], [0, 1], [1, 0], [1, 1]]);
 * const y = tf.tensor2d([[0], [1], [1], [2]]);
 * const result = await train(model, x, y, { epochs: 3, batchSize: 2, seed: 0, progress: "none" });
 * console.log(result.history.loss.length); // 3
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import cliProgress from "cli-progress";
import { chartBundle, ensurePlotly, PLOTLY_MIME, trainingCurves } from "./charts.ts";
import {
  display,
  escapeHtml,
  inJupyter,
  type MimeBundle,
  uniqueId,
  updateDisplay,
} from "./display.ts";
import { Rng } from "./random.ts";

/** Where progress goes. "auto": Jupyter display in a notebook, stderr bar elsewhere. */
export type ProgressMode = "auto" | "jupyter" | "terminal" | "none";

/** Early stopping: stop when `monitor` has not improved for `patience` epochs. */
export interface EarlyStoppingOptions {
  /** Metric to watch. Default "val_loss" with validation data, else "loss". */
  monitor?: string;
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** "min" or "max"; default "max" for accuracy-like names, else "min". */
  mode?: "min" | "max";
  /** Put back the weights of the best epoch when stopping. Default true. */
  restoreBest?: boolean;
}

/** Per-epoch values passed to callbacks. */
export type EpochLogs = Record<string, number>;

/** Options for {@linkcode train}. */
export interface TrainOptions {
  /** Number of passes over the data. */
  epochs: number;
  /** Samples per gradient step. Default 32. */
  batchSize?: number;
  /** Seed of the batch order. Default 0. */
  seed?: number;
  /** Validation inputs and targets, evaluated after every epoch. */
  validationData?: [tf.Tensor | tf.Tensor[], tf.Tensor];
  /** Stop early when the monitored metric stalls. */
  earlyStopping?: EarlyStoppingOptions;
  /** Where progress goes. Default "auto". */
  progress?: ProgressMode;
  /** Title of the progress display. */
  title?: string;
  /** Minimum milliseconds between in-batch progress updates. Default 250. */
  updateEveryMs?: number;
  /** Called after each epoch with that epoch's logs; return true to stop. */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | boolean | Promise<void | boolean>;
  /** Called after each batch (after the optimizer step), e.g. to re-apply pruning masks. */
  onBatchEnd?: (step: number, logs: EpochLogs) => void | Promise<void>;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** Metric name → one value per epoch run ("loss", "acc", "val_loss", …). */
  history: Record<string, number[]>;
  /** Epochs actually run. */
  epochs: number;
  /** Whether early stopping ended training. */
  stoppedEarly: boolean;
  /** 1-based epoch with the best monitored value (with early stopping), else the last. */
  bestEpoch: number;
  /** Wall time of training, seconds. */
  seconds: number;
  /** Training samples per second over all epochs (validation excluded). */
  samplesPerSecond: number;
}

function firstDim(x: tf.Tensor | tf.Tensor[]): number {
  return Array.isArray(x) ? x[0].shape[0] : x.shape[0];
}

function gatherRows(x: tf.Tensor | tf.Tensor[], idx: tf.Tensor1D): tf.Tensor | tf.Tensor[] {
  return Array.isArray(x) ? x.map((t) => tf.gather(t, idx)) : tf.gather(x, idx);
}

function disposeAll(x: tf.Tensor | tf.Tensor[]): void {
  if (Array.isArray(x)) x.forEach((t) => t.dispose());
  else x.dispose();
}

function metricNames(model: tf.LayersModel): string[] {
  const names = (model as unknown as { metricsNames?: string[] }).metricsNames;
  return names && names.length ? names : ["loss"];
}

async function evaluate(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor,
  batchSize: number,
): Promise<number[]> {
  const out = model.evaluate(x, y, { batchSize }) as tf.Scalar | tf.Scalar[];
  const scalars = Array.isArray(out) ? out : [out];
  const values: number[] = [];
  for (const s of scalars) values.push((await s.data())[0]);
  tf.dispose(scalars);
  return values;
}

function isAccuracyLike(name: string): boolean {
  return /acc|precision|recall|auc/i.test(name);
}

/**
 * The live display in Jupyter: chart with progress title plus an HTML bar.
 *
 * While training, the display carries `text/html` and `text/plain` only; the final update
 * (done) carries the whole chart bundle, Plotly JSON included. Front ends keep the
 * renderer of an output across `update_display_data` when the preferred mime type stays
 * the same, and jupyterlab-plotly's renderer ignores every figure after its first one
 * (measured in JupyterLab 4.6 with jupyterlab-plotly 5.24: the chart froze at its first
 * epochs while the model had reached "done"). The HTML fallback redraws on every update
 * in every front end; the last update switches to the Plotly JSON, which makes Lab create
 * a fresh Plotly renderer, and leaves the complete bundle in the saved notebook.
 */
class JupyterProgress {
  #id = uniqueId("nn-train");
  #title: string;
  #last = 0;
  constructor(title: string) {
    this.#title = title;
  }
  async start(total: number): Promise<void> {
    await ensurePlotly();
    await display(this.#bundle({}, 0, total, "starting"), { displayId: this.#id });
  }
  #bundle(
    history: Record<string, number[]>,
    done: number,
    total: number,
    status: string,
    final = false,
  ) {
    // The status on a second, smaller line: on one line with a long title it ran past the
    // chart's width and was cut at both ends (seen in JupyterLab's mid-training screenshots).
    const figure = trainingCurves(history, {
      title: `${this.#title}<br><sub>${escapeHtml(status)}</sub>`,
    });
    // The figure as tall as its div: drawn 380 px high into 320, its axis labels and
    // legend spilled over the outputs below it (seen in JupyterLab's screenshots).
    figure.layout.height = 320;
    // the legend below the axis titles: at the default y = −0.2 of this shorter plot it
    // sat on the "epoch" titles (seen in JupyterLab's mid-training screenshots)
    figure.layout.margin = { l: 60, r: 20, t: 70, b: 75 };
    figure.layout.legend = { orientation: "h", y: -0.32, yanchor: "top" };
    const bundle: MimeBundle = chartBundle(figure);
    if (!final) delete bundle[PLOTLY_MIME];
    const pct = total > 0 ? Math.round((100 * done) / total) : 0;
    const bar = `<div class="nn-progress" style="font-family:monospace">` +
      `<progress value="${done}" max="${total}" style="width:40%"></progress> ` +
      `${pct}% · ${escapeHtml(status)}</div>`;
    bundle["text/html"] = bar + "\n" + bundle["text/html"];
    bundle["text/plain"] = `${this.#title}: ${pct}% · ${status}`;
    return bundle;
  }
  async update(
    history: Record<string, number[]>,
    done: number,
    total: number,
    status: string,
    force: boolean,
    everyMs: number,
    final = false,
  ): Promise<void> {
    const now = performance.now();
    if (!force && now - this.#last < everyMs) return;
    this.#last = now;
    await updateDisplay(this.#bundle(history, done, total, status, final), this.#id);
  }
}

/** The one-line bar on stderr outside Jupyter. */
class TerminalProgress {
  #bar: cliProgress.SingleBar;
  constructor(title: string) {
    this.#bar = new cliProgress.SingleBar({
      stream: process.stderr,
      format: `${title} {bar} {percentage}% | {value}/{total} steps | {status}`,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      hideCursor: false,
    }, cliProgress.Presets.shades_classic);
  }
  start(total: number): void {
    this.#bar.start(total, 0, { status: "starting" });
  }
  update(done: number, status: string): void {
    this.#bar.update(done, { status });
  }
  stop(): void {
    this.#bar.stop();
  }
}

function formatLogs(logs: EpochLogs): string {
  return Object.entries(logs).map(([k, v]) => `${k} ${v.toPrecision(4)}`).join(" · ");
}

/**
 * Trains a compiled model on tensors with seeded mini-batches.
 *
 * @param model a compiled `tf.LayersModel`
 * @param x inputs (one tensor, or one per model input), first dimension = samples
 * @param y targets, first dimension = samples
 * @param options epochs, batch size, seed, validation, early stopping, progress
 * @returns history and timing
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { setupBackend, train } from "nn";
 * await setupBackend({ backend: "cpu" });
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [1], activation: "softmax" })] });
 * model.compile({ optimizer: tf.train.adam(0.1), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
 * const x = tf.tensor2d([[0], [1], [0], [1]]);
 * const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1], "int32"), 2);
 * const { history } = await train(model, x, y, {
 *   epochs: 2, batchSize: 2, seed: 1, validationData: [x, y], progress: "none",
 * });
 * console.log(Object.keys(history)); // ["loss", "acc", "val_loss", "val_acc"]
 * ```
 */
export async function train(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor,
  options: TrainOptions,
): Promise<TrainResult> {
  const epochs = options.epochs;
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new RangeError(`train: epochs must be a whole number ≥ 1, got ${epochs}.`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`train: batchSize must be a whole number ≥ 1, got ${batchSize}.`);
  }
  const n = firstDim(x);
  if (y.shape[0] !== n) {
    throw new RangeError(`train: x has ${n} samples but y has ${y.shape[0]}; they must match.`);
  }
  if (!(model as unknown as { optimizer?: unknown }).optimizer) {
    throw new Error(
      "train: the model is not compiled; call model.compile({optimizer, loss}) first.",
    );
  }
  const names = metricNames(model);
  const history: Record<string, number[]> = {};
  const rng = new Rng(options.seed ?? 0).fork("train.batches");
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const mode = options.progress ?? "auto";
  const useJupyter = mode === "jupyter" || (mode === "auto" && inJupyter());
  const useTerminal = mode === "terminal" || (mode === "auto" && !inJupyter());
  const title = options.title ?? "Training";
  const jupyter = useJupyter ? new JupyterProgress(title) : null;
  const terminal = useTerminal ? new TerminalProgress(title) : null;
  const everyMs = options.updateEveryMs ?? 250;

  const es = options.earlyStopping;
  const monitor = es?.monitor ?? (options.validationData ? "val_loss" : "loss");
  const esMode = es?.mode ?? (isAccuracyLike(monitor) ? "max" : "min");
  const minDelta = es?.minDelta ?? 0;
  let best = esMode === "min" ? Infinity : -Infinity;
  let bestEpoch = 0;
  let bestWeights: tf.Tensor[] | null = null;
  let wait = 0;
  let stoppedEarly = false;
  let trainSeconds = 0;
  let step = 0;
  let epochsRun = 0;

  await jupyter?.start(totalSteps);
  terminal?.start(totalSteps);
  const t0 = performance.now();
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = rng.permutation(n);
      const sums = new Array(names.length).fill(0);
      const te = performance.now();
      for (let b = 0; b < stepsPerEpoch; b++) {
        const start = b * batchSize;
        const end = Math.min(n, start + batchSize);
        const idx = tf.tensor1d(order.subarray(start, end), "int32");
        const xb = gatherRows(x, idx);
        const yb = tf.gather(y, idx);
        idx.dispose();
        let values: number | number[];
        try {
          values = await model.trainOnBatch(xb, yb);
        } finally {
          disposeAll(xb);
          yb.dispose();
        }
        const vals = Array.isArray(values) ? values : [values];
        vals.forEach((v, i) => (sums[i] += v * (end - start)));
        step++;
        if (options.onBatchEnd) {
          await options.onBatchEnd(step, Object.fromEntries(names.map((k, i) => [k, vals[i]])));
        }
        const status = `epoch ${epoch + 1}/${epochs} · step ${b + 1}/${stepsPerEpoch} · ` +
          `loss ${vals[0].toPrecision(4)}`;
        terminal?.update(step, status);
        await jupyter?.update(history, step, totalSteps, status, false, everyMs);
      }
      trainSeconds += (performance.now() - te) / 1000;
      const logs: EpochLogs = {};
      names.forEach((k, i) => (logs[k] = sums[i] / n));
      if (options.validationData) {
        const [xv, yv] = options.validationData;
        const v = await evaluate(model, xv, yv, Math.max(batchSize, 256));
        names.forEach((k, i) => (logs[`val_${k}`] = v[i]));
      }
      for (const [k, v] of Object.entries(logs)) (history[k] ??= []).push(v);
      epochsRun = epoch + 1;
      const status = `epoch ${epoch + 1}/${epochs} · ${formatLogs(logs)}`;
      terminal?.update(step, status);
      await jupyter?.update(history, step, totalSteps, status, true, everyMs);

      let stop = false;
      if (es) {
        const current = logs[monitor];
        if (current === undefined) {
          throw new Error(
            `train: early stopping monitors "${monitor}", which is not among ` +
              `${Object.keys(logs).join(", ")}; set earlyStopping.monitor to one of them.`,
          );
        }
        const improved = esMode === "min" ? current < best - minDelta : current > best + minDelta;
        if (improved) {
          best = current;
          bestEpoch = epoch + 1;
          wait = 0;
          if (es.restoreBest ?? true) {
            tf.dispose(bestWeights ?? []);
            bestWeights = model.getWeights().map((w) => w.clone());
          }
        } else if (++wait >= es.patience) {
          stop = true;
          stoppedEarly = true;
        }
      }
      if (options.onEpochEnd && (await options.onEpochEnd(epoch, logs)) === true) stop = true;
      if (stop) break;
    }
    if (stoppedEarly && bestWeights) model.setWeights(bestWeights);
  } finally {
    tf.dispose(bestWeights ?? []);
    terminal?.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (jupyter) {
    const last = Object.fromEntries(Object.entries(history).map(([k, v]) => [k, v[v.length - 1]]));
    const status =
      `done: ${epochsRun} epoch${epochsRun === 1 ? "" : "s"} in ${seconds.toFixed(1)} s` +
      (stoppedEarly ? ` (stopped early, best epoch ${bestEpoch})` : "") + ` · ${formatLogs(last)}`;
    await jupyter.update(history, totalSteps, totalSteps, status, true, 0, true);
  }
  return {
    history,
    epochs: epochsRun,
    stoppedEarly,
    bestEpoch: es ? bestEpoch : epochsRun,
    seconds,
    samplesPerSecond: trainSeconds > 0 ? (n * epochsRun) / trainSeconds : 0,
  };
}

/**
 * Frees a model and its optimizer's state (tfjs's `model.dispose()` leaves the
 * optimizer's slot variables alive).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { disposeModel } from "nn";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
 * model.compile({ optimizer: "adam", loss: "meanSquaredError" });
 * disposeModel(model);
 * ```
 */
export function disposeModel(model: tf.LayersModel): void {
  const optimizer = (model as unknown as { optimizer?: tf.Optimizer }).optimizer;
  model.dispose();
  optimizer?.dispose();
}

/**
 * Accuracy (准确率) of a classifier on one-hot targets: the share of rows whose arg-max
 * prediction is the arg-max target, predicted in inference mode (dropout off) in
 * batches of `batchSize`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { classifierAccuracy } from "nn";
 * await tf.setBackend("cpu");
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [1] })] });
 * const acc = await classifierAccuracy(model, tf.tensor2d([[1]]), tf.tensor2d([[1, 0]]));
 * console.log(acc === 0 || acc === 1); // true
 * ```
 */
export async function classifierAccuracy(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize = 512,
): Promise<number> {
  let correct = 0;
  const n = x.shape[0];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const hits = tf.tidy(() => {
      const p = model.predict(tf.slice(x, start, size)) as tf.Tensor;
      return tf.sum(
        tf.cast(tf.equal(tf.argMax(p, 1), tf.argMax(tf.slice(y, start, size), 1)), "int32"),
      );
    });
    correct += (await hits.data())[0];
    hits.dispose();
  }
  return correct / n;
}

/**
 * Whether a classifier gets each example right (argmax of its output equals argmax of the
 * one-hot label), in batches; the per-example record a paired comparison of two models
 * on the same test set needs ({@linkcode pairedComparison}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { classifierCorrect, mlp, setupBackend } from "nn";
 * await setupBackend({ backend: "cpu" });
 * const model = mlp({ inputs: 2, hidden: [4], outputs: 2, seed: 1 });
 * const right = await classifierCorrect(model, tf.ones([3, 2]), tf.oneHot([0, 1, 1], 2));
 * console.log(right.length); // 3
 * ```
 */
export async function classifierCorrect(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize = 512,
): Promise<boolean[]> {
  const correct: boolean[] = [];
  const n = x.shape[0];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const hits = tf.tidy(() => {
      const p = model.predict(tf.slice(x, start, size)) as tf.Tensor;
      return tf.cast(tf.equal(tf.argMax(p, 1), tf.argMax(tf.slice(y, start, size), 1)), "int32");
    });
    for (const hit of await hits.data()) correct.push(hit === 1);
    hits.dispose();
  }
  return correct;
}
