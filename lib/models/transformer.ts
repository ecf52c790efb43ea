/**
 * Transformer builders: an encoder block and an encoder classifier (token embedding +
 * learned positions → N post-norm encoder blocks → mean over time → dense), the
 * shape of PyTorch's `nn.TransformerEncoderLayer(norm_first=False)` with ReLU.
 *
 * The classifier masks padding by default, as BERT does: token id 0 (`padId`) is
 * padding, its keys get zero attention in every block and the mean over time counts the
 * real tokens only (`maskPadding: false` gives the unmasked model of the reference
 * benchmark, where padding takes part in attention and in the mean).
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
import { fusedDense } from "../layers/fused_dense.ts";
import { PaddingMask } from "../layers/cross_attention.ts";
import { MaskedMeanPooling } from "../layers/masked_mean_pooling.ts";
import { MultiHeadSelfAttention } from "../layers/multi_head_attention.ts";
import { PositionEmbedding } from "../layers/position_embedding.ts";
import { SinusoidalPositionEncoding } from "../layers/sinusoidal_position_encoding.ts";

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
  /**
   * Key padding mask `[B, T]` (1 for a token, 0 for padding; `PaddingMask` of the ids):
   * padded keys get zero attention weight. Default: none, every position is a token.
   */
  keyMask?: tf.SymbolicTensor;
}

/** The block's attention layer applied to `x`, with the key mask when there is one. */
function selfAttention(
  x: tf.SymbolicTensor,
  options: EncoderBlockOptions,
  seed: number,
  name: string,
): tf.SymbolicTensor {
  const layer = new MultiHeadSelfAttention({
    numHeads: options.numHeads,
    causal: options.causal,
    seed,
    name: `${name}_attention`,
  });
  return layer.apply(options.keyMask ? [x, options.keyMask] : x) as tf.SymbolicTensor;
}

/**
 * One post-norm Transformer block on a symbolic `[B, T, D]` tensor:
 * `x = LN(x + MHA(x)); x = LN(x + W2·relu(W1·x))`. Each "Add & Norm" is one
 * {@linkcode LayerNorm} given `[x, sublayer(x)]`: it normalises their sum, in one pass on
 * cpu and wasm.
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
  // [B, T, D] → attention (padded keys masked when options.keyMask) → [B, T, D]
  const att = selfAttention(x, options, r.nextSeed(), name);
  // Add & Norm: LN(x + att), the residual's add inside the layer norm's pass
  const h = new LayerNorm({ epsilon: eps, name: `${name}_norm1` })
    .apply([x, drop(att, "att")]) as tf.SymbolicTensor;
  // position-wise feed-forward: [B, T, D] → [B, T, ff] → [B, T, D]
  const ff1 = fusedDense({
    units: options.ffDim,
    activation: "relu",
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${name}_ff1`,
  }).apply(h) as tf.SymbolicTensor;
  const ff2 = fusedDense({
    units: d,
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${name}_ff2`,
  }).apply(ff1) as tf.SymbolicTensor;
  // Add & Norm: LN(h + ff)
  return new LayerNorm({ epsilon: eps, name: `${name}_norm2` })
    .apply([h, drop(ff2, "ff")]) as tf.SymbolicTensor;
}

/**
 * One pre-norm Transformer block (GPT-2, and PyTorch's `norm_first=True`):
 * `x = x + MHA(LN(x)); x = x + W2·relu(W1·LN(x))` — residual connections (残差连接)
 * around self-attention (自注意力) and the position-wise feed-forward network (前馈网络),
 * each after a broadcasting layer normalisation (层归一化). With `causal: true` it is a
 * decoder (解码器) block; {@linkcode decoderBlock} says so by name.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { preNormBlock } from "nn/models/transformer.ts";
 * const x = tf.input({ shape: [10, 16] });
 * console.log(preNormBlock(x, { numHeads: 2, ffDim: 32, seed: 1 }).shape); // [null, 10, 16]
 * ```
 */
export function preNormBlock(
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
      }).apply(t) as tf.SymbolicTensor
      : t;
  const n1 = new LayerNorm({ epsilon: eps, name: `${name}_norm1` }).apply(x) as tf.SymbolicTensor;
  const att = selfAttention(n1, options, r.nextSeed(), name);
  // res1 = x + att (the residual stream) and n2 = LN(res1) from one op: the Add & Norm
  // that keeps its sum (the add inside the norm's pass, their gradients summed in its kernel)
  const [res1, n2] = new LayerNorm({ epsilon: eps, returnSum: true, name: `${name}_norm2` })
    .apply([x, drop(att, "att")]) as tf.SymbolicTensor[]; // [B, T, D] each
  const ff1 = fusedDense({
    units: options.ffDim,
    activation: "relu",
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${name}_ff1`,
  }).apply(n2) as tf.SymbolicTensor;
  const ff2 = fusedDense({
    units: d,
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${name}_ff2`,
  }).apply(ff1) as tf.SymbolicTensor;
  return tf.layers.add({ name: `${name}_residual2` }).apply([
    res1,
    drop(ff2, "ff"),
  ]) as tf.SymbolicTensor;
}

/**
 * A causal pre-norm decoder block: {@linkcode preNormBlock} with `causal: true`, so
 * position t attends only to positions ≤ t.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { decoderBlock } from "nn/models/transformer.ts";
 * const x = tf.input({ shape: [null, 16] });
 * console.log(decoderBlock(x, { numHeads: 2, ffDim: 32, seed: 1 }).shape); // [null, null, 16]
 * ```
 */
export function decoderBlock(
  x: tf.SymbolicTensor,
  options: Omit<EncoderBlockOptions, "causal">,
): tf.SymbolicTensor {
  return preNormBlock(x, { ...options, causal: true });
}

/** Which position encoding a builder adds: a learned table or the fixed sinusoids. */
export type PositionKind = "learned" | "sinusoidal";

function addPositions(
  emb: tf.SymbolicTensor,
  kind: PositionKind,
  maxLength: number,
  seed: number,
): tf.SymbolicTensor {
  const layer = kind === "sinusoidal"
    ? new SinusoidalPositionEncoding({ name: "position_encoding" })
    : new PositionEmbedding({ maxLength, seed, name: "position_embedding" });
  return layer.apply(emb) as tf.SymbolicTensor;
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
  /** "post" (default; the reference benchmark's) or "pre" ({@linkcode preNormBlock}, final LN). */
  norm?: "post" | "pre";
  /** Position encoding. Default "learned". */
  positions?: PositionKind;
  /** Embedding initial standard deviation. Default 1. */
  embeddingStddev?: number;
  /**
   * Mask padding (BERT's attention mask): ids equal to `padId` get zero attention as keys
   * in every block, and the mean over time counts only the other positions. Default true.
   * With `false` padding takes part in attention and in the mean (the reference
   * benchmark's model before the mask).
   */
  maskPadding?: boolean;
  /** The padding id. Default 0 (the library's vocabularies pad with 0). */
  padId?: number;
}

/**
 * Builds the encoder classifier of the reference benchmark:
 * `ids [B, T] → Embedding + positions [B, T, D] → N × encoderBlock → mean over T → Dense`.
 * By default padding (id `padId`, 0) is masked: a `PaddingMask` layer ("padding_mask")
 * turns the ids into a key mask `[B, T]` that every block's attention takes, and the
 * mean over T is a `MaskedMeanPooling` ("mean_over_tokens") over the real tokens.
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
    embeddingsInitializer: r.initializer("randomNormal", {
      mean: 0,
      stddev: options.embeddingStddev ?? 1,
    }),
    name: "token_embedding",
  }).apply(ids) as tf.SymbolicTensor; // [B, T, D]
  let x = addPositions(emb, options.positions ?? "learned", options.sequenceLength, r.nextSeed());
  // [B, T]: 1 for a token, 0 for padding
  const keyMask = (options.maskPadding ?? true)
    ? new PaddingMask({ padId: options.padId ?? 0, name: "padding_mask" }).apply(
      ids,
    ) as tf.SymbolicTensor
    : undefined;
  const block = options.norm === "pre" ? preNormBlock : encoderBlock;
  for (let i = 0; i < layers; i++) {
    x = block(x, {
      numHeads: heads,
      ffDim: options.ffDim ?? 2 * d,
      seed: r.nextSeed(),
      dropout: options.dropout,
      name: `block${i + 1}`,
      keyMask,
    });
  }
  if (options.norm === "pre") {
    x = new LayerNorm({ name: "final_norm" }).apply(x) as tf.SymbolicTensor;
  }
  // [B, T, D] → [B, D]: the mean over the real tokens (over all T without the mask)
  const pooled = keyMask
    ? new MaskedMeanPooling({ name: "mean_over_tokens" }).apply([x, keyMask]) as tf.SymbolicTensor
    : tf.layers.globalAveragePooling1d({ name: "mean_over_time" }).apply(x) as tf.SymbolicTensor;
  const out = fusedDense({
    units: options.outputs,
    activation: options.outputActivation ?? "linear",
    kernelInitializer: r.initializer("glorotUniform"),
    name: "classifier",
  }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: ids, outputs: out, name: options.name ?? "transformer_classifier" });
}

/** Options of {@linkcode decoderLanguageModel}. */
export interface DecoderLanguageModelOptions {
  /** Number of token ids (characters). */
  vocabSize: number;
  /** Longest context (T) the learned position table covers. */
  maxLength: number;
  /** Model width D. Default 64. */
  dModel?: number;
  /** Attention heads. Default 4. */
  numHeads?: number;
  /** Feed-forward width. Default 4·dModel (GPT-2's). */
  ffDim?: number;
  /** Decoder blocks. Default 2. */
  numLayers?: number;
  /** Position encoding. Default "learned". */
  positions?: PositionKind;
  /** Dropout inside the blocks. Default 0. */
  dropout?: number;
  /** Seed of all initial weights. Default 0. */
  seed?: number;
  /** Model name. Default "decoder_lm". */
  name?: string;
}

/**
 * A GPT-style decoder language model (语言模型):
 * `ids [B, T] → Embedding + positions → N × decoderBlock → LayerNorm → Dense` giving
 * logits `[B, T, vocabSize]` of the next token at every position. T may be anything
 * up to `maxLength`.
 *
 * @example
 * ```ts
 * import { decoderLanguageModel } from "nn/models/transformer.ts";
 * const m = decoderLanguageModel({ vocabSize: 30, maxLength: 16, dModel: 16, numHeads: 2 });
 * console.log(m.outputs[0].shape); // [null, null, 30]
 * ```
 */
export function decoderLanguageModel(options: DecoderLanguageModelOptions): tf.LayersModel {
  const d = options.dModel ?? 64;
  const r = rng(options.seed ?? 0);
  const ids = tf.input({ shape: [null], dtype: "int32", name: "tokens" });
  const emb = tf.layers.embedding({
    inputDim: options.vocabSize,
    outputDim: d,
    embeddingsInitializer: r.initializer("randomNormal", { mean: 0, stddev: 0.02 }),
    name: "token_embedding",
  }).apply(ids) as tf.SymbolicTensor;
  let x = addPositions(emb, options.positions ?? "learned", options.maxLength, r.nextSeed());
  for (let i = 0; i < (options.numLayers ?? 2); i++) {
    x = decoderBlock(x, {
      numHeads: options.numHeads ?? 4,
      ffDim: options.ffDim ?? 4 * d,
      seed: r.nextSeed(),
      dropout: options.dropout,
      name: `decoder${i + 1}`,
    });
  }
  x = new LayerNorm({ name: "final_norm" }).apply(x) as tf.SymbolicTensor;
  const out = fusedDense({
    units: options.vocabSize,
    kernelInitializer: r.initializer("glorotUniform"),
    name: "next_token",
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: ids, outputs: out, name: options.name ?? "decoder_lm" });
}
