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
import { allocTensor, assertResidualShape } from "../kernels/io.ts";
import { layerNormWebGPU } from "../kernels/webgpu/layer_norm.ts";
import { webgpuFusion } from "../kernels/webgpu/program.ts";

/**
 * Layer norm over the last axis as one op with a hand-written gradient (cpu and wasm
 * backends), in the SIMD kernels (`nn/kernels/simd/simd.ts`): one pass for the
 * statistics and output, one for the three gradients. On wasm they run on tfjs's heap
 * (no copies); on cpu x̂ and 1/σ stay in the kernels' memory for the backward pass.
 * With `residual`, the rows normalised are `x + residual` (the post-norm Transformer's
 * "Add & Norm": no separate `add`), and both get the same gradient.
 */
export function layerNormFused(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  residual: tf.Tensor | null = null,
): tf.Tensor {
  if (residual) assertResidualShape("layerNormFused", x.shape, residual.shape);
  const heap = tf.getBackend() === "wasm" ? wasmHeapKernels(tf.backend()) : null;
  if (heap) return layerNormOnHeap(heap, x, gamma, beta, epsilon, residual);
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, rt, gt, bt] = withResidual(args, residual !== null);
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
        const dx = copyToTensor(dB.view(), xt.shape);
        const grads = [
          ...(rt ? [dx, tf.clone(dx)] : [dx]),
          copyToTensor(dgB.view(), [D]),
          copyToTensor(dbB.view(), [D]),
        ];
        for (const b of [xhatB, rstdB, dB, gB, dgB, dbB]) b.free();
        return grads;
      };
      // x̂ and 1/σ, kept for the backward pass; x in, then y out over it; the residual;
      // gamma; beta
      const [xhatB, rstdB, yB, rB, gB, bB] = simdAlloc([n, rows, n, rt ? n : 0, D, D], gradFunc);
      const G = readF32(gt).slice();
      yB.view().set(readF32(xt));
      if (rt) rB.view().set(readF32(rt));
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
        rt ? rB.offset : 0,
      );
      const value = copyToTensor(yB.view(), xt.shape);
      for (const b of [yB, rB, gB, bB]) b.free();
      if (!backwardMayFollow()) { for (const b of [xhatB, rstdB]) b.free(); }
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  // named scope: profiles (tf.profile) show the op as "layerNormFused"
  return tf.tidy(
    "layerNormFused",
    () =>
      (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(
        ...(residual ? [x, residual] : [x]),
        gamma,
        beta,
      ),
  );
}

/** The op's tensors as [x, residual or null, gamma, beta, …the rest] (customGrad's args). */
function withResidual(
  args: unknown[],
  residual: boolean,
): [tf.Tensor, tf.Tensor | null, tf.Tensor, tf.Tensor, ...unknown[]] {
  const [x, ...rest] = args as tf.Tensor[];
  const r = residual ? rest.shift()! : null;
  const [g, b, ...more] = rest;
  return [x, r, g, b, ...more];
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
  residual: tf.Tensor | null,
): tf.Tensor {
  const backend = tf.backend();
  const alloc = (shape: number[]) => allocTensor(backend, shape);
  const at = heap.address;
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, rt, gt, bt, saveArg] = withResidual(args, residual !== null);
      const save = saveArg as (ts: tf.Tensor[]) => void;
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
        rt ? at(rt) : 0,
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
        // the residual's gradient is dx's: a second tensor on the same memory
        return rt ? [dx, tf.clone(dx), dg, db] : [dx, dg, db];
      };
      return { value: y, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return tf.tidy(
    "layerNormFused",
    () =>
      (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(
        ...(residual ? [x, residual] : [x]),
        gamma,
        beta,
      ),
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

/**
 * Layer normalisation over the last axis (learned scale γ and shift β of size D). Given
 * two inputs `[x, r]` of one shape it normalises their sum: the post-norm Transformer's
 * "Add & Norm" (`LN(x + sublayer(x))`), in one pass on cpu and wasm.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LayerNorm } from "nn/layers/layer_norm.ts";
 * const x = tf.tensor3d([[[1, 2, 3]]]);
 * const r = tf.tensor3d([[[3, 2, 1]]]);
 * const y = new LayerNorm().apply([x, r]) as tf.Tensor; // LN([4, 4, 4]) = β = 0
 * console.log(await y.array()); // [[[0, 0, 0]]]
 * ```
 */
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
    return Array.isArray(inputShape[0]) ? inputShape[0] as tf.Shape : inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [first, residual] = Array.isArray(inputs) ? inputs : [inputs];
      const gamma = this.#gamma!.read() as tf.Tensor1D;
      const beta = this.#beta!.read() as tf.Tensor1D;
      if (this.usesFused()) {
        // the residual's add inside the layer norm's kernels ("Add & Norm")
        const fused = tf.getBackend() === "webgpu" ? layerNormWebGPU : layerNormFused;
        return fused(first, gamma, beta, this.epsilon, residual ?? null);
      }
      // x + residual, then the layer norm in ops
      const x = residual ? tf.add(first, residual) : first;
      const last = x.rank - 1;
      const mean = tf.mean(x, last, true); // [..., 1]
      const centred = tf.sub(x, mean); // [..., D]
      const variance = tf.mean(tf.square(centred), last, true); // [..., 1]
      const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, this.epsilon)));
      return tf.add(tf.mul(normed, gamma), beta); // γ, β: [D]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon, implementation: this.implementation };
  }
}
tf.serialization.registerClass(LayerNorm);
