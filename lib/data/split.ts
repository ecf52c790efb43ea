/**
 * Seeded train / validation / test splits (训练集 / 验证集 / 测试集), optionally
 * stratified by label so that each part keeps the class proportions.
 *
 * @example
 * ```ts
 * import { splitData } from "nn/data/mod.ts";
 * const texts = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
 * const labels = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
 * const { train, test } = splitData({ texts, labels }, { seed: 1, train: 0.8, test: 0.2 });
 * console.log(train.texts.length, test.labels.length); // 8 2
 * ```
 * @module
 */

import { Rng } from "../random.ts";

/** Options for {@linkcode splitIndices} and {@linkcode splitData}. */
export interface SplitOptions {
  /** A seed, or a generator to draw from (it is advanced); default 0. */
  seed?: number | Rng;
  /**
   * Fractions of the samples for each part. Parts left out share what the given ones
   * leave (`{train: 0.8, test: 0.2}` has no validation part; `{train: 0.8}` gives
   * 0.1 / 0.1); with none given the split is 0.8 / 0.1 / 0.1. They must add up to 1.
   */
  train?: number;
  /** Fraction for validation; see {@linkcode SplitOptions.train}. */
  val?: number;
  /** Fraction for test; see {@linkcode SplitOptions.train}. */
  test?: number;
  /**
   * One label per sample: split each class separately with the same fractions, so the
   * parts keep the class proportions (up to rounding, per class).
   */
  stratify?: ArrayLike<number | string>;
}

/** Sample indices of each part, each part in a seeded random order. */
export interface SplitIndices {
  /** Indices of the training part. */
  train: Int32Array;
  /** Indices of the validation part (empty when its fraction is 0). */
  val: Int32Array;
  /** Indices of the test part. */
  test: Int32Array;
}

const PARTS = ["train", "val", "test"] as const;

function fractions(options: SplitOptions): [number, number, number] {
  const given = PARTS.map((p) => options[p]);
  if (given.every((f) => f === undefined)) return [0.8, 0.1, 0.1];
  for (const [i, f] of given.entries()) {
    if (f !== undefined && !(f >= 0 && f <= 1)) {
      throw new RangeError(`Split fraction ${PARTS[i]} must be in [0, 1], got ${f}.`);
    }
  }
  const sum = given.reduce((s: number, f) => s + (f ?? 0), 0);
  const missing = given.filter((f) => f === undefined).length;
  const rest = missing > 0 ? Math.max(0, 1 - sum) / missing : 0;
  const out = given.map((f) => f ?? rest) as [number, number, number];
  const total = out[0] + out[1] + out[2];
  if (Math.abs(total - 1) > 1e-9) {
    throw new RangeError(
      `Split fractions must add up to 1, got train ${out[0]} + val ${out[1]} + test ${out[2]} = ` +
        `${total}.`,
    );
  }
  return out;
}

/**
 * Splits `n` items into integer counts in proportion to `weights` (which add up to 1),
 * by the largest-remainder method, so the counts add up to `n` exactly.
 *
 * @example
 * ```ts
 * import { allocate } from "nn/data/mod.ts";
 * console.log(allocate(10, [0.7, 0.15, 0.15])); // [7, 2, 1]
 * ```
 */
export function allocate(n: number, weights: readonly number[]): number[] {
  const exact = weights.map((w) => w * n);
  const counts = exact.map((x) => Math.floor(x + 1e-9));
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => ({ i, rem: x - counts[i] }))
    .sort((a, b) => b.rem - a.rem || a.i - b.i);
  for (let k = 0; left > 0 && order.length > 0; k = (k + 1) % order.length) {
    counts[order[k].i]++;
    left--;
  }
  return counts;
}

/**
 * Seeded split of the indices 0 … n−1 into train, validation and test parts. The same
 * seed, `n`, fractions and labels always give the same split; parts are disjoint and
 * together cover every index.
 *
 * @example
 * ```ts
 * import { splitIndices } from "nn/data/mod.ts";
 * const labels = [0, 0, 0, 0, 1, 1, 1, 1];
 * const split = splitIndices(8, { seed: 7, train: 0.5, test: 0.5, stratify: labels });
 * console.log(split.train.length, split.val.length, split.test.length); // 4 0 4
 * console.log(Array.from(split.train, (i) => labels[i]).sort()); // [0, 0, 1, 1]
 * ```
 */
export function splitIndices(n: number, options: SplitOptions = {}): SplitIndices {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`splitIndices needs a count n >= 0, got ${n}.`);
  }
  const weights = fractions(options);
  const seed = options.seed ?? 0;
  const r = seed instanceof Rng ? seed : new Rng(seed);
  const { stratify } = options;
  const groups: number[][] = [];
  if (stratify === undefined) {
    groups.push(Array.from({ length: n }, (_, i) => i));
  } else {
    if (stratify.length !== n) {
      throw new RangeError(
        `stratify has ${stratify.length} labels for ${n} samples: pass one label per sample.`,
      );
    }
    const byClass = new Map<number | string, number[]>();
    for (let i = 0; i < n; i++) {
      const members = byClass.get(stratify[i]);
      if (members) members.push(i);
      else byClass.set(stratify[i], [i]);
    }
    groups.push(...byClass.values());
  }
  const parts: number[][] = [[], [], []];
  for (const group of groups) {
    const order = r.permutation(group.length);
    const counts = allocate(group.length, weights);
    let k = 0;
    for (let p = 0; p < 3; p++) {
      for (let c = 0; c < counts[p]; c++) parts[p].push(group[order[k++]]);
    }
  }
  if (groups.length > 1) { for (const part of parts) r.shuffle(part); }
  return {
    train: Int32Array.from(parts[0]),
    val: Int32Array.from(parts[1]),
    test: Int32Array.from(parts[2]),
  };
}

/**
 * The items at the given indices, in that order.
 *
 * @example
 * ```ts
 * import { take } from "nn/data/mod.ts";
 * console.log(take(["a", "b", "c"], [2, 0])); // ["c", "a"]
 * ```
 */
export function take<T>(items: ArrayLike<T>, indices: ArrayLike<number>): T[] {
  const out = new Array<T>(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < items.length)) {
      throw new RangeError(`Index ${i} is outside 0 … ${items.length - 1}.`);
    }
    out[k] = items[i];
  }
  return out;
}

/** A typed array of numbers, e.g. the flat pixels of a batch of images. */
export type NumericArray = Float32Array | Int32Array | Uint8Array;

/**
 * Rows `indices` of a flat row-major matrix whose rows have `rowSize` values, as a new
 * array of the same type.
 *
 * @example
 * ```ts
 * import { takeRows } from "nn/data/mod.ts";
 * const x = new Float32Array([0, 0, 1, 1, 2, 2]); // 3 rows of 2
 * console.log(takeRows(x, 2, [2, 0])); // Float32Array [2, 2, 0, 0]
 * ```
 */
export function takeRows<A extends NumericArray>(
  data: A,
  rowSize: number,
  indices: ArrayLike<number>,
): A {
  const rows = data.length / rowSize;
  if (!Number.isInteger(rows)) {
    throw new RangeError(`Data of length ${data.length} is not a whole number of ${rowSize}-rows.`);
  }
  const out = new (data.constructor as new (n: number) => A)(indices.length * rowSize);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < rows)) throw new RangeError(`Row ${i} is outside 0 … ${rows - 1}.`);
    out.set(data.subarray(i * rowSize, (i + 1) * rowSize), k * rowSize);
  }
  return out;
}

/** Columns of a data set: index-aligned arrays, one per field. */
export type Columns<T> = { [K in keyof T]: readonly unknown[] };

/** The parts of a split data set, each with the same columns as the input. */
export interface SplitData<T extends Columns<T>> {
  /** The training part. */
  train: { [K in keyof T]: T[K][number][] };
  /** The validation part. */
  val: { [K in keyof T]: T[K][number][] };
  /** The test part. */
  test: { [K in keyof T]: T[K][number][] };
  /** The indices behind each part. */
  indices: SplitIndices;
}

/**
 * Splits several index-aligned arrays (columns) the same way; see
 * {@linkcode splitIndices}. Pass `stratify: labels` to keep the class balance.
 *
 * @example
 * ```ts
 * import { loadSentiment, splitData } from "nn/data/mod.ts";
 * const data = await loadSentiment({ source: "amazon" });
 * const parts = splitData(data, { seed: 0, stratify: data.labels });
 * console.log(parts.train.texts.length, parts.val.texts.length, parts.test.texts.length);
 * // 800 100 100
 * ```
 */
export function splitData<T extends Columns<T>>(
  columns: T,
  options: SplitOptions = {},
): SplitData<T> {
  const names = Object.keys(columns) as (keyof T & string)[];
  if (names.length === 0) throw new RangeError("splitData needs at least one column.");
  const n = columns[names[0]].length;
  for (const name of names) {
    if (columns[name].length !== n) {
      throw new RangeError(
        `Column "${name}" has ${columns[name].length} items but "${names[0]}" has ${n}: ` +
          `all columns must be index-aligned.`,
      );
    }
  }
  const indices = splitIndices(n, options);
  const pick = (idx: Int32Array) =>
    Object.fromEntries(names.map((name) => [name, take(columns[name], idx)])) as {
      [K in keyof T]: T[K][number][];
    };
  return { train: pick(indices.train), val: pick(indices.val), test: pick(indices.test), indices };
}
