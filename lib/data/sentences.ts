/**
 * The 3000 UCI review sentences as the recurrent and Transformer notebooks use them:
 * split 80/10/10 (stratified, seeded), a word vocabulary from the training part (words
 * seen at least twice), ids padded or cut to a fixed length, one-hot labels. Both
 * notebooks call {@linkcode sentenceData} with the same seed, so they train and test on
 * the same sentences.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { sentenceData } from "nn/data/mod.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await sentenceData({ length: 20, seed: 0 });
 * console.log(d.texts.train.length, d.tensors.xTrain.shape); // 2400 [2400, 20]
 * d.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { loadSentiment } from "./sentiment.ts";
import { splitData } from "./split.ts";
import { Vocabulary } from "./vocabulary.ts";
import { encodeTexts } from "./encode.ts";
import { sequencesToTensor, type SplitTensors } from "./tensors.ts";

/** Options of {@linkcode sentenceData} and {@linkcode sentimentTensors}. */
export interface SentenceDataOptions {
  /** Tokens per sentence: shorter sentences are padded, longer ones cut. */
  length: number;
  /** Seed of the split. */
  seed: number;
}

/** The UCI sentences split 80/10/10, as texts and as padded id tensors. */
export interface SentenceData {
  /** Texts of each part. */
  texts: { train: string[]; val: string[]; test: string[] };
  /** Labels (0/1) of each part. */
  labels: { train: number[]; val: number[]; test: number[] };
  /** The training vocabulary (words seen at least twice). */
  vocabulary: Vocabulary;
  /** Ids `[n, length]` (int32) and one-hot labels `[n, 2]` (float32). */
  tensors: SplitTensors;
  /** Frees the tensors. */
  dispose(): void;
}

/**
 * Loads the 3000 UCI sentences, splits them 80/10/10 (stratified by label, seeded),
 * builds the vocabulary from the training part (min count 2) and encodes every part as
 * ids padded or cut to `length` tokens.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { sentenceData } from "nn/data/mod.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await sentenceData({ length: 20, seed: 0 });
 * console.log(d.texts.test.length, d.tensors.xTest.shape); // 300 [300, 20]
 * d.dispose();
 * ```
 */
export async function sentenceData(options: SentenceDataOptions): Promise<SentenceData> {
  const data = await loadSentiment({ source: "all" });
  const split = splitData({ texts: data.texts, labels: data.labels }, {
    seed: options.seed,
    stratify: data.labels,
  });
  const vocabulary = Vocabulary.fromTexts(split.train.texts, { minCount: 2 });
  const enc = (texts: string[]) =>
    sequencesToTensor(encodeTexts(texts, vocabulary, { length: options.length }));
  const lab = (labels: number[]) =>
    tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), 2).toFloat() as tf.Tensor2D);
  const tensors = {
    xTrain: enc(split.train.texts),
    yTrain: lab(split.train.labels),
    xVal: enc(split.val.texts),
    yVal: lab(split.val.labels),
    xTest: enc(split.test.texts),
    yTest: lab(split.test.labels),
  };
  return {
    texts: { train: split.train.texts, val: split.val.texts, test: split.test.texts },
    labels: { train: split.train.labels, val: split.val.labels, test: split.test.labels },
    vocabulary,
    tensors,
    dispose: () => tf.dispose(Object.values(tensors)),
  };
}

/** The tensors of {@linkcode sentenceData} with the vocabulary size, flat. */
export interface SentimentTensors {
  /** Token ids `[n, length]`. */
  xTrain: tf.Tensor2D;
  /** Labels one-hot `[n, 2]`. */
  yTrain: tf.Tensor2D;
  /** Validation ids. */
  xVal: tf.Tensor2D;
  /** Validation labels. */
  yVal: tf.Tensor2D;
  /** Test ids. */
  xTest: tf.Tensor2D;
  /** Test labels. */
  yTest: tf.Tensor2D;
  /** Vocabulary size (ids 0 … vocabSize − 1). */
  vocabSize: number;
  /** Frees the tensors. */
  dispose(): void;
}

/**
 * {@linkcode sentenceData}'s tensors and vocabulary size only, for code that needs no texts.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { sentimentTensors } from "nn/data/mod.ts";
 * await setupBackend({ backend: "cpu" });
 * const d = await sentimentTensors({ length: 20, seed: 0 });
 * console.log(d.xTrain.shape); // [2400, 20]
 * d.dispose();
 * ```
 */
export async function sentimentTensors(options: SentenceDataOptions): Promise<SentimentTensors> {
  const d = await sentenceData(options);
  return { ...d.tensors, vocabSize: d.vocabulary.size, dispose: d.dispose };
}
