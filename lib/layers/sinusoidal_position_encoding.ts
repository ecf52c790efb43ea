/**
 * Sinusoidal positional encoding (位置编码) of Vaswani et al. (2017):
 * `PE[p, 2i] = sin(p / 10000^(2i/D))`, `PE[p, 2i+1] = cos(p / 10000^(2i/D))`, added to
 * `[B, T, D]` token embeddings. No weights; it works for any length, and
 * `PE[p]·PE[p+k] = Σ_i cos(ω_i k)` depends only on the distance k.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { SinusoidalPositionEncoding } from "nn/layers/sinusoidal_position_encoding.ts";
 * const pe = new SinusoidalPositionEncoding({});
 * console.log((pe.apply(tf.zeros([2, 5, 8])) as tf.Tensor).shape); // [2, 5, 8]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/**
 * The table `[length][d]` in float64 (for charts and references); `base` default 10000.
 *
 * @example
 * ```ts
 * import { sinusoidalTable } from "nn/layers/sinusoidal_position_encoding.ts";
 * console.log(sinusoidalTable(2, 2)); // [[0, 1], [0.841…, 0.540…]]
 * ```
 */
export function sinusoidalTable(length: number, d: number, base = 10000): number[][] {
  return Array.from({ length }, (_, p) =>
    Array.from({ length: d }, (_, j) => {
      const angle = p / Math.pow(base, (2 * Math.floor(j / 2)) / d);
      return j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }));
}

/** Config of {@linkcode SinusoidalPositionEncoding}. */
export interface SinusoidalPositionEncodingArgs {
  /** The base of the wavelengths. Default 10000. */
  base?: number;
  /** Layer name (tfjs). */
  name?: string;
  /** Input shape when this is the first layer. */
  inputShape?: tf.Shape;
}

/** Adds the sinusoidal table to `[B, T, D]` inputs (any T). */
export class SinusoidalPositionEncoding extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNSinusoidalPositionEncoding";
  /** Base of the wavelengths. */
  readonly base: number;
  #table: tf.Tensor | null = null;

  constructor(args: SinusoidalPositionEncodingArgs = {}) {
    super(args);
    this.base = args.base ?? 10000;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  #tableFor(t: number, d: number): tf.Tensor {
    if (!this.#table || this.#table.shape[0] !== t || this.#table.shape[1] !== d) {
      this.#table?.dispose();
      this.#table = tf.keep(tf.tensor2d(sinusoidalTable(t, d, this.base), [t, d], "float32"));
    }
    return this.#table;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs; // [B, T, D]
      return tf.add(x, this.#tableFor(x.shape[1]!, x.shape[2]!));
    });
  }

  override dispose(): ReturnType<tf.layers.Layer["dispose"]> {
    this.#table?.dispose();
    this.#table = null;
    return super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), base: this.base };
  }
}
tf.serialization.registerClass(SinusoidalPositionEncoding);
