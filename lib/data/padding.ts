/**
 * Padding (填充) and truncation of id sequences to one fixed length, as a batch of
 * `Int32Array` rows ready for an embedding layer.
 *
 * @example
 * ```ts
 * import { padSequences } from "nn/data/mod.ts";
 * const rows = padSequences([[5, 6], [7, 8, 9, 10]], { length: 3 });
 * console.log(rows); // [Int32Array [0, 5, 6], Int32Array [8, 9, 10]]
 * ```
 * @module
 */

/** Where padding or truncation happens: at the start (`"pre"`) or the end (`"post"`). */
export type PadSide = "pre" | "post";

/** Options for {@linkcode padSequences}. */
export interface PadOptions {
  /** Length of every row; default the longest sequence's length. */
  length?: number;
  /** Where to add padding to short sequences (default `"pre"`, as Keras's `pad_sequences`). */
  padding?: PadSide;
  /** Where to cut long sequences (default `"pre"`: keep the last `length` ids, as Keras). */
  truncating?: PadSide;
  /** The padding id (default 0, `Vocabulary.PAD`). */
  value?: number;
}

function checkSide(name: string, side: string): void {
  if (side !== "pre" && side !== "post") {
    throw new RangeError(`${name} must be "pre" or "post", got ${JSON.stringify(side)}.`);
  }
}

/**
 * Pads or truncates every sequence to the same length. The rows returned are views
 * into one contiguous `Int32Array` (`rows[0].buffer`), laid out row after row, so a
 * tensor can be made from it without copying row by row.
 *
 * @example
 * ```ts
 * import { padSequences } from "nn/data/mod.ts";
 * const seqs = [[1, 2, 3, 4], [5]];
 * console.log(padSequences(seqs, { length: 2, padding: "post", truncating: "post" }));
 * // [Int32Array [1, 2], Int32Array [5, 0]]
 * ```
 */
export function padSequences(
  sequences: readonly ArrayLike<number>[],
  options: PadOptions = {},
): Int32Array[] {
  const { padding = "pre", truncating = "pre", value = 0 } = options;
  checkSide("padding", padding);
  checkSide("truncating", truncating);
  const length = options.length ?? sequences.reduce((m, s) => Math.max(m, s.length), 0);
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`length must be an integer >= 0, got ${length}.`);
  }
  const flat = new Int32Array(sequences.length * length);
  if (value !== 0) flat.fill(value);
  const rows: Int32Array[] = [];
  sequences.forEach((seq, r) => {
    const row = flat.subarray(r * length, (r + 1) * length);
    const n = Math.min(seq.length, length);
    const from = truncating === "pre" ? seq.length - n : 0;
    const to = padding === "pre" ? length - n : 0;
    for (let i = 0; i < n; i++) row[to + i] = seq[from + i];
    rows.push(row);
  });
  return rows;
}
