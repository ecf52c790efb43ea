/**
 * Character-level text for language models (语言模型): the first chapters of *Moby-Dick*
 * (`data/moby_dick/`, sha256-checked), a character corpus with a held-out tail, windows
 * of ids with next-character targets, and the unigram baseline in bits per character
 * (每字符比特数) that a model must beat. Shared by the recurrent and Transformer notebooks.
 *
 * @example
 * ```ts
 * import { charCorpus, charWindows, unigramBitsPerChar } from "nn/data/mod.ts";
 * const c = charCorpus(["abcabcabca"], { valFraction: 0.2 });
 * const w = charWindows(c.train, 3);
 * console.log(c.chars, w.inputs.length, unigramBitsPerChar(c.train, c.val, 3) > 1); // ["a", "b", "c"] 2 true
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { loadText } from "./files.ts";

/** A character corpus: vocabulary and id streams for training and validation. */
export interface CharCorpus {
  /** The characters, id order (sorted). */
  chars: string[];
  /** Training ids (the first 90 % of the text). */
  train: Int32Array;
  /** Validation ids (the last 10 %). */
  val: Int32Array;
  /** Id of a character (throws on an unknown one). */
  id(c: string): number;
}

/**
 * Builds a character corpus from texts joined by newlines: the vocabulary is every
 * character of the text, sorted; the last `valFraction` (default 0.1) of the characters
 * is held out as a contiguous block.
 *
 * @example
 * ```ts
 * import { charCorpus } from "nn/data/mod.ts";
 * const c = charCorpus(["abcabcabca"], { valFraction: 0.2 });
 * console.log(c.chars.join(""), c.train.length, c.val.length); // "abc" 8 2
 * ```
 */
export function charCorpus(
  texts: readonly string[],
  options: { valFraction?: number } = {},
): CharCorpus {
  const text = texts.join("\n");
  const all = Array.from(text);
  const chars = [...new Set(all)].sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(all, (c) => index.get(c)!);
  const nVal = Math.max(1, Math.round(ids.length * (options.valFraction ?? 0.1)));
  return {
    chars,
    train: ids.slice(0, ids.length - nVal),
    val: ids.slice(ids.length - nVal),
    id: (c: string) => {
      const i = index.get(c);
      if (i === undefined) {
        throw new RangeError(`Character ${JSON.stringify(c)} is not in the corpus.`);
      }
      return i;
    },
  };
}

/**
 * Loads the first `chapters` chapters of *Moby-Dick* from data/moby_dick/ (sha256-checked).
 *
 * @example
 * ```ts
 * import { loadMobyDick } from "nn/data/mod.ts";
 * const [first] = await loadMobyDick(1);
 * console.log(first.slice(0, 20)); // "CHAPTER 1. Loomings."
 * ```
 */
export async function loadMobyDick(chapters: number): Promise<string[]> {
  if (!(chapters >= 1 && chapters <= 10)) {
    throw new RangeError(`data/moby_dick/ holds chapters 1–10; asked for ${chapters}.`);
  }
  const out: string[] = [];
  for (let i = 1; i <= chapters; i++) out.push(await loadText(`moby_dick/chapter_${i}.txt`));
  return out;
}

/**
 * Cross-entropy in bits per character of `val` under the character frequencies of
 * `train` (add-one smoothing): the unigram baseline a language model must beat.
 *
 * @example
 * ```ts
 * import { unigramBitsPerChar } from "nn/data/mod.ts";
 * console.log(unigramBitsPerChar(Int32Array.of(0, 1), Int32Array.of(0, 1), 2)); // 1
 * ```
 */
export function unigramBitsPerChar(train: Int32Array, val: Int32Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const c of train) counts[c]++;
  const total = train.length + vocabSize;
  let bits = 0;
  for (const c of val) bits -= Math.log2(counts[c] / total);
  return bits / val.length;
}

/**
 * Cuts an id stream into windows: inputs `[n, window]` and next-character targets
 * `[n, window]` (shifted by one), windows starting every `stride` (default `window`) ids.
 *
 * @example
 * ```ts
 * import { charWindows } from "nn/data/mod.ts";
 * const w = charWindows(Int32Array.of(0, 1, 2, 3, 4), 2);
 * console.log(w.inputs, w.targets); // [[0,1],[2,3]] [[1,2],[3,4]]
 * ```
 */
export function charWindows(
  ids: Int32Array,
  window: number,
  stride = window,
): { inputs: number[][]; targets: number[][] } {
  const inputs: number[][] = [];
  const targets: number[][] = [];
  for (let s = 0; s + window + 1 <= ids.length; s += stride) {
    inputs.push(Array.from(ids.subarray(s, s + window)));
    targets.push(Array.from(ids.subarray(s + 1, s + window + 1)));
  }
  return { inputs, targets };
}

/**
 * {@linkcode charWindows} (non-overlapping) as tensors: int32 ids `x` `[n, window]` and
 * one-hot float32 next-character targets `y` `[n, window, vocabSize]`, the format of a
 * character language model's softmax cross-entropy. The caller disposes both.
 *
 * @throws {RangeError} when the ids are too few for one window
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { charWindowTensors } from "nn/data/mod.ts";
 * await tf.setBackend("cpu");
 * const { x, y } = charWindowTensors(Int32Array.of(0, 1, 2, 0, 1), 2, 3);
 * console.log(x.shape, y.shape); // [2, 2] [2, 2, 3]
 * tf.dispose([x, y]);
 * ```
 */
export function charWindowTensors(
  ids: Int32Array,
  window: number,
  vocabSize: number,
): { x: tf.Tensor2D; y: tf.Tensor3D } {
  const { inputs, targets } = charWindows(ids, window);
  if (inputs.length === 0) {
    throw new RangeError(
      `Text of ${ids.length} characters is shorter than a window of ${window} plus its target: ` +
        `use a smaller window or more text.`,
    );
  }
  const x = tf.tensor2d(inputs, undefined, "int32");
  const y = tf.tidy(() =>
    tf.oneHot(tf.tensor2d(targets, undefined, "int32"), vocabSize).toFloat() as tf.Tensor3D
  );
  return { x, y };
}
