/**
 * Sampling text from a character language model (语言模型), recurrent or Transformer:
 * any model mapping ids `[1, T]` to next-character logits `[1, T, vocabSize]`.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { charCorpus } from "nn/data/mod.ts";
 * import { charLanguageModel } from "nn/models/recurrent.ts";
 * import { sampleText } from "nn/models/sample_text.ts";
 * await setupBackend({ backend: "cpu" });
 * const c = charCorpus(["abcabc"]);
 * const m = charLanguageModel({ vocabSize: 3, units: 4, embeddingDim: 2 });
 * console.log((await sampleText(m, c, { prompt: "ab", length: 5, seed: 0 })).length); // 7
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";

/** Options of {@linkcode sampleText}. */
export interface SampleTextOptions {
  /** Text to start from; every character must be in the corpus. */
  prompt: string;
  /** Characters to add. */
  length: number;
  /** Seed of the draws. */
  seed: number;
  /** Softmax temperature: below 1 sharper, above 1 flatter. Default 0.8. */
  temperature?: number;
  /** Characters fed to the model at each step (the last ones). Default 64. */
  context?: number;
}

/**
 * Samples text from a character model: feeds the last `context` characters, draws the
 * next from softmax(logits / temperature) with a seeded generator, repeats. Returns the
 * prompt followed by the `length` sampled characters.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { charCorpus } from "nn/data/mod.ts";
 * import { charLanguageModel } from "nn/models/recurrent.ts";
 * import { sampleText } from "nn/models/sample_text.ts";
 * await setupBackend({ backend: "cpu" });
 * const c = charCorpus(["abcabc"]);
 * const m = charLanguageModel({ vocabSize: 3, units: 4, embeddingDim: 2 });
 * console.log((await sampleText(m, c, { prompt: "ab", length: 5, seed: 0 })).length); // 7
 * ```
 */
export async function sampleText(
  model: tf.LayersModel,
  corpus: { chars: readonly string[]; id(c: string): number },
  options: SampleTextOptions,
): Promise<string> {
  const r = rng(options.seed);
  const temperature = options.temperature ?? 0.8;
  const context = options.context ?? 64;
  const ids = Array.from(options.prompt, (c) => corpus.id(c));
  for (let n = 0; n < options.length; n++) {
    const window = ids.slice(-context);
    const probs = tf.tidy(() => {
      const logits = model.predict(tf.tensor2d([window], [1, window.length], "int32")) as tf.Tensor;
      const last = tf.squeeze(tf.slice(logits, [0, window.length - 1, 0], [1, 1, -1]));
      return tf.softmax(tf.div(last, temperature));
    });
    const p = await probs.data();
    probs.dispose();
    let u = r.next();
    let k = 0;
    for (; k < p.length - 1; k++) {
      u -= p[k];
      if (u < 0) break;
    }
    ids.push(k);
  }
  return ids.map((i) => corpus.chars[i]).join("");
}
