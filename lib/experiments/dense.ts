/**
 * Experiment helpers of the dense-networks notebook (notebooks/01_dense_networks.ipynb):
 * seeded MNIST train/validation/test tensors, one call to build–train–evaluate an MLP,
 * training throughput, a log-log power-law fit, and first-layer weight pictures.
 *
 * Every function disposes the tensors it makes; results are plain numbers and arrays.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { fitMlp, mnistSplits } from "nn/experiments/dense.ts";
 * await setupBackend({ backend: "cpu" });
 * const data = await mnistSplits({ trainSize: 500, valSize: 200, testSize: 200, seed: 0 });
 * const run = await fitMlp(data, { hidden: [32], epochs: 2, seed: 0, progress: "none" });
 * console.log(run.params, run.valAcc > 0.5); // 25450 true
 * data.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { loadMnist, MNIST_CLASSES, MNIST_PIXELS } from "../data/mnist.ts";
import { oneHot } from "../data/tensors.ts";
import { disposeModel, type ProgressMode, train } from "../train.ts";
import { compileClassifier, layerSizes, mlp } from "../models/dense.ts";
import { mlpParameters, mlpTrainingFlops } from "../models/counting.ts";

/** Options for {@linkcode mnistSplits}. */
export interface MnistSplitsOptions {
  /** Training images. */
  trainSize: number;
  /** Validation images (taken from the same pool as training, never from test). */
  valSize: number;
  /** Test images. */
  testSize: number;
  /** Seed of the split. */
  seed: number;
}

/** MNIST as float32 tensors in three disjoint parts (训练集 / 验证集 / 测试集). */
export interface MnistSplits {
  /** Training images `[trainSize, 784]`, in a seeded random order. */
  xTrain: tf.Tensor2D;
  /** One-hot training labels `[trainSize, 10]`. */
  yTrain: tf.Tensor2D;
  /** Validation images. */
  xVal: tf.Tensor2D;
  /** One-hot validation labels. */
  yVal: tf.Tensor2D;
  /** Test images. */
  xTest: tf.Tensor2D;
  /** One-hot test labels. */
  yTest: tf.Tensor2D;
  /** Training pixels as a flat array (for statistics such as always-zero pixels). */
  trainPixels: Float32Array;
  /** Frees the six tensors. */
  dispose(): void;
}

/**
 * Loads the seeded MNIST subset of the `mnist` package as train / validation / test
 * tensors. The first `trainSize` shuffled training images are training, the next
 * `valSize` validation, so training subsets taken with {@linkcode headRows} are nested.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { mnistSplits } from "nn/experiments/dense.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await mnistSplits({ trainSize: 100, valSize: 50, testSize: 50, seed: 1 });
 * console.log(d.xTrain.shape, d.yVal.shape); // [100, 784] [50, 10]
 * d.dispose();
 * ```
 */
export async function mnistSplits(options: MnistSplitsOptions): Promise<MnistSplits> {
  const { trainSize, valSize, testSize, seed } = options;
  const data = await loadMnist({ trainSize: trainSize + valSize, testSize, seed });
  const px = MNIST_PIXELS;
  const trainPixels = data.xTrain.subarray(0, trainSize * px);
  const tensors = {
    xTrain: tf.tensor2d(trainPixels, [trainSize, px]),
    yTrain: oneHot(data.yTrain.subarray(0, trainSize), MNIST_CLASSES),
    xVal: tf.tensor2d(data.xTrain.subarray(trainSize * px), [valSize, px]),
    yVal: oneHot(data.yTrain.subarray(trainSize), MNIST_CLASSES),
    xTest: tf.tensor2d(data.xTest, [testSize, px]),
    yTest: oneHot(data.yTest, MNIST_CLASSES),
  };
  return {
    ...tensors,
    trainPixels,
    dispose: () => tf.dispose(Object.values(tensors)),
  };
}

/**
 * The first `n` rows of a tensor (a view copied into a new tensor; dispose it).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { headRows } from "nn/experiments/dense.ts";
 * await tf.setBackend("cpu");
 * console.log(headRows(tf.zeros([5, 3]), 2).shape); // [2, 3]
 * ```
 */
export function headRows<T extends tf.Tensor>(x: T, n: number): T {
  if (!Number.isInteger(n) || n < 1 || n > x.shape[0]) {
    throw new RangeError(`headRows: n must be in 1 … ${x.shape[0]}, got ${n}.`);
  }
  return tf.slice(x, 0, n) as T;
}

/** What to train in {@linkcode fitMlp}. */
export interface MlpRun {
  /** Hidden layer sizes (the input is 784, the output 10). */
  hidden: number[];
  /** Dropout after each hidden layer. Default 0. */
  dropout?: number;
  /** Epochs (passes over the training set); see `minSteps`. */
  epochs: number;
  /**
   * Train for at least this many mini-batches, adding epochs when the training set is
   * small (so that a learning curve does not starve its small sets). Default 0.
   */
  minSteps?: number;
  /** Mini-batch size. Default 64. */
  batchSize?: number;
  /** Adam's learning rate. Default 0.001. */
  learningRate?: number;
  /** Seed of weights, dropout and batch order. */
  seed: number;
  /** Progress display (see `train`). Default "auto". */
  progress?: ProgressMode;
  /** Title of the progress display. */
  title?: string;
  /** Keep the trained model in the result (the caller disposes it with `disposeModel`). */
  keepModel?: boolean;
  /**
   * Evaluate the validation set after every epoch (for `valAccHistory` and the live
   * chart). Default true; false evaluates it once, after training, which saves time
   * in sweeps of many short epochs.
   */
  validateEveryEpoch?: boolean;
}

/** What {@linkcode fitMlp} measured. */
export interface MlpRunResult {
  /** Hidden layer sizes. */
  hidden: number[];
  /** Layer sizes, input first. */
  sizes: number[];
  /** Parameters, as tfjs counts them. */
  params: number;
  /** Parameters from the mathjs formula. */
  formulaParams: number;
  /** Training FLOPs per sample (formula). */
  trainingFlops: number;
  /** Training examples seen. */
  trainSize: number;
  /** Epochs run. */
  epochs: number;
  /** Accuracy on the training set after training, dropout off. */
  trainAcc: number;
  /** Accuracy on the validation set after training. */
  valAcc: number;
  /** Validation accuracy after each epoch (empty with `validateEveryEpoch: false`). */
  valAccHistory: number[];
  /** Training seconds. */
  seconds: number;
  /** Training samples per second. */
  samplesPerSecond: number;
  /** Per-epoch history from `train`. */
  history: Record<string, number[]>;
  /** The trained model, when `keepModel` was set. */
  model?: tf.LayersModel;
  /** First-layer kernel before training (`784 × hidden[0]`, row-major), with `keepModel`. */
  initialKernel?: Float32Array;
}

/**
 * Accuracy of a classifier on one-hot targets, in inference mode (dropout off).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { accuracy } from "nn/experiments/dense.ts";
 * await tf.setBackend("cpu");
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [1] })] });
 * console.log(await accuracy(model, tf.tensor2d([[1]]), tf.tensor2d([[1, 0]]))); // 0 or 1
 * ```
 */
export async function accuracy(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize = 512,
): Promise<number> {
  let correct = 0;
  const n = x.shape[0];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const hits = tf.tidy(() => {
      const p = model.predict(tf.slice(x, start, size)) as tf.Tensor;
      return tf.sum(
        tf.cast(tf.equal(tf.argMax(p, 1), tf.argMax(tf.slice(y, start, size), 1)), "int32"),
      );
    });
    correct += (await hits.data())[0];
    hits.dispose();
  }
  return correct / n;
}

/**
 * Epochs that give at least `minSteps` mini-batches on `n` samples (never fewer than
 * `epochs`).
 *
 * @example
 * ```ts
 * import { epochsFor } from "nn/experiments/dense.ts";
 * console.log(epochsFor(256, { epochs: 2, batchSize: 64, minSteps: 40 })); // 10
 * ```
 */
export function epochsFor(
  n: number,
  options: { epochs: number; batchSize: number; minSteps?: number },
): number {
  const steps = Math.ceil(n / options.batchSize);
  return Math.max(options.epochs, Math.ceil((options.minSteps ?? 0) / steps));
}

/**
 * Builds an MLP (784 → hidden → 10), trains it with the library's seeded `train`,
 * and measures training and validation accuracy. The model is disposed unless
 * `keepModel` is set.
 *
 * @param data training tensors `x`, `y` and validation tensors `xVal`, `yVal`
 *   (an {@linkcode MnistSplits} works as is)
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { fitMlp, mnistSplits } from "nn/experiments/dense.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await mnistSplits({ trainSize: 300, valSize: 100, testSize: 10, seed: 0 });
 * const r = await fitMlp(d, { hidden: [16], epochs: 3, seed: 0, progress: "none" });
 * console.log(r.trainAcc >= r.valAcc - 0.2, r.epochs); // true 3
 * d.dispose();
 * ```
 */
export async function fitMlp(
  data: { xTrain: tf.Tensor; yTrain: tf.Tensor; xVal: tf.Tensor; yVal: tf.Tensor },
  run: MlpRun,
): Promise<MlpRunResult> {
  const inputs = data.xTrain.shape[1] ?? MNIST_PIXELS;
  const outputs = data.yTrain.shape[1] ?? MNIST_CLASSES;
  const batchSize = run.batchSize ?? 64;
  const n = data.xTrain.shape[0];
  const epochs = epochsFor(n, { epochs: run.epochs, batchSize, minSteps: run.minSteps });
  const options = {
    inputs,
    hidden: run.hidden,
    outputs,
    dropout: run.dropout ?? 0,
    seed: run.seed,
  };
  const model = compileClassifier(mlp(options), { learningRate: run.learningRate });
  const initialKernel = run.keepModel && run.hidden.length > 0
    ? new Float32Array(await model.layers[0].getWeights()[0].data())
    : undefined;
  try {
    const result = await train(model, data.xTrain, data.yTrain, {
      epochs,
      batchSize,
      seed: run.seed,
      validationData: run.validateEveryEpoch === false ? undefined : [data.xVal, data.yVal],
      progress: run.progress,
      title: run.title ?? `MLP 784-${[...run.hidden, outputs].join("-")} on ${n} images`,
    });
    const sizes = layerSizes(options);
    const out: MlpRunResult = {
      hidden: [...run.hidden],
      sizes,
      params: model.countParams(),
      formulaParams: mlpParameters(sizes),
      trainingFlops: mlpTrainingFlops(sizes),
      trainSize: n,
      epochs: result.epochs,
      trainAcc: await accuracy(model, data.xTrain, data.yTrain),
      valAcc: await accuracy(model, data.xVal, data.yVal),
      valAccHistory: result.history.val_acc ?? [],
      seconds: result.seconds,
      samplesPerSecond: result.samplesPerSecond,
      history: result.history,
    };
    if (run.keepModel) {
      out.model = model;
      out.initialKernel = initialKernel;
    }
    return out;
  } finally {
    if (!run.keepModel) disposeModel(model);
  }
}

/** Options for {@linkcode measureThroughput}. */
export interface ThroughputOptions {
  /** Inputs per sample. Default 784. */
  inputs?: number;
  /** Classes. Default 10. */
  outputs?: number;
  /** Samples per training step. Default 64. */
  batchSize?: number;
  /** Untimed steps first (kernel set-up, allocation, optimizer state). Default 1. */
  warmupSteps?: number;
  /** Time at least this long. Default 1 s. */
  minSeconds?: number;
  /** And at least this many steps. Default 3. */
  minSteps?: number;
  /** Seed of the weights and of the random batch. Default 0. */
  seed?: number;
}

/** What {@linkcode measureThroughput} measured. */
export interface Throughput {
  /** Hidden layer sizes. */
  hidden: number[];
  /** Parameters (tfjs count). */
  params: number;
  /** Training FLOPs per sample (formula). */
  trainingFlops: number;
  /** Timed training steps. */
  steps: number;
  /** Training samples per second. */
  samplesPerSecond: number;
  /** Seconds per training sample (1 / samplesPerSecond). */
  secondsPerSample: number;
  /** Achieved training GFLOP/s by the formula's count. */
  gflops: number;
}

/**
 * Training throughput of an MLP on the current backend: times `trainOnBatch` on one
 * fixed random batch (reading the loss back every step, as training does) until both
 * `minSeconds` and `minSteps` are reached.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { measureThroughput } from "nn/experiments/dense.ts";
 * await setupBackend({ backend: "cpu" });
 * const t = await measureThroughput([32], { minSeconds: 0.2 });
 * console.log(t.samplesPerSecond > 0, t.params); // true 25450
 * ```
 */
export async function measureThroughput(
  hidden: number[],
  options: ThroughputOptions = {},
): Promise<Throughput> {
  const {
    inputs = MNIST_PIXELS,
    outputs = MNIST_CLASSES,
    batchSize = 64,
    warmupSteps = 1,
    minSeconds = 1,
    minSteps = 3,
    seed = 0,
  } = options;
  const model = compileClassifier(mlp({ inputs, hidden, outputs, seed }));
  const x = tf.randomUniform([batchSize, inputs], 0, 1, "float32", seed);
  const y = tf.tidy(() =>
    tf.oneHot(tf.randomUniform([batchSize], 0, outputs, "int32", seed + 1), outputs)
  );
  try {
    for (let i = 0; i < warmupSteps; i++) await model.trainOnBatch(x, y);
    let steps = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (steps < minSteps || elapsed < minSeconds) {
      await model.trainOnBatch(x, y);
      steps++;
      elapsed = (performance.now() - t0) / 1000;
    }
    const samplesPerSecond = (steps * batchSize) / elapsed;
    const sizes = [inputs, ...hidden, outputs];
    const trainingFlops = mlpTrainingFlops(sizes);
    return {
      hidden: [...hidden],
      params: model.countParams(),
      trainingFlops,
      steps,
      samplesPerSecond,
      secondsPerSample: 1 / samplesPerSecond,
      gflops: (trainingFlops * samplesPerSecond) / 1e9,
    };
  } finally {
    tf.dispose([x, y]);
    disposeModel(model);
  }
}

/** A straight line fitted in log-log space: `y ≈ 10^intercept · x^slope`. */
export interface PowerLawFit {
  /** Exponent: how many decades y moves per decade of x. */
  slope: number;
  /** log10 of the prefactor. */
  intercept: number;
  /** Coefficient of determination of the log-log fit. */
  r2: number;
  /** The fitted y at some x. */
  predict(x: number): number;
}

/**
 * Least-squares fit of `log10 y = intercept + slope · log10 x`.
 *
 * @throws {RangeError} for fewer than two points, unequal lengths or values ≤ 0
 * @example
 * ```ts
 * import { powerLawFit } from "nn/experiments/dense.ts";
 * const fit = powerLawFit([1, 10, 100], [3, 30, 300]);
 * console.log(fit.slope.toFixed(3), fit.predict(1000).toFixed(0)); // "1.000" "3000"
 * ```
 */
export function powerLawFit(x: ArrayLike<number>, y: ArrayLike<number>): PowerLawFit {
  if (x.length !== y.length || x.length < 2) {
    throw new RangeError(
      `powerLawFit needs two or more (x, y) pairs of equal length; got ${x.length} x, ${y.length} y.`,
    );
  }
  const lx: number[] = [];
  const ly: number[] = [];
  for (let i = 0; i < x.length; i++) {
    if (!(x[i] > 0 && y[i] > 0)) {
      throw new RangeError(`powerLawFit: values must be > 0 (log scale); got (${x[i]}, ${y[i]}).`);
    }
    lx.push(Math.log10(x[i]));
    ly.push(Math.log10(y[i]));
  }
  const n = lx.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (lx[i] - mx) ** 2;
    sxy += (lx[i] - mx) * (ly[i] - my);
    syy += (ly[i] - my) ** 2;
  }
  if (sxx === 0) throw new RangeError("powerLawFit: all x are equal; a slope needs two x values.");
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return {
    slope,
    intercept,
    r2,
    predict: (v: number) => 10 ** (intercept + slope * Math.log10(v)),
  };
}

/**
 * Indices of input features that are exactly 0 in every row of a flat row-major
 * matrix — for MNIST, the border pixels no training image ever inks.
 *
 * @example
 * ```ts
 * import { alwaysZeroFeatures } from "nn/experiments/dense.ts";
 * console.log(alwaysZeroFeatures(new Float32Array([0, 1, 0, 0, 2, 0]), 3)); // [0, 2]
 * ```
 */
export function alwaysZeroFeatures(pixels: Float32Array, rowSize: number): number[] {
  const used = new Uint8Array(rowSize);
  for (let i = 0; i < pixels.length; i++) if (pixels[i] !== 0) used[i % rowSize] = 1;
  const out: number[] = [];
  used.forEach((u, j) => {
    if (!u) out.push(j);
  });
  return out;
}

/**
 * Columns of a row-major `rows × cols` kernel as images: one `Float32Array` of `rows`
 * values per chosen column (hidden unit). For the first layer of an MNIST MLP each
 * image is a 28 × 28 picture of what that unit responds to.
 *
 * @example
 * ```ts
 * import { kernelColumns } from "nn/experiments/dense.ts";
 * const k = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 rows × 2 columns
 * console.log(kernelColumns(k, 3, 2, [1])); // [Float32Array [2, 4, 6]]
 * ```
 */
export function kernelColumns(
  kernel: Float32Array,
  rows: number,
  cols: number,
  columns: number[],
): Float32Array[] {
  if (kernel.length !== rows * cols) {
    throw new RangeError(`kernelColumns: ${kernel.length} values for ${rows} × ${cols}.`);
  }
  return columns.map((c) => {
    if (!(c >= 0 && c < cols)) throw new RangeError(`Column ${c} is outside 0 … ${cols - 1}.`);
    const img = new Float32Array(rows);
    for (let r = 0; r < rows; r++) img[r] = kernel[r * cols + c];
    return img;
  });
}

/** Options for {@linkcode tileImages}. */
export interface TileOptions {
  /** Image height in pixels. Default 28. */
  height?: number;
  /** Image width in pixels. Default 28. */
  width?: number;
  /** Images per row of the grid. Default: ⌈√count⌉. */
  columns?: number;
  /** Blank pixels between images. Default 2. */
  gap?: number;
  /** Scale each image to its own max |value| (so faint units stay visible). Default true. */
  normalise?: boolean;
}

/**
 * Lays flat images out on a grid for one heatmap: rows of numbers, with `NaN` (drawn
 * blank by Plotly) in the gaps.
 *
 * @example
 * ```ts
 * import { tileImages } from "nn/experiments/dense.ts";
 * const z = tileImages([new Float32Array(4), new Float32Array(4)], { height: 2, width: 2, gap: 1 });
 * console.log(z.length, z[0].length); // 2 5
 * ```
 */
export function tileImages(images: Float32Array[], options: TileOptions = {}): number[][] {
  const { height = 28, width = 28, gap = 2, normalise = true } = options;
  const count = images.length;
  if (count === 0) return [];
  const columns = options.columns ?? Math.ceil(Math.sqrt(count));
  const gridRows = Math.ceil(count / columns);
  const H = gridRows * height + (gridRows - 1) * gap;
  const W = columns * width + (columns - 1) * gap;
  const z = Array.from({ length: H }, () => new Array<number>(W).fill(NaN));
  images.forEach((img, k) => {
    if (img.length !== height * width) {
      throw new RangeError(
        `tileImages: image ${k} has ${img.length} values, not ${height}×${width}.`,
      );
    }
    let scale = 1;
    if (normalise) {
      const max = img.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      scale = max > 0 ? 1 / max : 1;
    }
    const top = Math.floor(k / columns) * (height + gap);
    const left = (k % columns) * (width + gap);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) z[top + r][left + c] = img[r * width + c] * scale;
    }
  });
  return z;
}

/** Sizes of every experiment of the dense-networks notebook. */
export interface DenseProfile {
  /** MNIST split. */
  data: { trainSize: number; valSize: number; testSize: number };
  /** §1: configurations whose parameters are counted (every width at every depth). */
  parameters: { widths: number[]; depths: number[] };
  /** §2: deep-narrow vs shallow-wide at one parameter budget. */
  budget: {
    parameters: number;
    deepLayers: number;
    dropout: number;
    epochs: number;
    batchSize: number;
  };
  /** §3: training throughput across widths (hidden layers of equal width). */
  compute: { widths: number[]; depth: number; batchSize: number; minSeconds: number };
  /** §4: capacity sweep (one hidden layer) on a small training set. */
  overfitting: { trainSize: number; widths: number[]; epochs: number; batchSize: number };
  /** §5: learning curve of the shallow-wide net of §2 (the full set reuses §2's run). */
  learningCurve: { sizes: number[]; minSteps: number };
}

const PROFILES: Record<"smoke" | "full", DenseProfile> = {
  smoke: {
    data: { trainSize: 2000, valSize: 500, testSize: 500 },
    parameters: { widths: [16, 32, 64, 128, 256, 512, 1024], depths: [1, 2, 4] },
    budget: { parameters: 50_000, deepLayers: 3, dropout: 0.3, epochs: 10, batchSize: 128 },
    compute: { widths: [64, 256, 1024], depth: 2, batchSize: 64, minSeconds: 0.3 },
    overfitting: { trainSize: 200, widths: [2, 8, 32, 128], epochs: 40, batchSize: 50 },
    learningCurve: { sizes: [125, 250, 500, 1000], minSteps: 40 },
  },
  full: {
    data: { trainSize: 7500, valSize: 1000, testSize: 1500 },
    parameters: { widths: [16, 32, 64, 128, 256, 512, 1024], depths: [1, 2, 4] },
    budget: { parameters: 270_000, deepLayers: 3, dropout: 0.3, epochs: 15, batchSize: 128 },
    compute: { widths: [64, 128, 256, 512, 1024], depth: 2, batchSize: 64, minSeconds: 1 },
    overfitting: { trainSize: 500, widths: [2, 8, 32, 128, 512], epochs: 30, batchSize: 50 },
    learningCurve: { sizes: [250, 500, 1000, 2000, 4000], minSteps: 150 },
  },
};

/** Section-wise overrides of a {@linkcode DenseProfile}. */
export type DenseProfileOverrides = { [K in keyof DenseProfile]?: Partial<DenseProfile[K]> };

/**
 * The sizes of the notebook's experiments for a profile ("smoke": a quick check of
 * every cell, "full": the figures and claims the notebook is about), with optional
 * overrides per section.
 *
 * @throws {RangeError} for an unknown profile or learning-curve sizes that do not fit
 * @example
 * ```ts
 * import { denseProfile } from "nn/experiments/dense.ts";
 * const p = denseProfile("smoke", { budget: { epochs: 2 } });
 * console.log(p.budget.epochs, p.data.trainSize); // 2 2000
 * ```
 */
export function denseProfile(
  profile: string,
  overrides: DenseProfileOverrides = {},
): DenseProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  const base = PROFILES[profile];
  const out = Object.fromEntries(
    Object.entries(base).map(([k, v]) => [
      k,
      { ...v, ...(overrides[k as keyof DenseProfile] ?? {}) },
    ]),
  ) as unknown as DenseProfile;
  const n = out.data.trainSize;
  if (out.learningCurve.sizes.some((s) => s >= n) || out.overfitting.trainSize > n) {
    throw new RangeError(
      `Learning-curve sizes must be below, and the overfitting set at most, the training ` +
        `set of ${n} images; got [${out.learningCurve.sizes}] and ${out.overfitting.trainSize}.`,
    );
  }
  return out;
}

/** One configuration counted by {@linkcode countParameters}. */
export interface ParameterCount {
  /** Hidden layers. */
  depth: number;
  /** Units per hidden layer. */
  width: number;
  /** From the mathjs formula. */
  formula: number;
  /** From tfjs `model.countParams()`. */
  tfjs: number;
}

/**
 * Builds an MLP (784 → depth × width → 10) for every width at every depth and counts
 * its parameters both ways: the mathjs formula and tfjs's `countParams()`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { countParameters } from "nn/experiments/dense.ts";
 * await tf.setBackend("cpu");
 * const rows = countParameters({ widths: [8, 16], depths: [1, 2] });
 * console.log(rows.every((r) => r.formula === r.tfjs)); // true
 * ```
 */
export function countParameters(
  options: { widths: number[]; depths: number[]; inputs?: number; outputs?: number },
): ParameterCount[] {
  const { inputs = MNIST_PIXELS, outputs = MNIST_CLASSES } = options;
  const rows: ParameterCount[] = [];
  for (const depth of options.depths) {
    for (const width of options.widths) {
      const hidden = new Array<number>(depth).fill(width);
      const model = mlp({ inputs, hidden, outputs });
      try {
        rows.push({
          depth,
          width,
          formula: mlpParameters([inputs, ...hidden, outputs]),
          tfjs: model.countParams(),
        });
      } finally {
        model.dispose();
      }
    }
  }
  return rows;
}

/** The first layer's weight change of a run kept with `keepModel`. */
export interface KernelChange {
  /** Trained minus initial kernel, `rows × cols`, row-major (row = input pixel). */
  delta: Float32Array;
  /** Inputs (784). */
  rows: number;
  /** Units of the first hidden layer. */
  cols: number;
}

/**
 * Trained minus initial first-layer kernel of a run made with `keepModel: true`.
 *
 * @throws {Error} when the run did not keep its model
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { firstLayerChange, fitMlp, mnistSplits } from "nn/experiments/dense.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await mnistSplits({ trainSize: 100, valSize: 20, testSize: 10, seed: 0 });
 * const r = await fitMlp(d, { hidden: [4], epochs: 1, seed: 0, progress: "none", keepModel: true });
 * console.log((await firstLayerChange(r)).cols); // 4
 * r.model?.dispose();
 * d.dispose();
 * ```
 */
export async function firstLayerChange(run: MlpRunResult): Promise<KernelChange> {
  if (!run.model || !run.initialKernel) {
    throw new Error("firstLayerChange needs a run trained with keepModel: true.");
  }
  const kernel = await run.model.layers[0].getWeights()[0].data() as Float32Array;
  const delta = new Float32Array(kernel.length);
  for (let i = 0; i < kernel.length; i++) delta[i] = kernel[i] - run.initialKernel[i];
  return { delta, rows: run.sizes[0], cols: run.sizes[1] };
}

/**
 * The `k` columns (units) with the largest L2 norm, largest first.
 *
 * @example
 * ```ts
 * import { strongestColumns } from "nn/experiments/dense.ts";
 * console.log(strongestColumns(new Float32Array([0, 3, 1, 0]), 2, 2, 1)); // [1]
 * ```
 */
export function strongestColumns(
  matrix: Float32Array,
  rows: number,
  cols: number,
  k: number,
): number[] {
  const norms = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) norms[c] += matrix[r * cols + c] ** 2;
  }
  return Array.from({ length: cols }, (_, c) => c).sort((a, b) => norms[b] - norms[a] || a - b)
    .slice(0, k);
}

/**
 * The largest |value| in the given rows of a row-major matrix (0 for no rows).
 *
 * @example
 * ```ts
 * import { maxAbsInRows } from "nn/experiments/dense.ts";
 * console.log(maxAbsInRows(new Float32Array([0, 0, -2, 1]), 2, [0])); // 0
 * ```
 */
export function maxAbsInRows(matrix: Float32Array, cols: number, rowIndices: number[]): number {
  let max = 0;
  for (const r of rowIndices) {
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(matrix[r * cols + c]));
  }
  return max;
}

/** A training subset with the full validation set, from {@linkcode trainingSubset}. */
export interface TrainingSubset {
  xTrain: tf.Tensor;
  yTrain: tf.Tensor;
  xVal: tf.Tensor;
  yVal: tf.Tensor;
  /** Frees the subset's own tensors (not the validation set's). */
  dispose(): void;
}

/**
 * The first `n` training images of `data` (nested: a smaller subset is part of every
 * larger one) with the whole validation set.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { mnistSplits, trainingSubset } from "nn/experiments/dense.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await mnistSplits({ trainSize: 100, valSize: 20, testSize: 10, seed: 0 });
 * const s = trainingSubset(d, 30);
 * console.log(s.xTrain.shape, s.xVal.shape); // [30, 784] [20, 784]
 * s.dispose();
 * d.dispose();
 * ```
 */
export function trainingSubset(
  data: { xTrain: tf.Tensor; yTrain: tf.Tensor; xVal: tf.Tensor; yVal: tf.Tensor },
  n: number,
): TrainingSubset {
  const xTrain = headRows(data.xTrain, n);
  const yTrain = headRows(data.yTrain, n);
  return {
    xTrain,
    yTrain,
    xVal: data.xVal,
    yVal: data.yVal,
    dispose: () => tf.dispose([xTrain, yTrain]),
  };
}
