/**
 * What notebooks/06_applications.ipynb needs that is not its lesson: the sizes of its
 * profiles and a few measurement helpers. The models (the MLP, the CNN, the residual
 * CNN, the spectrogram CNN, the CartPole policy, the dense and pruned networks), their
 * training, the REINFORCE update and the attributions are cells of the notebook; the data
 * loaders (`loadFashionMnist`, `spokenDigitSplit`, `logMelSpectrogram`), the environment
 * (`nn/control/cartpole.ts`), the builders (`nn/models/cnn_image.ts`) and the attribution
 * methods (`nn/models/attribution.ts`) are library modules with their own tests.
 *
 * @example
 * ```ts
 * import { applicationsProfile } from "nn/experiments/applications.ts";
 * const cfg = applicationsProfile("smoke", { images: { epochs: 1 } });
 * console.log(cfg.images.epochs, cfg.control.maxSteps); // 1 200
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** Sizes of every experiment of the notebook. */
export interface ApplicationsProfile {
  /** §1: Fashion-MNIST with an MLP, a CNN and a residual CNN. */
  images: {
    trainSize: number;
    testSize: number;
    epochs: number;
    batchSize: number;
    learningRate: number;
    /** Hidden units of the MLP (784 → hidden → 10). */
    mlpHidden: number[];
    /** Filters of the plain CNN's conv → pool stages. */
    cnnFilters: number[];
    /** Channels of the residual CNN's stages. */
    resStages: number[];
  };
  /** §2: spoken digits, a CNN over log-mel spectrograms. */
  sound: { epochs: number; batchSize: number; learningRate: number; filters: number[] };
  /** §3: CartPole with REINFORCE and a baseline. */
  control: {
    /** Policy-gradient updates. */
    updates: number;
    /** Episodes played per update. */
    episodesPerUpdate: number;
    /** Hidden units of the policy (4 → hidden → 2). */
    hidden: number[];
    learningRate: number;
    /** Discount γ of the returns-to-go. */
    gamma: number;
    /** Steps after which an episode is cut (200: CartPole-v0). */
    maxSteps: number;
    /** Episodes of the random policy, and the window of the "last episodes" mean. */
    window: number;
  };
  /** §4: attributions of the image CNN and of 05's text CNN. */
  attribution: {
    /** Test images attributed. */
    images: number;
    /** Trapezoid intervals of integrated gradients. */
    steps: number;
    /** Test sentences attributed. */
    sentences: number;
    /** Epochs of the text CNN (05's model, smaller). */
    textEpochs: number;
    textFilters: number;
  };
  /** §5: dense against 90 %-pruned (02's network) on an interpretability proxy. */
  sparse: {
    trainSize: number;
    testSize: number;
    hidden: number[];
    epochs: number;
    fineTuneEpochs: number;
    sparsity: number;
    /** Test images whose attributions are compared. */
    images: number;
    /** Trapezoid intervals of integrated gradients. */
    steps: number;
  };
}

const FULL: ApplicationsProfile = {
  images: {
    trainSize: 8000,
    testSize: 2000,
    epochs: 8,
    batchSize: 64,
    learningRate: 0.002,
    mlpHidden: [16],
    cnnFilters: [8, 16],
    resStages: [8, 16],
  },
  sound: { epochs: 25, batchSize: 32, learningRate: 0.002, filters: [8, 16] },
  control: {
    updates: 60,
    episodesPerUpdate: 16,
    hidden: [32],
    learningRate: 0.01,
    gamma: 0.99,
    maxSteps: 200,
    window: 100,
  },
  attribution: { images: 6, steps: 256, sentences: 4, textEpochs: 4, textFilters: 32 },
  sparse: {
    trainSize: 5000,
    testSize: 1000,
    hidden: [300, 100],
    epochs: 8,
    fineTuneEpochs: 4,
    sparsity: 0.9,
    images: 100,
    steps: 64,
  },
};

const SMOKE: ApplicationsProfile = {
  images: { ...FULL.images, trainSize: 1000, testSize: 500, epochs: 2 },
  sound: { ...FULL.sound, epochs: 5 },
  control: { ...FULL.control, updates: 15, episodesPerUpdate: 8, window: 40 },
  attribution: { images: 3, steps: 128, sentences: 2, textEpochs: 2, textFilters: 16 },
  sparse: {
    ...FULL.sparse,
    trainSize: 1000,
    testSize: 200,
    hidden: [100],
    epochs: 3,
    fineTuneEpochs: 2,
    images: 20,
    steps: 16,
  },
};

/** Section-wise overrides of an {@linkcode ApplicationsProfile}. */
export type ApplicationsOverrides = {
  [K in keyof ApplicationsProfile]?: Partial<ApplicationsProfile[K]>;
};

/**
 * The sizes of a profile, with section-wise overrides merged (the parameters cell's
 * `sizes`).
 *
 * @throws {RangeError} for a profile other than "smoke" or "full", or an unknown section
 * @example
 * ```ts
 * import { applicationsProfile } from "nn/experiments/applications.ts";
 * console.log(applicationsProfile("full").images.trainSize); // 8000
 * ```
 */
export function applicationsProfile(
  profile: string,
  overrides: ApplicationsOverrides = {},
): ApplicationsProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  const base = profile === "full" ? FULL : SMOKE;
  const out = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, values] of Object.entries(overrides)) {
    if (!(section in out)) {
      throw new RangeError(
        `Unknown section "${section}" in sizes: use ${Object.keys(out).join(", ")}.`,
      );
    }
    Object.assign(out[section], values);
  }
  return out as unknown as ApplicationsProfile;
}

/**
 * The predicted class (largest output) of each row, read asynchronously (every backend).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { predictClasses } from "nn/experiments/applications.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], kernelInitializer: "ones" })] });
 * console.log(await predictClasses(m, tf.ones([2, 2]))); // [0, 0]
 * ```
 */
export async function predictClasses(
  model: tf.LayersModel,
  x: tf.Tensor,
  batchSize = 256,
): Promise<number[]> {
  const p = tf.tidy(() => tf.argMax(model.predict(x, { batchSize }) as tf.Tensor, 1));
  const out = Array.from(await p.data());
  p.dispose();
  return out;
}

/**
 * Mean and sample standard deviation of some numbers.
 *
 * @example
 * ```ts
 * import { meanStd } from "nn/experiments/applications.ts";
 * console.log(meanStd([1, 2, 3])); // { mean: 2, std: 1 }
 * ```
 */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std };
}
