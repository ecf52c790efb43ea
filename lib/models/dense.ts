/**
 * Dense networks (稠密网络): multilayer perceptrons built from fully connected layers
 * (全连接层), seeded end to end.
 *
 * {@linkcode mlp} returns an ordinary `tf.Sequential`, so `summary`, `save`,
 * `countParams` and `fit` keep working. Weights are drawn from initialisers seeded by
 * one {@linkcode Rng}; dropout uses {@linkcode SeededDropout}, which draws a fresh mask
 * for every training batch from its own seeded stream (tfjs's `tf.layers.dropout` with
 * a `seed` reuses one mask for every batch, and without one uses `Math.random`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { compileClassifier, mlp } from "nn/models/dense.ts";
 * await tf.setBackend("cpu");
 * const model = compileClassifier(mlp({ inputs: 784, hidden: [128, 64], outputs: 10, seed: 0 }));
 * console.log(model.countParams()); // 109386
 * model.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type InitializerName, Rng } from "../random.ts";
import { fusedDense } from "../layers/fused_dense.ts";

/** Activation functions (激活函数) the builder accepts for hidden layers. */
export type HiddenActivation =
  | "relu"
  | "elu"
  | "selu"
  | "tanh"
  | "sigmoid"
  | "swish"
  | "mish"
  | "gelu"
  | "linear";

/** Options for {@linkcode mlp}. */
export interface MlpOptions {
  /** Features per sample (784 for flattened MNIST). */
  inputs: number;
  /** Units of each hidden layer, input side first; `[]` gives a linear classifier. */
  hidden: readonly number[];
  /** Units of the output layer (10 for MNIST). */
  outputs: number;
  /** Activation of the hidden layers. Default "relu". */
  activation?: HiddenActivation;
  /** Activation of the output layer. Default "softmax". */
  outputActivation?: "softmax" | "sigmoid" | "linear";
  /**
   * Dropout rate after each hidden layer: one number for all, or one per hidden layer.
   * 0 (default) adds no dropout layer.
   */
  dropout?: number | readonly number[];
  /** Seed of the initial weights and the dropout masks. Default 0. */
  seed?: number;
  /**
   * Initialiser of the hidden kernels. Default "heNormal" for the ReLU family (He et
   * al. 2015), "glorotUniform" otherwise (Glorot & Bengio 2010). The output layer
   * always uses "glorotUniform"; biases start at zero.
   */
  initializer?: InitializerName;
  /** Model name (tfjs). */
  name?: string;
}

/** Config of {@linkcode SeededDropout} (what `getConfig` returns). */
export interface SeededDropoutArgs {
  /** Fraction of inputs set to zero while training, in [0, 1). */
  rate: number;
  /** Seed of the stream of masks. */
  seed: number;
  /** Layer name. */
  name?: string;
}

/**
 * Inverted dropout whose masks come from a seeded stream: batch k of a run gets the
 * same mask in every run with the same seed, and different batches get different
 * masks. Identity at inference. Serialisable (registered with tfjs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { SeededDropout } from "nn/models/dense.ts";
 * await tf.setBackend("cpu");
 * const layer = new SeededDropout({ rate: 0.5, seed: 1 });
 * const y = layer.apply(tf.ones([2, 4]), { training: true }) as tf.Tensor;
 * console.log(await y.data()); // zeros and 2s
 * ```
 */
export class SeededDropout extends tf.layers.Layer {
  /** tfjs class name used in serialised models. */
  static className = "NnSeededDropout";
  /** Dropout rate. */
  readonly rate: number;
  /** Seed of the mask stream. */
  readonly seed: number;
  #rng: Rng;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) {
      throw new RangeError(`Dropout rate must be in [0, 1), got ${args.rate}.`);
    }
    this.rate = args.rate;
    this.seed = args.seed;
    this.#rng = new Rng(args.seed);
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs.training !== true || this.rate === 0) return x;
    return tf.dropout(x, this.rate, undefined, this.#rng.nextSeed());
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout);

const RELU_FAMILY = new Set<HiddenActivation>(["relu", "elu", "selu", "swish", "mish", "gelu"]);

function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`mlp: ${name} must be a whole number ≥ 1, got ${value}.`);
  }
}

/**
 * The layer sizes of an MLP, input first: `[inputs, ...hidden, outputs]`, the `n` of the
 * parameter and FLOP formulas in `counting.ts`.
 *
 * @example
 * ```ts
 * import { layerSizes } from "nn/models/dense.ts";
 * console.log(layerSizes({ inputs: 784, hidden: [128], outputs: 10 })); // [784, 128, 10]
 * ```
 */
export function layerSizes(options: Pick<MlpOptions, "inputs" | "hidden" | "outputs">): number[] {
  return [options.inputs, ...options.hidden, options.outputs];
}

/**
 * Builds a multilayer perceptron: `Dense(hidden[0]) → [dropout] → … → Dense(outputs)`.
 * The dense layers are `FusedDense` (tfjs's `Dense`, saved as such, whose training step
 * runs one kernel each way on cpu and wasm: `nn/layers/fused_dense.ts`).
 *
 * @returns an uncompiled `tf.Sequential` (see {@linkcode compileClassifier})
 * @throws {RangeError} for sizes that are not whole numbers ≥ 1 or rates outside [0, 1)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mlp } from "nn/models/dense.ts";
 * await tf.setBackend("cpu");
 * const model = mlp({ inputs: 4, hidden: [8, 8], outputs: 3, dropout: 0.2, seed: 1 });
 * console.log(model.layers.map((l) => l.getClassName()));
 * // ["Dense", "NnSeededDropout", "Dense", "NnSeededDropout", "Dense"]
 * model.dispose();
 * ```
 */
export function mlp(options: MlpOptions): tf.Sequential {
  const {
    inputs,
    hidden,
    outputs,
    activation = "relu",
    outputActivation = "softmax",
    dropout = 0,
    seed = 0,
  } = options;
  checkPositiveInt("inputs", inputs);
  checkPositiveInt("outputs", outputs);
  hidden.forEach((units, i) => checkPositiveInt(`hidden[${i}]`, units));
  const rates = typeof dropout === "number" ? hidden.map(() => dropout) : [...dropout];
  if (rates.length !== hidden.length) {
    throw new RangeError(
      `mlp: ${rates.length} dropout rates for ${hidden.length} hidden layers; give one ` +
        `number, or one rate per hidden layer.`,
    );
  }
  for (const rate of rates) {
    if (!(rate >= 0 && rate < 1)) {
      throw new RangeError(`mlp: dropout rates must be in [0, 1), got ${rate}.`);
    }
  }
  const init = options.initializer ??
    (RELU_FAMILY.has(activation) ? "heNormal" : "glorotUniform");
  const root = new Rng(seed);
  const weights = root.fork("mlp.weights");
  const masks = root.fork("mlp.dropout");
  const model = tf.sequential({ name: options.name });
  hidden.forEach((units, i) => {
    model.add(fusedDense({
      units,
      activation,
      kernelInitializer: weights.initializer(init),
      biasInitializer: "zeros",
      ...(i === 0 ? { inputShape: [inputs] } : {}),
    }));
    if (rates[i] > 0) model.add(new SeededDropout({ rate: rates[i], seed: masks.nextSeed() }));
  });
  model.add(fusedDense({
    units: outputs,
    activation: outputActivation,
    kernelInitializer: weights.initializer("glorotUniform"),
    biasInitializer: "zeros",
    ...(hidden.length === 0 ? { inputShape: [inputs] } : {}),
  }));
  return model;
}

/** Options for {@linkcode compileClassifier}. */
export interface CompileClassifierOptions {
  /** Adam's learning rate. Default 0.001 (Kingma & Ba 2015). */
  learningRate?: number;
}

/**
 * Compiles a softmax classifier for one-hot targets: Adam, categorical cross-entropy,
 * accuracy as metric (reported as "acc"). Returns the same model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { compileClassifier, mlp } from "nn/models/dense.ts";
 * await tf.setBackend("cpu");
 * const model = compileClassifier(mlp({ inputs: 2, hidden: [4], outputs: 2 }), { learningRate: 0.01 });
 * console.log(model.optimizer.getClassName()); // "Adam"
 * model.dispose();
 * ```
 */
export function compileClassifier<M extends tf.LayersModel>(
  model: M,
  options: CompileClassifierOptions = {},
): M {
  const learningRate = options.learningRate ?? 1e-3;
  if (!(learningRate > 0)) {
    throw new RangeError(`compileClassifier: learningRate must be > 0, got ${learningRate}.`);
  }
  model.compile({
    optimizer: tf.train.adam(learningRate),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}
