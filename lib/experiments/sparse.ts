/**
 * Experiment helpers of the sparse-networks notebook (notebooks/02_sparse_networks.ipynb):
 * the profile of sizes, pruning with fine-tuning (one-shot and gradual), the matched
 * small dense network, dropout curves, the mixture-of-experts run, and the storage and
 * timing of dense against CSR products. Results are plain numbers and arrays; every
 * function disposes the tensors it makes (models it returns are the caller's).
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { mnistSplits } from "nn/experiments/dense.ts";
 * import { pruneAndFineTune, sparseProfile, trainBaseline } from "nn/experiments/sparse.ts";
 * await setupBackend({ backend: "cpu" });
 * const cfg = sparseProfile("smoke", { dense: { hidden: [32], epochs: 1 } });
 * const data = await mnistSplits({ trainSize: 300, valSize: 100, testSize: 100, seed: 0 });
 * const base = await trainBaseline(data, cfg, 0, "none");
 * const run = await pruneAndFineTune(base.model, data, cfg, { method: "gradual", sparsity: 0.8, seed: 0, progress: "none" });
 * console.log(run.report.sparsity.toFixed(2)); // "0.80"
 * base.dispose();
 * data.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { MNIST_CLASSES, MNIST_PIXELS } from "../data/mnist.ts";
import { disposeModel, type ProgressMode, train } from "../train.ts";
import { compileClassifier, mlp, SeededDropout } from "../models/dense.ts";
import { mlpParameters } from "../models/counting.ts";
import {
  GradualPruning,
  MagnitudePruner,
  type PruningEvent,
  type PruningScope,
  type SparsityReport,
  targetDeviation,
} from "../models/sparse_pruning.ts";
import { type ScheduleOptions, scheduleUntil } from "../models/sparse_schedule.ts";
import {
  activeExpertsPerExample,
  expertLoad,
  loadCv,
  moeClassifier,
  type MoeParameterCounts,
  TopKMixtureOfExperts,
} from "../models/sparse_moe.ts";
import {
  csrBytesFor,
  csrFromDense,
  csrToDense,
  denseBytes,
  denseCsrMatMul,
} from "../models/sparse_csr.ts";
import { Rng } from "../random.ts";
import { accuracy, fitMlp, headRows } from "./dense.ts";

/** Training, validation and test tensors (an `MnistSplits` from `dense.ts` works). */
export interface SplitTensors {
  xTrain: tf.Tensor;
  yTrain: tf.Tensor;
  xVal: tf.Tensor;
  yVal: tf.Tensor;
  xTest: tf.Tensor;
  yTest: tf.Tensor;
}

/** Sizes of every experiment of the sparse-networks notebook. */
export interface SparseProfile {
  /** MNIST split. */
  data: { trainSize: number; valSize: number; testSize: number };
  /** §1: the dense network every pruned network starts from (LeNet-300-100). */
  dense: { hidden: number[]; epochs: number; batchSize: number; learningRate: number };
  /**
   * §2: pruning. Each sparsity is reached one-shot and gradually from the same dense
   * network, then both get the same `fineTuneEpochs` at `learningRate` (the training
   * rate); the gradual schedule has `pruningSteps` steps spread over the first
   * `pruneFraction` of them. `gentleLearningRate` is the small fine-tuning rate of the
   * second comparison.
   */
  pruning: {
    sparsities: number[];
    fineTuneEpochs: number;
    learningRate: number;
    gentleLearningRate: number;
    pruningSteps: number;
    pruneFraction: number;
  };
  /** §5: dropout on a small training set (the first `trainSize` training images). */
  dropout: {
    trainSize: number;
    hidden: number[];
    rate: number;
    inputRate: number;
    epochs: number;
    batchSize: number;
  };
  /** §6: top-k mixture of experts. */
  moe: {
    experts: number;
    topK: number;
    hiddenUnits: number;
    balanceWeight: number;
    epochs: number;
    batchSize: number;
  };
  /** §7: dense vs CSR product of a `batch × inputs` by `inputs × units` kernel. */
  hardware: {
    batch: number;
    inputs: number;
    units: number;
    sparsities: number[];
    minSeconds: number;
  };
}

const PROFILES: Record<"smoke" | "full", SparseProfile> = {
  smoke: {
    data: { trainSize: 2000, valSize: 500, testSize: 1000 },
    dense: { hidden: [300, 100], epochs: 8, batchSize: 128, learningRate: 1e-3 },
    pruning: {
      sparsities: [0.8, 0.9],
      fineTuneEpochs: 4,
      learningRate: 1e-3,
      gentleLearningRate: 1e-4,
      pruningSteps: 10,
      pruneFraction: 0.5,
    },
    dropout: {
      trainSize: 1000,
      hidden: [300, 100],
      rate: 0.5,
      inputRate: 0.2,
      epochs: 12,
      batchSize: 100,
    },
    moe: { experts: 8, topK: 2, hiddenUnits: 32, balanceWeight: 0.01, epochs: 3, batchSize: 128 },
    hardware: {
      batch: 64,
      inputs: 784,
      units: 300,
      sparsities: [0, 0.5, 0.8, 0.9, 0.95, 0.99],
      minSeconds: 0.05,
    },
  },
  full: {
    data: { trainSize: 7500, valSize: 1000, testSize: 1500 },
    dense: { hidden: [300, 100], epochs: 20, batchSize: 128, learningRate: 1e-3 },
    pruning: {
      sparsities: [0.5, 0.8, 0.9, 0.95, 0.98],
      fineTuneEpochs: 10,
      learningRate: 1e-3,
      gentleLearningRate: 1e-4,
      pruningSteps: 10,
      pruneFraction: 0.5,
    },
    dropout: {
      trainSize: 2000,
      hidden: [300, 100],
      rate: 0.5,
      inputRate: 0.2,
      epochs: 40,
      batchSize: 50,
    },
    moe: { experts: 8, topK: 2, hiddenUnits: 64, balanceWeight: 0.01, epochs: 10, batchSize: 128 },
    hardware: {
      batch: 64,
      inputs: 784,
      units: 300,
      sparsities: [0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995],
      minSeconds: 0.2,
    },
  },
};

/** Section-wise overrides of a {@linkcode SparseProfile}. */
export type SparseProfileOverrides = { [K in keyof SparseProfile]?: Partial<SparseProfile[K]> };

/**
 * The sizes of the notebook's experiments for a profile ("smoke": a quick check of every
 * cell; "full": the figures and claims the notebook is about), with overrides per
 * section.
 *
 * @throws {RangeError} for an unknown profile or sizes that do not fit together
 * @example
 * ```ts
 * import { sparseProfile } from "nn/experiments/sparse.ts";
 * const p = sparseProfile("full", { pruning: { fineTuneEpochs: 4 } });
 * console.log(p.pruning.fineTuneEpochs, p.dense.hidden); // 4 [300, 100]
 * ```
 */
export function sparseProfile(
  profile: string,
  overrides: SparseProfileOverrides = {},
): SparseProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  const base = PROFILES[profile];
  const out = Object.fromEntries(
    Object.entries(base).map(([k, v]) => [
      k,
      { ...v, ...(overrides[k as keyof SparseProfile] ?? {}) },
    ]),
  ) as unknown as SparseProfile;
  if (out.dropout.trainSize > out.data.trainSize) {
    throw new RangeError(
      `The dropout set (${out.dropout.trainSize} images) must fit in the training set ` +
        `(${out.data.trainSize}).`,
    );
  }
  if (out.pruning.sparsities.some((s) => !(s > 0 && s < 1))) {
    throw new RangeError(`Sparsities must be in (0, 1); got [${out.pruning.sparsities}].`);
  }
  for (const level of [0.8, 0.9]) {
    if (!out.pruning.sparsities.includes(level)) {
      throw new RangeError(
        `The pruning sparsities must include ${level} (the notebook's claims are made there); ` +
          `got [${out.pruning.sparsities}].`,
      );
    }
  }
  if (!(out.pruning.pruneFraction > 0 && out.pruning.pruneFraction <= 1)) {
    throw new RangeError(`pruneFraction must be in (0, 1], got ${out.pruning.pruneFraction}.`);
  }
  return out;
}

/** The dense network of §1, trained. */
export interface Baseline {
  /** The trained model (compiled; free it with `dispose`). */
  model: tf.LayersModel;
  /** Its hidden layer sizes. */
  hidden: number[];
  /** Parameters. */
  params: number;
  /** Validation accuracy. */
  valAcc: number;
  /** Test accuracy. */
  testAcc: number;
  /** Per-epoch history. */
  history: Record<string, number[]>;
  /** Frees the model. */
  dispose(): void;
}

/**
 * Trains the dense network of the profile (784 → hidden → 10, Adam) and measures it.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { mnistSplits } from "nn/experiments/dense.ts";
 * import { sparseProfile, trainBaseline } from "nn/experiments/sparse.ts";
 * await setupBackend({ backend: "cpu" });
 * const data = await mnistSplits({ trainSize: 200, valSize: 50, testSize: 50, seed: 0 });
 * const base = await trainBaseline(data, sparseProfile("smoke", { dense: { hidden: [16], epochs: 1 } }), 0, "none");
 * console.log(base.params); // 12730
 * base.dispose();
 * data.dispose();
 * ```
 */
export async function trainBaseline(
  data: SplitTensors,
  cfg: SparseProfile,
  seed: number,
  progress: ProgressMode = "auto",
): Promise<Baseline> {
  const d = cfg.dense;
  const run = await fitMlp(data, {
    hidden: d.hidden,
    epochs: d.epochs,
    batchSize: d.batchSize,
    learningRate: d.learningRate,
    seed,
    progress,
    keepModel: true,
    title: `dense 784-${d.hidden.join("-")}-10`,
  });
  const model = run.model!;
  return {
    model,
    hidden: [...d.hidden],
    params: run.params,
    valAcc: run.valAcc,
    testAcc: await accuracy(model, data.xTest, data.yTest),
    history: run.history,
    dispose: () => disposeModel(model),
  };
}

/**
 * A fresh, compiled copy of an MLP built by `mlp` (same layer sizes, same weights, new
 * Adam state).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mlp } from "nn/models/dense.ts";
 * import { copyMlp } from "nn/experiments/sparse.ts";
 * await tf.setBackend("cpu");
 * const a = mlp({ inputs: 4, hidden: [3], outputs: 2, seed: 1 });
 * const b = copyMlp(a, { learningRate: 1e-4 });
 * console.log(b.countParams() === a.countParams()); // true
 * ```
 */
export function copyMlp(
  model: tf.LayersModel,
  options: { learningRate?: number; seed?: number } = {},
): tf.LayersModel {
  const dense = model.layers.filter((l) => l.getClassName() === "Dense");
  const units = dense.map((l) => (l.getConfig().units as number));
  const inputs = model.inputs[0].shape[1] as number;
  const copy = mlp({
    inputs,
    hidden: units.slice(0, -1),
    outputs: units[units.length - 1],
    seed: options.seed ?? 0,
  });
  copy.setWeights(model.getWeights());
  return compileClassifier(copy, { learningRate: options.learningRate });
}

/**
 * The gradual schedule {@linkcode pruneAndFineTune} uses for a target sparsity: `s_i = 0`
 * at `t_0 = 0`, `pruningSteps` steps spread over the first `pruneFraction` of the
 * fine-tuning steps, and how many fine-tuning steps there are.
 *
 * @example
 * ```ts
 * import { fineTuneSchedule, sparseProfile } from "nn/experiments/sparse.ts";
 * const { schedule, steps } = fineTuneSchedule(sparseProfile("full"), 0.9);
 * console.log(steps, schedule.frequency); // 590 29
 * ```
 */
export function fineTuneSchedule(
  cfg: SparseProfile,
  sparsity: number,
  trainSize = cfg.data.trainSize,
): { schedule: ScheduleOptions; steps: number } {
  const p = cfg.pruning;
  const steps = Math.ceil(trainSize / cfg.dense.batchSize) * p.fineTuneEpochs;
  const schedule = scheduleUntil({
    finalSparsity: sparsity,
    endStep: Math.max(p.pruningSteps, Math.round(p.pruneFraction * steps)),
    pruningSteps: p.pruningSteps,
  });
  return { schedule, steps };
}

/** How to prune in {@linkcode pruneAndFineTune}. */
export interface PruneRun {
  /** "one-shot": prune to the target at once, then fine-tune; "gradual": the cubic schedule during fine-tuning. */
  method: "one-shot" | "gradual";
  /** Target sparsity of every pruned kernel. */
  sparsity: number;
  /** Threshold per layer (default) or global. */
  scope?: PruningScope;
  /** Seed of the batch order. */
  seed: number;
  /** Adam's learning rate while fine-tuning. Default: the profile's `pruning.learningRate`. */
  learningRate?: number;
  /** Progress display. Default "none". */
  progress?: ProgressMode;
  /** Keep the pruned model (the caller frees it with `disposeModel`). */
  keepModel?: boolean;
}

/** What {@linkcode pruneAndFineTune} measured. */
export interface PruneResult {
  /** How it was pruned. */
  method: "one-shot" | "gradual";
  /** Fine-tuning learning rate. */
  learningRate: number;
  /** Target sparsity. */
  sparsity: number;
  /** Test accuracy right after one-shot pruning, before fine-tuning (null for gradual). */
  testAccBeforeFineTune: number | null;
  /** Validation accuracy after fine-tuning. */
  valAcc: number;
  /** Test accuracy after fine-tuning. */
  testAcc: number;
  /** The measured sparsity of every pruned kernel after fine-tuning. */
  report: SparsityReport;
  /** Largest |zeros − s·n| over the layers after fine-tuning, in weights (≤ 0.5 when exact). */
  deviation: number;
  /** Non-zero parameters (kernels and biases) after fine-tuning. */
  nonZeroParams: number;
  /** Pruning steps taken (gradual only). */
  events: PruningEvent[];
  /** Fine-tuning history. */
  history: Record<string, number[]>;
  /** The pruned model, with `keepModel`. */
  model?: tf.LayersModel;
}

/**
 * Copies a trained MLP, prunes it one-shot or gradually, fine-tunes it with the masks
 * re-applied after every optimiser step, and measures it.
 */
export async function pruneAndFineTune(
  base: tf.LayersModel,
  data: SplitTensors,
  cfg: SparseProfile,
  run: PruneRun,
): Promise<PruneResult> {
  const p = cfg.pruning;
  const learningRate = run.learningRate ?? p.learningRate;
  const model = copyMlp(base, { learningRate });
  const pruner = new MagnitudePruner(model, { scope: run.scope ?? "layer" });
  try {
    const { schedule, steps } = fineTuneSchedule(cfg, run.sparsity, data.xTrain.shape[0]);
    let testAccBeforeFineTune: number | null = null;
    let gradual: GradualPruning | null = null;
    if (run.method === "one-shot") {
      await pruner.prune(run.sparsity);
      testAccBeforeFineTune = await accuracy(model, data.xTest, data.yTest);
    } else {
      gradual = new GradualPruning(pruner, schedule);
    }
    const result = await train(model, data.xTrain, data.yTrain, {
      epochs: p.fineTuneEpochs,
      batchSize: cfg.dense.batchSize,
      seed: run.seed,
      validationData: [data.xVal, data.yVal],
      progress: run.progress ?? "none",
      title: `${run.method} pruning to ${Math.round(run.sparsity * 100)} %`,
      onBatchEnd: gradual ? gradual.onBatchEnd : pruner.onBatchEnd,
    });
    if (gradual && gradual.events.at(-1)?.sparsity !== run.sparsity) {
      throw new Error(
        `The gradual schedule did not reach ${run.sparsity} within ${steps} steps; ` +
          `raise fineTuneEpochs or pruneFraction.`,
      );
    }
    const report = await pruner.report();
    const out: PruneResult = {
      method: run.method,
      learningRate,
      sparsity: run.sparsity,
      testAccBeforeFineTune,
      valAcc: await accuracy(model, data.xVal, data.yVal),
      testAcc: await accuracy(model, data.xTest, data.yTest),
      report,
      deviation: targetDeviation(report, run.sparsity),
      nonZeroParams: await nonZeroParameters(model),
      events: gradual?.events ?? [],
      history: result.history,
    };
    if (run.keepModel) out.model = model;
    return out;
  } finally {
    pruner.dispose();
    if (!run.keepModel) disposeModel(model);
  }
}

/**
 * Test accuracy of a copy of `base` pruned one-shot at each sparsity, without
 * fine-tuning — the damage pruning does before the network adapts.
 *
 * @param scope layer-wise or global threshold
 */
export async function pruneWithoutFineTuning(
  base: tf.LayersModel,
  data: SplitTensors,
  sparsities: readonly number[],
  scope: PruningScope = "layer",
): Promise<Array<{ sparsity: number; testAcc: number; report: SparsityReport }>> {
  const rows = [];
  for (const sparsity of sparsities) {
    const model = copyMlp(base);
    const pruner = new MagnitudePruner(model, { scope });
    try {
      const report = await pruner.prune(sparsity);
      rows.push({ sparsity, testAcc: await accuracy(model, data.xTest, data.yTest), report });
    } finally {
      pruner.dispose();
      disposeModel(model);
    }
  }
  return rows;
}

/**
 * Parameters (all weights, kernels and biases) that are not exactly 0.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { nonZeroParameters } from "nn/experiments/sparse.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * console.log(await nonZeroParameters(m)); // 6: the biases start at 0
 * ```
 */
export async function nonZeroParameters(model: tf.LayersModel): Promise<number> {
  let count = 0;
  for (const w of model.getWeights()) {
    const values = await w.data();
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) count++;
  }
  return count;
}

/**
 * Hidden sizes of a small dense MLP shaped like `hidden` (same ratios between layers,
 * every size scaled by one factor) with the most parameters that do not exceed
 * `budget`.
 *
 * @example
 * ```ts
 * import { matchedHidden } from "nn/experiments/sparse.ts";
 * console.log(matchedHidden([300, 100], 27030)); // [33, 11]
 * ```
 */
export function matchedHidden(
  hidden: readonly number[],
  budget: number,
  inputs = MNIST_PIXELS,
  outputs = MNIST_CLASSES,
): number[] {
  const shape = (first: number) =>
    hidden.map((h) => Math.max(1, Math.round((first * h) / hidden[0])));
  const params = (first: number) => mlpParameters([inputs, ...shape(first), outputs]);
  if (params(1) > budget) {
    throw new RangeError(`matchedHidden: even one unit per layer exceeds ${budget} parameters.`);
  }
  let first = 1;
  while (params(first + 1) <= budget) first++;
  return shape(first);
}

/** What {@linkcode dropoutCurves} measured for one dropout rate. */
export interface DropoutRun {
  /** Dropout rate (0: none). */
  rate: number;
  /** Training accuracy after each epoch, dropout off (inference mode). */
  trainAcc: number[];
  /** Validation accuracy after each epoch. */
  valAcc: number[];
  /** Training loss after each epoch, dropout off. */
  trainLoss: number[];
  /** Validation loss after each epoch. */
  valLoss: number[];
  /** Final training minus validation accuracy. */
  gap: number;
}

async function lossAndAccuracy(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
): Promise<[number, number]> {
  const out = model.evaluate(x, y, { batchSize: 512 }) as tf.Scalar[];
  const values = [(await out[0].data())[0], (await out[1].data())[0]];
  tf.dispose(out);
  return [values[0], values[1]];
}

/**
 * A compiled MLP 784 → hidden → 10 with dropout `rate` after each hidden layer and
 * `inputRate` on the pixels (Srivastava et al. 2014 used 0.5 and 0.2 on MNIST).
 */
function dropoutMlp(
  hidden: number[],
  rate: number,
  inputRate: number,
  seed: number,
): tf.LayersModel {
  const body = mlp({ inputs: MNIST_PIXELS, hidden, outputs: MNIST_CLASSES, dropout: rate, seed });
  if (inputRate === 0) return compileClassifier(body);
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape: [MNIST_PIXELS] }));
  model.add(
    new SeededDropout({ rate: inputRate, seed: new Rng(seed).fork("input-dropout").nextSeed() }),
  );
  for (const layer of body.layers) model.add(layer);
  return compileClassifier(model);
}

/**
 * Trains the same MLP on the first `trainSize` training images with and without
 * dropout and records training (dropout off) and validation accuracy after every epoch.
 *
 * @param rates dropout rates to compare, e.g. [0, 0.5]
 */
export async function dropoutCurves(
  data: SplitTensors,
  cfg: SparseProfile,
  seed: number,
  rates: readonly number[],
): Promise<DropoutRun[]> {
  const d = cfg.dropout;
  const xTrain = headRows(data.xTrain, d.trainSize);
  const yTrain = headRows(data.yTrain, d.trainSize);
  const runs: DropoutRun[] = [];
  try {
    for (const rate of rates) {
      const model = dropoutMlp(d.hidden, rate, rate > 0 ? d.inputRate : 0, seed);
      const run: DropoutRun = {
        rate,
        trainAcc: [],
        valAcc: [],
        trainLoss: [],
        valLoss: [],
        gap: 0,
      };
      try {
        await train(model, xTrain, yTrain, {
          epochs: d.epochs,
          batchSize: d.batchSize,
          seed,
          progress: "none",
          onEpochEnd: async () => {
            const [tl, ta] = await lossAndAccuracy(model, xTrain, yTrain);
            const [vl, va] = await lossAndAccuracy(model, data.xVal, data.yVal);
            run.trainLoss.push(tl);
            run.trainAcc.push(ta);
            run.valLoss.push(vl);
            run.valAcc.push(va);
          },
        });
      } finally {
        disposeModel(model);
      }
      run.gap = run.trainAcc.at(-1)! - run.valAcc.at(-1)!;
      runs.push(run);
    }
  } finally {
    tf.dispose([xTrain, yTrain]);
  }
  return runs;
}

/** What {@linkcode fitMoe} measured. */
export interface MoeRun {
  /** Weight of the balancing loss. */
  balanceWeight: number;
  /** Parameter counts of the layer. */
  counts: MoeParameterCounts;
  /** Test accuracy. */
  testAcc: number;
  /** Share of the test set's expert slots per expert. */
  load: number[];
  /** Coefficient of variation of the load (0: even). */
  cv: number;
  /** Experts with a non-zero gate weight per test example, averaged (k when correct). */
  activeExperts: number;
  /** Measured active expert parameters per example / all expert parameters. */
  activeFraction: number;
  /** Per-epoch history. */
  history: Record<string, number[]>;
  /** Training seconds. */
  seconds: number;
}

/**
 * Trains a top-k mixture-of-experts classifier (`moeClassifier`) and measures its
 * accuracy, routing and parameters on the test set.
 *
 * @param balanceWeight α of the balancing loss (default: the profile's)
 */
export async function fitMoe(
  data: SplitTensors,
  cfg: SparseProfile,
  seed: number,
  options: { balanceWeight?: number; progress?: ProgressMode } = {},
): Promise<MoeRun> {
  const m = cfg.moe;
  const balanceWeight = options.balanceWeight ?? m.balanceWeight;
  const model = compileClassifier(moeClassifier({
    inputs: MNIST_PIXELS,
    outputs: MNIST_CLASSES,
    experts: m.experts,
    topK: m.topK,
    hiddenUnits: m.hiddenUnits,
    balanceWeight,
    seed,
  }));
  try {
    const result = await train(model, data.xTrain, data.yTrain, {
      epochs: m.epochs,
      batchSize: m.batchSize,
      seed,
      validationData: [data.xVal, data.yVal],
      progress: options.progress ?? "auto",
      title: `MoE E = ${m.experts}, k = ${m.topK}, α = ${balanceWeight}`,
    });
    const layer = model.layers[0] as TopKMixtureOfExperts;
    const routing = await layer.route(data.xTest);
    const load = expertLoad(routing);
    const counts = layer.parameterCounts();
    const activeExperts = activeExpertsPerExample(routing);
    return {
      balanceWeight,
      counts,
      testAcc: await accuracy(model, data.xTest, data.yTest),
      load,
      cv: loadCv(load),
      activeExperts,
      activeFraction: (activeExperts * counts.perExpert) / counts.experts,
      history: result.history,
      seconds: result.seconds,
    };
  } finally {
    disposeModel(model);
  }
}

/** One row of {@linkcode timeProducts}. */
export interface ProductTiming {
  /** Fraction of kernel entries that are 0. */
  sparsity: number;
  /** Non-zero kernel entries. */
  nnz: number;
  /** Milliseconds of `tf.matMul` (batch × kernel, zeros included) on the current backend, read back. */
  denseMs: number;
  /** Milliseconds of the CSR product in TypeScript. */
  csrMs: number;
  /** Bytes of the kernel stored dense (float32). */
  denseBytes: number;
  /** Bytes of the kernel in CSR (float32 values, int32 indices). */
  csrBytes: number;
}

async function medianMs(fn: () => Promise<void> | void, minSeconds: number): Promise<number> {
  await fn(); // warm-up
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start) / 1000 < minSeconds) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    if (times.length >= 200) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Times `Y = X W` for a random dense batch `X` (`batch × inputs`) and a random kernel
 * `W` (`inputs × units`) with a growing share of zeros: as a dense `tf.matMul` on the
 * current backend (zeros multiplied like any number) and as a CSR product in
 * TypeScript (zeros skipped). Median of repeated runs; the dense time includes reading
 * the result back, as the CSR result is already in JavaScript. The figures depend on
 * the machine and its load: they are for charts, not for claims.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { timeProducts } from "nn/experiments/sparse.ts";
 * await setupBackend({ backend: "cpu" });
 * const rows = await timeProducts({ batch: 4, inputs: 32, units: 16, sparsities: [0, 0.9], minSeconds: 0 });
 * console.log(rows.map((r) => r.nnz)); // [512, 51]
 * ```
 */
export async function timeProducts(
  options: SparseProfile["hardware"] & { seed?: number },
): Promise<ProductTiming[]> {
  const { batch, inputs, units, sparsities, minSeconds, seed = 0 } = options;
  const rng = new Rng(seed).fork("sparse.timing");
  const x = new Float32Array(batch * inputs).map(() => rng.normal());
  const w = new Float32Array(inputs * units).map(() => rng.normal());
  const order = rng.permutation(w.length);
  const xt = tf.tensor2d(x, [batch, inputs]);
  const rows: ProductTiming[] = [];
  try {
    for (const sparsity of sparsities) {
      const k = Math.round(sparsity * w.length);
      const pruned = w.slice();
      for (let i = 0; i < k; i++) pruned[order[i]] = 0;
      const csr = csrFromDense(pruned, inputs, units);
      const wt = tf.tensor2d(pruned, [inputs, units]);
      try {
        const denseMs = await medianMs(async () => {
          const y = tf.matMul(xt, wt);
          await y.data();
          y.dispose();
        }, minSeconds);
        const csrMs = await medianMs(() => {
          denseCsrMatMul(x, batch, csr);
        }, minSeconds);
        rows.push({
          sparsity,
          nnz: csr.values.length,
          denseMs,
          csrMs,
          denseBytes: denseBytes(inputs, units),
          csrBytes: csrBytesFor(inputs, units, csr.values.length),
        });
      } finally {
        wt.dispose();
      }
    }
  } finally {
    xt.dispose();
  }
  return rows;
}

/**
 * Values of one layer's kernel (for histograms), optionally without its zeros.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { kernelValues } from "nn/experiments/sparse.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * console.log((await kernelValues(m, 0)).length); // 6
 * ```
 */
export async function kernelValues(
  model: tf.LayersModel,
  layerIndex: number,
  options: { dropZeros?: boolean } = {},
): Promise<Float32Array> {
  const dense = model.layers.filter((l) => l.getClassName() === "Dense");
  const layer = dense[layerIndex];
  if (!layer) throw new RangeError(`kernelValues: no Dense layer ${layerIndex} (${dense.length}).`);
  const values = new Float32Array(await layer.getWeights()[0].data());
  return options.dropZeros ? values.filter((v) => v !== 0) : values;
}

/**
 * A row-major 0/1 mask as rows for a heatmap; `transpose` draws a kernel
 * (inputs × units) with one row per unit.
 *
 * @example
 * ```ts
 * import { maskRows } from "nn/experiments/sparse.ts";
 * console.log(maskRows(new Uint8Array([1, 0, 0, 1, 1, 1]), [2, 3], true)); // [[1, 0], [0, 1], [1, 1]]
 * ```
 */
export function maskRows(mask: Uint8Array, shape: number[], transpose = false): number[][] {
  const [rows, cols] = shape;
  if (mask.length !== rows * cols) {
    throw new RangeError(`maskRows: ${mask.length} entries for shape [${shape}].`);
  }
  if (!transpose) {
    return Array.from(
      { length: rows },
      (_, r) => Array.from(mask.subarray(r * cols, (r + 1) * cols)),
    );
  }
  return Array.from(
    { length: cols },
    (_, c) => Array.from({ length: rows }, (_, r) => mask[r * cols + c]),
  );
}

/**
 * Share of each input's outgoing weights a first-layer mask keeps, as a
 * `height × width` image (28 × 28 for MNIST): where the pruned network still looks.
 *
 * @example
 * ```ts
 * import { keptPerInput } from "nn/experiments/sparse.ts";
 * console.log(keptPerInput(new Uint8Array([1, 1, 0, 1]), [2, 2], 1, 2)); // [[1, 0.5]]
 * ```
 */
export function keptPerInput(
  mask: Uint8Array,
  shape: number[],
  height = 28,
  width = 28,
): number[][] {
  const [inputs, units] = shape;
  if (inputs !== height * width) {
    throw new RangeError(`keptPerInput: ${inputs} inputs are not a ${height} × ${width} image.`);
  }
  return Array.from({ length: height }, (_, r) =>
    Array.from({ length: width }, (_, c) => {
      const row = (r * width + c) * units;
      let kept = 0;
      for (let u = 0; u < units; u++) kept += mask[row + u];
      return kept / units;
    }));
}

/**
 * The 0/1 mask of a kernel as it is now (1 where the weight is not 0), row-major, with
 * the kernel's shape — the mask of a pruned model whose pruner is gone.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { kernelMask } from "nn/experiments/sparse.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2], kernelInitializer: "identity" })] });
 * console.log(await kernelMask(m, 0)); // { mask: Uint8Array [1, 0, 0, 1], shape: [2, 2] }
 * ```
 */
export async function kernelMask(
  model: tf.LayersModel,
  layerIndex: number,
): Promise<{ mask: Uint8Array; shape: number[] }> {
  const values = await kernelValues(model, layerIndex);
  const dense = model.layers.filter((l) => l.getClassName() === "Dense");
  const shape = [...dense[layerIndex].getWeights()[0].shape];
  return { mask: Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0)), shape };
}

/**
 * At most `max` values drawn without replacement by a seeded generator and rounded to 4
 * significant digits: enough for a histogram, small enough for a notebook output.
 *
 * @example
 * ```ts
 * import { sampleValues } from "nn/experiments/sparse.ts";
 * console.log(sampleValues(new Float32Array([0.123456, 2, 3]), 2, 0).length); // 2
 * ```
 */
export function sampleValues(values: ArrayLike<number>, max: number, seed: number): number[] {
  const order = new Rng(seed).fork("sample").permutation(values.length);
  const n = Math.min(max, values.length);
  return Array.from({ length: n }, (_, i) => Number(values[order[i]].toPrecision(4)));
}

/** Storage of one kernel, dense and as CSR. */
export interface KernelStorage {
  /** Layer name. */
  layer: string;
  /** Kernel shape. */
  shape: number[];
  /** Non-zero weights. */
  nnz: number;
  /** Bytes as a dense float32 array. */
  denseBytes: number;
  /** Bytes in CSR (float32 values, int32 indices). */
  csrBytes: number;
  /** Whether CSR → dense gives back the kernel exactly. */
  roundTrip: boolean;
}

/**
 * Each Dense kernel of a model stored dense and as CSR, with a check that the CSR form
 * expands back to the same kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { kernelStorage } from "nn/experiments/sparse.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
 * console.log((await kernelStorage(m))[0].denseBytes); // 48
 * ```
 */
export async function kernelStorage(model: tf.LayersModel): Promise<KernelStorage[]> {
  const rows: KernelStorage[] = [];
  const dense = model.layers.filter((l) => l.getClassName() === "Dense");
  for (let i = 0; i < dense.length; i++) {
    const values = await kernelValues(model, i);
    const [r, c] = dense[i].getWeights()[0].shape;
    const csr = csrFromDense(values, r, c);
    const back = csrToDense(csr);
    rows.push({
      layer: dense[i].name,
      shape: [r, c],
      nnz: csr.values.length,
      denseBytes: denseBytes(r, c),
      csrBytes: csrBytesFor(r, c, csr.values.length),
      roundTrip: back.every((v, j) => v === values[j]),
    });
  }
  return rows;
}
