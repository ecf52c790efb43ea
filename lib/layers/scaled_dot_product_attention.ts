/**
 * Scaled dot-product attention (缩放点积注意力) as plain tf ops, with optional causal
 * and padding masks: `softmax(Q Kᵀ / √d_k + M) V` (Vaswani et al. 2017, eq. 1). The
 * building block of {@linkcode MultiHeadSelfAttention}; exposed on its own so that a
 * notebook can check it against a hand computation and draw its weights.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { scaledDotProductAttention } from "nn/layers/scaled_dot_product_attention.ts";
 * const x = tf.randomNormal([1, 4, 8]);
 * const { output, weights } = scaledDotProductAttention(x, x, x, { causal: true });
 * console.log(output.shape, weights.shape); // [1, 4, 8] [1, 4, 4]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** The additive value of a masked score: large enough that its softmax weight is 0. */
export const MASKED_SCORE = -1e9;

/** Options of {@linkcode scaledDotProductAttention}. */
export interface AttentionOptions {
  /** Position i sees only keys j ≤ i (a decoder's causal mask, 因果掩码). Default false. */
  causal?: boolean;
  /**
   * Which keys are real tokens: `[B, T_k]` with 1 for a token and 0 for padding (see
   * {@linkcode paddingMask}); padded keys get zero weight. Default: all keys are real.
   */
  keyMask?: tf.Tensor;
}

/** Output `[..., T_q, d_v]` and attention weights `[..., T_q, T_k]` (rows sum to 1). */
export interface AttentionResult {
  /** Weighted sum of the values. */
  output: tf.Tensor;
  /** Softmax weights: row i says how much query i takes from each key. */
  weights: tf.Tensor;
}

/**
 * Additive causal mask `[T, T]`: 0 on and below the diagonal, {@linkcode MASKED_SCORE} above.
 *
 * @example
 * ```ts
 * import { causalMask } from "nn/layers/scaled_dot_product_attention.ts";
 * console.log(await causalMask(2).array()); // [[0, -1e9], [0, 0]]
 * ```
 */
export function causalMask(length: number): tf.Tensor2D {
  return tf.tidy(() => {
    const lower = tf.linalg.bandPart(tf.ones([length, length]), -1, 0);
    return tf.mul(tf.sub(1, lower), MASKED_SCORE) as tf.Tensor2D;
  });
}

/**
 * Key mask of padded token ids: 1 where `ids ≠ padId`, 0 where padded (`[B, T]`, float32).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { paddingMask } from "nn/layers/scaled_dot_product_attention.ts";
 * console.log(await paddingMask(tf.tensor2d([[5, 3, 0]], [1, 3], "int32")).array()); // [[1, 1, 0]]
 * ```
 */
export function paddingMask(ids: tf.Tensor, padId = 0): tf.Tensor {
  // float ops only (see PaddingMask): min(|ids − padId|, 1)
  return tf.tidy(() => tf.minimum(tf.abs(tf.sub(tf.cast(ids, "float32"), padId)), 1));
}

/**
 * `softmax(Q Kᵀ / √d_k + M) V` over the last two axes. `q [..., T_q, d_k]`,
 * `k [..., T_k, d_k]`, `v [..., T_k, d_v]`; with a `keyMask [B, T_k]` the leading axis
 * is the batch and any axes between (heads) broadcast.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { scaledDotProductAttention } from "nn/layers/scaled_dot_product_attention.ts";
 * const q = tf.tensor3d([[[1, 0], [0, 1]]]);
 * const { weights } = scaledDotProductAttention(q, q, q);
 * console.log(await weights.sum(-1).array()); // [[1, 1]]
 * ```
 */
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: AttentionOptions = {},
): AttentionResult {
  const dk = q.shape[q.rank - 1];
  const [output, weights] = tf.tidy(() => {
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dk)); // [..., Tq, Tk]
    const tq = scores.shape[scores.rank - 2];
    const tk = scores.shape[scores.rank - 1];
    if (options.causal) {
      if (tq !== tk) throw new Error(`A causal mask needs T_q = T_k, got ${tq} and ${tk}.`);
      scores = tf.add(scores, causalMask(tq));
    }
    if (options.keyMask) {
      const m = options.keyMask; // [B, Tk] → [B, 1, …, 1, Tk]
      const shape = [m.shape[0], ...Array(scores.rank - 2).fill(1), tk];
      scores = tf.add(scores, tf.mul(tf.sub(1, tf.reshape(m, shape)), MASKED_SCORE));
    }
    const w = tf.softmax(scores);
    return [tf.matMul(w, v), w];
  });
  return { output, weights };
}
