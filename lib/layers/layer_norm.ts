/**
 * Layer normalisation over the last axis with broadcasting `gamma`/`beta`.
 *
 * `tf.layers.layerNormalization` tiles gamma and beta to the full `[B, T, D]` shape, and
 * the gradient of `Tile` runs one slice and add per repetition (thousands of tiny
 * kernels a step): six times slower on wasm. This layer lets `mul`/`add` broadcast a
 * `[D]` vector instead, whose gradient is a single `sum`. Same maths as PyTorch's
 * `nn.LayerNorm(D, eps=1e-5)`: `y = (x − mean) / √(var + ε) · γ + β`, biased variance.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LayerNorm } from "nn/layers/layer_norm.ts";
 * const ln = new LayerNorm({ epsilon: 1e-5 });
 * const y = ln.apply(tf.tensor3d([[[1, 2, 3]]])) as tf.Tensor; // [1, 1, 3]
 * console.log(y.mean().arraySync()); // ≈ 0
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { acquire, readF32, release, toTensor } from "../kernels/memory.ts";

/**
 * Layer norm over the last axis as one op with a hand-written gradient (cpu and wasm
 * backends): one pass for the statistics and output, one for the three gradients.
 */
export function layerNormFused(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): tf.Tensor {
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, gt, bt, save] = args as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        (ts: tf.Tensor[]) => void,
      ];
      save([gt]);
      const D = xt.shape[xt.rank - 1];
      const X = readF32(xt);
      const G = readF32(gt);
      const Bv = readF32(bt);
      const rows = X.length / D;
      const xhat = acquire(X.length); // kept for the backward pass
      const rstd = acquire(rows);
      const Y = acquire(X.length);
      for (let r = 0; r < rows; r++) {
        const o = r * D;
        let mean = 0;
        for (let j = 0; j < D; j++) mean += X[o + j];
        mean /= D;
        let v = 0;
        for (let j = 0; j < D; j++) v += (X[o + j] - mean) ** 2;
        const s = 1 / Math.sqrt(v / D + epsilon);
        rstd[r] = s;
        for (let j = 0; j < D; j++) {
          const n = (X[o + j] - mean) * s;
          xhat[o + j] = n;
          Y[o + j] = n * G[j] + Bv[j];
        }
      }
      const n = X.length;
      const value = toTensor(Y, xt.shape);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const dY = readF32(dy);
        const G = readF32(saved[0]);
        const dX = acquire(n);
        const dG = acquire(D, true);
        const dB = acquire(D, true);
        for (let r = 0; r < rows; r++) {
          const o = r * D;
          let m1 = 0; // mean of dxhat
          let m2 = 0; // mean of dxhat · xhat
          for (let j = 0; j < D; j++) {
            const g = dY[o + j];
            dG[j] += g * xhat[o + j];
            dB[j] += g;
            const dn = g * G[j];
            m1 += dn;
            m2 += dn * xhat[o + j];
          }
          m1 /= D;
          m2 /= D;
          for (let j = 0; j < D; j++) {
            dX[o + j] = rstd[r] * (dY[o + j] * G[j] - m1 - xhat[o + j] * m2);
          }
        }
        release(xhat, rstd);
        return [toTensor(dX, xt.shape), toTensor(dG, [D]), toTensor(dB, [D])];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, gamma, beta);
}

/** Config of {@linkcode LayerNorm}. */
export interface LayerNormArgs {
  /** Added to the variance before the square root. Default 1e-5 (PyTorch's). */
  epsilon?: number;
  /** Layer name (tfjs). */
  name?: string;
  /** Whether the weights train. Default true. */
  trainable?: boolean;
  /** Input shape when this is the first layer. */
  inputShape?: tf.Shape;
  /** "auto" (fused on cpu/wasm, ops elsewhere), "fused" or "ops". Default "auto". */
  implementation?: "auto" | "fused" | "ops";
}

/** Layer normalisation over the last axis (learned scale γ and shift β of size D). */
export class LayerNorm extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNLayerNorm";
  /** Added to the variance. */
  readonly epsilon: number;
  /** Which implementation runs. */
  readonly implementation: "auto" | "fused" | "ops";
  #gamma: tf.LayerVariable | null = null;
  #beta: tf.LayerVariable | null = null;

  constructor(args: LayerNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-5;
    this.implementation = args.implementation ?? "auto";
  }

  /** Whether the fused implementation runs on the current backend. */
  usesFused(): boolean {
    if (this.implementation !== "auto") return this.implementation === "fused";
    const name = tf.getBackend();
    return name === "cpu" || name === "wasm";
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    if (d === null) throw new Error("LayerNorm needs a known last dimension (the features).");
    this.#gamma = this.addWeight("gamma", [d], "float32", tf.initializers.ones());
    this.#beta = this.addWeight("beta", [d], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (this.usesFused()) {
        return layerNormFused(
          x,
          this.#gamma!.read() as tf.Tensor1D,
          this.#beta!.read() as tf.Tensor1D,
          this.epsilon,
        );
      }
      const last = x.rank - 1;
      const mean = tf.mean(x, last, true); // [..., 1]
      const centred = tf.sub(x, mean); // [..., D]
      const variance = tf.mean(tf.square(centred), last, true); // [..., 1]
      const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, this.epsilon)));
      return tf.add(tf.mul(normed, this.#gamma!.read()), this.#beta!.read()); // γ, β: [D]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon, implementation: this.implementation };
  }
}
tf.serialization.registerClass(LayerNorm);
