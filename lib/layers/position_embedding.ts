/**
 * Learned position embedding: adds a trained vector per position to a `[B, T, D]`
 * sequence of token embeddings (as in BERT and GPT-2, and PyTorch's
 * `x + self.pos` in the reference Transformer).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { PositionEmbedding } from "nn/layers/position_embedding.ts";
 * const pos = new PositionEmbedding({ maxLength: 8, seed: 0 });
 * console.log((pos.apply(tf.zeros([2, 8, 4])) as tf.Tensor).shape); // [2, 8, 4]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";

/** Config of {@linkcode PositionEmbedding}. */
export interface PositionEmbeddingArgs {
  /** Longest sequence the table covers (T). */
  maxLength: number;
  /** Standard deviation of the initial table. Default 0.02 (GPT-2's). */
  stddev?: number;
  /** Seed of the initial table. Default 0. */
  seed?: number;
  /** Layer name (tfjs). */
  name?: string;
  /** Input shape when this is the first layer. */
  inputShape?: tf.Shape;
}

/** Adds a learned `[maxLength, D]` table to `[B, T, D]` inputs (T ≤ maxLength). */
export class PositionEmbedding extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNPositionEmbedding";
  /** Longest sequence covered. */
  readonly maxLength: number;
  /** Initial standard deviation. */
  readonly stddev: number;
  /** Seed of the initial table. */
  readonly seed: number;
  #table: tf.LayerVariable | null = null;

  constructor(args: PositionEmbeddingArgs) {
    super(args);
    if (!(args.maxLength >= 1)) {
      throw new RangeError(`PositionEmbedding needs maxLength ≥ 1, got ${args.maxLength}.`);
    }
    this.maxLength = args.maxLength;
    this.stddev = args.stddev ?? 0.02;
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    if (d === null) throw new Error("PositionEmbedding needs a known last dimension.");
    const init = rng(this.seed).initializer("randomNormal", { mean: 0, stddev: this.stddev });
    this.#table = this.addWeight("table", [this.maxLength, d], "float32", init);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs; // [B, T, D]
      const t = x.shape[1]!;
      if (t > this.maxLength) {
        throw new RangeError(
          `PositionEmbedding: sequence of ${t} is longer than maxLength ${this.maxLength}.`,
        );
      }
      const table = this.#table!.read(); // [maxLength, D]
      const used = t === this.maxLength ? table : tf.slice(table, [0, 0], [t, -1]); // [T, D]
      return tf.add(x, used); // broadcast over B
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      maxLength: this.maxLength,
      stddev: this.stddev,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(PositionEmbedding);
