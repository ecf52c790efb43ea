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
import { rng } from "../random.ts";
import { ConvMaxOverTime } from "../layers/conv_max_over_time.ts";

/** Options of {@linkcode cnnTextClassifier}. */
export interface CnnTextOptions {
  /** Number of token ids. */
  vocabSize: number;
  /** Tokens per sample (must be ≥ the widest window). */
  sequenceLength: number;
  /** Embedding size. Default 64. */
  embeddingDim?: number;
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
  const r = rng(options.seed ?? 0);
  const ids = tf.input({ shape: [options.sequenceLength], dtype: "int32", name: "tokens" });
  const emb = tf.layers.embedding({
    inputDim: options.vocabSize,
    outputDim: options.embeddingDim ?? 64,
    embeddingsInitializer: r.initializer("randomUniform", { minval: -0.05, maxval: 0.05 }),
    name: "token_embedding",
  }).apply(ids) as tf.SymbolicTensor; // [B, T, E]
  const fused = (options.implementation ?? "fused") === "fused";
  const branches = widths.map((k) => {
    if (fused) {
      return new ConvMaxOverTime({ // [B, T, E] → [B, F]
        filters,
        kernelSize: k,
        activation: "relu",
        seed: r.nextSeed(),
        name: `conv_max_w${k}`,
      }).apply(emb) as tf.SymbolicTensor;
    }
    const conv = tf.layers.conv1d({
      filters,
      kernelSize: k,
      activation: "relu",
      kernelInitializer: r.initializer("heUniform"),
      name: `conv_w${k}`,
    }).apply(emb) as tf.SymbolicTensor; // [B, T−k+1, F]
    return tf.layers.globalMaxPooling1d({ name: `max_over_time_w${k}` }).apply(
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
  const out = tf.layers.dense({
    units: options.outputs,
    activation: options.outputActivation ?? "linear",
    kernelInitializer: r.initializer("glorotUniform"),
    name: "classifier",
  }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: ids, outputs: out, name: options.name ?? "cnn_text_classifier" });
}
