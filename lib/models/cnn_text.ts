/**
 * Kim (2014) convolutional text classifier: token embedding → one Conv1D per window
 * width (ReLU, valid padding) → max over time → concatenate → dense.
 *
 * @example
 * ```ts
 * import { cnnTextClassifier } from "nn/models/cnn_text.ts";
 * const m = cnnTextClassifier({ vocabSize: 100, sequenceLength: 20, outputs: 2, seed: 0 });
 * console.log(m.outputs[0].shape); // [null, 2]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { all, create, type MathNode } from "mathjs";
import { rng } from "../random.ts";
import { ConvMaxOverTime } from "../layers/conv_max_over_time.ts";
import { fusedDense } from "../layers/fused_dense.ts";

/** Options of {@linkcode cnnTextClassifier}. */
export interface CnnTextOptions {
  /** Number of token ids. */
  vocabSize: number;
  /** Tokens per sample (must be ≥ the widest window). */
  sequenceLength: number;
  /** Embedding size. Default 64. */
  embeddingDim?: number;
  /**
   * Whether the word embeddings (词嵌入) learn (Kim's "non-static", default true) or stay
   * fixed at their initial values (Kim's "static"; frozen random vectors unless
   * `embeddingWeights` gives others). Frozen weights still count in `countParams()`.
   */
  trainableEmbeddings?: boolean;
  /** Initial embedding matrix `[vocabSize, embeddingDim]` (e.g. pretrained vectors); copied. */
  embeddingWeights?: tf.Tensor2D;
  /** Filters per window width. Default 100. */
  filters?: number;
  /** Window widths. Default [3, 4, 5]. */
  kernelSizes?: readonly number[];
  /** Classes. */
  outputs: number;
  /** Output activation. Default "linear" (logits). */
  outputActivation?: "linear" | "softmax" | "sigmoid";
  /** Dropout before the classifier (Kim used 0.5). Default 0. */
  dropout?: number;
  /** Seed of all initial weights and dropout. Default 0. */
  seed?: number;
  /**
   * "fused" (default): each branch is one {@linkcode ConvMaxOverTime} layer;
   * "layers": tfjs's `conv1d` + `globalMaxPooling1d`, for comparison.
   */
  implementation?: "fused" | "layers";
  /** Model name. */
  name?: string;
}

/**
 * Builds the Kim-2014 CNN: `ids [B, T] → [B, T, E] → per width k: [B, T−k+1, F] → max
 * [B, F] → concat [B, F·widths] → Dense`.
 *
 * @example
 * ```ts
 * import { cnnTextClassifier } from "nn/models/cnn_text.ts";
 * const m = cnnTextClassifier({ vocabSize: 5000, sequenceLength: 100, outputs: 2, seed: 0 });
 * console.log(m.countParams());
 * ```
 */
export function cnnTextClassifier(options: CnnTextOptions): tf.LayersModel {
  const widths = options.kernelSizes ?? [3, 4, 5];
  const filters = options.filters ?? 100;
  const maxWidth = Math.max(...widths);
  if (options.sequenceLength < maxWidth) {
    throw new RangeError(
      `cnnTextClassifier: sequenceLength ${options.sequenceLength} is shorter than the widest ` +
        `window (${maxWidth}); pad the sequences or use narrower kernelSizes.`,
    );
  }
  const embeddingDim = options.embeddingDim ?? 64;
  const w0 = options.embeddingWeights;
  if (w0 && (w0.shape[0] !== options.vocabSize || w0.shape[1] !== embeddingDim)) {
    throw new RangeError(
      `cnnTextClassifier: embeddingWeights has shape [${w0.shape}] but the embedding is ` +
        `[${options.vocabSize}, ${embeddingDim}]; pass vocabSize and embeddingDim that match it.`,
    );
  }
  const r = rng(options.seed ?? 0);
  const ids = tf.input({ shape: [options.sequenceLength], dtype: "int32", name: "tokens" });
  const embeddingLayer = tf.layers.embedding({
    inputDim: options.vocabSize,
    outputDim: embeddingDim,
    embeddingsInitializer: r.initializer("randomUniform", { minval: -0.05, maxval: 0.05 }),
    trainable: options.trainableEmbeddings ?? true,
    weights: w0 ? [w0.clone()] : undefined,
    name: "token_embedding",
  });
  const emb = embeddingLayer.apply(ids) as tf.SymbolicTensor; // [B, T, E]
  const fused = (options.implementation ?? "fused") === "fused";
  // a width given twice gets its position appended, so that layer names stay unique
  const tag = (k: number, i: number) =>
    widths.indexOf(k) === widths.lastIndexOf(k) ? `${k}` : `${k}_${i}`;
  const branches = widths.map((k, i) => {
    if (fused) {
      return new ConvMaxOverTime({ // [B, T, E] → [B, F]
        filters,
        kernelSize: k,
        activation: "relu",
        seed: r.nextSeed(),
        name: `conv_max_w${tag(k, i)}`,
      }).apply(emb) as tf.SymbolicTensor;
    }
    const conv = tf.layers.conv1d({
      filters,
      kernelSize: k,
      activation: "relu",
      kernelInitializer: r.initializer("heUniform"),
      name: `conv_w${tag(k, i)}`,
    }).apply(emb) as tf.SymbolicTensor; // [B, T−k+1, F]
    return tf.layers.globalMaxPooling1d({ name: `max_over_time_w${tag(k, i)}` }).apply(
      conv,
    ) as tf.SymbolicTensor; // [B, F]
  });
  let h = branches.length === 1
    ? branches[0]
    : tf.layers.concatenate({ name: "concat" }).apply(branches) as tf.SymbolicTensor; // [B, F·widths]
  if (options.dropout) {
    h = tf.layers.dropout({ rate: options.dropout, seed: r.nextSeed(), name: "dropout" }).apply(
      h,
    ) as tf.SymbolicTensor;
  }
  const out = fusedDense({
    units: options.outputs,
    activation: options.outputActivation ?? "linear",
    kernelInitializer: r.initializer("glorotUniform"),
    name: "classifier",
  }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: ids, outputs: out, name: options.name ?? "cnn_text_classifier" });
}

// ---------------------------------------------------------------------------------------
// Formulas

const math = create(all, {});

/**
 * Parameters of {@linkcode cnnTextClassifier}: embedding `v × e`; per width `k_j` a kernel
 * `k_j × e × f` and `f` biases (so `f (e K + n)` with `K = Σ k_j` and `n` widths); the
 * dense head `(n f + 1) × o`. Frozen (static) embeddings are included, as in `countParams()`.
 */
export const CNN_TEXT_PARAMETER_FORMULA = "v * e + f * (e * K + n) + (n * f + 1) * o";

/**
 * Receptive field (感受野) in tokens of a stack of stride-1 convolutions with widths `k`:
 * `1 + Σ (k_l − 1)`. Kim's model has one layer per branch, so a branch of width k sees k
 * tokens: it is an n-gram (n 元语法) detector with n = k.
 */
export const RECEPTIVE_FIELD_FORMULA = "1 + sum(k - 1)";

/** The CNN-text formulas by name, for display. */
export const CNN_TEXT_FORMULAS = {
  parameters: CNN_TEXT_PARAMETER_FORMULA,
  receptiveField: RECEPTIVE_FIELD_FORMULA,
} as const;

const compiled = new Map<string, ReturnType<MathNode["compile"]>>();

function evaluate(expression: string, scope: Record<string, number | number[]>): number {
  for (const [name, v] of Object.entries(scope)) {
    for (const x of Array.isArray(v) ? v : [v]) {
      if (!Number.isInteger(x) || x < 0) {
        throw new RangeError(`${name} = ${v} in ${expression}: sizes must be whole numbers ≥ 0.`);
      }
    }
  }
  let code = compiled.get(expression);
  if (!code) {
    code = math.parse(expression).compile();
    compiled.set(expression, code);
  }
  return Number(code.evaluate(scope));
}

/**
 * Parameters of a {@linkcode cnnTextClassifier} with these options, from
 * {@linkcode CNN_TEXT_PARAMETER_FORMULA} (what `model.countParams()` should say).
 *
 * @example
 * ```ts
 * import { cnnTextParameters } from "nn/models/cnn_text.ts";
 * console.log(cnnTextParameters({ vocabSize: 5000, outputs: 2 })); // 397702
 * ```
 */
export function cnnTextParameters(
  options: Pick<
    CnnTextOptions,
    "vocabSize" | "embeddingDim" | "filters" | "kernelSizes" | "outputs"
  >,
): number {
  const widths = options.kernelSizes ?? [3, 4, 5];
  return evaluate(CNN_TEXT_PARAMETER_FORMULA, {
    v: options.vocabSize,
    e: options.embeddingDim ?? 64,
    f: options.filters ?? 100,
    K: widths.reduce((a, b) => a + b, 0),
    n: widths.length,
    o: options.outputs,
  });
}

/**
 * Receptive field in tokens of stride-1 convolutions of widths `widths` stacked, from
 * {@linkcode RECEPTIVE_FIELD_FORMULA}; one layer of width k sees k tokens.
 *
 * @example
 * ```ts
 * import { receptiveField } from "nn/models/cnn_text.ts";
 * console.log(receptiveField([3]), receptiveField([3, 3])); // 3 5
 * ```
 */
export function receptiveField(widths: readonly number[]): number {
  if (widths.length === 0 || widths.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new RangeError(`receptiveField: widths must be whole numbers ≥ 1, got [${widths}].`);
  }
  return evaluate(RECEPTIVE_FIELD_FORMULA, { k: [...widths] });
}

/**
 * A CNN-text formula as LaTeX and plain text, for a notebook.
 *
 * @example
 * ```ts
 * import { cnnTextFormula } from "nn/models/cnn_text.ts";
 * console.log(cnnTextFormula("receptiveField").text); // "1 + sum(k - 1)"
 * ```
 */
export function cnnTextFormula(
  name: keyof typeof CNN_TEXT_FORMULAS,
): { text: string; tex: string } {
  const node = math.parse(CNN_TEXT_FORMULAS[name]);
  return { text: node.toString(), tex: node.toTex() };
}
