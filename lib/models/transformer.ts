/**
 * Transformer builders: an encoder block and an encoder classifier (token embedding +
 * learned positions → N post-norm encoder blocks → mean over time → dense), the
 * shape of PyTorch's `nn.TransformerEncoderLayer(norm_first=False)` with ReLU.
 *
 * The attention, layer norm and position layers are this library's serialisable
 * custom layers, so models save and load with tfjs as usual.
 *
 * @example
 * ```ts
 * import { transformerClassifier } from "nn/models/transformer.ts";
 * const model = transformerClassifier({
 *   vocabSize: 100, sequenceLength: 16, dModel: 32, numHeads: 4, ffDim: 64,
 *   numLayers: 2, outputs: 2, seed: 0,
 * });
 * console.log(model.outputs[0].shape); // [null, 2]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { LayerNorm } from "../layers/layer_norm.ts";
import { MultiHeadSelfAttention } from "../layers/multi_head_attention.ts";
import { PositionEmbedding } from "../layers/position_embedding.ts";

/** Options of {@linkcode encoderBlock}. */
export interface EncoderBlockOptions {
  /** Attention heads (dModel must divide by it). */
  numHeads: number;
  /** Width of the feed-forward hidden layer. */
  ffDim: number;
  /** Seed of this block's weights. */
  seed: number;
  /** Mask future positions (a decoder block). Default false. */
  causal?: boolean;
  /** Dropout after attention and feed-forward (0 = none). Default 0. */
  dropout?: number;
  /** Layer name prefix. Default "block". */
  name?: string;
  /** Layer norm epsilon. Default 1e-5. */
  epsilon?: number;
}

/**
 * One post-norm Transformer block on a symbolic `[B, T, D]` tensor:
 * `x = LN(x + MHA(x)); x = LN(x + W2·relu(W1·x))`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { encoderBlock } from "nn/models/transformer.ts";
 * const x = tf.input({ shape: [10, 16] });
 * const y = encoderBlock(x, { numHeads: 2, ffDim: 32, seed: 1 });
 * console.log(y.shape); // [null, 10, 16]
 * ```
 */
export function encoderBlock(
  x: tf.SymbolicTensor,
  options: EncoderBlockOptions,
): tf.SymbolicTensor {
  const d = x.shape[x.shape.length - 1] as number;
  const r = rng(options.seed);
  const name = options.name ?? `block_${options.seed}`;
  const eps = options.epsilon ?? 1e-5;
  const drop = (t: tf.SymbolicTensor, suffix: string) =>
    options.dropout
      ? tf.layers.dropout({
        rate: options.dropout,
        seed: r.nextSeed(),
        name: `${name}_${suffix}_dropout`,
      })
        .apply(t) as tf.SymbolicTensor
      : t;
  // [B, T, D] → attention → [B, T, D]
  const att = new MultiHeadSelfAttention({
    numHeads: options.numHeads,
    causal: options.causal,
    seed: r.nextSeed(),
    name: `${name}_attention`,
  }).apply(x) as tf.SymbolicTensor;
  const res1 = tf.layers.add({ name: `${name}_residual1` }).apply([x, drop(att, "att")]);
  const h = new LayerNorm({ epsilon: eps, name: `${name}_norm1` }).apply(res1) as tf.SymbolicTensor;
  // position-wise feed-forward: [B, T, D] → [B, T, ff] → [B, T, D]
  const ff1 = tf.layers.dense({
    units: options.ffDim,
    activation: "relu",
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${name}_ff1`,
  }).apply(h) as tf.SymbolicTensor;
  const ff2 = tf.layers.dense({
    units: d,
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${name}_ff2`,
  }).apply(ff1) as tf.SymbolicTensor;
  const res2 = tf.layers.add({ name: `${name}_residual2` }).apply([h, drop(ff2, "ff")]);
  return new LayerNorm({ epsilon: eps, name: `${name}_norm2` }).apply(res2) as tf.SymbolicTensor;
}

/** Options of {@linkcode transformerClassifier}. */
export interface TransformerClassifierOptions {
  /** Number of token ids (ids are 0 … vocabSize − 1). */
  vocabSize: number;
  /** Tokens per sample (T). */
  sequenceLength: number;
  /** Model width D (embedding size). Default 64. */
  dModel?: number;
  /** Attention heads. Default 4. */
  numHeads?: number;
  /** Feed-forward width. Default 2·dModel. */
  ffDim?: number;
  /** Encoder blocks. Default 2. */
  numLayers?: number;
  /** Classes. */
  outputs: number;
  /** Output activation. Default "linear" (logits; pair with a softmax cross-entropy). */
  outputActivation?: "linear" | "softmax" | "sigmoid";
  /** Dropout rate inside the blocks. Default 0. */
  dropout?: number;
  /** Seed of all initial weights. Default 0. */
  seed?: number;
  /** Model name. */
  name?: string;
}

/**
 * Builds the encoder classifier of the reference benchmark:
 * `ids [B, T] → Embedding + positions [B, T, D] → N × encoderBlock → mean over T → Dense`.
 *
 * @example
 * ```ts
 * import { transformerClassifier } from "nn/models/transformer.ts";
 * const m = transformerClassifier({ vocabSize: 5000, sequenceLength: 64, outputs: 2, seed: 0 });
 * console.log(m.countParams());
 * ```
 */
export function transformerClassifier(options: TransformerClassifierOptions): tf.LayersModel {
  const d = options.dModel ?? 64;
  const heads = options.numHeads ?? 4;
  const layers = options.numLayers ?? 2;
  const r = rng(options.seed ?? 0);
  const ids = tf.input({ shape: [options.sequenceLength], dtype: "int32", name: "tokens" });
  const emb = tf.layers.embedding({
    inputDim: options.vocabSize,
    outputDim: d,
    embeddingsInitializer: r.initializer("randomNormal", { mean: 0, stddev: 1 }),
    name: "token_embedding",
  }).apply(ids) as tf.SymbolicTensor; // [B, T, D]
  let x = new PositionEmbedding({
    maxLength: options.sequenceLength,
    seed: r.nextSeed(),
    name: "position_embedding",
  }).apply(emb) as tf.SymbolicTensor;
  for (let i = 0; i < layers; i++) {
    x = encoderBlock(x, {
      numHeads: heads,
      ffDim: options.ffDim ?? 2 * d,
      seed: r.nextSeed(),
      dropout: options.dropout,
      name: `block${i + 1}`,
    });
  }
  const pooled = tf.layers.globalAveragePooling1d({ name: "mean_over_time" }).apply(
    x,
  ) as tf.SymbolicTensor;
  const out = tf.layers.dense({
    units: options.outputs,
    activation: options.outputActivation ?? "linear",
    kernelInitializer: r.initializer("glorotUniform"),
    name: "classifier",
  }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: ids, outputs: out, name: options.name ?? "transformer_classifier" });
}
