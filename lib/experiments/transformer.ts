/**
 * Experiment helpers of the Transformer notebook (notebooks/04_transformers.ipynb):
 * attention by hand against mathjs, the causal mask's gradient, sinusoidal position
 * encodings, an encoder classifier (编码器) on the UCI sentences, a decoder (解码器)
 * language model on Moby-Dick characters, forward+backward timing against sequence
 * length, and a synthetic long-range task (recall the first token).
 *
 * Functions return plain numbers and arrays and dispose the tensors they make, unless
 * they say they return tensors or a model.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { attentionByHand } from "nn/experiments/transformer.ts";
 * await setupBackend({ backend: "cpu" });
 * console.log((await attentionByHand({ seed: 0 })).maxDifference < 1e-5); // true
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { all, create, type Matrix } from "mathjs";
import { rng } from "../random.ts";
import { disposeModel, type ProgressMode, train } from "../train.ts";
import { adam } from "../kernels/adam.ts";
import { scaledDotProductAttention } from "../layers/scaled_dot_product_attention.ts";
import { sinusoidalTable } from "../layers/sinusoidal_position_encoding.ts";
import { MultiHeadSelfAttention } from "../layers/multi_head_attention.ts";
import {
  decoderBlock,
  decoderLanguageModel,
  type PositionKind,
  transformerClassifier,
} from "../models/transformer.ts";
import { sequenceClassifier } from "../models/recurrent.ts";
import { Vocabulary } from "../data/vocabulary.ts";
import { encodeTexts } from "../data/encode.ts";
import { wordTokenize } from "../data/tokenize.ts";
import { sequencesToTensor } from "../data/tensors.ts";
import {
  type CharCorpus,
  charWindows,
  type SentenceData,
  unigramBitsPerChar,
} from "./recurrent.ts";

const math = create(all, {});

// ---------------------------------------------------------------------------------------
// Profiles

/** Sizes of every experiment of the notebook, per profile. */
export interface TransformerProfile {
  /** Encoder classifier on the sentences. */
  sentiment: {
    length: number;
    dModel: number;
    numHeads: number;
    ffDim: number;
    numLayers: number;
    epochs: number;
    batchSize: number;
    dropout: number;
    learningRate: number;
  };
  /** Decoder language model, and the LSTM it is compared with. */
  chars: {
    chapters: number;
    window: number;
    dModel: number;
    numHeads: number;
    ffDim: number;
    numLayers: number;
    epochs: number;
    batchSize: number;
    learningRate: number;
    lstmEmbeddingDim: number;
    sampleLength: number;
  };
  /** Forward+backward timing. */
  timing: { lengths: number[]; batchSize: number; width: number; repeats: number };
  /** Long-range task: recall the first token. */
  longRange: {
    lengths: number[];
    symbols: number;
    trainSize: number;
    testSize: number;
    width: number;
    epochs: number;
    batchSize: number;
    learningRate: number;
  };
}

const PROFILES: Record<"smoke" | "full", TransformerProfile> = {
  smoke: {
    sentiment: {
      length: 20,
      dModel: 16,
      numHeads: 2,
      ffDim: 32,
      numLayers: 1,
      epochs: 2,
      batchSize: 64,
      dropout: 0.1,
      learningRate: 0.003,
    },
    chars: {
      chapters: 1,
      window: 32,
      dModel: 32,
      numHeads: 2,
      ffDim: 64,
      numLayers: 1,
      epochs: 4,
      batchSize: 32,
      learningRate: 0.003,
      lstmEmbeddingDim: 16,
      sampleLength: 80,
    },
    timing: { lengths: [16, 32, 64], batchSize: 8, width: 16, repeats: 2 },
    longRange: {
      lengths: [8, 24],
      symbols: 4,
      trainSize: 512,
      testSize: 256,
      width: 16,
      epochs: 3,
      batchSize: 32,
      learningRate: 0.005,
    },
  },
  full: {
    sentiment: {
      length: 30,
      dModel: 32,
      numHeads: 4,
      ffDim: 64,
      numLayers: 2,
      epochs: 12,
      batchSize: 32,
      dropout: 0.1,
      learningRate: 0.001,
    },
    chars: {
      chapters: 10,
      window: 64,
      dModel: 64,
      numHeads: 4,
      ffDim: 128,
      numLayers: 2,
      epochs: 12,
      batchSize: 32,
      learningRate: 0.002,
      lstmEmbeddingDim: 32,
      sampleLength: 300,
    },
    timing: { lengths: [16, 32, 64, 128, 256], batchSize: 16, width: 32, repeats: 5 },
    longRange: {
      lengths: [10, 50, 150],
      symbols: 8,
      trainSize: 2048,
      testSize: 512,
      width: 32,
      epochs: 6,
      batchSize: 64,
      learningRate: 0.003,
    },
  },
};

/**
 * The sizes of a profile, with overrides merged per section.
 *
 * @example
 * ```ts
 * import { transformerProfile } from "nn/experiments/transformer.ts";
 * console.log(transformerProfile("smoke", { chars: { epochs: 1 } }).chars.epochs); // 1
 * ```
 */
export function transformerProfile(
  profile: string,
  overrides: { [K in keyof TransformerProfile]?: Partial<TransformerProfile[K]> } = {},
): TransformerProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  const base = PROFILES[profile];
  return {
    sentiment: { ...base.sentiment, ...overrides.sentiment },
    chars: { ...base.chars, ...overrides.chars },
    timing: { ...base.timing, ...overrides.timing },
    longRange: { ...base.longRange, ...overrides.longRange },
  };
}

// ---------------------------------------------------------------------------------------
// 1. Attention by hand

/** Result of {@linkcode attentionByHand}. */
export interface AttentionByHand {
  /** The four tokens. */
  tokens: string[];
  /** Attention weights from tfjs `[4][4]` (row = query). */
  weights: number[][];
  /** Outputs from tfjs `[4][d]`. */
  output: number[][];
  /** The same weights from mathjs in float64. */
  referenceWeights: number[][];
  /** The same outputs from mathjs. */
  referenceOutput: number[][];
  /** Largest |tfjs − mathjs| over weights and outputs. */
  maxDifference: number;
}

/**
 * Self-attention (自注意力) of four token vectors `X [4, d]` (seeded normal) with random
 * projections `W_Q, W_K, W_V [d, d]`: `softmax(X W_Q (X W_K)ᵀ / √d) X W_V`, once with the
 * library's {@linkcode scaledDotProductAttention} (float32) and once with mathjs (float64).
 *
 * @example
 * ```ts
 * import { attentionByHand } from "nn/experiments/transformer.ts";
 * console.log((await attentionByHand({ seed: 1, causal: true })).weights[0]); // [1, 0, 0, 0]
 * ```
 */
export async function attentionByHand(
  options: { seed: number; d?: number; causal?: boolean; tokens?: string[] },
): Promise<AttentionByHand> {
  const d = options.d ?? 4;
  const tokens = options.tokens ?? ["the", "whale", "sank", "ships"];
  const r = rng(options.seed);
  const mat = (rows: number, cols: number, scale: number) =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => r.normal() * scale));
  // round to float32 so both sides start from the same numbers
  const f32 = (m: number[][]) => m.map((row) => Array.from(Float32Array.from(row)));
  const X = f32(mat(tokens.length, d, 1));
  const [Wq, Wk, Wv] = [0, 1, 2].map(() => f32(mat(d, d, 1 / Math.sqrt(d))));
  const n = tokens.length;
  // tfjs
  const [w, o] = tf.tidy(() => {
    const x = tf.tensor2d(X);
    const q = tf.matMul(x, tf.tensor2d(Wq));
    const k = tf.matMul(x, tf.tensor2d(Wk));
    const v = tf.matMul(x, tf.tensor2d(Wv));
    const res = scaledDotProductAttention(q, k, v, { causal: options.causal });
    return [res.weights, res.output];
  });
  const weights = await w.array() as number[][];
  const output = await o.array() as number[][];
  tf.dispose([w, o]);
  // mathjs
  const Q = math.multiply(X, Wq) as number[][];
  const K = math.multiply(X, Wk) as number[][];
  const V = math.multiply(X, Wv) as number[][];
  const S = math.divide(math.multiply(Q, math.transpose(K)), Math.sqrt(d)) as number[][];
  const referenceWeights = S.map((row, i) => {
    const masked = row.map((s, j) => (options.causal && j > i ? -Infinity : s));
    const m = Math.max(...masked);
    const e = masked.map((s) => Math.exp(s - m));
    const z = math.sum(e) as number;
    return e.map((x) => x / z);
  });
  const referenceOutput = (math.multiply(math.matrix(referenceWeights), math.matrix(V)) as Matrix)
    .toArray() as number[][];
  let maxDifference = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      maxDifference = Math.max(maxDifference, Math.abs(weights[i][j] - referenceWeights[i][j]));
    }
    for (let j = 0; j < d; j++) {
      maxDifference = Math.max(maxDifference, Math.abs(output[i][j] - referenceOutput[i][j]));
    }
  }
  return { tokens, weights, output, referenceWeights, referenceOutput, maxDifference };
}

/** Result of {@linkcode causalGradients}. */
export interface CausalGradients {
  /** `norms[t][s]` = ‖∂ sum(y_t) / ∂x_s‖ over the batch (row = output position). */
  norms: number[][];
  /** Largest |∂y_t/∂x_s| with s > t (0 when the mask works). */
  leak: number;
  /** Smallest ‖∂y_t/∂x_s‖ with s ≤ t (> 0: the past does reach the output). */
  smallestPast: number;
}

/**
 * Gradients of each output position of a stack of causal decoder blocks with respect
 * to each input position, on random `[batch, length, dModel]` inputs.
 *
 * @example
 * ```ts
 * import { causalGradients } from "nn/experiments/transformer.ts";
 * console.log((await causalGradients({ seed: 0, length: 4 })).leak); // 0
 * ```
 */
export async function causalGradients(
  options: { seed: number; length?: number; dModel?: number; numLayers?: number; batch?: number },
): Promise<CausalGradients> {
  const T = options.length ?? 8;
  const D = options.dModel ?? 16;
  const input = tf.input({ shape: [T, D] });
  let h = input;
  for (let i = 0; i < (options.numLayers ?? 2); i++) {
    h = decoderBlock(h, { numHeads: 2, ffDim: 2 * D, seed: options.seed + i, name: `g${i}` });
  }
  const model = tf.model({ inputs: input, outputs: h });
  const x = tf.randomNormal([options.batch ?? 4, T, D], 0, 1, "float32", options.seed);
  const norms: number[][] = [];
  let leak = 0;
  let smallestPast = Infinity;
  for (let t = 0; t < T; t++) {
    const g = tf.grad((xx: tf.Tensor) =>
      tf.sum(tf.slice(model.apply(xx) as tf.Tensor, [0, t, 0], [-1, 1, -1]))
    )(x);
    const perPos = tf.tidy(() => tf.sqrt(tf.sum(tf.square(g), [0, 2])));
    const absMax = tf.tidy(() => tf.max(tf.abs(g), [0, 2]));
    const row = Array.from(await perPos.data());
    const mx = await absMax.data();
    norms.push(row);
    for (let s = 0; s < T; s++) {
      if (s > t) leak = Math.max(leak, mx[s]);
      else smallestPast = Math.min(smallestPast, row[s]);
    }
    tf.dispose([g, perPos, absMax]);
  }
  x.dispose();
  model.dispose();
  return { norms, leak, smallestPast };
}

// ---------------------------------------------------------------------------------------
// 2. Position encodings

/** Result of {@linkcode positionDotProducts}. */
export interface PositionDotProducts {
  /** The table `[length][d]` (float64). */
  table: number[][];
  /** Distances 0 … maxDistance. */
  distances: number[];
  /** Mean over start positions p of PE[p]·PE[p+k], per distance k. */
  meanDot: number[];
  /** Largest spread (max − min over p) of PE[p]·PE[p+k] over all k: 0 in exact arithmetic. */
  maxSpread: number;
}

/**
 * Dot products of sinusoidal encodings against distance, computed from the float32
 * table the layer adds (so the spread measures float32 rounding too).
 *
 * @example
 * ```ts
 * import { positionDotProducts } from "nn/experiments/transformer.ts";
 * const r = positionDotProducts({ length: 32, d: 16, maxDistance: 8 });
 * console.log(r.meanDot[0]); // 8 (= d / 2)
 * ```
 */
export function positionDotProducts(
  options: { length: number; d: number; maxDistance: number },
): PositionDotProducts {
  const table = sinusoidalTable(options.length, options.d);
  const t32 = table.map((row) => Float32Array.from(row));
  const distances: number[] = [];
  const meanDot: number[] = [];
  let maxSpread = 0;
  for (let k = 0; k <= options.maxDistance; k++) {
    const dots: number[] = [];
    for (let p = 0; p + k < options.length; p++) {
      let s = 0;
      for (let j = 0; j < options.d; j++) s += t32[p][j] * t32[p + k][j];
      dots.push(s);
    }
    if (dots.length === 0) break;
    distances.push(k);
    meanDot.push(dots.reduce((a, b) => a + b, 0) / dots.length);
    maxSpread = Math.max(maxSpread, Math.max(...dots) - Math.min(...dots));
  }
  return { table, distances, meanDot, maxSpread };
}

// ---------------------------------------------------------------------------------------
// 3. Encoder classifier on sentences

// The split itself is the recurrent notebook's: one implementation in ./recurrent.ts.
export { type SentenceData, sentenceData } from "./recurrent.ts";

/** Result of {@linkcode fitEncoderClassifier}. */
export interface EncoderRun {
  /** Test accuracy of the epoch with the best validation accuracy. */
  testAccuracy: number;
  /** Predicted test labels. */
  testPredictions: number[];
  /** Training history (loss, acc, val_loss, val_acc per epoch). */
  history: Record<string, number[]>;
  /** Parameters. */
  params: number;
  /** Training seconds. */
  seconds: number;
  /** The trained model (the caller disposes it with `disposeModel`). */
  model: tf.LayersModel;
}

/**
 * Trains a BERT-style encoder classifier (pre-norm blocks, learned positions, mean over
 * time) on the sentences, early-stopped on validation accuracy (best weights restored).
 *
 * @example
 * ```ts
 * import { disposeModel, setupBackend } from "nn";
 * import { fitEncoderClassifier, sentenceData } from "nn/experiments/transformer.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await sentenceData({ length: 10, seed: 0 });
 * const run = await fitEncoderClassifier(d, { dModel: 8, numHeads: 2, ffDim: 8, numLayers: 1, epochs: 1, seed: 0, progress: "none" });
 * console.log(run.testAccuracy > 0); // true
 * disposeModel(run.model);
 * d.dispose();
 * ```
 */
export async function fitEncoderClassifier(
  data: SentenceData,
  options: {
    dModel: number;
    numHeads: number;
    ffDim: number;
    numLayers: number;
    epochs: number;
    batchSize?: number;
    dropout?: number;
    learningRate?: number;
    positions?: PositionKind;
    seed: number;
    progress?: ProgressMode;
  },
): Promise<EncoderRun> {
  const t = data.tensors;
  const model = transformerClassifier({
    vocabSize: data.vocabulary.size,
    sequenceLength: t.xTrain.shape[1],
    dModel: options.dModel,
    numHeads: options.numHeads,
    ffDim: options.ffDim,
    numLayers: options.numLayers,
    outputs: 2,
    dropout: options.dropout,
    norm: "pre",
    positions: options.positions,
    embeddingStddev: 0.1,
    seed: options.seed,
    name: "encoder_classifier",
  });
  model.compile({
    optimizer: adam(options.learningRate ?? 0.001),
    loss: tf.losses.softmaxCrossEntropy,
    metrics: ["accuracy"],
  });
  const result = await train(model, t.xTrain, t.yTrain, {
    epochs: options.epochs,
    batchSize: options.batchSize ?? 32,
    seed: options.seed,
    validationData: [t.xVal, t.yVal],
    earlyStopping: { monitor: "val_acc", patience: 3, mode: "max", restoreBest: true },
    progress: options.progress ?? "auto",
    title: "encoder classifier",
  });
  const pred = tf.tidy(() => tf.argMax(model.predict(t.xTest) as tf.Tensor, 1));
  const testPredictions = Array.from(await pred.data());
  pred.dispose();
  const hits = testPredictions.filter((p, i) => p === data.labels.test[i]).length;
  return {
    testAccuracy: hits / testPredictions.length,
    testPredictions,
    history: result.history,
    params: model.countParams(),
    seconds: result.seconds,
    model,
  };
}

/**
 * Attention weights `[heads][T][T]` of one encoder block of a trained classifier for
 * one sentence, cut to the sentence's real tokens; with the tokens as labels.
 *
 * @example
 * ```ts
 * // const { tokens, weights } = await sentenceAttention(run.model, data.vocabulary, "Great food!", { length: 20 });
 * ```
 */
export async function sentenceAttention(
  model: tf.LayersModel,
  vocabulary: Vocabulary,
  text: string,
  options: { length: number; block?: number },
): Promise<{ tokens: string[]; weights: number[][][] }> {
  const name = `block${options.block ?? 1}_attention`;
  const layer = model.getLayer(name) as unknown as MultiHeadSelfAttention;
  const sub = tf.model({
    inputs: model.inputs,
    outputs: (layer as unknown as tf.layers.Layer).input as tf.SymbolicTensor,
  });
  const words = wordTokenize(text).slice(0, options.length);
  const ids = sequencesToTensor(encodeTexts([text], vocabulary, { length: options.length }));
  const w = tf.tidy(() => layer.attentionWeights(sub.predict(ids) as tf.Tensor));
  const all = (await w.array()) as number[][][][];
  tf.dispose([ids, w]);
  const n = words.length;
  return {
    tokens: words.map((t) => vocabulary.has(t) ? t : `${t}?`),
    weights: all[0].map((head) => head.slice(0, n).map((row) => row.slice(0, n))),
  };
}

// ---------------------------------------------------------------------------------------
// 4. Decoder language model

/** Result of {@linkcode fitDecoderModel}. */
export interface DecoderRun {
  /** Training loss per epoch in bits per character. */
  trainBitsCurve: number[];
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

function windowTensors(ids: Int32Array, window: number, vocabSize: number) {
  const { inputs, targets } = charWindows(ids, window);
  if (inputs.length === 0) {
    throw new RangeError(`Text of ${ids.length} characters is shorter than a window of ${window}.`);
  }
  const x = tf.tensor2d(inputs, undefined, "int32");
  const y = tf.tidy(() => tf.oneHot(tf.tensor2d(targets, undefined, "int32"), vocabSize).toFloat());
  return { x, y };
}

/**
 * Trains a GPT-style {@linkcode decoderLanguageModel} on the corpus' training ids
 * (non-overlapping windows, the same windows the recurrent notebook's `fitCharModel`
 * uses) and reports bits per character.
 *
 * @example
 * ```ts
 * import { disposeModel, setupBackend } from "nn";
 * import { charCorpus } from "nn/experiments/recurrent.ts";
 * import { fitDecoderModel } from "nn/experiments/transformer.ts";
 * await setupBackend({ backend: "cpu" });
 * const c = charCorpus(["the cat sat on the mat. ".repeat(20)]);
 * const run = await fitDecoderModel(c, { window: 10, dModel: 8, numHeads: 2, ffDim: 16, numLayers: 1, epochs: 1, seed: 0, progress: "none" });
 * console.log(run.valBits > 0); // true
 * disposeModel(run.model);
 * ```
 */
export async function fitDecoderModel(
  corpus: CharCorpus,
  options: {
    window: number;
    dModel: number;
    numHeads: number;
    ffDim: number;
    numLayers: number;
    epochs: number;
    batchSize?: number;
    learningRate?: number;
    seed: number;
    progress?: ProgressMode;
  },
): Promise<DecoderRun> {
  const V = corpus.chars.length;
  const tr = windowTensors(corpus.train, options.window, V);
  const va = windowTensors(corpus.val, options.window, V);
  const model = decoderLanguageModel({
    vocabSize: V,
    maxLength: options.window,
    dModel: options.dModel,
    numHeads: options.numHeads,
    ffDim: options.ffDim,
    numLayers: options.numLayers,
    seed: options.seed,
  });
  model.compile({
    optimizer: adam(options.learningRate ?? 0.002),
    loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred),
  });
  try {
    const result = await train(model, tr.x, tr.y, {
      epochs: options.epochs,
      batchSize: options.batchSize ?? 32,
      seed: options.seed,
      validationData: [va.x, va.y],
      progress: options.progress ?? "auto",
      title: "decoder language model",
    });
    const valBitsCurve = result.history.val_loss.map((l) => l / Math.LN2);
    return {
      trainBitsCurve: result.history.loss.map((l) => l / Math.LN2),
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
 * LSTM units u whose character model (embedding e, LSTM u, dense head over V characters:
 * `V·e + 4u(e + u + 1) + (u + 1)V` parameters) comes closest to `params`.
 *
 * @example
 * ```ts
 * import { matchingLstmUnits } from "nn/experiments/transformer.ts";
 * console.log(matchingLstmUnits({ params: 80000, vocabSize: 60, embeddingDim: 32 })); // 118
 * ```
 */
export function matchingLstmUnits(
  options: { params: number; vocabSize: number; embeddingDim: number },
): number {
  const { vocabSize: V, embeddingDim: e } = options;
  const count = (u: number) => V * e + 4 * u * (e + u + 1) + (u + 1) * V;
  // 4u² + (4e + 4 + V)u + V·e + V − params = 0
  const b = 4 * e + 4 + V;
  const c = V * e + V - options.params;
  const root = Math.max(1, Math.round((-b + Math.sqrt(b * b - 16 * c)) / 8));
  return [root - 1, root, root + 1].filter((u) => u >= 1)
    .sort((x, y) => Math.abs(count(x) - options.params) - Math.abs(count(y) - options.params))[0];
}

// ---------------------------------------------------------------------------------------
// 5. Parallelism

/** Builds the two classifiers compared in section 5 (ids `[B, T]` → 2 logits). */
export function comparisonModel(
  kind: "lstm" | "transformer",
  options: { vocabSize: number; length: number; width: number; seed: number; outputs?: number },
): tf.LayersModel {
  const outputs = options.outputs ?? 2;
  if (kind === "lstm") {
    return sequenceClassifier({
      input: { vocabSize: options.vocabSize, embeddingDim: options.width },
      cell: "lstm",
      units: options.width,
      outputs,
      seed: options.seed,
    });
  }
  return transformerClassifier({
    vocabSize: options.vocabSize,
    sequenceLength: options.length,
    dModel: options.width,
    numHeads: 2,
    ffDim: 2 * options.width,
    numLayers: 1,
    outputs,
    norm: "pre",
    embeddingStddev: 0.1,
    seed: options.seed,
  });
}

/** One timing row of {@linkcode timeForwardBackward}. */
export interface TimingRow {
  /** Model kind. */
  kind: "lstm" | "transformer";
  /** Sequence length T. */
  length: number;
  /** Median milliseconds of one forward + backward pass (gradients of every weight). */
  ms: number;
  /** Parameters. */
  params: number;
}

/**
 * Measures forward + backward time (loss and the gradients of all weights, no update)
 * per batch for an LSTM and a one-block Transformer of the same width, at each length.
 * Median of `repeats` after one warm-up pass.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { timeForwardBackward } from "nn/experiments/transformer.ts";
 * await setupBackend({ backend: "cpu" });
 * const rows = await timeForwardBackward({ lengths: [8], batchSize: 2, width: 8, repeats: 1, seed: 0 });
 * console.log(rows.length); // 2
 * ```
 */
export async function timeForwardBackward(
  options: { lengths: number[]; batchSize: number; width: number; repeats: number; seed: number },
): Promise<TimingRow[]> {
  const rows: TimingRow[] = [];
  const vocabSize = 100;
  for (const length of options.lengths) {
    const x = tf.randomUniform([options.batchSize, length], 1, vocabSize, "int32", options.seed);
    const y = tf.oneHot(tf.zeros([options.batchSize], "int32"), 2).toFloat();
    for (const kind of ["lstm", "transformer"] as const) {
      const model = comparisonModel(kind, { vocabSize, length, width: options.width, seed: 0 });
      const step = async () => {
        const { value, grads } = tf.variableGrads(() =>
          tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar
        );
        await value.data();
        tf.dispose([value, ...Object.values(grads)]);
      };
      await step();
      const times: number[] = [];
      for (let i = 0; i < options.repeats; i++) {
        const t0 = performance.now();
        await step();
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      rows.push({
        kind,
        length,
        ms: times[Math.floor(times.length / 2)],
        params: model.countParams(),
      });
      disposeModel(model);
    }
    tf.dispose([x, y]);
  }
  return rows;
}

/** Data of the recall-the-first-token task. */
export interface RecallData {
  /** Ids `[n, length]`: random symbols 1 … symbols. */
  x: tf.Tensor2D;
  /** One-hot `[n, symbols]` of the first symbol (class = symbol − 1). */
  y: tf.Tensor2D;
  /** Frees the tensors. */
  dispose(): void;
}

/**
 * The long-range task: a sequence of `length` random symbols; the label is the FIRST
 * symbol, so the answer lies `length − 1` steps before the end. Chance accuracy is
 * 1 / symbols.
 *
 * @example
 * ```ts
 * import { recallFirstTask } from "nn/experiments/transformer.ts";
 * const d = recallFirstTask({ n: 3, length: 5, symbols: 4, seed: 0 });
 * console.log(d.x.shape, d.y.shape); // [3, 5] [3, 4]
 * d.dispose();
 * ```
 */
export function recallFirstTask(
  options: { n: number; length: number; symbols: number; seed: number },
): RecallData {
  const r = rng(options.seed);
  const ids = new Int32Array(options.n * options.length);
  const labels = new Int32Array(options.n);
  for (let i = 0; i < options.n; i++) {
    for (let t = 0; t < options.length; t++) {
      ids[i * options.length + t] = 1 + r.int(options.symbols);
    }
    labels[i] = ids[i * options.length] - 1;
  }
  const x = tf.tensor2d(ids, [options.n, options.length], "int32");
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), options.symbols).toFloat());
  return { x, y: y as tf.Tensor2D, dispose: () => tf.dispose([x, y]) };
}

/** One run of {@linkcode fitRecall}. */
export interface RecallRun {
  /** Model kind. */
  kind: "lstm" | "transformer";
  /** Sequence length (distance of the answer from the end + 1). */
  length: number;
  /** Test accuracy after training. */
  testAccuracy: number;
  /** Parameters. */
  params: number;
  /** Training seconds. */
  seconds: number;
}

/**
 * Trains an LSTM or a one-block Transformer of the same width on the recall task with
 * the same budget (epochs, batch, Adam learning rate) and measures test accuracy.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { fitRecall } from "nn/experiments/transformer.ts";
 * await setupBackend({ backend: "cpu" });
 * const r = await fitRecall({ kind: "transformer", length: 6, symbols: 4, trainSize: 64, testSize: 32, width: 8, epochs: 1, seed: 0, progress: "none" });
 * console.log(r.testAccuracy >= 0); // true
 * ```
 */
export async function fitRecall(
  options: {
    kind: "lstm" | "transformer";
    length: number;
    symbols: number;
    trainSize: number;
    testSize: number;
    width: number;
    epochs: number;
    batchSize?: number;
    learningRate?: number;
    seed: number;
    progress?: ProgressMode;
  },
): Promise<RecallRun> {
  const trainData = recallFirstTask({
    n: options.trainSize,
    length: options.length,
    symbols: options.symbols,
    seed: options.seed,
  });
  const testData = recallFirstTask({
    n: options.testSize,
    length: options.length,
    symbols: options.symbols,
    seed: options.seed + 1000,
  });
  const model = comparisonModel(options.kind, {
    vocabSize: options.symbols + 1,
    length: options.length,
    width: options.width,
    outputs: options.symbols,
    seed: options.seed,
  });
  model.compile({
    optimizer: adam(options.learningRate ?? 0.003),
    loss: tf.losses.softmaxCrossEntropy,
  });
  try {
    const result = await train(model, trainData.x, trainData.y, {
      epochs: options.epochs,
      batchSize: options.batchSize ?? 64,
      seed: options.seed,
      progress: options.progress ?? "auto",
      title: `recall the first token, ${options.kind}, T = ${options.length}`,
    });
    const acc = tf.tidy(() =>
      tf.mean(tf.cast(
        tf.equal(
          tf.argMax(model.predict(testData.x) as tf.Tensor, 1),
          tf.argMax(testData.y, 1),
        ),
        "float32",
      ))
    );
    const testAccuracy = (await acc.data())[0];
    acc.dispose();
    return {
      kind: options.kind,
      length: options.length,
      testAccuracy,
      params: model.countParams(),
      seconds: result.seconds,
    };
  } finally {
    disposeModel(model);
    trainData.dispose();
    testData.dispose();
  }
}
