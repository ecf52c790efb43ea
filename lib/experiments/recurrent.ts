/**
 * Measurement helpers of the recurrent-networks notebook
 * (notebooks/03_recurrent_networks.ipynb): the sizes of each profile, the adding problem's
 * data and the largest length it was solved at, the gradient norm with respect to each
 * input step through `tf.grad`, and the spectral norm of a matrix. The recurrences by
 * hand, backpropagation through time and the vanishing-gradient bound, the models, their
 * training and evaluation are written in the notebook's cells; the sentence and character
 * data are in `nn/data/`.
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
import type { CellType } from "../models/recurrent.ts";

const math = create(all, {});

// ---------------------------------------------------------------------------------------
// Profiles

/**
 * Sizes of every experiment of the notebook, per profile. `gradients` (section 2): length T,
 * units, training set, epochs, batch and `repeats`, the training seeds per cell (the claim
 * takes the geometric mean of their first-step gradients; the run with the median one is
 * charted); `adding` (section 3): the lengths T and the budget of each run; `sentiment`
 * (section 4): tokens per sentence, embedding, units, epochs and `repeats`, the training
 * seeds per cell whose mean test accuracy is compared; `chars` (section 5): chapters of
 * *Moby-Dick*, window, model, training (`epochs` is the cap; training stops once the
 * validation loss has not improved for `patience` epochs) and the length of the sampled text.
 */
export interface RecurrentProfile {
  gradients: Record<"length" | "units" | "epochs" | "trainSize" | "batchSize" | "repeats", number>;
  adding:
    & { lengths: number[] }
    & Record<
      "units" | "trainSize" | "valSize" | "epochs" | "batchSize" | "learningRate",
      number
    >;
  sentiment: Record<
    "units" | "embeddingDim" | "epochs" | "length" | "batchSize" | "repeats",
    number
  >;
  chars: Record<
    | "chapters"
    | "window"
    | "units"
    | "embeddingDim"
    | "epochs"
    | "patience"
    | "batchSize"
    | "sampleLength",
    number
  >;
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
    sentiment: { units: 16, embeddingDim: 16, epochs: 2, length: 20, batchSize: 64, repeats: 1 },
    chars: {
      chapters: 1,
      window: 40,
      units: 64,
      embeddingDim: 16,
      epochs: 6,
      patience: 2,
      batchSize: 16,
      sampleLength: 80,
    },
  },
  full: {
    // 40 epochs: at T = 50 the LSTM stays on the mean predictor's plateau for more than ten
    // epochs (measured, seeds 0–2; 12 epochs were not enough), the GRU for about five
    // 5 repeats: one simple-cell run's first-step gradient spans 1e-25…5e-5 (30 runs, seeds 0–9)
    gradients: { length: 50, units: 32, epochs: 40, trainSize: 2048, batchSize: 64, repeats: 5 },
    adding: {
      lengths: [10, 25, 50, 100],
      units: 32,
      trainSize: 2048,
      valSize: 512,
      epochs: 40,
      batchSize: 64,
      learningRate: 0.01,
    },
    // 5 training seeds per cell: one run's GRU − LSTM gap spread 0–3.3 points over seeds 0–9
    sentiment: { units: 32, embeddingDim: 32, epochs: 8, length: 30, batchSize: 32, repeats: 5 },
    chars: {
      chapters: 10,
      // 32-character windows in batches of 16: 193 steps an epoch (64 and 64 gave 25, and 6 epochs
      // left validation loss falling); seed 0's best epoch was the 17th (2.54 bits); 40 is a cap
      window: 32,
      units: 128,
      embeddingDim: 32,
      epochs: 40,
      patience: 3,
      batchSize: 16,
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
  runs: readonly { cell: CellType; length: number; valMse: number }[],
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
 * The spectral norm ‖M‖₂ of a matrix (its largest singular value: the most it stretches a
 * vector), computed with mathjs as the square root of the largest eigenvalue of MᵀM in
 * float64. The notebook's vanishing-gradient bound multiplies it by the tanh slopes.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { setupBackend } from "nn";
 * import { spectralNorm } from "nn/experiments/recurrent.ts";
 * await setupBackend({ backend: "cpu" });
 * console.log(await spectralNorm(tf.tensor2d([[3, 0], [0, -4]]))); // 4
 * ```
 */
export async function spectralNorm(matrix: tf.Tensor): Promise<number> {
  if (matrix.rank !== 2) {
    throw new RangeError(`spectralNorm needs a matrix, got a tensor of rank ${matrix.rank}.`);
  }
  const a = math.matrix(await matrix.array() as number[][]);
  const eig = math.eigs(math.multiply(math.transpose(a), a) as math.Matrix);
  const values = (eig.values as math.Matrix).toArray() as number[];
  return Math.sqrt(Math.max(0, ...values.map(Number)));
}
