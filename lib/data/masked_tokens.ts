/**
 * Data for masked-token pre-training (掩码语言模型预训练, BERT: Devlin et al. 2019):
 * sentences split from running text, and examples in which some tokens of a sentence
 * are replaced by a mask id and the model must name one of them.
 *
 * Each example holds the masked ids `[T]`, a one-hot "pick" row `[T]` marking the
 * masked position to predict, and the original id there. A model reads the ids, takes
 * its output at the picked position (a dot product with the pick row) and predicts the
 * token, so a plain `tf.LayersModel` with `sparseCategoricalCrossentropy` trains it.
 * Masks are drawn afresh on every call (dynamic masking, as RoBERTa does).
 *
 * @example
 * ```ts
 * import { maskedTokenTensors, splitSentences } from "nn/data/masked_tokens.ts";
 * const sentences = splitSentences("Call me Ishmael. Some years ago I went to sea!");
 * console.log(sentences); // ["Call me Ishmael.", "Some years ago I went to sea!"]
 * const rows = [Int32Array.from([5, 6, 7, 8, 0, 0])];
 * const t = maskedTokenTensors(rows, { maskId: 9, seed: 0 });
 * console.log(t.ids.shape, t.pick.shape, t.target.shape); // [1, 6] [1, 6] [1, 1]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random.ts";

/**
 * Splits running text into sentences at ".", "!" or "?" followed by white space, with
 * line breaks folded into spaces; drops pieces shorter than `minWords` words.
 */
export function splitSentences(text: string, minWords = 3): string[] {
  return text.replace(/\s+/g, " ")
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.split(" ").length >= minWords);
}

/** Options of {@linkcode maskedTokenTensors}. */
export interface MaskedTokenOptions {
  /** The id that replaces a masked token (e.g. the vocabulary size, an extra id). */
  maskId: number;
  /** Share of a sentence's real tokens masked, at least one. Default 0.15 (BERT's). */
  rate?: number;
  /** Examples per sentence (each with its own masks). Default 1. */
  copies?: number;
  /** Padding id: never masked. Default 0. */
  padId?: number;
  /** Seed of the masks. Default 0. */
  seed?: number;
}

/** Masked-token examples as tensors. */
export interface MaskedTokenTensors {
  /** `[N, T]` int32: the ids with the masked ones replaced by the mask id. */
  ids: tf.Tensor2D;
  /** `[N, T]` float32: one-hot, the masked position to predict. */
  pick: tf.Tensor2D;
  /** `[N, 1]` float32 (as `sparseCategoricalCrossentropy` wants): the original id at the picked position. */
  target: tf.Tensor2D;
  /** Frees the tensors. */
  dispose(): void;
}

/** Builds masked-token examples from padded id rows (all of one length T). */
export function maskedTokenTensors(
  rows: readonly Int32Array[],
  options: MaskedTokenOptions,
): MaskedTokenTensors {
  const r = new Rng(options.seed ?? 0).fork("masked-tokens");
  const rate = options.rate ?? 0.15;
  const copies = options.copies ?? 1;
  const pad = options.padId ?? 0;
  const t = rows[0]?.length ?? 0;
  const examples: { ids: Int32Array; at: number; id: number }[] = [];
  for (const row of rows) {
    if (row.length !== t) throw new RangeError("maskedTokenTensors: rows must share one length.");
    const real: number[] = [];
    row.forEach((id, i) => id !== pad && real.push(i));
    if (real.length === 0) continue;
    for (let c = 0; c < copies; c++) {
      const k = Math.max(1, Math.round(rate * real.length));
      const chosen = r.shuffle([...real]).slice(0, k);
      const ids = row.slice();
      for (const i of chosen) ids[i] = options.maskId;
      examples.push({ ids, at: chosen[0], id: row[chosen[0]] });
    }
  }
  const n = examples.length;
  const idsFlat = new Int32Array(n * t);
  const pickFlat = new Float32Array(n * t);
  const targets = new Int32Array(n);
  examples.forEach((e, i) => {
    idsFlat.set(e.ids, i * t);
    pickFlat[i * t + e.at] = 1;
    targets[i] = e.id;
  });
  const ids = tf.tensor2d(idsFlat, [n, t], "int32");
  const pick = tf.tensor2d(pickFlat, [n, t]);
  const target = tf.tensor2d(Float32Array.from(targets), [n, 1]);
  return { ids, pick, target, dispose: () => tf.dispose([ids, pick, target]) };
}
