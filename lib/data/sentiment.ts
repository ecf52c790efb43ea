/**
 * The UCI "Sentiment Labelled Sentences" data set (Kotzias et al., KDD 2015): 1000
 * sentences from each of Amazon, IMDb and Yelp reviews, labelled 0 (negative) or 1
 * (positive), 500 of each per source. Shipped in `data/sentiment/` (CC BY 4.0) and
 * checked against its sha256 on load.
 *
 * @example
 * ```ts
 * import { loadSentiment } from "nn/data/mod.ts";
 * const { texts, labels } = await loadSentiment({ source: "yelp" });
 * console.log(texts.length, labels.filter((y) => y === 1).length); // 1000 500
 * ```
 * @module
 */

import { type DataFileOptions, loadJson } from "./files.ts";

/** A source of the sentiment data set, or `"all"` for the three in order amazon, imdb, yelp. */
export type SentimentSource = "amazon" | "imdb" | "yelp" | "all";

/** The names of the three sentiment sources, in the order `"all"` loads them. */
export const SENTIMENT_SOURCES: readonly ("amazon" | "imdb" | "yelp")[] = [
  "amazon",
  "imdb",
  "yelp",
];

/** Options for {@linkcode loadSentiment}. */
export interface LoadSentimentOptions extends DataFileOptions {
  /** Which source to load; default `"all"` (3000 sentences). */
  source?: SentimentSource;
  /**
   * Tidy the text (default true): trim surrounding whitespace (every imdb sentence
   * ends in two spaces) and replace the C1 control characters U+0080–U+009F, which are
   * Windows-1252 bytes decoded as Latin-1 in the imdb file (U+0096 for "–", U+0085 for
   * "…"), with the characters they stood for. `false` returns the sentences exactly as
   * stored.
   */
  clean?: boolean;
}

/** The sentences, their labels (0 negative, 1 positive) and each one's source, index-aligned. */
export interface SentimentData {
  /** The sentences. */
  texts: string[];
  /** 0 (negative) or 1 (positive) per sentence. */
  labels: number[];
  /** `"amazon"`, `"imdb"` or `"yelp"` per sentence. */
  source: string[];
}

// Windows-1252 characters for the bytes 0x80–0x9F (undefined ones map to themselves).
const CP1252 =
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
  "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

/**
 * Replaces C1 control characters (U+0080–U+009F) with the Windows-1252 characters
 * they stand for, the usual repair for text decoded as Latin-1 by mistake.
 *
 * @example
 * ```ts
 * import { repairCp1252 } from "nn/data/mod.ts";
 * console.log(repairCp1252("all of them \u0096 a true masterpiece")); // "all of them – a true masterpiece"
 * ```
 */
export function repairCp1252(text: string): string {
  return text.replace(/[\u0080-\u009f]/g, (ch) => CP1252[ch.charCodeAt(0) - 0x80]);
}

interface Row {
  text: string;
  class: number | null;
}

async function loadSource(
  source: "amazon" | "imdb" | "yelp",
  options: LoadSentimentOptions,
): Promise<Row[]> {
  const name = `sentiment/${source}.json`;
  const rows = await loadJson<unknown>(name, options);
  if (!Array.isArray(rows)) {
    throw new Error(`Data file "${name}" is not a JSON array of {text, class} rows.`);
  }
  const kept: Row[] = [];
  rows.forEach((row: Row, i) => {
    // Each file ends with {"text": "", "class": null}: the empty last line of the
    // original UCI .txt file, kept by the package's conversion. Skip it.
    if (row?.class === null && row.text === "") return;
    if (typeof row?.text !== "string" || (row.class !== 0 && row.class !== 1)) {
      throw new Error(
        `Data file "${name}", row ${i}: expected {text: string, class: 0 | 1}, got ` +
          `${JSON.stringify(row).slice(0, 120)}.`,
      );
    }
    kept.push(row);
  });
  return kept;
}

/**
 * Loads the sentiment sentences with their labels, after checking each file's sha256.
 *
 * Order is the files' own order (amazon, then imdb, then yelp for `"all"`); shuffle or
 * split with a seed (see `splitIndices`). The data contain a few exact duplicate
 * sentences within a source (10 amazon, 3 imdb, 4 yelp), all with the same label.
 *
 * @example
 * ```ts
 * import { loadSentiment } from "nn/data/mod.ts";
 * const data = await loadSentiment();
 * console.log(data.texts.length, data.source[0], data.source[2999]); // 3000 "amazon" "yelp"
 * ```
 */
export async function loadSentiment(options: LoadSentimentOptions = {}): Promise<SentimentData> {
  const source = options.source ?? "all";
  const clean = options.clean ?? true;
  if (source !== "all" && !SENTIMENT_SOURCES.includes(source)) {
    throw new RangeError(
      `Unknown sentiment source "${source}": use "amazon", "imdb", "yelp" or "all".`,
    );
  }
  const sources = source === "all" ? SENTIMENT_SOURCES : [source];
  const out: SentimentData = { texts: [], labels: [], source: [] };
  for (const name of sources) {
    for (const row of await loadSource(name, options)) {
      out.texts.push(clean ? repairCp1252(row.text).trim() : row.text);
      out.labels.push(row.class as number);
      out.source.push(name);
    }
  }
  return out;
}
