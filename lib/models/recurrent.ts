/**
 * Recurrent sequence classifiers: token embedding → SimpleRNN, LSTM or GRU (last
 * state) → dense.
 *
 * `cell: "lstm"` uses the library's {@linkcode FusedLSTM} (one op per sequence on
 * CPU backends, ordinary ops on webgpu; Keras weight layout); `"gru"` and
 * `"simpleRNN"` use tfjs's layers with seeded initialisers and the logistic sigmoid
 * as gate activation (tfjs defaults to the hard sigmoid). `implementation: "layers"`
 * builds `tf.layers.lstm` instead of the fused layer, for comparison.
 *
 * @example
 * ```ts
 * import { rnnClassifier } from "nn/models/recurrent.ts";
 * const m = rnnClassifier({ vocabSize: 100, embeddingDim: 16, units: 8, cell: "gru", outputs: 2, seed: 0 });
 * console.log(m.outputs[0].shape); // [null, 2]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { FusedLSTM } from "../layers/fused_lstm.ts";

/** The recurrent cells {@linkcode rnnClassifier} builds. */
export type CellType = "simpleRNN" | "lstm" | "gru";

/** Options of {@linkcode rnnClassifier}. */
export interface RnnClassifierOptions {
  /** Number of token ids. */
  vocabSize: number;
  /** Tokens per sample, or null for any length. Default null. */
  sequenceLength?: number | null;
  /** Embedding size. Default 64. */
  embeddingDim?: number;
  /** Hidden units of the recurrent layer. Default 64. */
  units?: number;
  /** Recurrent cell. Default "lstm". */
  cell?: CellType;
  /** Classes. */
  outputs: number;
  /** Output activation. Default "linear" (logits). */
  outputActivation?: "linear" | "softmax" | "sigmoid";
  /** "fused" (default; LSTM only) or "layers" (tfjs's own recurrent layers). */
  implementation?: "fused" | "layers";
  /** Seed of all initial weights. Default 0. */
  seed?: number;
  /** Model name. */
  name?: string;
}

/**
 * Builds `ids [B, T] → Embedding [B, T, E] → RNN [B, U] (last state) → Dense [B, outputs]`.
 *
 * @example
 * ```ts
 * import { rnnClassifier } from "nn/models/recurrent.ts";
 * const m = rnnClassifier({ vocabSize: 5000, sequenceLength: 100, cell: "lstm", outputs: 2, seed: 0 });
 * console.log(m.countParams()); // 353154
 * ```
 */
export function rnnClassifier(options: RnnClassifierOptions): tf.LayersModel {
  const cell = options.cell ?? "lstm";
  const units = options.units ?? 64;
  const r = rng(options.seed ?? 0);
  const ids = tf.input({ shape: [options.sequenceLength ?? null], dtype: "int32", name: "tokens" });
  const emb = tf.layers.embedding({
    inputDim: options.vocabSize,
    outputDim: options.embeddingDim ?? 64,
    embeddingsInitializer: r.initializer("randomUniform", { minval: -0.05, maxval: 0.05 }),
    name: "token_embedding",
  }).apply(ids) as tf.SymbolicTensor; // [B, T, E]
  let h: tf.SymbolicTensor;
  if (cell === "lstm" && (options.implementation ?? "fused") === "fused") {
    h = new FusedLSTM({ units, seed: r.nextSeed(), name: "lstm" }).apply(emb) as tf.SymbolicTensor;
  } else {
    const common = {
      units,
      kernelInitializer: r.initializer("glorotUniform"),
      recurrentInitializer: r.initializer("glorotUniform"),
      name: cell.toLowerCase(),
    };
    const layer = cell === "simpleRNN"
      ? tf.layers.simpleRNN({ ...common, activation: "tanh" })
      : cell === "gru"
      ? tf.layers.gru({ ...common, recurrentActivation: "sigmoid" })
      : tf.layers.lstm({ ...common, recurrentActivation: "sigmoid", unitForgetBias: true });
    h = layer.apply(emb) as tf.SymbolicTensor; // [B, U]
  }
  const out = tf.layers.dense({
    units: options.outputs,
    activation: options.outputActivation ?? "linear",
    kernelInitializer: r.initializer("glorotUniform"),
    name: "classifier",
  }).apply(h) as tf.SymbolicTensor;
  return tf.model({
    inputs: ids,
    outputs: out,
    name: options.name ?? `${cell.toLowerCase()}_classifier`,
  });
}
