/**
 * A vocabulary (词表): the map between tokens and integer ids that embedding layers
 * consume. Id 0 is padding (`<pad>`), id 1 stands for every out-of-vocabulary token
 * (`<oov>`); real tokens follow, most frequent first.
 *
 * @example
 * ```ts
 * import { Vocabulary } from "nn/data/mod.ts";
 * const vocab = Vocabulary.fromTexts(["a good film", "a bad film"], { minCount: 2 });
 * console.log(vocab.tokens); // ["<pad>", "<oov>", "a", "film"]
 * console.log(vocab.encode(["a", "great", "film"])); // Int32Array [2, 1, 3]
 * ```
 * @module
 */

import { type Tokenizer, wordTokenize } from "./tokenize.ts";

/** Options for building a {@linkcode Vocabulary}. */
export interface VocabularyOptions {
  /** Keep only tokens seen at least this many times (default 1). */
  minCount?: number;
  /**
   * The most ids the vocabulary may have, counting `<pad>` and `<oov>` (so at most
   * `maxSize − 2` real tokens); default unlimited. The most frequent tokens are kept.
   */
  maxSize?: number;
}

/** Options for {@linkcode Vocabulary.fromTexts}. */
export interface VocabularyFromTextsOptions extends VocabularyOptions {
  /** How to split each text (default {@linkcode wordTokenize}). */
  tokenizer?: Tokenizer;
}

/** The JSON form of a {@linkcode Vocabulary} (see {@linkcode Vocabulary.toJSON}). */
export interface VocabularyJson {
  /** Marks the object as a vocabulary of this library. */
  format: "nn-vocabulary";
  /** Format version. */
  version: 1;
  /** All tokens in id order, starting with `<pad>` and `<oov>`. */
  tokens: string[];
  /** How often each token was seen when the vocabulary was built (0 for the reserved ones). */
  counts: number[];
}

/** Options for {@linkcode Vocabulary.decode}. */
export interface DecodeOptions {
  /** Drop padding ids (default true). */
  skipPad?: boolean;
}

/**
 * Token ↔ id map with reserved padding (id 0) and out-of-vocabulary (id 1) entries.
 * Build it with {@linkcode Vocabulary.fromTexts} or {@linkcode Vocabulary.fromTokens};
 * tokens are ordered by count (descending), ties by code-point order, so the same
 * corpus always gives the same ids whatever the order of its texts.
 *
 * @example
 * ```ts
 * import { Vocabulary } from "nn/data/mod.ts";
 * const vocab = Vocabulary.fromTokens([["b", "a", "a"]]);
 * const ids = vocab.encode(["a", "b", "z"]); // Int32Array [2, 3, 1]
 * console.log(vocab.decode(ids)); // ["a", "b", "<oov>"]
 * ```
 */
export class Vocabulary {
  /** Id of the padding token. */
  static readonly PAD = 0;
  /** Id of the out-of-vocabulary token. */
  static readonly OOV = 1;
  /** The padding token's text. */
  static readonly PAD_TOKEN = "<pad>";
  /** The out-of-vocabulary token's text. */
  static readonly OOV_TOKEN = "<oov>";

  /** All tokens in id order: `tokens[0]` is `<pad>`, `tokens[1]` is `<oov>`. */
  readonly tokens: readonly string[];
  readonly #counts: readonly number[];
  readonly #ids: Map<string, number>;

  /**
   * Makes a vocabulary from real tokens in id order (ids start at 2); most code
   * builds one with {@linkcode Vocabulary.fromTexts} instead.
   *
   * @param tokens distinct tokens, not including `<pad>` and `<oov>`
   * @param counts optional count per token, same length as `tokens`
   */
  constructor(tokens: readonly string[], counts?: readonly number[]) {
    if (counts !== undefined && counts.length !== tokens.length) {
      throw new RangeError(
        `Vocabulary got ${tokens.length} tokens but ${counts.length} counts: pass one count per token.`,
      );
    }
    this.tokens = Object.freeze([Vocabulary.PAD_TOKEN, Vocabulary.OOV_TOKEN, ...tokens]);
    this.#counts = Object.freeze([0, 0, ...(counts ?? tokens.map(() => 0))]);
    this.#ids = new Map();
    this.tokens.forEach((token, id) => {
      if (this.#ids.has(token)) {
        throw new RangeError(
          `Vocabulary token "${token}" appears twice (ids ${this.#ids.get(token)} and ${id}); ` +
            `tokens must be distinct and must not repeat "<pad>" or "<oov>".`,
        );
      }
      this.#ids.set(token, id);
    });
  }

  /**
   * Builds a vocabulary from already tokenised texts.
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * const vocab = Vocabulary.fromTokens([["x", "y"], ["x"]], { maxSize: 3 });
   * console.log(vocab.tokens); // ["<pad>", "<oov>", "x"]
   * ```
   */
  static fromTokens(
    tokenLists: Iterable<readonly string[]>,
    options: VocabularyOptions = {},
  ): Vocabulary {
    const { minCount = 1, maxSize = Infinity } = options;
    if (!Number.isInteger(minCount) || minCount < 1) {
      throw new RangeError(`minCount must be an integer >= 1, got ${minCount}.`);
    }
    if (!(maxSize >= 2) || (maxSize !== Infinity && !Number.isInteger(maxSize))) {
      throw new RangeError(
        `maxSize must be an integer >= 2 (it counts <pad> and <oov>), got ${maxSize}.`,
      );
    }
    const counts = new Map<string, number>();
    for (const tokens of tokenLists) {
      for (const token of tokens) {
        if (token === Vocabulary.PAD_TOKEN || token === Vocabulary.OOV_TOKEN) continue;
        counts.set(token, (counts.get(token) ?? 0) + 1);
      }
    }
    const kept = [...counts.entries()]
      .filter(([, count]) => count >= minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxSize - 2);
    return new Vocabulary(kept.map(([token]) => token), kept.map(([, count]) => count));
  }

  /**
   * Builds a vocabulary from raw texts, tokenised by `options.tokenizer`
   * (default {@linkcode wordTokenize}).
   *
   * @example
   * ```ts
   * import { charTokenize, Vocabulary } from "nn/data/mod.ts";
   * const chars = Vocabulary.fromTexts(["abba"], { tokenizer: charTokenize });
   * console.log(chars.size); // 4: <pad>, <oov>, a, b
   * ```
   */
  static fromTexts(
    texts: Iterable<string>,
    options: VocabularyFromTextsOptions = {},
  ): Vocabulary {
    const tokenizer = options.tokenizer ?? ((text: string) => wordTokenize(text));
    return Vocabulary.fromTokens(
      (function* () {
        for (const text of texts) yield tokenizer(text);
      })(),
      options,
    );
  }

  /**
   * Restores a vocabulary saved with {@linkcode Vocabulary.toJSON} (an object or its
   * JSON string).
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * const vocab = Vocabulary.fromTexts(["one two two"]);
   * const copy = Vocabulary.fromJSON(JSON.stringify(vocab));
   * console.log(copy.tokens.join(" ") === vocab.tokens.join(" ")); // true
   * ```
   */
  static fromJSON(json: VocabularyJson | string): Vocabulary {
    const value = (typeof json === "string" ? JSON.parse(json) : json) as Partial<VocabularyJson>;
    const what = "Cannot restore a Vocabulary:";
    if (value?.format !== "nn-vocabulary" || value.version !== 1) {
      throw new Error(
        `${what} expected {"format": "nn-vocabulary", "version": 1, ...} as written by ` +
          `vocab.toJSON(), got format ${JSON.stringify(value?.format)} version ` +
          `${JSON.stringify(value?.version)}.`,
      );
    }
    const { tokens, counts } = value;
    if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== "string")) {
      throw new Error(`${what} "tokens" must be an array of strings.`);
    }
    if (tokens[0] !== Vocabulary.PAD_TOKEN || tokens[1] !== Vocabulary.OOV_TOKEN) {
      throw new Error(
        `${what} the first two tokens must be "<pad>" and "<oov>", got ` +
          `${JSON.stringify(tokens.slice(0, 2))}.`,
      );
    }
    if (
      !Array.isArray(counts) || counts.length !== tokens.length ||
      counts.some((c) => typeof c !== "number")
    ) {
      throw new Error(`${what} "counts" must hold one number per token.`);
    }
    return new Vocabulary(tokens.slice(2), counts.slice(2));
  }

  /**
   * Number of ids, including `<pad>` and `<oov>`: the `inputDim` of an embedding layer.
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * console.log(Vocabulary.fromTokens([["a", "b"]]).size); // 4
   * ```
   */
  get size(): number {
    return this.tokens.length;
  }

  /**
   * The id of a token; {@linkcode Vocabulary.OOV} when the token is not in the vocabulary.
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * const vocab = Vocabulary.fromTokens([["a"]]);
   * console.log(vocab.id("a"), vocab.id("zzz")); // 2 1
   * ```
   */
  id(token: string): number {
    return this.#ids.get(token) ?? Vocabulary.OOV;
  }

  /**
   * Whether the token has an id of its own.
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * console.log(Vocabulary.fromTokens([["a"]]).has("b")); // false
   * ```
   */
  has(token: string): boolean {
    return this.#ids.has(token);
  }

  /**
   * The token of an id.
   *
   * @throws {RangeError} when the id is not in 0 … size−1
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * console.log(Vocabulary.fromTokens([["a"]]).token(2)); // "a"
   * ```
   */
  token(id: number): string {
    const token = this.tokens[id];
    if (token === undefined || !Number.isInteger(id)) {
      throw new RangeError(`Token id ${id} is outside this vocabulary (0 … ${this.size - 1}).`);
    }
    return token;
  }

  /**
   * How often a token was seen when the vocabulary was built (0 when unknown).
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * console.log(Vocabulary.fromTokens([["a", "a"]]).count("a")); // 2
   * ```
   */
  count(token: string): number {
    const id = this.#ids.get(token);
    return id === undefined ? 0 : this.#counts[id];
  }

  /**
   * Token ids for a list of tokens, unknown ones as {@linkcode Vocabulary.OOV}.
   *
   * @example
   * ```ts
   * import { Vocabulary, wordTokenize } from "nn/data/mod.ts";
   * const vocab = Vocabulary.fromTexts(["good film"]);
   * console.log(vocab.encode(wordTokenize("Good food"))); // Int32Array [3, 1]: "good" is 3, "food" unknown
   * ```
   */
  encode(tokens: readonly string[]): Int32Array {
    const ids = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) ids[i] = this.id(tokens[i]);
    return ids;
  }

  /**
   * Tokens for a list of ids; padding is dropped unless `skipPad` is false.
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * const vocab = Vocabulary.fromTokens([["hi"]]);
   * console.log(vocab.decode([0, 0, 2, 1])); // ["hi", "<oov>"]
   * ```
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string[] {
    const skipPad = options.skipPad ?? true;
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (skipPad && ids[i] === Vocabulary.PAD) continue;
      out.push(this.token(ids[i]));
    }
    return out;
  }

  /**
   * The JSON form, for `JSON.stringify` and {@linkcode Vocabulary.fromJSON}.
   *
   * @example
   * ```ts
   * import { Vocabulary } from "nn/data/mod.ts";
   * console.log(JSON.stringify(Vocabulary.fromTokens([["a"]])));
   * // {"format":"nn-vocabulary","version":1,"tokens":["<pad>","<oov>","a"],"counts":[0,0,1]}
   * ```
   */
  toJSON(): VocabularyJson {
    return {
      format: "nn-vocabulary",
      version: 1,
      tokens: [...this.tokens],
      counts: [...this.#counts],
    };
  }
}
