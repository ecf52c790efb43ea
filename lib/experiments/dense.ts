/**
 * What the dense-networks notebook (notebooks/01_dense_networks.ipynb) measures but does
 * not teach: the sizes of its experiments per profile, the epochs a small training set
 * needs, training throughput, and a log-log power-law fit. The models, their training
 * and their evaluation are in the notebook's cells.
 *
 * @example
 * ```ts
 * import { denseProfile, powerLawFit } from "nn/experiments/dense.ts";
 * const cfg = denseProfile("smoke");
 * const fit = powerLawFit([1, 10, 100], [3, 30, 300]);
 * console.log(cfg.data.trainSize, fit.slope.toFixed(3)); // 2000 "1.000"
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { MNIST_CLASSES, MNIST_PIXELS } from "../data/mnist.ts";
import { disposeModel } from "../train.ts";
import { compileClassifier, mlp } from "../models/dense.ts";
import { mlpTrainingFlops } from "../models/counting.ts";

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
