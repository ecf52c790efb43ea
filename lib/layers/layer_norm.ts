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
 * console.log(await y.mean().array()); // ≈ 0
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { copyToTensor, readF32 } from "../kernels/memory.ts";
import {
  backwardMayFollow,
  type HeapKernels,
  simd,
  simdAlloc,
  wasmHeapKernels,
} from "../kernels/simd/simd.ts";
import { allocTensor } from "../kernels/io.ts";
import { layerNormWebGPU } from "../kernels/webgpu/layer_norm.ts";
import { webgpuFusion } from "../kernels/webgpu/program.ts";

/**
 * Layer norm over the last axis as one op with a hand-written gradient (cpu and wasm
 * backends), in the SIMD kernels (`nn/kernels/simd/simd.ts`): one pass for the
 * statistics and output, one for the three gradients. On wasm they run on tfjs's heap
 * (no copies); on cpu x̂ and 1/σ stay in the kernels' memory for the backward pass.
 */
export function layerNormFused(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): tf.Tensor {
  const heap = tf.getBackend() === "wasm" ? wasmHeapKernels(tf.backend()) : null;
  if (heap) return layerNormOnHeap(heap, x, gamma, beta, epsilon);
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, gt, bt] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
      const D = xt.shape[xt.rank - 1];
      const n = xt.size;
      const rows = n / D;
      const k = simd();
      const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
        if (xhatB.freed) throw new Error("layerNormFused: the backward pass ran twice.");
        // dy in, then dx out over it; gamma; dgamma and dbeta accumulators
        const [dB, gB, dgB, dbB] = simdAlloc([n, D, D, D]);
        dB.view().set(readF32(dy));
        gB.view().set(G);
        dgB.view().fill(0);
        dbB.view().fill(0);
        k.layer_norm_backward(
          dB.offset,
          xhatB.offset,
          rstdB.offset,
          gB.offset,
          dB.offset,
          dgB.offset,
          dbB.offset,
          rows,
          D,
        );
        const grads = [
          copyToTensor(dB.view(), xt.shape),
          copyToTensor(dgB.view(), [D]),
          copyToTensor(dbB.view(), [D]),
        ];
        for (const b of [xhatB, rstdB, dB, gB, dgB, dbB]) b.free();
        return grads;
      };
      // x̂ and 1/σ, kept for the backward pass; x in, then y out over it; gamma; beta
      const [xhatB, rstdB, yB, gB, bB] = simdAlloc([n, rows, n, D, D], gradFunc);
      const G = readF32(gt).slice();
      yB.view().set(readF32(xt));
      gB.view().set(G);
      bB.view().set(readF32(bt));
      k.layer_norm_forward(
        yB.offset,
        yB.offset,
        xhatB.offset,
        rstdB.offset,
        gB.offset,
        bB.offset,
        rows,
        D,
        epsilon,
      );
      const value = copyToTensor(yB.view(), xt.shape);
      for (const b of [yB, gB, bB]) b.free();
      if (!backwardMayFollow()) { for (const b of [xhatB, rstdB]) b.free(); }
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  // named scope: profiles (tf.profile) show the op as "layerNormFused"
  return tf.tidy(
    "layerNormFused",
    () => (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, gamma, beta),
  );
}

/**
 * {@linkcode layerNormFused} on tfjs-wasm's heap: the same SIMD kernels, instantiated on
 * tfjs-wasm's memory, read x, gamma and beta and write y, x̂ and 1/σ (heap tensors saved
 * for the backward pass) and the gradients where tfjs keeps them: no copies.
 */
function layerNormOnHeap(
  heap: HeapKernels,
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): tf.Tensor {
  const backend = tf.backend();
  const alloc = (shape: number[]) => allocTensor(backend, shape);
  const at = heap.address;
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, gt, bt, save] = args as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        (ts: tf.Tensor[]) => void,
      ];
      const D = xt.shape[xt.rank - 1];
      const rows = xt.size / D;
      const y = alloc(xt.shape);
      const xhat = alloc([xt.size]);
      const rstd = alloc([rows]);
      heap.kernels.layer_norm_forward(
        at(xt),
        at(y),
        at(xhat),
        at(rstd),
        at(gt),
        at(bt),
        rows,
        D,
        epsilon,
      );
      save([xhat, rstd, gt]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xh, rs, g] = saved;
        const dx = alloc(xt.shape);
        const dg = alloc([D]);
        const db = alloc([D]);
        // the kernel adds into dgamma and dbeta (views after the last allocation)
        new Float32Array(heap.memory.buffer, at(dg), D).fill(0);
        new Float32Array(heap.memory.buffer, at(db), D).fill(0);
        heap.kernels.layer_norm_backward(
          at(dy),
          at(xh),
          at(rs),
          at(g),
          at(dx),
          at(dg),
          at(db),
          rows,
          D,
        );
        return [dx, dg, db];
      };
      return { value: y, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return tf.tidy(
    "layerNormFused",
    () => (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, gamma, beta),
  );
}

export interface LayerNormArgs {
  /** Added to the variance before the square root. Default 1e-5 (PyTorch's). */
  epsilon?: number;
  /** Layer name (tfjs). */
  name?: string;
  /** Whether the weights train. Default true. */
  trainable?: boolean;
  /** Input shape when this is the first layer. */
  inputShape?: tf.Shape;
  /**
   * "auto" (fused on cpu, wasm and webgpu), "fused" or "ops". Default "auto". On webgpu
   * the fused op is `nn/kernels/webgpu/layer_norm.ts`.
   */
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
    if (name === "webgpu") return webgpuFusion();
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
        const fused = tf.getBackend() === "webgpu" ? layerNormWebGPU : layerNormFused;
        return fused(
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
