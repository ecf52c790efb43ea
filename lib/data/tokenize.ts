/**
 * Tokenisers (分词器): text to a list of string tokens, word- or character-level.
 *
 * @example
 * ```ts
 * import { charTokenize, wordTokenize } from "nn/data/mod.ts";
 * console.log(wordTokenize("Don't stop, Café!")); // ["don't", "stop", ",", "café", "!"]
 * console.log(charTokenize("añ")); // ["a", "ñ"]
 * ```
 * @module
 */

/** A function that splits one text into tokens. */
export type Tokenizer = (text: string) => string[];

/** Options for {@linkcode wordTokenize}. */
export interface WordTokenizeOptions {
  /** Lower-case the text first (default true). */
  lowercase?: boolean;
  /** Keep each punctuation or symbol character as its own token (default true). */
  punctuation?: boolean;
}

// A word: letters, combining marks and digits of any script, with inner apostrophes
// (don't, rock'n'roll, o’clock). Anything else that is not a space or an invisible
// control/format character is a one-character punctuation or symbol token.
const WORD = /[\p{L}\p{M}\p{N}]+(?:['\u2019][\p{L}\p{M}\p{N}]+)*/u;
const TOKEN = new RegExp(`${WORD.source}|[^\\s\\p{L}\\p{M}\\p{N}\\p{C}]`, "gu");
const IS_WORD = new RegExp(`^${WORD.source}$`, "u");

/**
 * Splits text into words and punctuation, Unicode-aware. Words are runs of letters,
 * combining marks and digits (any script) with inner apostrophes kept (`don't`); the
 * curly apostrophe ’ becomes '. Every other visible character is its own token
 * (`"!!"` gives two tokens); whitespace and control characters separate tokens. The
 * text is NFC-normalised and, by default, lower-cased.
 *
 * @example
 * ```ts
 * import { wordTokenize } from "nn/data/mod.ts";
 * console.log(wordTokenize("It’s GREAT... 10/10")); // ["it's", "great", ".", ".", ".", "10", "/", "10"]
 * console.log(wordTokenize("Hi, there!", { punctuation: false })); // ["hi", "there"]
 * ```
 */
export function wordTokenize(text: string, options: WordTokenizeOptions = {}): string[] {
  const { lowercase = true, punctuation = true } = options;
  let s = text.normalize("NFC");
  if (lowercase) s = s.toLowerCase();
  const tokens: string[] = [];
  for (const match of s.matchAll(TOKEN)) {
    const token = match[0];
    if (IS_WORD.test(token)) tokens.push(token.replaceAll("\u2019", "'"));
    else if (punctuation) tokens.push(token);
  }
  return tokens;
}

/** Options for {@linkcode charTokenize}. */
export interface CharTokenizeOptions {
  /** Lower-case the text first (default false). */
  lowercase?: boolean;
}

const GRAPHEMES = new Intl.Segmenter("en", { granularity: "grapheme" });

/**
 * Splits text into user-perceived characters (grapheme clusters), so that a letter
 * with a combining accent or an emoji sequence stays one token. Spaces and
 * punctuation are tokens too. The text is NFC-normalised first.
 *
 * @example
 * ```ts
 * import { charTokenize } from "nn/data/mod.ts";
 * console.log(charTokenize("Ok 👍🏽")); // ["O", "k", " ", "👍🏽"]
 * console.log(charTokenize("Ok", { lowercase: true })); // ["o", "k"]
 * ```
 */
export function charTokenize(text: string, options: CharTokenizeOptions = {}): string[] {
  let s = text.normalize("NFC");
  if (options.lowercase) s = s.toLowerCase();
  return Array.from(GRAPHEMES.segment(s), (part) => part.segment);
}
