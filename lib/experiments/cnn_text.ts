/**
 * What notebooks/05_cnn_text_models.ipynb needs that is not its lesson: the sizes of its
 * profiles, the UCI sentences as a seeded stratified split (or a cross-domain split,
 * 跨领域迁移) encoded for a token model, and the measurements behind its claims — the
 * receptive field (感受野) by gradient, the confusion matrix, the top-activating n-grams
 * (n 元语法) of filters (卷积核) and the AFINN base rate. The models, their training and
 * evaluation, and the convolution by hand are cells of the notebook.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { cnnTextProfile, encodeSplit, sentenceSplit } from "nn/experiments/cnn_text.ts";
 * await setupBackend({ backend: "cpu" });
 * const cfg = cnnTextProfile("smoke");
 * const data = encodeSplit(await sentenceSplit({ seed: 0 }), cfg);
 * console.log(data.xTrain.shape); // [2400, 30]
 * data.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { ConvMaxOverTime } from "../layers/conv_max_over_time.ts";
import { loadSentiment, SENTIMENT_SOURCES } from "../data/sentiment.ts";
import { splitData } from "../data/split.ts";
import { Vocabulary } from "../data/vocabulary.ts";
import { encodeTexts } from "../data/encode.ts";
import { oneHot, sequencesToTensor, type SplitTensors } from "../data/tensors.ts";
import { AFINN } from "../models/baselines.ts";

// ---------------------------------------------------------------------------------------
// Profiles

const FULL = {
  /** Tokens per sentence (longer ones are cut at the end, shorter padded at the end). */
  length: 40,
  /** Words seen fewer times in training map to `<oov>`. */
  minCount: 1,
  /** Embedding size E. */
  embeddingDim: 64,
  /** Filters per width F. */
  filters: 100,
  /** Dropout before the classifier. */
  dropout: 0.5,
  /** Epoch cap of section 2's CNN and of each width run (early stopping usually ends them first). */
  epochs: 15,
  /** Early stopping: epochs without a better validation accuracy before a run stops. */
  patience: 3,
  /** Batch size. */
  batchSize: 50,
  /** Adam learning rate. */
  learningRate: 0.002,
  /** Training seeds per width set in section 5 (their mean is compared). */
  widthRepeats: 2,
  /** Epoch cap of each cross-domain run. */
  transferEpochs: 15,
  /** Recurrent / Transformer units (d_model) in section 6. */
  units: 32,
  /** Epoch cap of the section-6 LSTM and Transformer (each stops when validation stalls). */
  compareEpochs: 30,
};

/** Sizes of every experiment of the notebook. */
export type CnnTextProfile = typeof FULL;

const PROFILES: Record<"smoke" | "full", CnnTextProfile> = {
  full: FULL,
  smoke: {
    ...FULL,
    length: 30,
    minCount: 2,
    embeddingDim: 32,
    filters: 16,
    epochs: 3,
    learningRate: 0.005,
    widthRepeats: 1,
    transferEpochs: 2,
    units: 16,
    compareEpochs: 2,
  },
};

/**
 * The sizes of a profile, with overrides merged.
 *
 * @example
 * ```ts
 * import { cnnTextProfile } from "nn/experiments/cnn_text.ts";
 * console.log(cnnTextProfile("full", { epochs: 2 }).epochs); // 2
 * ```
 */
export function cnnTextProfile(
  profile: string,
  overrides: Partial<CnnTextProfile> = {},
): CnnTextProfile {
  if (profile !== "smoke" && profile !== "full") {
    throw new RangeError(`Unknown profile "${profile}": use "smoke" or "full".`);
  }
  return { ...PROFILES[profile], ...overrides };
}

// ---------------------------------------------------------------------------------------
// Data

/** Sentences, their 0 (negative) / 1 (positive) labels and sources ("amazon", "imdb", "yelp"). */
export type SentencePart = { texts: string[]; labels: number[]; source: string[] };

/** Train, validation (early stopping) and test (reported accuracy) parts. */
export type SentenceSplit = { train: SentencePart; val: SentencePart; test: SentencePart };

/**
 * The 3000 UCI sentences split 80/10/10, stratified by label and seeded, so that every
 * model of the notebook sees the same split. With `heldOut`, a cross-domain split
 * instead: train (90 %) and validate (10 %, stratified) on the two other sources, test on
 * all 1000 sentences of the held-out one.
 *
 * @example
 * ```ts
 * import { sentenceSplit } from "nn/experiments/cnn_text.ts";
 * const s = await sentenceSplit({ seed: 0 });
 * const x = await sentenceSplit({ seed: 0, heldOut: "yelp" });
 * console.log(s.test.labels.length, x.train.texts.length, x.test.texts.length); // 300 1800 1000
 * ```
 */
export async function sentenceSplit(
  options: { seed: number; heldOut?: "amazon" | "imdb" | "yelp" },
): Promise<SentenceSplit> {
  const { seed, heldOut } = options;
  if (heldOut !== undefined && !SENTIMENT_SOURCES.includes(heldOut)) {
    throw new RangeError(`heldOut must be one of ${SENTIMENT_SOURCES.join(", ")}.`);
  }
  const data = await loadSentiment({ source: "all" });
  if (heldOut === undefined) {
    const s = splitData(data, { seed, stratify: data.labels });
    return { train: s.train, val: s.val, test: s.test };
  }
  const pick = (keep: (s: string) => boolean): SentencePart => {
    const idx = data.source.map((s, i) => (keep(s) ? i : -1)).filter((i) => i >= 0);
    const at = <T>(xs: T[]) => idx.map((i) => xs[i]);
    return { texts: at(data.texts), labels: at(data.labels), source: at(data.source) };
  };
  const inDomain = pick((s) => s !== heldOut);
  const options90 = { seed, stratify: inDomain.labels, train: 0.9, val: 0.1, test: 0 };
  const s = splitData(inDomain, options90);
  return { train: s.train, val: s.val, test: pick((s) => s === heldOut) };
}

/** A split encoded for a token model: ids `[n, length]` and one-hot labels `[n, 2]`. */
export interface EncodedSplit extends SplitTensors {
  /** Test ids as rows (for reading n-grams back). */
  testIds: Int32Array[];
  /** 0/1 test labels. */
  testLabels: number[];
  /** The vocabulary, built from the training part. */
  vocab: Vocabulary;
  /** Frees the tensors. */
  dispose(): void;
}

/**
 * Encodes a split: vocabulary from the training sentences (`minCount`), ids cut at the end
 * to `length` and padded at the end (default `"post"`, so position t is the t-th word) or,
 * for a recurrent model that reads its last state, at the start (`padding: "pre"`).
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { encodeSplit, sentenceSplit } from "nn/experiments/cnn_text.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = encodeSplit(await sentenceSplit({ seed: 0 }), { length: 20, minCount: 2 });
 * console.log(d.xTrain.shape, d.yTest.shape); // [2400, 20] [300, 2]
 * d.dispose();
 * ```
 */
export function encodeSplit(
  split: SentenceSplit,
  options: { length: number; minCount: number; padding?: "pre" | "post" },
): EncodedSplit {
  const vocab = Vocabulary.fromTexts(split.train.texts, { minCount: options.minCount });
  const padding = options.padding ?? "post";
  const rows = (texts: string[]) =>
    encodeTexts(texts, vocab, { length: options.length, padding, truncating: "post" });
  const testIds = rows(split.test.texts);
  const t = {
    xTrain: sequencesToTensor(rows(split.train.texts)),
    yTrain: oneHot(split.train.labels, 2),
    xVal: sequencesToTensor(rows(split.val.texts)),
    yVal: oneHot(split.val.labels, 2),
    xTest: sequencesToTensor(testIds),
    yTest: oneHot(split.test.labels, 2),
  };
  return {
    ...t,
    testIds,
    testLabels: split.test.labels,
    vocab,
    dispose: () => tf.dispose(Object.values(t)),
  };
}

// ---------------------------------------------------------------------------------------
// 1. Receptive field

/**
 * The receptive field (感受野) measured, not computed: stack stride-1 `conv1d` layers of
 * these widths (all-ones kernels), take the gradient of one output position with respect
 * to the input, and count the input positions where it is not zero.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { receptiveFieldByGradient } from "nn/experiments/cnn_text.ts";
 * await setupBackend({ backend: "cpu" });
 * console.log(await receptiveFieldByGradient([3, 3])); // 5
 * ```
 */
export async function receptiveFieldByGradient(widths: readonly number[]): Promise<number> {
  const T = widths.reduce((a, k) => a + k, 0) * 2 + 4;
  const convs = widths.map((k) =>
    tf.layers.conv1d({ filters: 2, kernelSize: k, kernelInitializer: "ones" })
  );
  const x = tf.ones([1, T, 2]);
  const g = tf.grad((inp: tf.Tensor) => {
    let h = inp;
    for (const c of convs) h = c.apply(h) as tf.Tensor;
    return tf.sum(tf.slice(h, [0, 1, 0], [1, 1, -1]));
  })(x);
  const rows = tf.tidy(() => tf.sum(tf.abs(g), 2).reshape([-1]));
  const v = await rows.data();
  tf.dispose([x, g, rows]);
  convs.forEach((c) => c.dispose());
  return v.filter((r) => r > 0).length;
}

// ---------------------------------------------------------------------------------------
// 2. Evaluation

/**
 * Confusion matrix `m[true][predicted]` of `classes` classes.
 *
 * @example
 * ```ts
 * import { confusionMatrix } from "nn/experiments/cnn_text.ts";
 * console.log(confusionMatrix([1, 0, 1, 1], [1, 0, 0, 1], 2)); // [[1, 1], [0, 2]]
 * ```
 */
export function confusionMatrix(
  predicted: readonly number[],
  labels: readonly number[],
  classes: number,
): number[][] {
  if (predicted.length !== labels.length) {
    throw new RangeError(`${predicted.length} predictions for ${labels.length} labels.`);
  }
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  labels.forEach((y, i) => m[y][predicted[i]]++);
  return m;
}

// ---------------------------------------------------------------------------------------
// 4. What the filters learned

/** One top-activating window of a filter. */
export interface NgramHit {
  /** Test sentence index. */
  sentence: number;
  /** First token position. */
  start: number;
  /** The words of the window. */
  words: string[];
  /** The filter's activation (after ReLU). */
  activation: number;
}

/** A filter with its top n-grams. */
export interface FilterReport {
  /** Branch width k. */
  width: number;
  /** Filter index within its branch. */
  filter: number;
  /** Classifier weight toward positive minus toward negative (sign = what it votes for). */
  vote: number;
  /** |vote| × mean max-over-time activation on the test set: how much it moves the logits. */
  strength: number;
  /** The top windows, highest activation first, at most one per sentence. */
  top: NgramHit[];
}

/**
 * Finds the top-activating n-grams of a trained {@linkcode cnnTextClassifier} (fused or
 * layers implementation): for every filter of every branch, its ReLU response at every
 * position of the test sentences, the `top` highest windows (one per sentence, windows
 * made only of padding skipped); filters are ranked by strength, strongest first.
 *
 * @example
 * ```ts
 * import { cnnTextClassifier, setupBackend } from "nn";
 * import { encodeSplit, filterNgrams, sentenceSplit } from "nn/experiments/cnn_text.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = encodeSplit(await sentenceSplit({ seed: 0 }), { length: 20, minCount: 2 });
 * const m = cnnTextClassifier({ vocabSize: d.vocab.size, sequenceLength: 20, kernelSizes: [2], filters: 3, embeddingDim: 8, outputs: 2 });
 * const report = await filterNgrams(m, d, { top: 3 });
 * console.log(report.length, report[0].top[0].words.length); // 3 2
 * ```
 */
export async function filterNgrams(
  model: tf.LayersModel,
  data: EncodedSplit,
  options: { top: number; widths?: readonly number[] },
): Promise<FilterReport[]> {
  const embedding =
    (await model.getLayer("token_embedding").getWeights()[0].data()) as Float32Array;
  const head = model.getLayer("classifier").getWeights()[0];
  const headW = (await head.data()) as Float32Array; // [n·F, 2]
  const branches = model.layers.filter((l) =>
    l instanceof ConvMaxOverTime || l.getClassName() === "Conv1D"
  );
  const E = model.getLayer("token_embedding").getWeights()[0].shape[1] as number;
  const reports: FilterReport[] = [];
  let offset = 0;
  const N = data.testIds.length;
  for (const layer of branches) {
    const [kernel, bias] = layer.getWeights();
    const [k, , F] = kernel.shape as [number, number, number];
    if (options.widths && !options.widths.includes(k)) {
      offset += F;
      continue;
    }
    const act = tf.tidy(() => {
      const table = tf.tensor2d(embedding, [embedding.length / E, E]);
      const x = tf.gather(table, data.xTest) as unknown as tf.Tensor3D; // [N, T, E]
      return tf.relu(tf.add(tf.conv1d(x, kernel as tf.Tensor3D, 1, "valid"), bias)); // [N, L, F]
    });
    const a = (await act.data()) as Float32Array;
    const L = act.shape[1]!;
    act.dispose();
    for (let f = 0; f < F; f++) {
      const best: NgramHit[] = [];
      let meanMax = 0;
      for (let n = 0; n < N; n++) {
        let bi = -1, bv = -Infinity;
        for (let t = 0; t < L; t++) {
          if (data.testIds[n][t] === Vocabulary.PAD) break; // the rest is padding
          const v = a[(n * L + t) * F + f];
          if (v > bv) (bv = v), (bi = t);
        }
        if (bi < 0) continue;
        meanMax += bv / N;
        const words = Array.from(data.testIds[n].subarray(bi, bi + k))
          .map((id) => data.vocab.token(id)).filter((w) => w !== Vocabulary.PAD_TOKEN);
        best.push({ sentence: n, start: bi, words, activation: bv });
      }
      best.sort((p, q) => q.activation - p.activation);
      const vote = headW[(offset + f) * 2 + 1] - headW[(offset + f) * 2];
      reports.push({
        width: k,
        filter: f,
        vote,
        strength: Math.abs(vote) * meanMax,
        top: best.slice(0, options.top),
      });
    }
    offset += F;
  }
  return reports.sort((p, q) => q.strength - p.strength);
}

/**
 * Whether a window of words contains an AFINN-165 entry (a word, or a phrase of its words).
 *
 * @example
 * ```ts
 * import { hasAfinnWord } from "nn/experiments/cnn_text.ts";
 * console.log(hasAfinnWord(["was", "really", "good"]), hasAfinnWord(["the", "table"])); // true false
 * ```
 */
export function hasAfinnWord(words: readonly string[]): boolean {
  for (let i = 0; i < words.length; i++) {
    for (let j = i + 1; j <= words.length; j++) {
      if (Object.hasOwn(AFINN, words.slice(i, j).join(" "))) return true;
    }
  }
  return false;
}

/**
 * The base rate for {@linkcode hasAfinnWord}: the fraction of windows of `width` words,
 * drawn uniformly (seeded) from the non-padding positions of the test sentences, that
 * contain an AFINN entry.
 *
 * @example
 * ```ts
 * import { afinnBaseRate } from "nn/experiments/cnn_text.ts";
 * import { Vocabulary } from "nn/data/mod.ts";
 * const v = Vocabulary.fromTexts(["good food", "the table"]);
 * const rows = [v.encode(["good", "food"]), v.encode(["the", "table"])];
 * console.log(afinnBaseRate(rows, v, { width: 1, samples: 1000, seed: 0 })); // about 0.25
 * ```
 */
export function afinnBaseRate(
  rows: readonly Int32Array[],
  vocab: Vocabulary,
  options: { width: number; samples: number; seed: number },
): number {
  const starts: [number, number][] = [];
  rows.forEach((row, n) => {
    let len = row.indexOf(Vocabulary.PAD);
    if (len < 0) len = row.length;
    for (let t = 0; t + options.width <= Math.max(len, options.width) && t < len; t++) {
      starts.push([n, t]);
    }
  });
  const r = rng(options.seed);
  let hit = 0;
  for (let s = 0; s < options.samples; s++) {
    const [n, t] = starts[Math.floor(r.next() * starts.length)];
    const words = Array.from(rows[n].subarray(t, t + options.width)).map((id) => vocab.token(id));
    if (hasAfinnWord(words)) hit++;
  }
  return hit / options.samples;
}
