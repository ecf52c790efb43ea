/**
 * Comparing two classifiers on the same test examples: the paired difference in accuracy
 * and its standard error (McNemar 1947; Dietterich 1998 recommends it for comparing two
 * learned classifiers on one test set). Only the examples the two disagree on carry
 * information: `onlyA` that A gets right and B wrong, `onlyB` the reverse.
 *
 * @example
 * ```ts
 * import { pairedComparison } from "nn";
 * const a = [true, true, true, false, true, true];
 * const b = [true, false, false, false, true, true];
 * const p = pairedComparison(a, b);
 * console.log(p.onlyA, p.onlyB, p.difference.toFixed(3)); // 2 0 "0.333"
 * ```
 * @module
 */

/** What {@linkcode pairedComparison} measured. */
export interface PairedComparison {
  /** Test examples compared. */
  n: number;
  /** Examples A gets right and B gets wrong. */
  onlyA: number;
  /** Examples B gets right and A gets wrong. */
  onlyB: number;
  /** Accuracy of A − accuracy of B, `(onlyA − onlyB) / n`. */
  difference: number;
  /**
   * Standard error of `difference` over the test examples,
   * `√(onlyA + onlyB − (onlyA − onlyB)² / n) / n`, with the count under the root at least 1
   * (two classifiers that never disagree would otherwise give 0 / 0).
   */
  standardError: number;
  /** `difference / standardError`: beyond ±2 the two differ by more than test-set noise. */
  z: number;
}

/**
 * The paired comparison of classifiers A and B on the same test examples, from whether
 * each got each example right.
 *
 * @param correctA `correctA[i]`: A's answer to example i is right.
 * @param correctB the same for B, on the same examples in the same order.
 */
export function pairedComparison(
  correctA: ArrayLike<boolean>,
  correctB: ArrayLike<boolean>,
): PairedComparison {
  const n = correctA.length;
  if (n !== correctB.length) {
    throw new RangeError(
      `pairedComparison: A was scored on ${n} examples and B on ${correctB.length}; ` +
        "score both on the same test examples, in the same order.",
    );
  }
  if (n === 0) throw new RangeError("pairedComparison: no test examples to compare.");
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < n; i++) {
    if (correctA[i] && !correctB[i]) onlyA++;
    else if (!correctA[i] && correctB[i]) onlyB++;
  }
  const difference = (onlyA - onlyB) / n;
  const standardError = Math.sqrt(Math.max(onlyA + onlyB - (onlyA - onlyB) ** 2 / n, 1)) / n;
  return { n, onlyA, onlyB, difference, standardError, z: difference / standardError };
}
