/**
 * A sequence-to-sequence (序列到序列) task with exact answers: dates written in many
 * formats ("23 Jan 2015", "January 23rd, 2015", "1/23/15", …) to their ISO 8601 form
 * ("2015-01-23"), as in tfjs-examples' date-conversion-attention. Dates are drawn
 * uniformly from 1950-01-01 … 2049-12-31 by the library's seeded generator; two-digit
 * years mean 1950–2049, and day-first and month-first numeric formats use different
 * separators ("23.01.2015" against "01/23/2015"), so every input has one answer.
 *
 * Characters become ids: source ids `1 … 77` (0 is padding), target ids for the start
 * token, the end token, the ten digits and "-" (0 is padding).
 *
 * @example
 * ```ts
 * import { dateExamples, dateTensors } from "nn/data/dates.ts";
 * const examples = dateExamples(4, { seed: 0 });
 * console.log(examples[0].target.length); // 10
 * const t = dateTensors(examples);
 * console.log(t.source.shape, t.targetIn.shape, t.targetOut.shape); // [4, 20] [4, 11] [4, 11, 14]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random.ts";

/** The source alphabet; a character's id is its index + 1 (0 is padding). */
export const DATE_SOURCE_CHARS =
  " ,./-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** Padding id (source and target). */
export const DATE_PAD = 0;
/** Start-of-output token id. */
export const DATE_START = 1;
/** End-of-output token id. */
export const DATE_END = 2;
/** Target characters; a character's id is its index + 3. */
export const DATE_TARGET_CHARS = "0123456789-";
/** Source length (the longest format, "September 23rd, 2015", is 20 characters). */
export const DATE_SOURCE_LENGTH = 20;
/** ISO date length. */
export const DATE_TARGET_LENGTH = 10;

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

function ordinal(d: number): string {
  if (d % 100 >= 11 && d % 100 <= 13) return `${d}th`;
  return `${d}${["th", "st", "nd", "rd"][d % 10] ?? "th"}`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** The formats, by name: each writes (year, month 1–12, day) as a string. */
export const DATE_FORMATS: Record<string, (y: number, m: number, d: number) => string> = {
  "d Mon yyyy": (y, m, d) => `${d} ${MONTHS[m - 1].slice(0, 3)} ${y}`,
  "d Month yyyy": (y, m, d) => `${d} ${MONTHS[m - 1]} ${y}`,
  "Month d, yyyy": (y, m, d) => `${MONTHS[m - 1]} ${d}, ${y}`,
  "Month dth, yyyy": (y, m, d) => `${MONTHS[m - 1]} ${ordinal(d)}, ${y}`,
  "mon d, yyyy": (y, m, d) => `${MONTHS[m - 1].slice(0, 3).toLowerCase()} ${d}, ${y}`,
  "MON dd yyyy": (y, m, d) => `${MONTHS[m - 1].slice(0, 3).toUpperCase()} ${pad2(d)} ${y}`,
  "dd.mm.yyyy": (y, m, d) => `${pad2(d)}.${pad2(m)}.${y}`,
  "mm/dd/yyyy": (y, m, d) => `${pad2(m)}/${pad2(d)}/${y}`,
  "m/d/yy": (y, m, d) => `${m}/${d}/${pad2(y % 100)}`,
  "yyyy/mm/dd": (y, m, d) => `${y}/${pad2(m)}/${pad2(d)}`,
  "dd-Mon-yy": (y, m, d) => `${pad2(d)}-${MONTHS[m - 1].slice(0, 3)}-${pad2(y % 100)}`,
  "yyyymmdd": (y, m, d) => `${y}${pad2(m)}${pad2(d)}`,
};

/** One example: a date as written, and its ISO form. */
export interface DateExample {
  /** The date in one of {@linkcode DATE_FORMATS}. */
  source: string;
  /** "yyyy-mm-dd". */
  target: string;
  /** The format's name. */
  format: string;
}

/** Options of {@linkcode dateExamples}. */
export interface DateExamplesOptions {
  /** Seed of the dates and formats. Default 0. */
  seed?: number;
  /** Format names to draw from. Default: all of {@linkcode DATE_FORMATS}. */
  formats?: string[];
  /** Source strings to leave out (e.g. the training set's, when drawing a test set). */
  exclude?: Set<string>;
}

/**
 * `n` distinct examples (no source string twice), uniform over days and formats.
 *
 * @example
 * ```ts
 * import { dateExamples } from "nn/data/dates.ts";
 * const train = dateExamples(100, { seed: 1 });
 * const test = dateExamples(20, { seed: 2, exclude: new Set(train.map((e) => e.source)) });
 * console.log(test.every((e) => !train.some((t) => t.source === e.source))); // true
 * ```
 */
export function dateExamples(n: number, options: DateExamplesOptions = {}): DateExample[] {
  const r = new Rng(options.seed ?? 0).fork("dates");
  const names = options.formats ?? Object.keys(DATE_FORMATS);
  for (const f of names) {
    if (!DATE_FORMATS[f]) {
      throw new Error(`Unknown date format "${f}": use one of ${Object.keys(DATE_FORMATS)}.`);
    }
  }
  const start = Date.UTC(1950, 0, 1);
  const days = Math.round((Date.UTC(2050, 0, 1) - start) / 86_400_000);
  const seen = new Set(options.exclude ?? []);
  const out: DateExample[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 20 * n + 1000) {
      throw new Error(`dateExamples: could not draw ${n} distinct dates; ask for fewer.`);
    }
    const date = new Date(start + r.int(days) * 86_400_000);
    const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    const format = names[r.int(names.length)];
    const source = DATE_FORMATS[format](y, m, d);
    if (seen.has(source)) continue;
    seen.add(source);
    out.push({ source, target: `${y}-${pad2(m)}-${pad2(d)}`, format });
  }
  return out;
}

/** Source ids of a date string, padded with 0 to {@linkcode DATE_SOURCE_LENGTH}. */
export function encodeDateSource(text: string): Int32Array {
  if (text.length > DATE_SOURCE_LENGTH) {
    throw new RangeError(`"${text}" is longer than ${DATE_SOURCE_LENGTH} characters.`);
  }
  const ids = new Int32Array(DATE_SOURCE_LENGTH);
  for (let i = 0; i < text.length; i++) {
    const id = DATE_SOURCE_CHARS.indexOf(text[i]);
    if (id < 0) throw new RangeError(`"${text[i]}" (in "${text}") is not a date character.`);
    ids[i] = id + 1;
  }
  return ids;
}

/** Target ids of an ISO string (no start or end token). */
export function encodeIso(text: string): number[] {
  return [...text].map((c) => {
    const id = DATE_TARGET_CHARS.indexOf(c);
    if (id < 0) throw new RangeError(`"${c}" is not an ISO date character.`);
    return id + 3;
  });
}

/**
 * Target ids back to text; stops at the end token, shows padding and start as "·".
 *
 * @example
 * ```ts
 * import { decodeIso, encodeIso } from "nn/data/dates.ts";
 * console.log(decodeIso(encodeIso("2015-01-23"))); // "2015-01-23"
 * ```
 */
export function decodeIso(ids: ArrayLike<number>): string {
  let s = "";
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === DATE_END) break;
    s += ids[i] >= 3 ? DATE_TARGET_CHARS[ids[i] - 3] ?? "?" : "·";
  }
  return s;
}

/** Number of target ids (padding, start, end, 11 characters). */
export const DATE_TARGET_VOCAB = DATE_TARGET_CHARS.length + 3;
/** Number of source ids (padding and the alphabet). */
export const DATE_SOURCE_VOCAB = DATE_SOURCE_CHARS.length + 1;

/** Tensors for teacher forcing. */
export interface DateTensors {
  /** `[N, 20]` int32 source ids. */
  source: tf.Tensor2D;
  /** `[N, 11]` int32: start token, then the 10 ISO characters. */
  targetIn: tf.Tensor2D;
  /** `[N, 11, 14]` one-hot: the 10 ISO characters, then the end token. */
  targetOut: tf.Tensor3D;
  /** Frees the three tensors. */
  dispose(): void;
}

/** The teacher-forcing tensors of some examples. */
export function dateTensors(examples: readonly DateExample[]): DateTensors {
  const n = examples.length;
  const t = DATE_TARGET_LENGTH + 1;
  const src = new Int32Array(n * DATE_SOURCE_LENGTH);
  const tin = new Int32Array(n * t);
  const tout = new Int32Array(n * t);
  examples.forEach((e, i) => {
    src.set(encodeDateSource(e.source), i * DATE_SOURCE_LENGTH);
    const ids = encodeIso(e.target);
    tin.set([DATE_START, ...ids], i * t);
    tout.set([...ids, DATE_END], i * t);
  });
  const source = tf.tensor2d(src, [n, DATE_SOURCE_LENGTH], "int32");
  const targetIn = tf.tensor2d(tin, [n, t], "int32");
  const targetOut = tf.tidy(() =>
    tf.cast(tf.oneHot(tf.tensor2d(tout, [n, t], "int32"), DATE_TARGET_VOCAB), "float32")
  ) as tf.Tensor3D;
  return {
    source,
    targetIn,
    targetOut,
    dispose: () => tf.dispose([source, targetIn, targetOut]),
  };
}

/**
 * Share of generated outputs equal to their targets, character for character
 * (exact match, 完全匹配).
 *
 * @example
 * ```ts
 * import { exactMatch } from "nn/data/dates.ts";
 * console.log(exactMatch(["2015-01-23", "2015-01-24"], ["2015-01-23", "2015-01-23"])); // 0.5
 * ```
 */
export function exactMatch(outputs: readonly string[], targets: readonly string[]): number {
  if (outputs.length !== targets.length) {
    throw new RangeError(`exactMatch: ${outputs.length} outputs for ${targets.length} targets.`);
  }
  let hits = 0;
  outputs.forEach((o, i) => (hits += o === targets[i] ? 1 : 0));
  return outputs.length ? hits / outputs.length : 0;
}

/**
 * The date task's alphabets as `nn.publishModel`'s sequence-to-sequence inputs: source
 * characters from id 1 (0 is padding) in {@linkcode DATE_SOURCE_LENGTH} positions, ISO
 * characters from id 3 after padding, start and end.
 *
 * @example
 * ```ts
 * import { DATE_CODEC } from "nn/data/dates.ts";
 * console.log(DATE_CODEC.target.chars, DATE_CODEC.target.start); // 0123456789- 1
 * ```
 */
export const DATE_CODEC = {
  source: { chars: DATE_SOURCE_CHARS, offset: 1, length: DATE_SOURCE_LENGTH, pad: DATE_PAD },
  target: {
    chars: DATE_TARGET_CHARS,
    offset: 3,
    length: DATE_TARGET_LENGTH,
    pad: DATE_PAD,
    start: DATE_START,
    end: DATE_END,
  },
} as const;
