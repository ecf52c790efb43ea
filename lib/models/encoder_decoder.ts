/**
 * The Transformer encoder–decoder (编码器–解码器) of Vaswani et al. (2017), T5 and BART,
 * built from the library's serialisable layers as one ordinary `tf.LayersModel`:
 *
 * ```
 * source ids [B, S] → embedding + positions → N × encoder block → LN → memory [B, S, D]
 * target ids [B, T] → embedding + positions → M × decoder block(memory) → LN → Dense
 *                   → next-token probabilities [B, T, V]
 * ```
 *
 * Every block is pre-norm (T5, GPT-2). An encoder block is bidirectional self-attention
 * with the source's padding mask, then a feed-forward network; a decoder block is causal
 * self-attention, cross-attention (交叉注意力) over the memory (again with the source's
 * padding mask), then a feed-forward network. Training is teacher forcing (教师强制): the
 * target input is the answer shifted right by one start token. Layers carry fixed names
 * (`encoder1_attention`, `decoder2_cross_attention`, …) so that generation
 * (`nn/models/generation.ts`) and weight transfer find them in a loaded model.
 *
 * @example
 * ```ts
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * const model = encoderDecoder({
 *   sourceVocabSize: 40, targetVocabSize: 14, sourceLength: 20, targetLength: 12,
 *   dModel: 32, numHeads: 4, seed: 0,
 * });
 * console.log(model.outputs[0].shape); // [null, null, 14]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { CrossAttention, PaddingMask } from "../layers/cross_attention.ts";
import { LayerNorm } from "../layers/layer_norm.ts";
import { PositionEmbedding } from "../layers/position_embedding.ts";

/** Options of one block. */
export interface BlockOptions {
  /** Attention heads (the width must divide by it). */
  numHeads: number;
  /** Feed-forward hidden width. */
  ffDim: number;
  /** Seed of the block's weights. */
  seed: number;
  /** Layer name prefix, e.g. "encoder1". */
  name: string;
  /** Dropout after attention and feed-forward (0 = none). Default 0. */
  dropout?: number;
}

function dropout(r: ReturnType<typeof rng>, rate: number | undefined, name: string) {
  return (t: tf.SymbolicTensor) =>
    rate ? tf.layers.dropout({ rate, seed: r.nextSeed(), name }).apply(t) as tf.SymbolicTensor : t;
}

function feedForward(
  x: tf.SymbolicTensor,
  r: ReturnType<typeof rng>,
  options: BlockOptions,
): tf.SymbolicTensor {
  const d = x.shape[x.shape.length - 1] as number;
  const h = tf.layers.dense({
    units: options.ffDim,
    activation: "relu",
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${options.name}_ff1`,
  }).apply(x) as tf.SymbolicTensor; // [B, T, ff]
  return tf.layers.dense({
    units: d,
    kernelInitializer: r.initializer("glorotUniform"),
    name: `${options.name}_ff2`,
  }).apply(h) as tf.SymbolicTensor; // [B, T, D]
}

function add(name: string, a: tf.SymbolicTensor, b: tf.SymbolicTensor): tf.SymbolicTensor {
  return tf.layers.add({ name }).apply([a, b]) as tf.SymbolicTensor;
}

function norm(name: string, x: tf.SymbolicTensor): tf.SymbolicTensor {
  return new LayerNorm({ name }).apply(x) as tf.SymbolicTensor;
}

/** `[a + b, LN(a + b)]` from one op: the residual stream and the next sublayer's input. */
function addNorm(
  name: string,
  a: tf.SymbolicTensor,
  b: tf.SymbolicTensor,
): [tf.SymbolicTensor, tf.SymbolicTensor] {
  return new LayerNorm({ returnSum: true, name }).apply([a, b]) as [
    tf.SymbolicTensor,
    tf.SymbolicTensor,
  ];
}

/**
 * A pre-norm encoder block with the padding mask:
 * `x += MHA(LN(x), LN(x), mask); x += FFN(LN(x))`. Padded positions get zero attention.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { maskedEncoderBlock } from "nn/models/encoder_decoder.ts";
 * const x = tf.input({ shape: [10, 16] });
 * const mask = tf.input({ shape: [10] });
 * const y = maskedEncoderBlock(x, mask, { numHeads: 2, ffDim: 32, seed: 1, name: "enc1" });
 * console.log(y.shape); // [null, 10, 16]
 * ```
 */
export function maskedEncoderBlock(
  x: tf.SymbolicTensor,
  mask: tf.SymbolicTensor,
  options: BlockOptions,
): tf.SymbolicTensor {
  const r = rng(options.seed);
  const n = options.name;
  const n1 = norm(`${n}_norm1`, x);
  const att = new CrossAttention({
    numHeads: options.numHeads,
    seed: r.nextSeed(),
    name: `${n}_attention`,
  }).apply([n1, mask]) as tf.SymbolicTensor; // self-attention, padded keys masked
  const [x1, n2] = addNorm(`${n}_norm2`, x, dropout(r, options.dropout, `${n}_att_dropout`)(att));
  const ff = feedForward(n2, r, options);
  return add(`${n}_residual2`, x1, dropout(r, options.dropout, `${n}_ff_dropout`)(ff));
}

/**
 * A pre-norm decoder block of an encoder–decoder:
 * `x += CausalMHA(LN(x)); x += CrossMHA(LN(x), memory, sourceMask); x += FFN(LN(x))`.
 * Position t sees target positions ≤ t and every real source position.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { crossDecoderBlock } from "nn/models/encoder_decoder.ts";
 * const x = tf.input({ shape: [null, 16] });
 * const memory = tf.input({ shape: [12, 16] });
 * const mask = tf.input({ shape: [12] });
 * const y = crossDecoderBlock(x, memory, mask, { numHeads: 2, ffDim: 32, seed: 1, name: "dec1" });
 * console.log(y.shape); // [null, null, 16]
 * ```
 */
export function crossDecoderBlock(
  x: tf.SymbolicTensor,
  memory: tf.SymbolicTensor,
  sourceMask: tf.SymbolicTensor,
  options: BlockOptions,
): tf.SymbolicTensor {
  const r = rng(options.seed);
  const n = options.name;
  const n1 = norm(`${n}_norm1`, x);
  const self = new CrossAttention({
    numHeads: options.numHeads,
    causal: true,
    seed: r.nextSeed(),
    name: `${n}_self_attention`,
  }).apply(n1) as tf.SymbolicTensor; // causal self-attention
  const [x1, n2] = addNorm(`${n}_norm2`, x, dropout(r, options.dropout, `${n}_self_dropout`)(self));
  const cross = new CrossAttention({
    numHeads: options.numHeads,
    seed: r.nextSeed(),
    name: `${n}_cross_attention`,
  }).apply([n2, memory, sourceMask]) as tf.SymbolicTensor;
  const [x2, n3] = addNorm(
    `${n}_norm3`,
    x1,
    dropout(r, options.dropout, `${n}_cross_dropout`)(cross),
  );
  const ff = feedForward(n3, r, options);
  return add(`${n}_residual3`, x2, dropout(r, options.dropout, `${n}_ff_dropout`)(ff));
}

/** Options of {@linkcode transformerEncoder}. */
export interface TransformerEncoderOptions {
  /** Number of token ids (0 is padding). */
  vocabSize: number;
  /** Longest sequence (the learned position table's length). */
  maxLength: number;
  /** Model width D. Default 64. */
  dModel?: number;
  /** Attention heads. Default 4. */
  numHeads?: number;
  /** Feed-forward width. Default 2·dModel. */
  ffDim?: number;
  /** Encoder blocks. Default 2. */
  numLayers?: number;
  /** Dropout inside the blocks. Default 0. */
  dropout?: number;
  /** Padding id. Default 0. */
  padId?: number;
  /** Seed of all initial weights. Default 0. */
  seed?: number;
  /** Layer name prefix. Default "encoder". */
  name?: string;
}

/** What {@linkcode transformerEncoder} returns: symbolic tensors inside a model graph. */
export interface EncoderOutputs {
  /** Encoded sequence (the memory), `[B, S, D]`, after the final layer norm. */
  memory: tf.SymbolicTensor;
  /** Key mask of the source, `[B, S]`: 1 for a token, 0 for padding. */
  mask: tf.SymbolicTensor;
}

/**
 * A pre-norm Transformer encoder on symbolic ids `[B, S]`: embedding + learned positions,
 * N masked encoder blocks, a final layer norm. Used by {@linkcode encoderDecoder} and by
 * BERT-style models (masked-token pre-training, then a classifier on the same layers).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { transformerEncoder } from "nn/models/encoder_decoder.ts";
 * const ids = tf.input({ shape: [16], dtype: "int32" });
 * const { memory } = transformerEncoder(ids, { vocabSize: 50, maxLength: 16, dModel: 16, numHeads: 2 });
 * console.log(memory.shape); // [null, 16, 16]
 * ```
 */
export function transformerEncoder(
  ids: tf.SymbolicTensor,
  options: TransformerEncoderOptions,
): EncoderOutputs {
  const d = options.dModel ?? 64;
  const r = rng(options.seed ?? 0);
  const name = options.name ?? "encoder";
  const mask = new PaddingMask({ padId: options.padId ?? 0, name: `${name}_mask` }).apply(
    ids,
  ) as tf.SymbolicTensor; // [B, S]
  const emb = tf.layers.embedding({
    inputDim: options.vocabSize,
    outputDim: d,
    embeddingsInitializer: r.initializer("randomNormal", { mean: 0, stddev: 0.02 }),
    name: `${name}_embedding`,
  }).apply(ids) as tf.SymbolicTensor; // [B, S, D]
  let x = new PositionEmbedding({
    maxLength: options.maxLength,
    seed: r.nextSeed(),
    name: `${name}_positions`,
  }).apply(emb) as tf.SymbolicTensor;
  for (let i = 1; i <= (options.numLayers ?? 2); i++) {
    x = maskedEncoderBlock(x, mask, {
      numHeads: options.numHeads ?? 4,
      ffDim: options.ffDim ?? 2 * d,
      seed: r.nextSeed(),
      dropout: options.dropout,
      name: `${name}${i}`,
    });
  }
  return { memory: norm(`${name}_final_norm`, x), mask };
}

/** Options of {@linkcode encoderDecoder}. */
export interface EncoderDecoderOptions {
  /** Source token ids (0 is padding). */
  sourceVocabSize: number;
  /** Target token ids (0 is padding; include the start and end tokens). */
  targetVocabSize: number;
  /** Longest source sequence S. */
  sourceLength: number;
  /** Longest target sequence T (the decoder's position table). */
  targetLength: number;
  /** Model width D. Default 64. */
  dModel?: number;
  /** Attention heads. Default 4. */
  numHeads?: number;
  /** Feed-forward width. Default 2·dModel. */
  ffDim?: number;
  /** Encoder blocks. Default 2. */
  encoderLayers?: number;
  /** Decoder blocks. Default 2. */
  decoderLayers?: number;
  /** Dropout inside the blocks. Default 0. */
  dropout?: number;
  /** Padding id of the source. Default 0. */
  padId?: number;
  /** Seed of all initial weights. Default 0. */
  seed?: number;
  /** Model name. Default "encoder_decoder". */
  name?: string;
}

/**
 * Builds the encoder–decoder: inputs `[source [B, S], targetIn [B, T]]` (int32), output
 * next-token probabilities `[B, T, targetVocabSize]` (softmax; pair with
 * `categoricalCrossentropy` on one-hot targets). T may be anything up to `targetLength`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * const m = encoderDecoder({ sourceVocabSize: 30, targetVocabSize: 12, sourceLength: 8, targetLength: 6, dModel: 16, numHeads: 2 });
 * const p = m.predict([tf.ones([2, 8], "int32"), tf.ones([2, 3], "int32")]) as tf.Tensor;
 * console.log(p.shape); // [2, 3, 12]
 * ```
 */
export function encoderDecoder(options: EncoderDecoderOptions): tf.LayersModel {
  const d = options.dModel ?? 64;
  const heads = options.numHeads ?? 4;
  const ffDim = options.ffDim ?? 2 * d;
  const r = rng(options.seed ?? 0);
  const source = tf.input({ shape: [options.sourceLength], dtype: "int32", name: "source" });
  const targetIn = tf.input({ shape: [null], dtype: "int32", name: "target_in" });
  const { memory, mask } = transformerEncoder(source, {
    vocabSize: options.sourceVocabSize,
    maxLength: options.sourceLength,
    dModel: d,
    numHeads: heads,
    ffDim,
    numLayers: options.encoderLayers ?? 2,
    dropout: options.dropout,
    padId: options.padId,
    seed: r.nextSeed(),
    name: "encoder",
  });
  const emb = tf.layers.embedding({
    inputDim: options.targetVocabSize,
    outputDim: d,
    embeddingsInitializer: r.initializer("randomNormal", { mean: 0, stddev: 0.02 }),
    name: "decoder_embedding",
  }).apply(targetIn) as tf.SymbolicTensor; // [B, T, D]
  let x = new PositionEmbedding({
    maxLength: options.targetLength,
    seed: r.nextSeed(),
    name: "decoder_positions",
  }).apply(emb) as tf.SymbolicTensor;
  for (let i = 1; i <= (options.decoderLayers ?? 2); i++) {
    x = crossDecoderBlock(x, memory, mask, {
      numHeads: heads,
      ffDim,
      seed: r.nextSeed(),
      dropout: options.dropout,
      name: `decoder${i}`,
    });
  }
  x = norm("decoder_final_norm", x);
  const probs = tf.layers.dense({
    units: options.targetVocabSize,
    activation: "softmax",
    kernelInitializer: r.initializer("glorotUniform"),
    name: "next_token",
  }).apply(x) as tf.SymbolicTensor; // [B, T, V]
  return tf.model({
    inputs: [source, targetIn],
    outputs: probs,
    name: options.name ?? "encoder_decoder",
  });
}

/**
 * Copies the weights of every layer of `to` whose name and weight shapes match a layer
 * of `from` (pre-training → fine-tuning: the encoder's layers carry the same names in
 * both models). Returns the names copied.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { transferWeights } from "nn/models/encoder_decoder.ts";
 * const a = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], name: "shared" })] });
 * const b = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], name: "shared" })] });
 * console.log(transferWeights(a, b)); // ["shared"]
 * ```
 */
export function transferWeights(from: tf.LayersModel, to: tf.LayersModel): string[] {
  const source = new Map(from.layers.map((l) => [l.name, l]));
  const copied: string[] = [];
  for (const layer of to.layers) {
    const other = source.get(layer.name);
    if (!other || layer.weights.length === 0) continue;
    const w = other.getWeights();
    const same = w.length === layer.weights.length &&
      w.every((t, i) => t.shape.join() === layer.weights[i].shape.join());
    if (!same) continue;
    layer.setWeights(w);
    copied.push(layer.name);
  }
  return copied;
}
