/**
 * What the sparse-networks notebook (notebooks/02_sparse_networks.ipynb) measures but
 * does not teach: the sizes of its experiments per profile, the gradual pruning schedule
 * those sizes give, the hidden sizes of a small dense network with a given number of
 * parameters, and the timing of dense against CSR products. Pruning,
 * fine-tuning, dropout and the mixture of experts are built and trained in the
 * notebook's cells, from `nn/models/sparse.ts` and `nn`.
 *
 * @example
 * ```ts
 * import { fineTuneSchedule, matchedHidden, sparseProfile } from "nn/experiments/sparse.ts";
 * const cfg = sparseProfile("full");
 * console.log(fineTuneSchedule(cfg, 0.9).steps, matchedHidden(cfg.dense.hidden, 27030)); // 590 [33, 11]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { MNIST_CLASSES, MNIST_PIXELS } from "../data/mnist.ts";
import { mlpParameters } from "../models/counting.ts";
import { type ScheduleOptions, scheduleUntil } from "../models/sparse_schedule.ts";
import { csrBytesFor, csrFromDense, denseBytes, denseCsrMatMul } from "../models/sparse_csr.ts";
import { Rng } from "../random.ts";

/** Sizes of every experiment of the sparse-networks notebook. */
export interface SparseProfile {
  /** MNIST split. */
  data: { trainSize: number; valSize: number; testSize: number };
  /** §1: the dense network every pruned network starts from (LeNet-300-100). */
  dense: { hidden: number[]; epochs: number; batchSize: number; learningRate: number };
  /**
   * §2: pruning. Each sparsity is reached one-shot and gradually from the same dense
   * network, then both get the same `fineTuneEpochs` at `learningRate` (the training
   * rate); the gradual schedule has `pruningSteps` steps spread over the first
   * `pruneFraction` of them. `gentleLearningRate` is the small fine-tuning rate of the
   * second comparison.
   */
  pruning: {
    sparsities: number[];
    fineTuneEpochs: number;
    learningRate: number;
    gentleLearningRate: number;
    pruningSteps: number;
    pruneFraction: number;
  };
  /** §5: dropout on a small training set (the first `trainSize` training images). */
  dropout: {
    trainSize: number;
    hidden: number[];
    rate: number;
    inputRate: number;
    epochs: number;
    batchSize: number;
  };
  /** §6: top-k mixture of experts. */
  moe: {
    experts: number;
    topK: number;
    hiddenUnits: number;
    balanceWeight: number;
    epochs: number;
    batchSize: number;
  };
  /** §7: dense vs CSR product of a `batch × inputs` by `inputs × units` kernel. */
  hardware: {
    batch: number;
    inputs: number;
    units: number;
    sparsities: number[];
    minSeconds: number;
  };
}

const PROFILES: Record<"smoke" | "full", SparseProfile> = {
  smoke: {
    data: { trainSize: 2000, valSize: 500, testSize: 1000 },
    dense: { hidden: [300, 100], epochs: 8, batchSize: 128, learningRate: 1e-3 },
    pruning: {
      sparsities: [0.8, 0.9],
      fineTuneEpochs: 4,
      learningRate: 1e-3,
      gentleLearningRate: 1e-4,
      pruningSteps: 10,
      pruneFraction: 0.5,
    },
    dropout: {
      trainSize: 1000,
      hidden: [300, 100],
      rate: 0.5,
      inputRate: 0.2,
      epochs: 12,
      batchSize: 100,
    },
    moe: { experts: 8, topK: 2, hiddenUnits: 32, balanceWeight: 0.01, epochs: 3, batchSize: 128 },
    hardware: {
      batch: 64,
      inputs: 784,
      units: 300,
      sparsities: [0, 0.5, 0.8, 0.9, 0.95, 0.99],
      minSeconds: 0.05,
    },
  },
  full: {
    data: { trainSize: 7500, valSize: 1000, testSize: 1500 },
    dense: { hidden: [300, 100], epochs: 20, batchSize: 128, learningRate: 1e-3 },
    pruning: {
      sparsities: [0.5, 0.8, 0.9, 0.95, 0.98],
      fineTuneEpochs: 10,
      learningRate: 1e-3,
      gentleLearningRate: 1e-4,
      pruningSteps: 10,
      pruneFraction: 0.5,
    },
    dropout: {
      trainSize: 2000,
      hidden: [300, 100],
      rate: 0.5,
      inputRate: 0.2,
      epochs: 40,
      batchSize: 50,
    },
    moe: { experts: 8, topK: 2, hiddenUnits: 64, balanceWeight: 0.01, epochs: 10, batchSize: 128 },
    hardware: {
      batch: 64,
      inputs: 784,
      units: 300,
      sparsities: [0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995],
      minSeconds: 0.2,
    },
  },
};

/** Section-wise overrides of a {@linkcode SparseProfile}. */
export type SparseProfileOverrides = { [K in keyof SparseProfile]?: Partial<SparseProfile[K]> };

/**
 * The sizes of the notebook's experiments for a profile ("smoke": a quick check of every
 * cell; "full": the figures and claims the notebook is about), with overrides per
 * section.
 *
 * @throws {RangeError} for an unknown profile or sizes that do not fit together
 * @example
 * ```ts
 * import { sparseProfile } from "nn/experiments/sparse.ts";
 * const p = sparseProfile("full", { pruning: { fineTuneEpochs: 4 } });
 * console.log(p.pruning.fineTuneEpochs, p.dense.hidden); // 4 [300, 100]
 * ```
 */
export function sparseProfile(
  profile: string,
  overrides: SparseProfileOverrides = {},
): SparseProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  const base = PROFILES[profile];
  const out = Object.fromEntries(
    Object.entries(base).map(([k, v]) => [
      k,
      { ...v, ...(overrides[k as keyof SparseProfile] ?? {}) },
    ]),
  ) as unknown as SparseProfile;
  if (out.dropout.trainSize > out.data.trainSize) {
    throw new RangeError(
      `The dropout set (${out.dropout.trainSize} images) must fit in the training set ` +
        `(${out.data.trainSize}).`,
    );
  }
  if (out.pruning.sparsities.some((s) => !(s > 0 && s < 1))) {
    throw new RangeError(`Sparsities must be in (0, 1); got [${out.pruning.sparsities}].`);
  }
  for (const level of [0.8, 0.9]) {
    if (!out.pruning.sparsities.includes(level)) {
      throw new RangeError(
        `The pruning sparsities must include ${level} (the notebook's claims are made there); ` +
          `got [${out.pruning.sparsities}].`,
      );
    }
  }
  if (!(out.pruning.pruneFraction > 0 && out.pruning.pruneFraction <= 1)) {
    throw new RangeError(`pruneFraction must be in (0, 1], got ${out.pruning.pruneFraction}.`);
  }
  return out;
}

/**
 * The gradual schedule of the notebook's fine-tuning runs for a target sparsity: `s_i = 0`
 * at `t_0 = 0`, `pruningSteps` steps spread over the first `pruneFraction` of the
 * fine-tuning steps, and how many fine-tuning steps there are.
 *
 * @example
 * ```ts
 * import { fineTuneSchedule, sparseProfile } from "nn/experiments/sparse.ts";
 * const { schedule, steps } = fineTuneSchedule(sparseProfile("full"), 0.9);
 * console.log(steps, schedule.frequency); // 590 29
 * ```
 */
export function fineTuneSchedule(
  cfg: SparseProfile,
  sparsity: number,
  trainSize = cfg.data.trainSize,
): { schedule: ScheduleOptions; steps: number } {
  const p = cfg.pruning;
  const steps = Math.ceil(trainSize / cfg.dense.batchSize) * p.fineTuneEpochs;
  const schedule = scheduleUntil({
    finalSparsity: sparsity,
    endStep: Math.max(p.pruningSteps, Math.round(p.pruneFraction * steps)),
    pruningSteps: p.pruningSteps,
  });
  return { schedule, steps };
}

/**
 * Hidden sizes of a small dense MLP shaped like `hidden` (same ratios between layers,
 * every size scaled by one factor) with the most parameters that do not exceed
 * `budget`.
 *
 * @example
 * ```ts
 * import { matchedHidden } from "nn/experiments/sparse.ts";
 * console.log(matchedHidden([300, 100], 27030)); // [33, 11]
 * ```
 */
export function matchedHidden(
  hidden: readonly number[],
  budget: number,
  inputs = MNIST_PIXELS,
  outputs = MNIST_CLASSES,
): number[] {
  const shape = (first: number) =>
    hidden.map((h) => Math.max(1, Math.round((first * h) / hidden[0])));
  const params = (first: number) => mlpParameters([inputs, ...shape(first), outputs]);
  if (params(1) > budget) {
    throw new RangeError(`matchedHidden: even one unit per layer exceeds ${budget} parameters.`);
  }
  let first = 1;
  while (params(first + 1) <= budget) first++;
  return shape(first);
}

/** One row of {@linkcode timeProducts}. */
export interface ProductTiming {
  /** Fraction of kernel entries that are 0. */
  sparsity: number;
  /** Non-zero kernel entries. */
  nnz: number;
  /** Milliseconds of `tf.matMul` (batch × kernel, zeros included) on the current backend, read back. */
  denseMs: number;
  /** Milliseconds of the CSR product in TypeScript. */
  csrMs: number;
  /** Bytes of the kernel stored dense (float32). */
  denseBytes: number;
  /** Bytes of the kernel in CSR (float32 values, int32 indices). */
  csrBytes: number;
}

async function medianMs(fn: () => Promise<void> | void, minSeconds: number): Promise<number> {
  await fn(); // warm-up
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start) / 1000 < minSeconds) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    if (times.length >= 200) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Times `Y = X W` for a random dense batch `X` (`batch × inputs`) and a random kernel
 * `W` (`inputs × units`) with a growing share of zeros: as a dense `tf.matMul` on the
 * current backend (zeros multiplied like any number) and as a CSR product in
 * TypeScript (zeros skipped). Median of repeated runs; the dense time includes reading
 * the result back, as the CSR result is already in JavaScript. The figures depend on
 * the machine and its load: they are for charts, not for claims.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { timeProducts } from "nn/experiments/sparse.ts";
 * await setupBackend({ backend: "cpu" });
 * const rows = await timeProducts({ batch: 4, inputs: 32, units: 16, sparsities: [0, 0.9], minSeconds: 0 });
 * console.log(rows.map((r) => r.nnz)); // [512, 51]
 * ```
 */
export async function timeProducts(
  options: SparseProfile["hardware"] & { seed?: number },
): Promise<ProductTiming[]> {
  const { batch, inputs, units, sparsities, minSeconds, seed = 0 } = options;
  const rng = new Rng(seed).fork("sparse.timing");
  const x = new Float32Array(batch * inputs).map(() => rng.normal());
  const w = new Float32Array(inputs * units).map(() => rng.normal());
  const order = rng.permutation(w.length);
  const xt = tf.tensor2d(x, [batch, inputs]);
  const rows: ProductTiming[] = [];
  try {
    for (const sparsity of sparsities) {
      const k = Math.round(sparsity * w.length);
      const pruned = w.slice();
      for (let i = 0; i < k; i++) pruned[order[i]] = 0;
      const csr = csrFromDense(pruned, inputs, units);
      const wt = tf.tensor2d(pruned, [inputs, units]);
      try {
        const denseMs = await medianMs(async () => {
          const y = tf.matMul(xt, wt);
          await y.data();
          y.dispose();
        }, minSeconds);
        const csrMs = await medianMs(() => {
          denseCsrMatMul(x, batch, csr);
        }, minSeconds);
        rows.push({
          sparsity,
          nnz: csr.values.length,
          denseMs,
          csrMs,
          denseBytes: denseBytes(inputs, units),
          csrBytes: csrBytesFor(inputs, units, csr.values.length),
        });
      } finally {
        wt.dispose();
      }
    }
  } finally {
    xt.dispose();
  }
  return rows;
}
