/**
 * Recurrent sequence models (循环神经网络): token embedding or dense inputs → SimpleRNN,
 * LSTM or GRU (last state, optionally bidirectional) → dense; classifiers, regressors and
 * a character language model; parameter counts as mathjs formulas.
 *
 * Every cell is one of the library's fused layers ({@linkcode FusedLSTM},
 * {@linkcode FusedGRU}, {@linkcode FusedSimpleRNN}): the whole sequence is one op on CPU
 * backends and ordinary ops on webgpu, with tfjs's weight layout and maths (logistic
 * sigmoid gates; tfjs defaults to the hard sigmoid) and seeded initialisers.
 * `implementation: "layers"` builds tfjs's own `tf.layers.lstm`, `gru` or `simpleRNN`
 * instead, for comparison (and for the bidirectional wrapper, which needs them).
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
import { FusedGRU } from "../layers/fused_gru.ts";
import { FusedSimpleRNN } from "../layers/fused_simple_rnn.ts";
import { fusedDense } from "../layers/fused_dense.ts";
import { all, create, type MathNode } from "mathjs";

/**
 * The recurrent cells the builders make: `"simple"` (alias `"simpleRNN"`, the tanh
 * cell of Elman 1990), `"lstm"` and `"gru"`.
 */
export type CellType = "simple" | "simpleRNN" | "lstm" | "gru";

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
  /** "fused" (default: the library's fused layers) or "layers" (tfjs's own recurrent layers). */
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
  return sequenceModel({
    input: {
      vocabSize: options.vocabSize,
      embeddingDim: options.embeddingDim ?? 64,
      sequenceLength: options.sequenceLength ?? null,
    },
    units: options.units,
    cell,
    outputs: options.outputs,
    outputActivation: options.outputActivation,
    implementation: options.implementation,
    seed: options.seed,
    name: options.name ?? `${cell.toLowerCase()}_classifier`,
    headName: "classifier",
  });
}

/** Token inputs: ids `[B, T]` through an embedding of `embeddingDim`. */
export interface TokenInput {
  /** Number of token ids. */
  vocabSize: number;
  /** Embedding size. */
  embeddingDim: number;
  /** Tokens per sample, or null for any length. Default null. */
  sequenceLength?: number | null;
}

/** Dense inputs: `features` floats per time step, `[B, T, features]`. */
export interface DenseInput {
  /** Floats per time step. */
  features: number;
  /** Time steps, or null for any length. Default null. */
  sequenceLength?: number | null;
}

/** Options of {@linkcode sequenceModel}. */
export interface SequenceModelOptions {
  /** Token ids with an embedding, or dense features per step. */
  input: TokenInput | DenseInput;
  /** Recurrent cell. Default "lstm". */
  cell?: CellType;
  /** Hidden units (per direction). Default 64. */
  units?: number;
  /** Run a second layer over the reversed sequence and concatenate (tfjs `bidirectional`). Default false. */
  bidirectional?: boolean;
  /** Outputs of the dense head. */
  outputs: number;
  /** Output activation. Default "linear". */
  outputActivation?: "linear" | "softmax" | "sigmoid";
  /** "fused" (default; not bidirectional, which always uses tfjs's layers) or "layers". */
  implementation?: "fused" | "layers";
  /** Apply the head at every step (`[B, T, outputs]`) instead of the last state. Default false. */
  returnSequences?: boolean;
  /** Seed of all initial weights. Default 0. */
  seed?: number;
  /** Model name. */
  name?: string;
  /** Name of the dense head. Default "head". */
  headName?: string;
}

/** The canonical name of a cell ("simpleRNN" → "simple"). */
export function canonicalCell(cell: CellType): "simple" | "lstm" | "gru" {
  if (cell === "simpleRNN" || cell === "simple") return "simple";
  if (cell === "lstm" || cell === "gru") return cell;
  throw new RangeError(`Unknown recurrent cell "${cell}": use "simple", "lstm" or "gru".`);
}

function isTokenInput(input: TokenInput | DenseInput): input is TokenInput {
  return "vocabSize" in input;
}

/**
 * One recurrent layer of the given cell, seeded, with logistic-sigmoid gates.
 *
 * `implementation: "fused"` (the default) gives the library's fused layers:
 * {@linkcode FusedSimpleRNN} (weights `[W [I, U], U [U, U], b [U]]`), {@linkcode FusedGRU}
 * (`[I, 3U]`, `[U, 3U]`, `[3U]`; gates z, r, h) and {@linkcode FusedLSTM} (`[I, 4U]`,
 * `[U, 4U]`, `[4U]`; gates i, f, c, o; forget bias 1). `"layers"` gives tfjs's
 * `tf.layers.simpleRNN` (tanh), `gru` (`recurrentActivation: "sigmoid"`) or `lstm`
 * (sigmoid, unit forget bias): the same weight layout and maths, so `setWeights` moves
 * weights either way, but 5–10× slower on CPU backends. Both kinds draw their
 * glorot-uniform kernels from `seed` (the same seed gives the same weights) and start
 * the biases at zero (the LSTM's forget-gate bias at one).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { recurrentLayer } from "nn/models/recurrent.ts";
 * const layer = recurrentLayer({ cell: "gru", units: 4, seed: 0 });
 * console.log((layer.apply(tf.zeros([1, 3, 2])) as tf.Tensor).shape); // [1, 4]
 * ```
 */
export function recurrentLayer(options: {
  cell: CellType;
  units: number;
  seed?: number;
  returnSequences?: boolean;
  implementation?: "fused" | "layers";
  name?: string;
}): tf.layers.Layer {
  const cell = canonicalCell(options.cell);
  const r = rng(options.seed ?? 0);
  const name = options.name ?? (cell === "simple" ? "simplernn" : cell);
  const returnSequences = options.returnSequences ?? false;
  if ((options.implementation ?? "fused") === "fused") {
    const args = { units: options.units, seed: r.nextSeed(), name, returnSequences };
    return cell === "simple"
      ? new FusedSimpleRNN(args)
      : cell === "gru"
      ? new FusedGRU(args)
      : new FusedLSTM(args);
  }
  const common = {
    units: options.units,
    kernelInitializer: r.initializer("glorotUniform"),
    recurrentInitializer: r.initializer("glorotUniform"),
    returnSequences,
    name,
  };
  return cell === "simple"
    ? tf.layers.simpleRNN({ ...common, activation: "tanh" })
    : cell === "gru"
    ? tf.layers.gru({ ...common, recurrentActivation: "sigmoid" })
    : tf.layers.lstm({ ...common, recurrentActivation: "sigmoid", unitForgetBias: true });
}

/**
 * Builds `input → [Embedding] → RNN (last state, or every state) → Dense`: the general
 * builder behind {@linkcode sequenceClassifier}, {@linkcode sequenceRegressor} and
 * {@linkcode charLanguageModel}.
 *
 * @example
 * ```ts
 * import { sequenceModel } from "nn/models/recurrent.ts";
 * const m = sequenceModel({ input: { features: 2, sequenceLength: 50 }, cell: "simple", units: 8, outputs: 1 });
 * console.log(m.countParams()); // 8 * (2 + 8 + 1) + 9 = 97
 * ```
 */
export function sequenceModel(options: SequenceModelOptions): tf.LayersModel {
  const cell = canonicalCell(options.cell ?? "lstm");
  const units = options.units ?? 64;
  const r = rng(options.seed ?? 0);
  const { input } = options;
  let x: tf.SymbolicTensor;
  let inputs: tf.SymbolicTensor;
  if (isTokenInput(input)) {
    inputs = tf.input({ shape: [input.sequenceLength ?? null], dtype: "int32", name: "tokens" });
    x = tf.layers.embedding({
      inputDim: input.vocabSize,
      outputDim: input.embeddingDim,
      embeddingsInitializer: r.initializer("randomUniform", { minval: -0.05, maxval: 0.05 }),
      name: "token_embedding",
    }).apply(inputs) as tf.SymbolicTensor; // [B, T, E]
  } else {
    inputs = tf.input({ shape: [input.sequenceLength ?? null, input.features], name: "sequence" });
    x = inputs;
  }
  const returnSequences = options.returnSequences ?? false;
  let h: tf.SymbolicTensor;
  if (options.bidirectional) {
    // tfjs's wrapper needs an RNN layer with goBackwards: tfjs layers for every cell
    const layer = recurrentLayer({
      cell,
      units,
      seed: r.nextSeed(),
      returnSequences,
      implementation: "layers",
    }) as tf.RNN;
    h = tf.layers.bidirectional({ layer, mergeMode: "concat", name: "bidirectional" })
      .apply(x) as tf.SymbolicTensor;
  } else {
    const layer = recurrentLayer({
      cell,
      units,
      seed: r.nextSeed(),
      returnSequences,
      implementation: options.implementation,
    });
    h = layer.apply(x) as tf.SymbolicTensor;
  }
  const out = fusedDense({
    units: options.outputs,
    activation: options.outputActivation ?? "linear",
    kernelInitializer: r.initializer("glorotUniform"),
    name: options.headName ?? "head",
  }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs, outputs: out, name: options.name ?? `${cell}_sequence_model` });
}

/** Options of {@linkcode sequenceClassifier} and {@linkcode sequenceRegressor}. */
export type SequenceHeadOptions = Omit<SequenceModelOptions, "returnSequences" | "headName">;

/**
 * A sequence classifier: logits (or `outputActivation`) from the last state.
 *
 * @example
 * ```ts
 * import { sequenceClassifier } from "nn/models/recurrent.ts";
 * const m = sequenceClassifier({ input: { vocabSize: 100, embeddingDim: 8 }, cell: "gru", units: 4, outputs: 2, bidirectional: true });
 * console.log(m.outputs[0].shape); // [null, 2]
 * ```
 */
export function sequenceClassifier(options: SequenceHeadOptions): tf.LayersModel {
  return sequenceModel({
    ...options,
    headName: "classifier",
    name: options.name ?? `${canonicalCell(options.cell ?? "lstm")}_classifier`,
  });
}

/**
 * A sequence regressor: `outputs` real numbers (linear) from the last state, e.g. the sum
 * of the adding problem.
 *
 * @example
 * ```ts
 * import { sequenceRegressor } from "nn/models/recurrent.ts";
 * const m = sequenceRegressor({ input: { features: 2 }, cell: "lstm", units: 8, outputs: 1 });
 * console.log(m.outputs[0].shape); // [null, 1]
 * ```
 */
export function sequenceRegressor(options: SequenceHeadOptions): tf.LayersModel {
  return sequenceModel({
    ...options,
    outputActivation: options.outputActivation ?? "linear",
    headName: "regressor",
    name: options.name ?? `${canonicalCell(options.cell ?? "lstm")}_regressor`,
  });
}

/** Options of {@linkcode charLanguageModel}. */
export interface CharLanguageModelOptions {
  /** Number of characters (classes). */
  vocabSize: number;
  /** Embedding size. Default 32. */
  embeddingDim?: number;
  /** Hidden units. Default 128. */
  units?: number;
  /** Cell. Default "lstm". */
  cell?: CellType;
  /** Seed of all initial weights. Default 0. */
  seed?: number;
}

/**
 * A character-level language model (语言模型): ids `[B, T]` → embedding → RNN (every step)
 * → logits `[B, T, vocabSize]` of the next character at each step.
 *
 * @example
 * ```ts
 * import { charLanguageModel } from "nn/models/recurrent.ts";
 * const m = charLanguageModel({ vocabSize: 30, embeddingDim: 8, units: 16, cell: "gru" });
 * console.log(m.outputs[0].shape); // [null, null, 30]
 * ```
 */
export function charLanguageModel(options: CharLanguageModelOptions): tf.LayersModel {
  const cell = canonicalCell(options.cell ?? "lstm");
  return sequenceModel({
    input: { vocabSize: options.vocabSize, embeddingDim: options.embeddingDim ?? 32 },
    cell,
    units: options.units ?? 128,
    outputs: options.vocabSize,
    returnSequences: true,
    seed: options.seed,
    headName: "next_char",
    name: `${cell}_char_lm`,
  });
}

// ---------------------------------------------------------------------------------------
// Parameter formulas

const math = create(all, {});

/** Gate blocks per cell: 1 (simple), 3 (GRU: update, reset, candidate), 4 (LSTM: i, f, g, o). */
export const GATE_BLOCKS: Readonly<Record<"simple" | "lstm" | "gru", number>> = {
  simple: 1,
  gru: 3,
  lstm: 4,
};

/**
 * Parameters of one recurrent layer: `g` blocks, each an input kernel `i × u`, a recurrent
 * kernel `u × u` and `u` biases (tfjs's GRU has `reset_after: false`, one bias per block).
 */
export const RECURRENT_LAYER_FORMULA = "g * u * (i + u + 1)";
/**
 * Parameters of a whole {@linkcode sequenceModel}: embedding `v × e` (0 for dense inputs,
 * where `i` is the feature count), `k` directions of the recurrent layer, and the head
 * `(k u + 1) × o`.
 */
export const SEQUENCE_MODEL_FORMULA = "v * e + k * g * u * (i + u + 1) + (k * u + 1) * o";

/** The recurrent formulas by name, for display. */
export const RECURRENT_FORMULAS = {
  layer: RECURRENT_LAYER_FORMULA,
  model: SEQUENCE_MODEL_FORMULA,
} as const;

const compiledFormulas = new Map<string, ReturnType<MathNode["compile"]>>();

function evaluateFormula(expression: string, scope: Record<string, number>): number {
  for (const [k, v] of Object.entries(scope)) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`${k} = ${v} in ${expression}: sizes must be whole numbers ≥ 0.`);
    }
  }
  let code = compiledFormulas.get(expression);
  if (!code) {
    code = math.parse(expression).compile();
    compiledFormulas.set(expression, code);
  }
  return Number(code.evaluate(scope));
}

/**
 * Parameters of one recurrent layer from {@linkcode RECURRENT_LAYER_FORMULA}: the LSTM
 * has 4× and the GRU 3× the simple cell's.
 *
 * @example
 * ```ts
 * import { recurrentLayerParameters } from "nn/models/recurrent.ts";
 * console.log(recurrentLayerParameters({ cell: "lstm", inputs: 64, units: 64 })); // 33024
 * ```
 */
export function recurrentLayerParameters(
  options: { cell: CellType; inputs: number; units: number },
): number {
  const g = GATE_BLOCKS[canonicalCell(options.cell)];
  return evaluateFormula(RECURRENT_LAYER_FORMULA, { g, u: options.units, i: options.inputs });
}

/**
 * Parameters of a {@linkcode sequenceModel} with these options, from
 * {@linkcode SEQUENCE_MODEL_FORMULA} (what `model.countParams()` should say).
 *
 * @example
 * ```ts
 * import { sequenceModelParameters } from "nn/models/recurrent.ts";
 * const p = sequenceModelParameters({ input: { vocabSize: 5000, embeddingDim: 64 }, cell: "lstm", units: 64, outputs: 2 });
 * console.log(p); // 353154
 * ```
 */
export function sequenceModelParameters(
  options: Pick<SequenceModelOptions, "input" | "cell" | "units" | "bidirectional" | "outputs">,
): number {
  const { input } = options;
  const token = isTokenInput(input);
  return evaluateFormula(SEQUENCE_MODEL_FORMULA, {
    v: token ? input.vocabSize : 0,
    e: token ? input.embeddingDim : 0,
    i: token ? input.embeddingDim : input.features,
    k: options.bidirectional ? 2 : 1,
    g: GATE_BLOCKS[canonicalCell(options.cell ?? "lstm")],
    u: options.units ?? 64,
    o: options.outputs,
  });
}

/**
 * A recurrent formula as LaTeX and plain text, for a notebook.
 *
 * @example
 * ```ts
 * import { recurrentFormula } from "nn/models/recurrent.ts";
 * console.log(recurrentFormula("layer").text); // "g * u * (i + u + 1)"
 * ```
 */
export function recurrentFormula(
  name: keyof typeof RECURRENT_FORMULAS,
): { text: string; tex: string } {
  const node = math.parse(RECURRENT_FORMULAS[name]);
  return { text: node.toString(), tex: node.toTex() };
}
