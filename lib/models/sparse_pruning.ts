/**
 * Magnitude pruning (幅值剪枝) with masks (掩码): the weights of smallest magnitude are
 * set to zero and kept at zero while the network is fine-tuned (微调).
 *
 * A {@linkcode MagnitudePruner} keeps one 0/1 mask tensor per pruned kernel. `prune(s)`
 * ranks the weights by |w| — per layer (layer-wise threshold) or across all pruned
 * layers at once (global threshold) — and masks exactly `round(s · n)` of them, ties
 * broken by position, so the measured sparsity equals the target to within one weight.
 * Weights already masked rank first, so raising the sparsity never revives a weight.
 * `applyMasks()` sets the masked entries of every kernel to 0 (`tf.where`, so they are +0,
 * not the −0 a multiplication by 0 gives for negative weights); call it after every optimiser step
 * (the library's `train` does, with `onBatchEnd: pruner.onBatchEnd`).
 *
 * About the optimiser: the gradient with respect to a weight that is zero is not zero
 * (it is the input times the error), so Adam keeps moment estimates for pruned weights
 * and its step moves them off zero. Re-applying the mask after every step puts them back
 * to exactly 0 before the next forward pass, so the network never uses them; the moments
 * of the pruned weights are left as they are (they do not affect the kept weights, whose
 * updates are element-wise). Pruned weights therefore stay exactly zero in every forward
 * pass, evaluation and saved model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MagnitudePruner } from "nn/models/sparse_pruning.ts";
 * await tf.setBackend("cpu");
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [5] })] });
 * const pruner = new MagnitudePruner(model);
 * const report = await pruner.prune(0.5);
 * console.log(report.layers[0].zeros, report.layers[0].weights); // 10 20
 * pruner.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { isPruningStep, type ScheduleOptions, scheduleSparsity } from "./sparse_schedule.ts";

/** Where the magnitude threshold is drawn. */
export type PruningScope = "layer" | "global";

/** Options of {@linkcode MagnitudePruner}. */
export interface PrunerOptions {
  /**
   * "layer" (default): each layer loses `round(s · n_layer)` weights, its own threshold;
   * "global": one threshold over all pruned layers, `round(s · n_total)` weights in all,
   * so layers with many small weights lose more.
   */
  scope?: PruningScope;
  /** Names of the layers to prune. Default: every layer with a kernel (Dense). */
  layers?: readonly string[];
}

/** Measured sparsity of one kernel. */
export interface LayerSparsity {
  /** Layer name. */
  layer: string;
  /** Kernel shape (inputs × units for Dense). */
  shape: number[];
  /** Weights in the kernel. */
  weights: number;
  /** Weights that are exactly 0 now. */
  zeros: number;
  /** Weights the mask removes (0 before the first `prune`). */
  masked: number;
  /** zeros / weights. */
  sparsity: number;
  /** Weights the last `prune` meant to remove in this layer (layer scope), else null. */
  target: number | null;
}

/** Per-layer and total sparsity. */
export interface SparsityReport {
  /** One row per pruned kernel. */
  layers: LayerSparsity[];
  /** Weights in all pruned kernels. */
  weights: number;
  /** Exact zeros in all pruned kernels. */
  zeros: number;
  /** zeros / weights over all pruned kernels. */
  sparsity: number;
  /** The sparsity asked for by the last `prune` (0 before). */
  requested: number;
  /** The scope of the threshold. */
  scope: PruningScope;
}

/** A layer's kernel variable (tfjs's LayerVariable: read and write). */
interface KernelVariable {
  read(): tf.Tensor;
  write(value: tf.Tensor): unknown;
  shape: number[];
  name: string;
  originalName?: string;
}

function kernelOf(layer: tf.layers.Layer): KernelVariable | null {
  const weights = layer.trainableWeights as unknown as KernelVariable[];
  return weights.find((w) => /(^|\/)kernel(_\d+)?$/.test(w.originalName ?? w.name)) ?? null;
}

/**
 * The number of weights to prune for sparsity `s` of `n` weights: `round(s · n)`.
 *
 * @example
 * ```ts
 * import { pruneCount } from "nn/models/sparse_pruning.ts";
 * console.log(pruneCount(0.8, 235200), pruneCount(0.9, 1000)); // 188160 900
 * ```
 */
export function pruneCount(sparsity: number, n: number): number {
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new RangeError(`Sparsity must be in [0, 1], got ${sparsity}.`);
  }
  return Math.round(sparsity * n);
}

/**
 * A 0/1 mask that removes exactly `count` entries: those with the smallest key, ties
 * broken by position (lower index first). Keys are |value|, or −1 where `previous`
 * already masks the entry (so masked entries go first and stay masked).
 *
 * @param values the weights (one layer, or several concatenated for a global threshold)
 * @param count how many entries to mask (0 … values.length)
 * @param previous an earlier mask of the same length (1 keep, 0 masked)
 * @example
 * ```ts
 * import { magnitudeMask } from "nn/models/sparse_pruning.ts";
 * console.log(magnitudeMask([0.5, -0.1, 0.1, 2], 2)); // Uint8Array [1, 0, 0, 1]
 * console.log(magnitudeMask([0.5, -0.1, 0.1, 2], 1)); // Uint8Array [1, 0, 1, 1]: tie → lower index
 * ```
 */
export function magnitudeMask(
  values: ArrayLike<number>,
  count: number,
  previous?: ArrayLike<number>,
): Uint8Array {
  const n = values.length;
  if (!Number.isInteger(count) || count < 0 || count > n) {
    throw new RangeError(`magnitudeMask: count must be a whole number in 0 … ${n}, got ${count}.`);
  }
  if (previous && previous.length !== n) {
    throw new RangeError(`magnitudeMask: previous mask has ${previous.length} entries, not ${n}.`);
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (Number.isNaN(v)) {
      throw new RangeError(`magnitudeMask: value ${i} is NaN; the weights have diverged.`);
    }
    keys[i] = previous && previous[i] === 0 ? -1 : Math.abs(v);
  }
  const mask = new Uint8Array(n).fill(1);
  if (count === 0) return mask;
  const sorted = keys.slice().sort();
  const threshold = sorted[count - 1];
  let below = 0;
  for (let i = 0; i < n; i++) if (keys[i] < threshold) below++;
  let ties = count - below; // entries equal to the threshold to mask, lowest index first
  for (let i = 0; i < n; i++) {
    if (keys[i] < threshold) mask[i] = 0;
    else if (keys[i] === threshold && ties > 0) {
      mask[i] = 0;
      ties--;
    }
  }
  return mask;
}

function countZeros(values: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) z++;
  return z;
}

interface Entry {
  layer: tf.layers.Layer;
  kernel: KernelVariable;
  size: number;
  mask: Uint8Array | null;
  maskTensor: tf.Tensor | null;
  zeros: tf.Tensor | null;
  target: number | null;
}

/**
 * Magnitude pruning of a model's kernels with masks kept through training (see the
 * module documentation).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MagnitudePruner } from "nn/models/sparse_pruning.ts";
 * await tf.setBackend("cpu");
 * const model = tf.sequential({ layers: [
 *   tf.layers.dense({ units: 8, inputShape: [4] }), tf.layers.dense({ units: 2 }),
 * ] });
 * const pruner = new MagnitudePruner(model, { scope: "global" });
 * const report = await pruner.prune(0.75);
 * console.log(report.zeros, report.weights); // 36 48
 * pruner.dispose();
 * ```
 */
export class MagnitudePruner {
  /** The pruned model. */
  readonly model: tf.LayersModel;
  /** Layer-wise or global threshold. */
  readonly scope: PruningScope;
  #entries: Entry[];
  #requested = 0;

  /**
   * @throws {Error} when the model has no layer with a kernel, or a named layer has none
   */
  constructor(model: tf.LayersModel, options: PrunerOptions = {}) {
    this.model = model;
    this.scope = options.scope ?? "layer";
    if (this.scope !== "layer" && this.scope !== "global") {
      throw new RangeError(`Unknown pruning scope "${this.scope}": use "layer" or "global".`);
    }
    const chosen = options.layers
      ? options.layers.map((name) => {
        const layer = model.layers.find((l) => l.name === name);
        if (!layer) {
          throw new Error(
            `MagnitudePruner: the model has no layer "${name}"; its layers are ` +
              `${model.layers.map((l) => l.name).join(", ")}.`,
          );
        }
        if (!kernelOf(layer)) throw new Error(`MagnitudePruner: layer "${name}" has no kernel.`);
        return layer;
      })
      : model.layers.filter((l) => kernelOf(l) !== null);
    if (chosen.length === 0) {
      throw new Error("MagnitudePruner: the model has no layer with a kernel to prune.");
    }
    this.#entries = chosen.map((layer) => {
      const kernel = kernelOf(layer)!;
      return {
        layer,
        kernel,
        size: kernel.shape.reduce((a, b) => a * b, 1),
        mask: null,
        maskTensor: null,
        zeros: null,
        target: null,
      };
    });
  }

  /** Names of the pruned layers, input side first. */
  get layerNames(): string[] {
    return this.#entries.map((e) => e.layer.name);
  }

  /** The sparsity asked for by the last {@linkcode MagnitudePruner.prune} (0 before). */
  get requested(): number {
    return this.#requested;
  }

  /**
   * Masks the weights of smallest magnitude so that the pruned kernels reach
   * `sparsity`, applies the masks, and reports the measured sparsity.
   *
   * @param sparsity fraction of weights to remove, in [0, 1)
   */
  async prune(sparsity: number): Promise<SparsityReport> {
    if (!(sparsity >= 0 && sparsity < 1)) {
      throw new RangeError(`prune: sparsity must be in [0, 1), got ${sparsity}.`);
    }
    const values: Float32Array[] = [];
    for (const e of this.#entries) {
      const t = e.kernel.read();
      values.push(await t.data() as Float32Array);
    }
    let masks: Uint8Array[];
    if (this.scope === "layer") {
      masks = this.#entries.map((e, i) => {
        e.target = pruneCount(sparsity, e.size);
        return magnitudeMask(values[i], e.target, e.mask ?? undefined);
      });
    } else {
      const total = this.#entries.reduce((a, e) => a + e.size, 0);
      const all = new Float32Array(total);
      const previous = new Uint8Array(total).fill(1);
      let offset = 0;
      this.#entries.forEach((e, i) => {
        all.set(values[i], offset);
        if (e.mask) previous.set(e.mask, offset);
        e.target = null;
        offset += e.size;
      });
      const mask = magnitudeMask(all, pruneCount(sparsity, total), previous);
      offset = 0;
      masks = this.#entries.map((e) => {
        const m = mask.slice(offset, offset + e.size);
        offset += e.size;
        return m;
      });
    }
    this.#entries.forEach((e, i) => {
      e.mask = masks[i];
      tf.dispose([e.maskTensor, e.zeros].filter((t): t is tf.Tensor => t !== null));
      e.maskTensor = tf.tensor(masks[i], e.kernel.shape, "bool");
      e.zeros = tf.zeros(e.kernel.shape);
    });
    this.#requested = sparsity;
    this.applyMasks();
    return await this.report();
  }

  /**
   * Sets the masked weights of every pruned kernel to 0 (no-op before the first
   * `prune`). Call after each optimiser step.
   */
  applyMasks(): void {
    tf.tidy(() => {
      for (const e of this.#entries) {
        if (e.maskTensor && e.zeros) {
          e.kernel.write(tf.where(e.maskTensor, e.kernel.read(), e.zeros));
        }
      }
    });
  }

  /** `applyMasks` as a `train` callback: `train(model, x, y, { onBatchEnd: pruner.onBatchEnd })`. */
  readonly onBatchEnd = (): void => this.applyMasks();

  /** The measured sparsity of every pruned kernel now. */
  async report(): Promise<SparsityReport> {
    const layers: LayerSparsity[] = [];
    for (const e of this.#entries) {
      const zeros = countZeros(await e.kernel.read().data());
      layers.push({
        layer: e.layer.name,
        shape: [...e.kernel.shape],
        weights: e.size,
        zeros,
        masked: e.mask ? countZeros(e.mask) : 0,
        sparsity: zeros / e.size,
        target: e.target,
      });
    }
    const weights = layers.reduce((a, l) => a + l.weights, 0);
    const zeros = layers.reduce((a, l) => a + l.zeros, 0);
    return {
      layers,
      weights,
      zeros,
      sparsity: zeros / weights,
      requested: this.#requested,
      scope: this.scope,
    };
  }

  /**
   * The mask of one pruned layer (1 keep, 0 pruned), row-major over the kernel's shape,
   * or null before the first `prune`.
   */
  mask(layerName: string): { mask: Uint8Array; shape: number[] } | null {
    const e = this.#entries.find((x) => x.layer.name === layerName);
    if (!e) {
      throw new Error(`No pruned layer "${layerName}"; pruned: ${this.layerNames.join(", ")}.`);
    }
    return e.mask ? { mask: e.mask.slice(), shape: [...e.kernel.shape] } : null;
  }

  /** Frees the mask tensors (the model stays as it is). */
  dispose(): void {
    for (const e of this.#entries) {
      tf.dispose([e.maskTensor, e.zeros].filter((t): t is tf.Tensor => t !== null));
      e.maskTensor = null;
      e.zeros = null;
    }
  }
}

/**
 * The largest distance, in weights, between a report's measured zeros and the target
 * `sparsity`: per layer `|zeros − s · n|` for a layer-wise report, `|zeros − s · N|`
 * over all pruned weights for a global one. At most 0.5 when pruning is exact (the
 * target count is rounded), so "within one weight" means a value ≤ 1.
 *
 * @example
 * ```ts
 * import { targetDeviation } from "nn/models/sparse_pruning.ts";
 * const layer = { layer: "d", shape: [10, 10], weights: 100, zeros: 80, masked: 80, sparsity: 0.8, target: 80 };
 * console.log(targetDeviation({ layers: [layer], weights: 100, zeros: 80, sparsity: 0.8, requested: 0.8, scope: "layer" }, 0.8)); // 0
 * ```
 */
export function targetDeviation(report: SparsityReport, sparsity: number): number {
  if (report.scope === "global") return Math.abs(report.zeros - sparsity * report.weights);
  return report.layers.reduce((m, l) => Math.max(m, Math.abs(l.zeros - sparsity * l.weights)), 0);
}

/**
 * Measured sparsity of every kernel of a model (exact zeros), whether or not it was
 * pruned — e.g. to check a saved or reloaded model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { sparsityReport } from "nn/models/sparse_pruning.ts";
 * await tf.setBackend("cpu");
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], kernelInitializer: "zeros" })] });
 * console.log((await sparsityReport(model)).sparsity); // 1
 * ```
 */
export async function sparsityReport(model: tf.LayersModel): Promise<SparsityReport> {
  const layers: LayerSparsity[] = [];
  for (const layer of model.layers) {
    const kernel = kernelOf(layer);
    if (!kernel) continue;
    const zeros = countZeros(await kernel.read().data());
    const weights = kernel.shape.reduce((a, b) => a * b, 1);
    layers.push({
      layer: layer.name,
      shape: [...kernel.shape],
      weights,
      zeros,
      masked: 0,
      sparsity: zeros / weights,
      target: null,
    });
  }
  const weights = layers.reduce((a, l) => a + l.weights, 0);
  const zeros = layers.reduce((a, l) => a + l.zeros, 0);
  return {
    layers,
    weights,
    zeros,
    sparsity: weights ? zeros / weights : 0,
    requested: 0,
    scope: "layer",
  };
}

/** One pruning step of a {@linkcode GradualPruning}. */
export interface PruningEvent {
  /** Training step (optimiser steps since the callback was made). */
  step: number;
  /** The schedule's sparsity at that step. */
  sparsity: number;
  /** The measured sparsity of all pruned kernels after pruning. */
  measured: number;
}

/**
 * Gradual magnitude pruning as a training callback: counts optimiser steps, prunes to
 * the cubic schedule's sparsity (Zhu & Gupta 2017, see `sparse_schedule.ts`) at each
 * pruning step, and re-applies the masks after every other step. Pass
 * {@linkcode GradualPruning.onBatchEnd} to `train`; the step count carries over from one
 * `train` call to the next. Step `t` is the number of optimiser steps taken, so with
 * `t_0 = 0` the step-0 pruning (to `s_i`, nothing when `s_i = 0`) is done at the first call.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { GradualPruning, MagnitudePruner } from "nn/models/sparse_pruning.ts";
 * await tf.setBackend("cpu");
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [5] })] });
 * const gradual = new GradualPruning(new MagnitudePruner(model), {
 *   finalSparsity: 0.5, beginStep: 1, frequency: 1, pruningSteps: 2,
 * });
 * for (let i = 0; i < 3; i++) await gradual.onBatchEnd(); // as train would, after each step
 * console.log(gradual.events.map((e) => e.sparsity)); // [0, 0.4375, 0.5]
 * gradual.pruner.dispose();
 * ```
 */
export class GradualPruning {
  /** The pruner whose masks the schedule drives. */
  readonly pruner: MagnitudePruner;
  /** The schedule. */
  readonly schedule: ScheduleOptions;
  /** Pruning steps taken so far. */
  readonly events: PruningEvent[] = [];
  #step = 0;

  constructor(pruner: MagnitudePruner, schedule: ScheduleOptions) {
    this.pruner = pruner;
    this.schedule = schedule;
    scheduleSparsity(0, schedule); // validates the options now rather than mid-training
  }

  /** Optimiser steps seen so far. */
  get step(): number {
    return this.#step;
  }

  /** The callback for `train`'s `onBatchEnd` (runs after each optimiser step). */
  readonly onBatchEnd = async (): Promise<void> => {
    this.#step++;
    const t = this.#step;
    const initial = this.schedule.initialSparsity ?? 0;
    if (t === 1 && (this.schedule.beginStep ?? 0) === 0 && initial > 0) {
      // the pruning step t0 = 0 comes before any optimiser step: take it now
      const report = await this.pruner.prune(initial);
      this.events.push({ step: 0, sparsity: initial, measured: report.sparsity });
    }
    if (isPruningStep(t, this.schedule)) {
      const sparsity = scheduleSparsity(t, this.schedule);
      const report = await this.pruner.prune(sparsity);
      this.events.push({ step: t, sparsity, measured: report.sparsity });
    } else {
      this.pruner.applyMasks();
    }
  };
}
