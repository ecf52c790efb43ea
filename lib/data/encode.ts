/**
 * Texts to padded id rows in one call: tokenise, look up in a vocabulary, pad.
 *
 * @example
 * ```ts
 * import { encodeTexts, Vocabulary } from "nn/data/mod.ts";
 * const texts = ["a good film", "a bad one"];
 * const vocab = Vocabulary.fromTexts(texts);
 * console.log(encodeTexts(texts, vocab, { length: 4 }).length); // 2
 * ```
 * @module
 */

import { type PadOptions, padSequences } from "./padding.ts";
import { type Tokenizer, wordTokenize } from "./tokenize.ts";
import type { Vocabulary } from "./vocabulary.ts";

/** Options for {@linkcode encodeTexts}: padding options plus the tokeniser. */
export interface EncodeTextsOptions extends PadOptions {
  /** How to split each text (default {@linkcode wordTokenize}); use the one the vocabulary was built with. */
  tokenizer?: Tokenizer;
}

/**
 * Tokenises each text, maps tokens to ids (unknown ones to `<oov>`, id 1) and pads or
 * truncates to one length (see {@linkcode padSequences} for the defaults).
 *
 * @example
 * ```ts
 * import { encodeTexts, Vocabulary } from "nn/data/mod.ts";
 * const vocab = Vocabulary.fromTexts(["good film", "good"]);
 * console.log(encodeTexts(["Good, GOOD film!"], vocab, { length: 6, padding: "post" }));
 * // [Int32Array [2, 1, 2, 3, 1, 0]]   (good , good film ! <pad>)
 * ```
 */
export function encodeTexts(
  texts: readonly string[],
  vocabulary: Vocabulary,
  options: EncodeTextsOptions = {},
): Int32Array[] {
  const tokenizer = options.tokenizer ?? ((text: string) => wordTokenize(text));
  return padSequences(texts.map((text) => vocabulary.encode(tokenizer(text))), options);
}
