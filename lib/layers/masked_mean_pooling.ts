/**
 * The mean over time of the real tokens only, as one serialisable layer: inputs
 * `[x [B, T, D], keyMask [B, T]]` (1 for a token, 0 for padding, as `PaddingMask`
 * makes it) → `Σ_t m_t x_t / Σ_t m_t`, `[B, D]`. BERT-style classifiers that pool by
 * the mean (Sentence-BERT's mean pooling) average this way, so that a short sentence is
 * not diluted by its padding. A sequence with no token gives zeros.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MaskedMeanPooling } from "nn/layers/masked_mean_pooling.ts";
 * const x = tf.tensor3d([[[1, 2], [3, 4], [100, 100]]]); // [1, 3, 2]
 * const mask = tf.tensor2d([[1, 1, 0]]);
 * const y = new MaskedMeanPooling().apply([x, mask]) as tf.Tensor;
 * console.log(await y.array()); // [[2, 3]]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { maskedMean } from "../kernels/masked_mean.ts";

/** Config of {@linkcode MaskedMeanPooling}. */
export interface MaskedMeanPoolingArgs {
  /** Layer name (tfjs). */
  name?: string;
}

/** Mean over the unmasked time steps: `[x [B, T, D], keyMask [B, T]]` → `[B, D]`. */
export class MaskedMeanPooling extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNMaskedMeanPooling";

  constructor(args: MaskedMeanPoolingArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const x = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [x[0], x[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length !== 2) {
      throw new Error("MaskedMeanPooling takes [x [B, T, D], keyMask [B, T]].");
    }
    const [x, keyMask] = list;
    // one kernel each way on cpu and wasm (nn/kernels/masked_mean.ts), tfjs ops elsewhere
    return tf.tidy(() => maskedMean(x, keyMask));
  }
}
tf.serialization.registerClass(MaskedMeanPooling);
