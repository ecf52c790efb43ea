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
import { addLayerNormWebGPU, layerNormWebGPU } from "../kernels/webgpu/layer_norm.ts";
import { customGradMulti } from "../kernels/custom_grad.ts";
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
  return layerNormOp(x, residual, gamma, beta, epsilon, false)[0];
}

/**
 * The pre-norm block's Add & Norm as one op (cpu and wasm): `[x + r, LN(x + r)]`, the sum
 * written in the same pass as the statistics, since it goes on as the residual stream.
 * In the backward pass the sum's own gradient is added to the layer norm's input
 * gradient inside the kernel (no separate accumulation `add`); x and r get it both.
 */
export function addLayerNormFused(
  x: tf.Tensor,
  residual: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): [tf.Tensor, tf.Tensor] {
  return layerNormOp(x, residual, gamma, beta, epsilon, true) as [tf.Tensor, tf.Tensor];
}

/** The fused layer norm's outputs: `[y]`, or `[x + r, y]` with `keepSum`. */
function layerNormOp(
  x: tf.Tensor,
  residual: tf.Tensor | null,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  keepSum: boolean,
): tf.Tensor[] {
  const name = keepSum ? "addLayerNormFused" : "layerNormFused";
  if (residual) assertResidualShape(name, x.shape, residual.shape);
  const heap = tf.getBackend() === "wasm" ? wasmHeapKernels(tf.backend()) : null;
  const op = heap ? layerNormOnHeap(heap, epsilon, keepSum) : layerNormInSimd(epsilon, keepSum);
  // named scope: profiles (tf.profile) show the op under this name
  return tf.tidy(name, () => op(...(residual ? [x, residual] : [x]), gamma, beta));
}

/** The op's tensors as [x, residual or null, gamma, beta] (the custom gradient's inputs). */
function withResidual(
  inputs: tf.Tensor[],
): [tf.Tensor, tf.Tensor | null, tf.Tensor, tf.Tensor] {
  return inputs.length === 4
    ? [inputs[0], inputs[1], inputs[2], inputs[3]]
    : [inputs[0], null, inputs[1], inputs[2]];
}

/**
 * The input gradients of x (and of the residual: a second tensor on dx's memory), gamma
 * and beta, in the op's input order.
 */
function inputGrads(dx: tf.Tensor, residual: boolean, dg: tf.Tensor, db: tf.Tensor): tf.Tensor[] {
  return residual ? [dx, tf.clone(dx), dg, db] : [dx, dg, db];
}

/**
 * The op on the cpu backend: the SIMD kernels in their own memory, copies in and out;
 * x̂ and 1/σ stay there for the backward pass.
 */
function layerNormInSimd(epsilon: number, keepSum: boolean) {
  return customGradMulti((inputs) => {
    const [xt, rt, gt, bt] = withResidual(inputs);
    const D = xt.shape[xt.rank - 1];
    const n = xt.size;
    const rows = n / D;
    const k = simd();
    const gradFunc = (dys: tf.Tensor[]): tf.Tensor[] => {
      if (xhatB.freed) throw new Error("layerNormFused: the backward pass ran twice.");
      const dy = dys[dys.length - 1];
      // dy in, then dx out over it; the sum's gradient; gamma; dgamma and dbeta accumulators
      const [dB, dsB, gB, dgB, dbB] = simdAlloc([n, keepSum ? n : 0, D, D, D]);
      dB.view().set(readF32(dy));
      if (keepSum) dsB.view().set(readF32(dys[0]));
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
        keepSum ? dsB.offset : 0,
      );
      const grads = inputGrads(
        copyToTensor(dB.view(), xt.shape),
        rt !== null,
        copyToTensor(dgB.view(), [D]),
        copyToTensor(dbB.view(), [D]),
      );
      for (const b of [xhatB, rstdB, dB, dsB, gB, dgB, dbB]) b.free();
      return grads;
    };
    // x̂ and 1/σ, kept for the backward pass; x in, then y out over it; the residual;
    // the sum; gamma; beta
    const [xhatB, rstdB, yB, rB, sB, gB, bB] = simdAlloc(
      [n, rows, n, rt ? n : 0, keepSum ? n : 0, D, D],
      gradFunc,
    );
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
      keepSum ? sB.offset : 0,
    );
    const y = copyToTensor(yB.view(), xt.shape);
    const value = keepSum ? [copyToTensor(sB.view(), xt.shape), y] : [y];
    for (const b of [yB, rB, sB, gB, bB]) b.free();
    if (!backwardMayFollow()) { for (const b of [xhatB, rstdB]) b.free(); }
    return { value, gradFunc };
  });
}

/**
 * The op on tfjs-wasm's heap: the same SIMD kernels, instantiated on tfjs-wasm's memory,
 * read x, gamma and beta and write y (and the sum), x̂ and 1/σ (heap tensors saved for
 * the backward pass) and the gradients where tfjs keeps them: no copies.
 */
function layerNormOnHeap(heap: HeapKernels, epsilon: number, keepSum: boolean) {
  const backend = tf.backend();
  const alloc = (shape: number[]) => allocTensor(backend, shape);
  const at = heap.address;
  return customGradMulti((inputs, save) => {
    const [xt, rt, gt, bt] = withResidual(inputs);
    const D = xt.shape[xt.rank - 1];
    const rows = xt.size / D;
    const y = alloc(xt.shape);
    const sum = keepSum ? alloc(xt.shape) : null;
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
      sum ? at(sum) : 0,
    );
    save([xhat, rstd, gt]);
    const gradFunc = (dys: tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
      const [xh, rs, g] = saved;
      const dy = dys[dys.length - 1];
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
        keepSum ? at(dys[0]) : 0,
      );
      return inputGrads(dx, rt !== null, dg, db);
    };
    return { value: sum ? [sum, y] : [y], gradFunc };
  });
}

/**
 * The engine's gradient state: how deep in `tf.grads`/`minimize` scopes, and the tape
 * being recorded (outputs computed under another tape carry no gradient on this one).
 */
function gradientTape(): unknown[] {
  const state = (tf.engine() as unknown as {
    state: { gradientDepth: number; activeTape: unknown };
  }).state;
  return [state.gradientDepth, state.gradientDepth > 0 ? state.activeTape : null];
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
  /**
   * Given `[x, r]`, output `[x + r, LN(x + r)]` instead of `LN(x + r)`: the pre-norm
   * block's Add & Norm, whose sum goes on as the residual stream. Default false.
   */
  returnSum?: boolean;
}

/**
 * Layer normalisation over the last axis (learned scale γ and shift β of size D). Given
 * two inputs `[x, r]` of one shape it normalises their sum: the post-norm Transformer's
 * "Add & Norm" (`LN(x + sublayer(x))`), in one pass on cpu and wasm. With `returnSum` it
 * outputs `[x + r, LN(x + r)]`: the pre-norm block's residual stream and the input of its
 * next sublayer, from one op.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LayerNorm } from "nn/layers/layer_norm.ts";
 * const x = tf.tensor3d([[[1, 2, 3]]]);
 * const r = tf.tensor3d([[[3, 2, 1]]]);
 * const y = new LayerNorm().apply([x, r]) as tf.Tensor; // LN([4, 4, 4]) = β = 0
 * console.log(await y.array()); // [[[0, 0, 0]]]
 * const [sum, normed] = new LayerNorm({ returnSum: true }).apply([x, r]) as tf.Tensor[];
 * console.log(await sum.array(), await normed.array()); // [[[4, 4, 4]]] [[[0, 0, 0]]]
 * ```
 */
export class LayerNorm extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNLayerNorm";
  /** Added to the variance. */
  readonly epsilon: number;
  /** Which implementation runs. */
  readonly implementation: "auto" | "fused" | "ops";
  /** Whether `[x, r]` gives `[x + r, LN(x + r)]`. */
  readonly returnSum: boolean;
  #gamma: tf.LayerVariable | null = null;
  #beta: tf.LayerVariable | null = null;
  /** The last `[x + r, LN(x + r)]` and what it was computed from (see `call`). */
  #last: { inputs: tf.Tensor[]; weights: object[]; tape: unknown[]; outputs: tf.Tensor[] } | null =
    null;

  constructor(args: LayerNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-5;
    this.implementation = args.implementation ?? "auto";
    this.returnSum = args.returnSum ?? false;
  }

  /** Whether the fused implementation runs on the current backend. */
  usesFused(): boolean {
    if (this.implementation !== "auto") return this.implementation === "fused";
    const name = tf.getBackend();
    if (name === "webgpu") return webgpuFusion();
    return name === "cpu" || name === "wasm";
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    if (this.returnSum && !Array.isArray(inputShape[0])) {
      throw new Error(
        `LayerNorm "${this.name}" with returnSum needs two inputs [x, r] (it outputs x + r ` +
          "and its layer norm); apply it to both, or drop returnSum.",
      );
    }
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    if (d === null) throw new Error("LayerNorm needs a known last dimension (the features).");
    this.#gamma = this.addWeight("gamma", [d], "float32", tf.initializers.ones());
    this.#beta = this.addWeight("beta", [d], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const shape = Array.isArray(inputShape[0]) ? inputShape[0] as tf.Shape : inputShape;
    return this.returnSum ? [shape, shape] as tf.Shape[] : shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const [first, residual] = Array.isArray(inputs) ? inputs : [inputs];
      const gamma = this.#gamma!.read() as tf.Tensor1D;
      const beta = this.#beta!.read() as tf.Tensor1D;
      const webgpu = tf.getBackend() === "webgpu";
      if (this.returnSum) {
        if (!residual) {
          throw new Error(
            `LayerNorm "${this.name}" with returnSum got one tensor; give it [x, r].`,
          );
        }
        // tfjs-layers' executor (fit, predict) applies a layer once per output it fetches:
        // the second application, on the same tensors and weights and under the same
        // gradient tape, returns the first's outputs instead of running the op again
        const weights = [gamma.dataId, beta.dataId];
        const tape = gradientTape();
        const last = this.#last;
        if (
          last && last.inputs[0] === first && last.inputs[1] === residual &&
          last.weights[0] === weights[0] && last.weights[1] === weights[1] &&
          last.tape[0] === tape[0] && last.tape[1] === tape[1] &&
          !last.outputs.some((t) => t.isDisposed) && !first.isDisposed && !residual.isDisposed
        ) {
          return last.outputs;
        }
        // [x + r, LN(x + r)]: the sum written (and its gradient added) in the norm's kernels
        let outputs: tf.Tensor[];
        if (this.usesFused()) {
          const fused = webgpu ? addLayerNormWebGPU : addLayerNormFused;
          outputs = fused(first, residual, gamma, beta, this.epsilon);
        } else {
          const sum = tf.add(first, residual);
          outputs = [sum, this.#normalise(sum, gamma, beta)];
        }
        this.#last = { inputs: [first, residual], weights, tape, outputs };
        return outputs;
      }
      if (this.usesFused()) {
        // the residual's add inside the layer norm's kernels ("Add & Norm")
        const fused = webgpu ? layerNormWebGPU : layerNormFused;
        return fused(first, gamma, beta, this.epsilon, residual ?? null);
      }
      // x + residual, then the layer norm in ops
      return this.#normalise(residual ? tf.add(first, residual) : first, gamma, beta);
    });
  }

  /** The layer norm in tf ops (`implementation: "ops"`). */
  #normalise(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D): tf.Tensor {
    const last = x.rank - 1;
    const mean = tf.mean(x, last, true); // [..., 1]
    const centred = tf.sub(x, mean); // [..., D]
    const variance = tf.mean(tf.square(centred), last, true); // [..., 1]
    const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, this.epsilon)));
    return tf.add(tf.mul(normed, gamma), beta); // γ, β: [D]
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      epsilon: this.epsilon,
      implementation: this.implementation,
      returnSum: this.returnSum,
    };
  }
}
tf.serialization.registerClass(LayerNorm);
