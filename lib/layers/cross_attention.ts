/**
 * Multi-head attention between two sequences, as one serialisable layer: queries from
 * one sequence (a decoder's positions), keys and values from another (the encoder's
 * output, the "memory"), with the encoder's padding mask — the cross-attention
 * (交叉注意力) of the Transformer's encoder–decoder (Vaswani et al. 2017, §3.2.3), T5 and
 * BART. Without a context it is self-attention (自注意力); with `causal: true` a decoder's
 * masked self-attention.
 *
 * Inputs: `[queries [B, Tq, D], context [B, Tk, D]]` or, with a padding mask,
 * `[queries, context, keyMask [B, Tk]]` (1 for a real token, 0 for padding; see
 * {@linkcode PaddingMask}); for self-attention `x`, `[x]` or `[x, keyMask]` (a rank-2
 * second input is a mask). Output `[B, Tq, D]`. Weights: `q/kernel [D, D]`,
 * `q/bias [D]`, `kv/kernel [D, 2D]`, `kv/bias [2D]` (keys | values, heads side by side),
 * `out/kernel [D, D]`, `out/bias [D]`.
 *
 * The steps are public methods ({@linkcode CrossAttention.queries},
 * {@linkcode CrossAttention.keysValues}, {@linkcode CrossAttention.attend},
 * {@linkcode CrossAttention.outputProjection}) so that generation can compute the encoder's keys
 * and values once and cache a decoder's past keys and values (see
 * `nn/models/generation.ts`); `call` is exactly their composition. Plain tfjs ops: runs
 * on webgpu, wasm and cpu, gradients by tfjs autodiff.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { CrossAttention } from "nn/layers/cross_attention.ts";
 * const att = new CrossAttention({ numHeads: 2, seed: 0 });
 * const decoder = tf.zeros([1, 3, 8]);
 * const encoder = tf.ones([1, 5, 8]);
 * const mask = tf.tensor2d([[1, 1, 1, 0, 0]]);
 * console.log((att.apply([decoder, encoder, mask]) as tf.Tensor).shape); // [1, 3, 8]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { MASKED_SCORE } from "./scaled_dot_product_attention.ts";

/** Config of {@linkcode CrossAttention}. */
export interface CrossAttentionArgs {
  /** Number of heads H; the model width D must be divisible by it. */
  numHeads: number;
  /** Mask future positions (a decoder's self-attention; needs Tq = Tk). Default false. */
  causal?: boolean;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name (tfjs). */
  name?: string;
}

/** Keys and values split into heads, `[B, H, Tk, D/H]` each. */
export interface KeysValues {
  /** Keys. */
  k: tf.Tensor4D;
  /** Values. */
  v: tf.Tensor4D;
}

function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, t, d] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [b, t, heads, d / heads]), [0, 2, 1, 3]); // [B, H, T, hd]
}

function project(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  const y = tf.fused.matMul({ a: tf.reshape(x, [b * t, d]), b: kernel as tf.Tensor2D, bias });
  return tf.reshape(y, [b, t, kernel.shape[1]!]);
}

/** Multi-head attention of `[B, Tq, D]` queries over a `[B, Tk, D]` context. */
export class CrossAttention extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNCrossAttention";
  /** Number of heads. */
  readonly numHeads: number;
  /** Whether future positions are masked. */
  readonly causal: boolean;
  /** Seed of the initial weights. */
  readonly seed: number;
  #qKernel: tf.LayerVariable | null = null;
  #qBias: tf.LayerVariable | null = null;
  #kvKernel: tf.LayerVariable | null = null;
  #kvBias: tf.LayerVariable | null = null;
  #outKernel: tf.LayerVariable | null = null;
  #outBias: tf.LayerVariable | null = null;

  constructor(args: CrossAttentionArgs) {
    super(args);
    if (!Number.isInteger(args.numHeads) || args.numHeads < 1) {
      throw new RangeError(`CrossAttention needs numHeads ≥ 1, got ${args.numHeads}.`);
    }
    this.numHeads = args.numHeads;
    this.causal = args.causal ?? false;
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as tf.Shape[];
    const context = shapes[1]?.length === 3 ? shapes[1] : shapes[0];
    const d = shapes[0][shapes[0].length - 1];
    const dc = context[context.length - 1];
    if (d === null || d % this.numHeads !== 0 || dc === null) {
      throw new Error(
        `CrossAttention: the model width (${d}) must be known and divisible by numHeads ` +
          `(${this.numHeads}), and the context width (${dc}) known.`,
      );
    }
    const r = rng(this.seed);
    const zeros = tf.initializers.zeros();
    const glorot = () => r.initializer("glorotUniform");
    this.#qKernel = this.addWeight("q/kernel", [d, d], "float32", glorot());
    this.#qBias = this.addWeight("q/bias", [d], "float32", zeros);
    this.#kvKernel = this.addWeight("kv/kernel", [dc, 2 * d], "float32", glorot());
    this.#kvBias = this.addWeight("kv/bias", [2 * d], "float32", zeros);
    this.#outKernel = this.addWeight("out/kernel", [d, d], "float32", glorot());
    this.#outBias = this.addWeight("out/bias", [d], "float32", zeros);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return Array.isArray(inputShape[0]) ? (inputShape as tf.Shape[])[0] : inputShape;
  }

  #check(): void {
    if (!this.built) {
      throw new Error("CrossAttention: apply the layer (or build its model) before its methods.");
    }
  }

  /** Queries of `x [B, Tq, D]`, split into heads: `[B, H, Tq, D/H]`. */
  queries(x: tf.Tensor): tf.Tensor4D {
    this.#check();
    return tf.tidy(() =>
      splitHeads(project(x, this.#qKernel!.read(), this.#qBias!.read()), this.numHeads)
    );
  }

  /** Keys and values of `context [B, Tk, D]`, split into heads (computed once per source). */
  keysValues(context: tf.Tensor): KeysValues {
    this.#check();
    const [k, v] = tf.tidy(() => {
      const kv = project(context, this.#kvKernel!.read(), this.#kvBias!.read()); // [B, Tk, 2D]
      return tf.split(kv, 2, 2).map((p) => splitHeads(p, this.numHeads));
    });
    return { k, v };
  }

  /**
   * Attention weights `[B, H, Tq, Tk]`: `softmax(Q Kᵀ / √d + M)` with M = −1e9 at padded
   * keys (`keyMask [B, Tk]`, 0 = padding) and, when `causal`, above the diagonal offset by
   * `Tk − Tq` (query i is position `Tk − Tq + i`, so a cached decoder's single new query
   * sees every past key).
   */
  scores(q: tf.Tensor4D, k: tf.Tensor4D, keyMask?: tf.Tensor | null, causal = this.causal) {
    return tf.tidy(() => {
      const hd = q.shape[3];
      const tq = q.shape[2];
      const tk = k.shape[2];
      let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)); // [B, H, Tq, Tk]
      if (causal) {
        // keep key j for query i when j ≤ i + (Tk − Tq)
        const allowed = tf.linalg.bandPart(tf.ones([tk, tk]), -1, 0);
        const rows = tf.slice(allowed, [tk - tq, 0], [tq, tk]); // [Tq, Tk]
        scores = tf.add(scores, tf.mul(tf.sub(1, rows), MASKED_SCORE));
      }
      if (keyMask) {
        const m = tf.reshape(tf.cast(keyMask, "float32"), [keyMask.shape[0], 1, 1, tk]);
        scores = tf.add(scores, tf.mul(tf.sub(1, m), MASKED_SCORE));
      }
      return tf.softmax(scores) as tf.Tensor4D; // over the keys
    });
  }

  /** Attention output before the output projection, heads merged: `[B, Tq, D]`. */
  attend(q: tf.Tensor4D, kv: KeysValues, keyMask?: tf.Tensor | null, causal = this.causal) {
    return tf.tidy(() => {
      const [b, h, tq, hd] = q.shape;
      const y = tf.matMul(this.scores(q, kv.k, keyMask, causal), kv.v); // [B, H, Tq, hd]
      return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b, tq, h * hd]);
    });
  }

  /** The output projection of merged heads `[B, Tq, D]`. */
  outputProjection(merged: tf.Tensor): tf.Tensor {
    this.#check();
    return tf.tidy(() => project(merged, this.#outKernel!.read(), this.#outBias!.read()));
  }

  /** Attention weights `[B, H, Tq, Tk]` of concrete inputs (for heatmaps; not for training). */
  attentionWeights(queries: tf.Tensor, context: tf.Tensor, keyMask?: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const { k } = this.keysValues(context);
      return this.scores(this.queries(queries), k, keyMask);
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const x = list[0];
    // [x] | [x, keyMask] (self-attention) | [x, context] | [x, context, keyMask]
    const hasContext = list[1]?.rank === 3;
    const context = hasContext ? list[1] : x;
    const mask = (hasContext ? list[2] : list[1]) ?? null;
    return tf.tidy(() =>
      this.outputProjection(this.attend(this.queries(x), this.keysValues(context), mask))
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      causal: this.causal,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(CrossAttention);

/**
 * 1 where `ids ≠ padId`, 0 where padded (float32), in float ops only:
 * `min(|float(ids) − padId|, 1)`, exact for integer ids below 2²⁴. (On the webgpu backend,
 * `cast(notEqual(ids, padId))` — an op with a bool or int32 result — read as all zeros
 * inside a model whose ids also feed an embedding; float ops do not.)
 */
export function tokenMask(ids: tf.Tensor, padId = 0): tf.Tensor {
  return tf.tidy(() => tf.minimum(tf.abs(tf.sub(tf.cast(ids, "float32"), padId)), 1));
}

/** Config of {@linkcode PaddingMask}. */
export interface PaddingMaskArgs {
  /** The padding token id. Default 0. */
  padId?: number;
  /** Layer name (tfjs). */
  name?: string;
}

/**
 * Token ids `[B, T]` → key mask `[B, T]` (float32, 1 for a token, 0 for padding), inside
 * a model, so that the mask travels with the ids.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { PaddingMask } from "nn/layers/cross_attention.ts";
 * const m = new PaddingMask().apply(tf.tensor2d([[4, 2, 0]], [1, 3], "int32")) as tf.Tensor;
 * console.log(await m.array()); // [[1, 1, 0]]
 * ```
 */
export class PaddingMask extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNPaddingMask";
  /** The padding token id. */
  readonly padId: number;

  constructor(args: PaddingMaskArgs = {}) {
    super(args);
    this.padId = args.padId ?? 0;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const ids = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() => tokenMask(ids, this.padId));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), padId: this.padId };
  }
}
tf.serialization.registerClass(PaddingMask);
