/**
 * Measurement helpers of the Transformer notebook (notebooks/04_transformers.ipynb): the
 * sizes of each profile, the causal mask's gradient, sinusoidal position dot products,
 * forward+backward timing, the recall-the-first-token task's data and the LSTM size that
 * matches a parameter budget. Attention, multi-head attention and the block by hand, the
 * models, their training and evaluation are in the notebook's cells.
 *
 * Functions return plain numbers and arrays and dispose the tensors they make, unless
 * they say they return tensors.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { causalGradients } from "nn/experiments/transformer.ts";
 * await setupBackend({ backend: "cpu" });
 * console.log((await causalGradients({ seed: 0, length: 4 })).leak); // 0
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import { rng } from "../random.ts";
import { disposeModel } from "../train.ts";
import { sinusoidalTable } from "../layers/sinusoidal_position_encoding.ts";
import { decoderBlock } from "../models/transformer.ts";

// ---------------------------------------------------------------------------------------
// Profiles

const PROFILES = {
  smoke: {
    /** Encoder classifier on the sentences. */
    sentiment: {
      length: 20,
      dModel: 16,
      numHeads: 2,
      ffDim: 32,
      numLayers: 1,
      epochs: 2,
      batchSize: 64,
      dropout: 0.1,
      learningRate: 0.003,
    },
    /** Decoder language model, and the LSTM it is compared with. */
    chars: {
      chapters: 1,
      window: 32,
      dModel: 32,
      numHeads: 2,
      ffDim: 64,
      numLayers: 1,
      maxEpochs: 4,
      patience: 2,
      batchSize: 32,
      learningRate: 0.003,
      lstmEmbeddingDim: 16,
      sampleLength: 80,
    },
    /** Forward+backward timing. */
    timing: { lengths: [16, 32, 64], batchSize: 8, width: 16, repeats: 2 },
    /** Long-range task: recall the first token. */
    longRange: {
      lengths: [8, 24],
      symbols: 4,
      trainSize: 512,
      testSize: 256,
      width: 16,
      epochs: 3,
      batchSize: 32,
      learningRate: 0.005,
    },
  },
  full: {
    sentiment: {
      length: 30,
      dModel: 32,
      numHeads: 4,
      ffDim: 64,
      numLayers: 2,
      epochs: 12,
      batchSize: 32,
      dropout: 0.1,
      learningRate: 0.001,
    },
    chars: {
      chapters: 10,
      window: 64,
      dModel: 64,
      numHeads: 4,
      ffDim: 128,
      numLayers: 2,
      maxEpochs: 50,
      patience: 3,
      batchSize: 32,
      learningRate: 0.005,
      lstmEmbeddingDim: 32,
      sampleLength: 300,
    },
    timing: { lengths: [16, 32, 64, 128, 256, 512, 1024], batchSize: 16, width: 32, repeats: 5 },
    longRange: {
      lengths: [10, 50, 150],
      symbols: 8,
      trainSize: 2048,
      testSize: 512,
      width: 32,
      epochs: 6,
      batchSize: 64,
      learningRate: 0.003,
    },
  },
};

/**
 * Sizes of every experiment of the notebook: `sentiment` (encoder classifier), `chars`
 * (decoder language model and its LSTM), `timing` and `longRange` (recall task).
 */
export type TransformerProfile = typeof PROFILES.full;

/**
 * The sizes of a profile, with overrides merged per section.
 *
 * @example
 * ```ts
 * import { transformerProfile } from "nn/experiments/transformer.ts";
 * console.log(transformerProfile("smoke", { chars: { maxEpochs: 1 } }).chars.maxEpochs); // 1
 * ```
 */
export function transformerProfile(
  profile: string,
  overrides: { [K in keyof TransformerProfile]?: Partial<TransformerProfile[K]> } = {},
): TransformerProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  const base = PROFILES[profile];
  return {
    sentiment: { ...base.sentiment, ...overrides.sentiment },
    chars: { ...base.chars, ...overrides.chars },
    timing: { ...base.timing, ...overrides.timing },
    longRange: { ...base.longRange, ...overrides.longRange },
  };
}

// ---------------------------------------------------------------------------------------
// 1. The causal mask's gradients (attention itself is written by hand in the notebook)

/** Result of {@linkcode causalGradients}. */
export interface CausalGradients {
  /** `norms[t][s]` = ‖∂ sum(y_t) / ∂x_s‖ over the batch (row = output position). */
  norms: number[][];
  /** Largest |∂y_t/∂x_s| with s > t (0 when the mask works). */
  leak: number;
  /** Smallest ‖∂y_t/∂x_s‖ with s ≤ t (> 0: the past does reach the output). */
  smallestPast: number;
}

/**
 * Gradients of each output position of a stack of causal decoder blocks with respect
 * to each input position, on random `[batch, length, dModel]` inputs.
 *
 * @example
 * ```ts
 * import { causalGradients } from "nn/experiments/transformer.ts";
 * console.log((await causalGradients({ seed: 0, length: 4 })).leak); // 0
 * ```
 */
export async function causalGradients(
  options: { seed: number; length?: number; dModel?: number; numLayers?: number; batch?: number },
): Promise<CausalGradients> {
  const T = options.length ?? 8;
  const D = options.dModel ?? 16;
  const input = tf.input({ shape: [T, D] });
  let h = input;
  for (let i = 0; i < (options.numLayers ?? 2); i++) {
    h = decoderBlock(h, { numHeads: 2, ffDim: 2 * D, seed: options.seed + i, name: `g${i}` });
  }
  const model = tf.model({ inputs: input, outputs: h });
  // tfjs takes a seed of 0 for "no seed" (Math.random): draw the op's seed from our generator
  const x = tf.randomNormal(
    [options.batch ?? 4, T, D],
    0,
    1,
    "float32",
    rng(options.seed).nextSeed(),
  );
  const norms: number[][] = [];
  let leak = 0;
  let smallestPast = Infinity;
  for (let t = 0; t < T; t++) {
    const g = tf.grad((xx: tf.Tensor) =>
      tf.sum(tf.slice(model.apply(xx) as tf.Tensor, [0, t, 0], [-1, 1, -1]))
    )(x);
    const perPos = tf.tidy(() => tf.sqrt(tf.sum(tf.square(g), [0, 2])));
    const absMax = tf.tidy(() => tf.max(tf.abs(g), [0, 2]));
    const row = Array.from(await perPos.data());
    const mx = await absMax.data();
    norms.push(row);
    for (let s = 0; s < T; s++) {
      if (s > t) leak = Math.max(leak, mx[s]);
      else smallestPast = Math.min(smallestPast, row[s]);
    }
    tf.dispose([g, perPos, absMax]);
  }
  x.dispose();
  model.dispose();
  return { norms, leak, smallestPast };
}

// ---------------------------------------------------------------------------------------
// 2. Position encodings

/** Result of {@linkcode positionDotProducts}. */
export interface PositionDotProducts {
  /** The table `[length][d]` (float64). */
  table: number[][];
  /** Distances 0 … maxDistance. */
  distances: number[];
  /** Mean over start positions p of PE[p]·PE[p+k], per distance k. */
  meanDot: number[];
  /** Largest spread (max − min over p) of PE[p]·PE[p+k] over all k: 0 in exact arithmetic. */
  maxSpread: number;
}

/**
 * Dot products of sinusoidal encodings against distance, computed from the float32
 * table the layer adds (so the spread measures float32 rounding too).
 *
 * @example
 * ```ts
 * import { positionDotProducts } from "nn/experiments/transformer.ts";
 * const r = positionDotProducts({ length: 32, d: 16, maxDistance: 8 });
 * console.log(r.meanDot[0]); // 8 (= d / 2)
 * ```
 */
export function positionDotProducts(
  options: { length: number; d: number; maxDistance: number },
): PositionDotProducts {
  const table = sinusoidalTable(options.length, options.d);
  const t32 = table.map((row) => Float32Array.from(row));
  const distances: number[] = [];
  const meanDot: number[] = [];
  let maxSpread = 0;
  for (let k = 0; k <= options.maxDistance; k++) {
    const dots: number[] = [];
    for (let p = 0; p + k < options.length; p++) {
      let s = 0;
      for (let j = 0; j < options.d; j++) s += t32[p][j] * t32[p + k][j];
      dots.push(s);
    }
    if (dots.length === 0) break;
    distances.push(k);
    meanDot.push(dots.reduce((a, b) => a + b, 0) / dots.length);
    maxSpread = Math.max(maxSpread, Math.max(...dots) - Math.min(...dots));
  }
  return { table, distances, meanDot, maxSpread };
}

// ---------------------------------------------------------------------------------------
// 4. Decoder language model: the LSTM it is compared with

/**
 * LSTM units u whose character model (embedding e, LSTM u, dense head over V characters:
 * `V·e + 4u(e + u + 1) + (u + 1)V` parameters) comes closest to `params`.
 *
 * @example
 * ```ts
 * import { matchingLstmUnits } from "nn/experiments/transformer.ts";
 * console.log(matchingLstmUnits({ params: 80000, vocabSize: 60, embeddingDim: 32 })); // 118
 * ```
 */
export function matchingLstmUnits(
  options: { params: number; vocabSize: number; embeddingDim: number },
): number {
  const { vocabSize: V, embeddingDim: e } = options;
  const count = (u: number) => V * e + 4 * u * (e + u + 1) + (u + 1) * V;
  // 4u² + (4e + 4 + V)u + V·e + V − params = 0
  const b = 4 * e + 4 + V;
  const c = V * e + V - options.params;
  const root = Math.max(1, Math.round((-b + Math.sqrt(b * b - 16 * c)) / 8));
  return [root - 1, root, root + 1].filter((u) => u >= 1)
    .sort((x, y) => Math.abs(count(x) - options.params) - Math.abs(count(y) - options.params))[0];
}

// ---------------------------------------------------------------------------------------
// 5. Parallelism

/** One timing row of {@linkcode timeForwardBackward}. */
export interface TimingRow {
  /** Model name (a key of `models`). */
  kind: string;
  /** Sequence length T. */
  length: number;
  /** Median wall-clock milliseconds of one forward + backward pass (gradients of every weight). */
  ms: number;
  /**
   * Median CPU milliseconds of this process over the same passes (user + system). On the
   * wasm and cpu backends, where this process does all the work, it measures the work itself:
   * other programs on a shared machine stretch the wall time but not this. On webgpu the
   * GPU's work is not in it.
   */
  cpuMs: number;
  /** Parameters. */
  params: number;
}

/**
 * Measures forward + backward time (softmax cross-entropy and the gradients of all
 * weights, no update) per batch of random ids `[batchSize, T]` for each model at each
 * length T: the median of `repeats` after one warm-up pass, in wall-clock and in CPU
 * milliseconds. `models` builds each model
 * for a length (ids `[B, T]` → logits `[B, classes]`); each is disposed after timing.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
import process from "node:process";
 * import { setupBackend } from "nn";
 * import { timeForwardBackward } from "nn/experiments/transformer.ts";
 * await setupBackend({ backend: "cpu" });
 * const dense = (length: number) => tf.sequential({ layers: [
 *   tf.layers.embedding({ inputDim: 100, outputDim: 4, inputLength: length }),
 *   tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
 * const rows = await timeForwardBackward({ models: { dense }, lengths: [8, 16], batchSize: 2, repeats: 1, seed: 0 });
 * console.log(rows.length); // 2
 * ```
 */
export async function timeForwardBackward(options: {
  models: Record<string, (length: number) => tf.LayersModel>;
  lengths: number[];
  batchSize: number;
  repeats: number;
  seed: number;
  vocabSize?: number;
}): Promise<TimingRow[]> {
  const rows: TimingRow[] = [];
  const vocabSize = options.vocabSize ?? 100;
  for (const length of options.lengths) {
    const seed = rng(options.seed + length).nextSeed(); // tfjs reads a seed of 0 as none
    const x = tf.randomUniform([options.batchSize, length], 1, vocabSize, "int32", seed);
    for (const [kind, build] of Object.entries(options.models)) {
      const model = build(length);
      const classes = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
      const y = tf.tidy(() => tf.oneHot(tf.zeros([options.batchSize], "int32"), classes).toFloat());
      const step = async () => {
        const { value, grads } = tf.variableGrads(() =>
          tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar
        );
        await value.data();
        tf.dispose([value, ...Object.values(grads)]);
      };
      await step();
      const times: number[] = [];
      const cpuTimes: number[] = [];
      for (let i = 0; i < options.repeats; i++) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await step();
        times.push(performance.now() - t0);
        const cpu = process.cpuUsage(cpu0);
        cpuTimes.push((cpu.user + cpu.system) / 1000);
      }
      const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
      rows.push({
        kind,
        length,
        ms: median(times),
        cpuMs: median(cpuTimes),
        params: model.countParams(),
      });
      disposeModel(model);
      y.dispose();
    }
    x.dispose();
  }
  return rows;
}

/** Data of the recall-the-first-token task. */
export interface RecallData {
  /** Ids `[n, length]`: random symbols 1 … symbols. */
  x: tf.Tensor2D;
  /** One-hot `[n, symbols]` of the first symbol (class = symbol − 1). */
  y: tf.Tensor2D;
  /** Frees the tensors. */
  dispose(): void;
}

/**
 * The long-range task: a sequence of `length` random symbols; the label is the FIRST
 * symbol, so the answer lies `length − 1` steps before the end. Chance accuracy is
 * 1 / symbols.
 *
 * @example
 * ```ts
 * import { recallFirstTask } from "nn/experiments/transformer.ts";
 * const d = recallFirstTask({ n: 3, length: 5, symbols: 4, seed: 0 });
 * console.log(d.x.shape, d.y.shape); // [3, 5] [3, 4]
 * d.dispose();
 * ```
 */
export function recallFirstTask(
  options: { n: number; length: number; symbols: number; seed: number },
): RecallData {
  const r = rng(options.seed);
  const ids = new Int32Array(options.n * options.length);
  const labels = new Int32Array(options.n);
  for (let i = 0; i < options.n; i++) {
    for (let t = 0; t < options.length; t++) {
      ids[i * options.length + t] = 1 + r.int(options.symbols);
    }
    labels[i] = ids[i * options.length] - 1;
  }
  const x = tf.tensor2d(ids, [options.n, options.length], "int32");
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), options.symbols).toFloat());
  return { x, y: y as tf.Tensor2D, dispose: () => tf.dispose([x, y]) };
}
