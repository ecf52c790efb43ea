/**
 * Shared by the kernel and layer tests: deterministic test tensors and the closeness check
 * they compare float32 results with.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";

/**
 * Asserts max |actual − expected| ≤ tol · (1 + max |expected|): float32 sums taken in
 * another order differ by rounding that grows with the values' scale.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tol = 1e-4,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(err <= tol * (1 + scale), `${what}: max error ${err} (scale ${scale})`);
}

/** A tensor of `shape` with values in [−amp, amp) from a small seeded generator. */
export function data(shape: number[], seed: number, amp = 1): tf.Tensor {
  let s = seed * 7919 + 17;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 9301 + 49297) % 233280;
    v[i] = amp * (2 * (s / 233280) - 1);
  }
  return tf.tensor(v, shape);
}
