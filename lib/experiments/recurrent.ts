/**
 * Experiment helpers of the recurrent-networks notebook (notebooks/03_recurrent_networks.ipynb):
 * the adding problem, gradient norms with respect to each input step (and the analytic
 * bound for the simple cell), sentence classification, and a character-level language
 * model (语言模型) with bits per character (每字符比特数).
 *
 * Functions return plain numbers and arrays and dispose the tensors they make, unless
 * they say they return tensors or a model.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { addingProblem, MEAN_PREDICTOR_MSE } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = addingProblem({ n: 4, length: 10, seed: 0 });
 * console.log(d.x.shape, d.y.shape, MEAN_PREDICTOR_MSE); // [4, 10, 2] [4, 1] 0.1666…
 * d.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { all, create } from "mathjs";
import { rng } from "../random.ts";
import { disposeModel, type ProgressMode, train } from "../train.ts";
import { adam } from "../kernels/adam.ts";
import {
  type CellType,
  charLanguageModel,
  sequenceClassifier,
  sequenceRegressor,
} from "../models/recurrent.ts";
import { loadSentiment } from "../data/sentiment.ts";
import { loadText } from "../data/files.ts";
import { splitData } from "../data/split.ts";
import { Vocabulary } from "../data/vocabulary.ts";
import { encodeTexts } from "../data/encode.ts";
import { sequencesToTensor } from "../data/tensors.ts";

const math = create(all, {});

// ---------------------------------------------------------------------------------------
// Profiles

/** Sizes of every experiment of the notebook, per profile. */
export interface RecurrentProfile {
  /**
   * Gradient section: sequence length, units, training size and epochs, and how many
   * training seeds per cell (the run with the median first-step gradient is reported).
   */
  gradients: {
    length: number;
    units: number;
    epochs: number;
    trainSize: number;
    batchSize: number;
    repeats: number;
  };
  /** Adding problem: the lengths T, units, training set size, epochs. */
  adding: {
    lengths: number[];
    units: number;
    trainSize: number;
    valSize: number;
    epochs: number;
    batchSize: number;
    learningRate: number;
  };
  /** Sentence classification: units, embedding, epochs, tokens per sentence. */
  sentiment: {
    units: number;
    embeddingDim: number;
    epochs: number;
    length: number;
    batchSize: number;
  };
  /** Character language model: chapters used, window, units, epochs. */
  chars: {
    chapters: number;
    window: number;
    units: number;
    embeddingDim: number;
    epochs: number;
    batchSize: number;
    sampleLength: number;
  };
}

const PROFILES: Record<"smoke" | "full", RecurrentProfile> = {
  smoke: {
    gradients: { length: 30, units: 16, epochs: 3, trainSize: 512, batchSize: 64, repeats: 1 },
    adding: {
      lengths: [5, 20],
      units: 16,
      trainSize: 1024,
      valSize: 256,
      epochs: 4,
      batchSize: 64,
      learningRate: 0.01,
    },
    sentiment: { units: 16, embeddingDim: 16, epochs: 2, length: 20, batchSize: 64 },
    chars: {
      chapters: 1,
      window: 40,
      units: 64,
      embeddingDim: 16,
      epochs: 6,
      batchSize: 16,
      sampleLength: 80,
    },
  },
  full: {
    // 40 epochs: at T = 50 the LSTM stays on the mean predictor's plateau for more than ten
    // epochs (measured, seeds 0–2; 12 epochs were not enough), the GRU for about five
    gradients: { length: 50, units: 32, epochs: 40, trainSize: 2048, batchSize: 64, repeats: 3 },
    adding: {
      lengths: [10, 25, 50, 100],
      units: 32,
      trainSize: 2048,
      valSize: 512,
      epochs: 40,
      batchSize: 64,
      learningRate: 0.01,
    },
    sentiment: { units: 32, embeddingDim: 32, epochs: 8, length: 30, batchSize: 32 },
    chars: {
      chapters: 10,
      window: 64,
      units: 128,
      embeddingDim: 32,
      epochs: 6,
      batchSize: 64,
      sampleLength: 300,
    },
  },
};

/**
 * The sizes of a profile, with overrides merged per section.
 *
 * @example
 * ```ts
 * import { recurrentProfile } from "nn/experiments/recurrent.ts";
 * console.log(recurrentProfile("smoke", { adding: { epochs: 1 } }).adding.epochs); // 1
 * ```
 */
export function recurrentProfile(
  profile: string,
  overrides: { [K in keyof RecurrentProfile]?: Partial<RecurrentProfile[K]> } = {},
): RecurrentProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  const base = PROFILES[profile];
  return {
    gradients: { ...base.gradients, ...overrides.gradients },
    adding: { ...base.adding, ...overrides.adding },
    sentiment: { ...base.sentiment, ...overrides.sentiment },
    chars: { ...base.chars, ...overrides.chars },
  };
}

// ---------------------------------------------------------------------------------------
// 1. Unrolling by hand

/**
 * Runs a simple (Elman) recurrence with tf ops, one step at a time:
 * `a_t = x_t W + h_{t−1} U + b`, `h_t = tanh(a_t)`, `h_0 = 0`. Returns every hidden state
 * (隐藏状态) `[B, T, U]` and pre-activation `[B, T, U]` (the caller disposes them).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { unrollSimpleRnn } from "nn/experiments/recurrent.ts";
 * const { states } = unrollSimpleRnn(tf.ones([1, 3, 2]), tf.ones([2, 4]), tf.zeros([4, 4]), tf.zeros([4]));
 * console.log(states.shape); // [1, 3, 4]
 * ```
 */
export function unrollSimpleRnn(
  x: tf.Tensor,
  kernel: tf.Tensor,
  recurrent: tf.Tensor,
  bias: tf.Tensor,
): { states: tf.Tensor3D; preactivations: tf.Tensor3D } {
  return tf.tidy(() => {
    const [B, T] = x.shape;
    const U = recurrent.shape[0];
    let h: tf.Tensor = tf.zeros([B, U]);
    const hs: tf.Tensor[] = [];
    const as: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const xt = tf.squeeze(tf.slice(x, [0, t, 0], [B, 1, -1]), [1]);
      const a = tf.add(tf.add(tf.matMul(xt, kernel), tf.matMul(h, recurrent)), bias);
      h = tf.tanh(a);
      hs.push(h);
      as.push(a);
    }
    return {
      states: tf.stack(hs, 1) as tf.Tensor3D,
      preactivations: tf.stack(as, 1) as tf.Tensor3D,
    };
  });
}

// ---------------------------------------------------------------------------------------
// 3. The adding problem

/** The mean-squared error of always predicting the mean sum 1: Var(u₁ + u₂) = 2/12. */
export const MEAN_PREDICTOR_MSE = 2 / 12;

/** Inputs `[n, T, 2]` and targets `[n, 1]` of the adding problem. */
export interface AddingData {
  /** Channel 0: uniform values in [0, 1); channel 1: 1 at the two marked steps. */
  x: tf.Tensor3D;
  /** Sum of the two marked values. */
  y: tf.Tensor2D;
  /** Frees both tensors. */
  dispose(): void;
}

/**
 * The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): a sequence of T
 * random numbers with two of them marked, one in the first half and one in the second;
 * the target is their sum. Solving it needs memory over about T steps.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { addingProblem } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = addingProblem({ n: 2, length: 6, seed: 1 });
 * console.log(d.x.shape); // [2, 6, 2]
 * d.dispose();
 * ```
 */
export function addingProblem(options: { n: number; length: number; seed: number }): AddingData {
  const { n, length: T } = options;
  if (!(T >= 2) || !Number.isInteger(T)) {
    throw new RangeError(`The adding problem needs a whole length T ≥ 2, got ${T}.`);
  }
  const r = rng(options.seed);
  const xs = new Float32Array(n * T * 2);
  const ys = new Float32Array(n);
  const half = Math.floor(T / 2);
  for (let s = 0; s < n; s++) {
    for (let t = 0; t < T; t++) xs[(s * T + t) * 2] = r.next();
    const a = r.int(half);
    const b = half + r.int(T - half);
    xs[(s * T + a) * 2 + 1] = 1;
    xs[(s * T + b) * 2 + 1] = 1;
    ys[s] = xs[(s * T + a) * 2] + xs[(s * T + b) * 2];
  }
  const x = tf.tensor3d(xs, [n, T, 2]);
  const y = tf.tensor2d(ys, [n, 1]);
  return { x, y, dispose: () => tf.dispose([x, y]) };
}

/** Options of {@linkcode fitAdding}. */
export interface FitAddingOptions {
  /** Recurrent cell. */
  cell: CellType;
  /** Sequence length T. */
  length: number;
  /** Hidden units. */
  units: number;
  /** Training sequences. */
  trainSize: number;
  /** Validation sequences (fresh draws). */
  valSize: number;
  /** Epochs. */
  epochs: number;
  /** Batch size. Default 64. */
  batchSize?: number;
  /** Adam learning rate. Default 0.01. */
  learningRate?: number;
  /** Seed of data, weights and batches. */
  seed: number;
  /** Progress display. Default "auto". */
  progress?: ProgressMode;
  /** Keep and return the trained model (the caller disposes it). Default false. */
  keepModel?: boolean;
}

/** Result of {@linkcode fitAdding}. */
export interface AddingRun {
  /** Cell. */
  cell: CellType;
  /** Sequence length. */
  length: number;
  /** Validation mean-squared error after training. */
  valMse: number;
  /** Validation MSE per epoch. */
  valCurve: number[];
  /** Training seconds. */
  seconds: number;
  /** Parameters. */
  params: number;
  /** The trained model when `keepModel` was set. */
  model?: tf.LayersModel;
}

/**
 * Trains a {@linkcode sequenceRegressor} on the adding problem of length T and reports
 * the validation MSE (against {@linkcode MEAN_PREDICTOR_MSE} for a model that learned
 * nothing).
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { fitAdding } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const run = await fitAdding({ cell: "gru", length: 5, units: 4, trainSize: 64, valSize: 32, epochs: 1, seed: 0, progress: "none" });
 * console.log(run.valMse > 0); // true
 * ```
 */
export async function fitAdding(options: FitAddingOptions): Promise<AddingRun> {
  const { cell, length, seed } = options;
  const train_ = addingProblem({ n: options.trainSize, length, seed });
  const val = addingProblem({ n: options.valSize, length, seed: seed + 1_000_003 });
  const model = sequenceRegressor({
    input: { features: 2 },
    cell,
    units: options.units,
    outputs: 1,
    seed,
  });
  model.compile({ optimizer: adam(options.learningRate ?? 0.01), loss: "meanSquaredError" });
  try {
    const result = await train(model, train_.x, train_.y, {
      epochs: options.epochs,
      batchSize: options.batchSize ?? 64,
      seed,
      validationData: [val.x, val.y],
      progress: options.progress ?? "auto",
      title: `adding problem, ${cell}, T = ${length}`,
    });
    const valCurve = result.history.val_loss;
    return {
      cell,
      length,
      valMse: valCurve[valCurve.length - 1],
      valCurve,
      seconds: result.seconds,
      params: model.countParams(),
      ...(options.keepModel ? { model } : {}),
    };
  } finally {
    train_.dispose();
    val.dispose();
    if (!options.keepModel) disposeModel(model);
  }
}

/**
 * The largest T at which every cell in `cells` reaches an MSE below `threshold`, or null.
 *
 * @example
 * ```ts
 * import { largestSolvedLength } from "nn/experiments/recurrent.ts";
 * const runs = [
 *   { cell: "lstm", length: 10, valMse: 0.01 },
 *   { cell: "lstm", length: 50, valMse: 0.2 },
 * ] as const;
 * console.log(largestSolvedLength(runs, ["lstm"], 0.05)); // 10
 * ```
 */
export function largestSolvedLength(
  runs: readonly Pick<AddingRun, "cell" | "length" | "valMse">[],
  cells: readonly CellType[],
  threshold: number,
): number | null {
  const lengths = [...new Set(runs.map((r) => r.length))].sort((a, b) => b - a);
  for (const T of lengths) {
    const ok = cells.every((c) =>
      runs.some((r) => r.cell === c && r.length === T && r.valMse < threshold)
    );
    if (ok) return T;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// 2. Gradients with respect to each input step

/**
 * Mean over the batch of ‖∂loss/∂x_t‖ for each step t (index 0 = first step), with the
 * loss the batch mean-squared error of a model taking dense inputs `[B, T, F]`
 * (`tf.grad` through the model, including the fused LSTM's hand-written backward pass).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { setupBackend, sequenceRegressor } from "nn";
 * import { inputGradientNorms } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const m = sequenceRegressor({ input: { features: 2 }, cell: "simple", units: 4, outputs: 1 });
 * const norms = await inputGradientNorms(m, tf.ones([3, 5, 2]), tf.zeros([3, 1]));
 * console.log(norms.length); // 5
 * ```
 */
export async function inputGradientNorms(
  model: tf.LayersModel,
  x: tf.Tensor3D,
  y: tf.Tensor,
): Promise<number[]> {
  const [B, T] = x.shape;
  const norms = tf.tidy(() => {
    const g = tf.grad((xs: tf.Tensor) =>
      tf.losses.meanSquaredError(y, model.apply(xs) as tf.Tensor)
    )(x);
    return tf.mean(tf.sqrt(tf.sum(tf.square(g), 2)), 0); // [T]
  });
  const values = Array.from(await norms.data());
  norms.dispose();
  if (values.length !== T || B === 0) throw new Error("inputGradientNorms: unexpected shape.");
  return values;
}

/**
 * The analytic upper bound on ‖∂loss/∂x_t‖ for a simple-cell {@linkcode sequenceRegressor}
 * (weights `[W, U, b, w_out, b_out]`), per step, averaged over the batch. With
 * `a_k = x_k W + h_{k−1} U + b`, `h_k = tanh(a_k)` and `γ_k = max_j tanh′(a_{k,j})`:
 *
 * ‖∂L/∂x_t‖ ≤ ‖∂L/∂h_T‖ · γ_t ‖W‖₂ · ∏_{k=t+1}^{T} γ_k ‖U‖₂,
 *
 * since ∂h_k/∂h_{k−1} = diag(tanh′(a_k)) Uᵀ. Spectral norms are computed with mathjs
 * (square root of the largest eigenvalue of MᵀM). Returns the bound and the two norms.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { setupBackend, sequenceRegressor } from "nn";
 * import { simpleRnnGradientBound } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const m = sequenceRegressor({ input: { features: 2 }, cell: "simple", units: 4, outputs: 1 });
 * const b = await simpleRnnGradientBound(m, tf.ones([3, 5, 2]), tf.zeros([3, 1]));
 * console.log(b.bound.length); // 5
 * ```
 */
export async function simpleRnnGradientBound(
  model: tf.LayersModel,
  x: tf.Tensor3D,
  y: tf.Tensor,
): Promise<
  { bound: number[]; recurrentNorm: number; kernelNorm: number; meanTanhSlope: number[] }
> {
  const weights = model.getWeights();
  if (weights.length !== 5) {
    throw new Error(
      `simpleRnnGradientBound needs a simple-cell sequenceRegressor (5 weight tensors), got ${weights.length}.`,
    );
  }
  const [W, U, b, wOut] = weights;
  const [B, T] = x.shape;
  const { slopes, dhNorm } = tf.tidy(() => {
    const { states, preactivations } = unrollSimpleRnn(x, W, U, b);
    const slopes = tf.max(tf.sub(1, tf.square(tf.tanh(preactivations))), 2); // [B, T]
    const hT = tf.squeeze(tf.slice(states, [0, T - 1, 0], [B, 1, -1]), [1]);
    const dh = tf.grad((h: tf.Tensor) =>
      tf.losses.meanSquaredError(y, tf.add(tf.matMul(h, wOut), weights[4]))
    )(hT);
    return { slopes, dhNorm: tf.sqrt(tf.sum(tf.square(dh), 1)) };
  });
  const spectral = async (m: tf.Tensor) => {
    const a = math.matrix(await m.array() as number[][]);
    const eig = math.eigs(math.multiply(math.transpose(a), a) as math.Matrix);
    const values = (eig.values as math.Matrix).toArray() as number[];
    return Math.sqrt(Math.max(...values.map(Number)));
  };
  const recurrentNorm = await spectral(U);
  const kernelNorm = await spectral(W);
  const s = await slopes.data();
  const d = await dhNorm.data();
  tf.dispose([slopes, dhNorm]);
  const bound = new Array<number>(T).fill(0);
  const meanTanhSlope = new Array<number>(T).fill(0);
  for (let i = 0; i < B; i++) {
    let prod = d[i];
    for (let t = T - 1; t >= 0; t--) {
      const g = s[i * T + t];
      bound[t] += prod * g * kernelNorm / B;
      meanTanhSlope[t] += g / B;
      prod *= g * recurrentNorm;
    }
  }
  return { bound, recurrentNorm, kernelNorm, meanTanhSlope };
}

// ---------------------------------------------------------------------------------------
// 4. Sentences

/** Tokenised sentiment sentences as train / validation / test tensors. */
export interface SentimentTensors {
  /** Token ids `[n, length]`. */
  xTrain: tf.Tensor2D;
  /** Labels one-hot `[n, 2]`. */
  yTrain: tf.Tensor2D;
  /** Validation ids. */
  xVal: tf.Tensor2D;
  /** Validation labels. */
  yVal: tf.Tensor2D;
  /** Test ids. */
  xTest: tf.Tensor2D;
  /** Test labels. */
  yTest: tf.Tensor2D;
  /** Vocabulary size (ids 0 … vocabSize − 1). */
  vocabSize: number;
  /** Frees the tensors. */
  dispose(): void;
}

/** The UCI sentences split 80/10/10, as texts and as padded id tensors. */
export interface SentenceData {
  /** Texts and labels of each part. */
  texts: { train: string[]; val: string[]; test: string[] };
  /** Labels (0/1) of each part. */
  labels: { train: number[]; val: number[]; test: number[] };
  /** The training vocabulary (words seen at least twice). */
  vocabulary: Vocabulary;
  /** Ids `[n, length]` and one-hot labels `[n, 2]`. */
  tensors: {
    xTrain: tf.Tensor2D;
    yTrain: tf.Tensor2D;
    xVal: tf.Tensor2D;
    yVal: tf.Tensor2D;
    xTest: tf.Tensor2D;
    yTest: tf.Tensor2D;
  };
  /** Frees the tensors. */
  dispose(): void;
}

/**
 * The 3000 UCI sentences split 80/10/10 (stratified, seeded), shared by the recurrent and
 * Transformer notebooks, vocabulary from the training part (min count 2),
 * padded or cut to `length` tokens.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { sentenceData } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await sentenceData({ length: 20, seed: 0 });
 * console.log(d.texts.test.length, d.tensors.xTest.shape); // 300 [300, 20]
 * d.dispose();
 * ```
 */
export async function sentenceData(
  options: { length: number; seed: number },
): Promise<SentenceData> {
  const data = await loadSentiment({ source: "all" });
  const split = splitData({ texts: data.texts, labels: data.labels }, {
    seed: options.seed,
    stratify: data.labels,
  });
  const vocabulary = Vocabulary.fromTexts(split.train.texts, { minCount: 2 });
  const enc = (texts: string[]) =>
    sequencesToTensor(encodeTexts(texts, vocabulary, { length: options.length }));
  const lab = (labels: number[]) =>
    tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), 2).toFloat() as tf.Tensor2D);
  const tensors = {
    xTrain: enc(split.train.texts),
    yTrain: lab(split.train.labels),
    xVal: enc(split.val.texts),
    yVal: lab(split.val.labels),
    xTest: enc(split.test.texts),
    yTest: lab(split.test.labels),
  };
  return {
    texts: { train: split.train.texts, val: split.val.texts, test: split.test.texts },
    labels: { train: split.train.labels, val: split.val.labels, test: split.test.labels },
    vocabulary,
    tensors,
    dispose: () => tf.dispose(Object.values(tensors)),
  };
}

/**
 * The 3000 UCI sentences split 80/10/10 (stratified, seeded), word vocabulary from the
 * training part (words seen at least twice), padded to `length` tokens.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { sentimentTensors } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await sentimentTensors({ length: 20, seed: 0 });
 * console.log(d.xTrain.shape); // [2400, 20]
 * d.dispose();
 * ```
 */
export async function sentimentTensors(
  options: { length: number; seed: number },
): Promise<SentimentTensors> {
  const d = await sentenceData(options);
  return { ...d.tensors, vocabSize: d.vocabulary.size, dispose: d.dispose };
}

/** Result of {@linkcode fitSentiment}. */
export interface SentimentRun {
  /** Cell. */
  cell: CellType;
  /** Test accuracy of the epoch with the best validation accuracy. */
  testAccuracy: number;
  /** Best validation accuracy. */
  valAccuracy: number;
  /** Parameters of the model. */
  params: number;
  /** Mean seconds per training epoch. */
  secondsPerEpoch: number;
  /** Epochs run. */
  epochs: number;
}

/**
 * Trains a {@linkcode sequenceClassifier} on the sentences (early stopping on validation
 * accuracy, best weights restored) and measures test accuracy.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { fitSentiment, sentimentTensors } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await sentimentTensors({ length: 10, seed: 0 });
 * const run = await fitSentiment(d, { cell: "gru", units: 4, embeddingDim: 4, epochs: 1, seed: 0, progress: "none" });
 * console.log(run.testAccuracy > 0); // true
 * d.dispose();
 * ```
 */
export async function fitSentiment(
  data: SentimentTensors,
  options: {
    cell: CellType;
    units: number;
    embeddingDim: number;
    epochs: number;
    batchSize?: number;
    learningRate?: number;
    seed: number;
    progress?: ProgressMode;
  },
): Promise<SentimentRun> {
  const model = sequenceClassifier({
    input: { vocabSize: data.vocabSize, embeddingDim: options.embeddingDim },
    cell: options.cell,
    units: options.units,
    outputs: 2,
    seed: options.seed,
  });
  model.compile({
    optimizer: adam(options.learningRate ?? 0.005),
    loss: tf.losses.softmaxCrossEntropy,
    metrics: ["accuracy"],
  });
  try {
    const result = await train(model, data.xTrain, data.yTrain, {
      epochs: options.epochs,
      batchSize: options.batchSize ?? 32,
      seed: options.seed,
      validationData: [data.xVal, data.yVal],
      earlyStopping: { monitor: "val_acc", patience: 3, mode: "max", restoreBest: true },
      progress: options.progress ?? "auto",
      title: `sentences, ${options.cell}`,
    });
    const valAcc = result.history.val_acc ?? result.history.val_accuracy ?? [];
    const testAccuracy = tf.tidy(() => {
      const pred = tf.argMax(model.predict(data.xTest) as tf.Tensor, 1);
      return tf.mean(tf.cast(tf.equal(pred, tf.argMax(data.yTest, 1)), "float32"));
    });
    const acc = (await testAccuracy.data())[0];
    testAccuracy.dispose();
    return {
      cell: options.cell,
      testAccuracy: acc,
      valAccuracy: Math.max(...valAcc),
      params: model.countParams(),
      secondsPerEpoch: result.seconds / result.epochs,
      epochs: result.epochs,
    };
  } finally {
    disposeModel(model);
  }
}

// ---------------------------------------------------------------------------------------
// 5. Characters

/** A character corpus: vocabulary and id streams for training and validation. */
export interface CharCorpus {
  /** The characters, id order (sorted). */
  chars: string[];
  /** Training ids (the first 90 % of the text). */
  train: Int32Array;
  /** Validation ids (the last 10 %). */
  val: Int32Array;
  /** Id of a character (throws on an unknown one). */
  id(c: string): number;
}

/**
 * Builds a character corpus from texts: the vocabulary is every character of the text,
 * sorted; the last `valFraction` (default 0.1) of the characters is held out as a
 * contiguous block.
 *
 * @example
 * ```ts
 * import { charCorpus } from "nn/experiments/recurrent.ts";
 * const c = charCorpus(["abcabcabca"], { valFraction: 0.2 });
 * console.log(c.chars.join(""), c.train.length, c.val.length); // "abc" 8 2
 * ```
 */
export function charCorpus(
  texts: readonly string[],
  options: { valFraction?: number } = {},
): CharCorpus {
  const text = texts.join("\n");
  const all = Array.from(text);
  const chars = [...new Set(all)].sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(all, (c) => index.get(c)!);
  const nVal = Math.max(1, Math.round(ids.length * (options.valFraction ?? 0.1)));
  return {
    chars,
    train: ids.slice(0, ids.length - nVal),
    val: ids.slice(ids.length - nVal),
    id: (c: string) => {
      const i = index.get(c);
      if (i === undefined) {
        throw new RangeError(`Character ${JSON.stringify(c)} is not in the corpus.`);
      }
      return i;
    },
  };
}

/**
 * Loads the first `chapters` chapters of Moby-Dick from data/moby_dick/ (sha256-checked).
 *
 * @example
 * ```ts
 * import { loadMobyDick } from "nn/experiments/recurrent.ts";
 * const [first] = await loadMobyDick(1);
 * console.log(first.slice(0, 20)); // "CHAPTER 1. Loomings."
 * ```
 */
export async function loadMobyDick(chapters: number): Promise<string[]> {
  if (!(chapters >= 1 && chapters <= 10)) {
    throw new RangeError(`data/moby_dick/ holds chapters 1–10; asked for ${chapters}.`);
  }
  const out: string[] = [];
  for (let i = 1; i <= chapters; i++) out.push(await loadText(`moby_dick/chapter_${i}.txt`));
  return out;
}

/**
 * Cross-entropy in bits per character of `val` under the character frequencies of
 * `train` (add-one smoothing): the unigram baseline a language model must beat.
 *
 * @example
 * ```ts
 * import { unigramBitsPerChar } from "nn/experiments/recurrent.ts";
 * console.log(unigramBitsPerChar(Int32Array.of(0, 1), Int32Array.of(0, 1), 2)); // 1
 * ```
 */
export function unigramBitsPerChar(train: Int32Array, val: Int32Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const c of train) counts[c]++;
  const total = train.length + vocabSize;
  let bits = 0;
  for (const c of val) bits -= Math.log2(counts[c] / total);
  return bits / val.length;
}

/**
 * Cuts an id stream into windows: inputs `[n, window]` and next-character targets
 * `[n, window]` (shifted by one), windows starting every `stride` (default `window`) ids.
 *
 * @example
 * ```ts
 * import { charWindows } from "nn/experiments/recurrent.ts";
 * const w = charWindows(Int32Array.of(0, 1, 2, 3, 4), 2);
 * console.log(w.inputs, w.targets); // [[0,1],[2,3]] [[1,2],[3,4]]
 * ```
 */
export function charWindows(
  ids: Int32Array,
  window: number,
  stride = window,
): { inputs: number[][]; targets: number[][] } {
  const inputs: number[][] = [];
  const targets: number[][] = [];
  for (let s = 0; s + window + 1 <= ids.length; s += stride) {
    inputs.push(Array.from(ids.subarray(s, s + window)));
    targets.push(Array.from(ids.subarray(s + 1, s + window + 1)));
  }
  return { inputs, targets };
}

function windowTensors(ids: Int32Array, window: number, vocabSize: number) {
  const { inputs, targets } = charWindows(ids, window);
  if (inputs.length === 0) {
    throw new RangeError(`Text of ${ids.length} characters is shorter than a window of ${window}.`);
  }
  const x = tf.tensor2d(inputs, undefined, "int32");
  const y = tf.tidy(() => tf.oneHot(tf.tensor2d(targets, undefined, "int32"), vocabSize).toFloat());
  return { x, y };
}

/** Result of {@linkcode fitCharModel}. */
export interface CharRun {
  /** Validation bits per character per epoch. */
  valBitsCurve: number[];
  /** Final validation bits per character. */
  valBits: number;
  /** Unigram baseline on the same validation text. */
  unigramBits: number;
  /** Parameters. */
  params: number;
  /** Training seconds. */
  seconds: number;
  /** The trained model (the caller disposes it with `disposeModel`). */
  model: tf.LayersModel;
}

/**
 * Trains a {@linkcode charLanguageModel} on the corpus' training ids (non-overlapping
 * windows) and reports validation bits per
 * character: mean cross-entropy in nats / ln 2.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { charCorpus, fitCharModel } from "nn/experiments/recurrent.ts";
 * import { disposeModel } from "nn";
 * await setupBackend({ backend: "cpu" });
 * const c = charCorpus(["the cat sat on the mat. ".repeat(20)]);
 * const run = await fitCharModel(c, { cell: "gru", units: 8, embeddingDim: 4, window: 10, epochs: 1, seed: 0, progress: "none" });
 * console.log(run.valBits > 0); // true
 * disposeModel(run.model);
 * ```
 */
export async function fitCharModel(
  corpus: CharCorpus,
  options: {
    cell: CellType;
    units: number;
    embeddingDim: number;
    window: number;
    epochs: number;
    batchSize?: number;
    learningRate?: number;
    seed: number;
    progress?: ProgressMode;
  },
): Promise<CharRun> {
  const V = corpus.chars.length;
  const tr = windowTensors(corpus.train, options.window, V);
  const va = windowTensors(corpus.val, options.window, V);
  const model = charLanguageModel({
    vocabSize: V,
    embeddingDim: options.embeddingDim,
    units: options.units,
    cell: options.cell,
    seed: options.seed,
  });
  model.compile({
    optimizer: adam(options.learningRate ?? 0.005),
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred),
  });
  try {
    const result = await train(model, tr.x, tr.y, {
      epochs: options.epochs,
      batchSize: options.batchSize ?? 64,
      seed: options.seed,
      validationData: [va.x, va.y],
      progress: options.progress ?? "auto",
      title: `character model, ${options.cell}`,
    });
    const valBitsCurve = result.history.val_loss.map((l) => l / Math.LN2);
    return {
      valBitsCurve,
      valBits: valBitsCurve[valBitsCurve.length - 1],
      unigramBits: unigramBitsPerChar(corpus.train, corpus.val, V),
      params: model.countParams(),
      seconds: result.seconds,
      model,
    };
  } finally {
    tf.dispose([tr.x, tr.y, va.x, va.y]);
  }
}

/**
 * Samples text from a character model: feeds the last `context` characters, draws the
 * next from softmax(logits / temperature) with a seeded generator, repeats.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { charLanguageModel } from "nn";
 * import { charCorpus, sampleText } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * const c = charCorpus(["abcabc"]);
 * const m = charLanguageModel({ vocabSize: 3, units: 4, embeddingDim: 2 });
 * console.log((await sampleText(m, c, { prompt: "ab", length: 5, seed: 0 })).length); // 7
 * ```
 */
export async function sampleText(
  model: tf.LayersModel,
  corpus: CharCorpus,
  options: { prompt: string; length: number; seed: number; temperature?: number; context?: number },
): Promise<string> {
  const r = rng(options.seed);
  const temperature = options.temperature ?? 0.8;
  const context = options.context ?? 64;
  const ids = Array.from(options.prompt, (c) => corpus.id(c));
  for (let n = 0; n < options.length; n++) {
    const window = ids.slice(-context);
    const probs = tf.tidy(() => {
      const logits = model.predict(tf.tensor2d([window], [1, window.length], "int32")) as tf.Tensor;
      const last = tf.squeeze(tf.slice(logits, [0, window.length - 1, 0], [1, 1, -1]));
      return tf.softmax(tf.div(last, temperature));
    });
    const p = await probs.data();
    probs.dispose();
    let u = r.next();
    let k = 0;
    for (; k < p.length - 1; k++) {
      u -= p[k];
      if (u < 0) break;
    }
    ids.push(k);
  }
  return ids.map((i) => corpus.chars[i]).join("");
}
