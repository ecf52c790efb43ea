/**
 * One Kim-2014 branch as one layer: Conv1D (valid, stride 1) → activation → max over
 * time, `[B, T, E] → [B, F]`.
 *
 * On the cpu and wasm backends it runs fused: the convolution is one GEMM per filter
 * tap over all positions of the batch at once (no im2col copy: each tap multiplies the
 * input shifted by one row), the max is taken on the GEMM output, and the backward pass
 * only touches the arg-max position of each (sample, filter), so it costs a few
 * million multiply-adds instead of two more convolutions. On webgpu the max, bias,
 * activation and the winning-window backward pass are WGSL programs after tfjs's conv1d
 * (`nn/kernels/webgpu/conv_max.ts`); with `implementation: "ops"` it is
 * `conv1d + bias → activation → max` in tfjs ops.
 * Ties in the max send the gradient to the first maximum (PyTorch's `amax` splits it).
 *
 * Weights are `tf.layers.conv1d`'s: `kernel [k, E, F]`, `bias [F]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ConvMaxOverTime } from "nn/layers/conv_max_over_time.ts";
 * const branch = new ConvMaxOverTime({ filters: 4, kernelSize: 3, seed: 0 });
 * console.log((branch.apply(tf.ones([2, 10, 8])) as tf.Tensor).shape); // [2, 4]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { gemm, hasBlas } from "../kernels/gemm.ts";
import { acquire, copyToTensor, readF32, toTensor } from "../kernels/memory.ts";
import { simd, simdAlloc } from "../kernels/simd/simd.ts";
import { convMaxWebGPU } from "../kernels/webgpu/conv_max.ts";
import { webgpuFusion } from "../kernels/webgpu/program.ts";

/** Config of {@linkcode ConvMaxOverTime}. */
export interface ConvMaxOverTimeArgs {
  /** Output channels F. */
  filters: number;
  /** Window width k. */
  kernelSize: number;
  /** "relu" (default) or "linear". */
  activation?: "relu" | "linear";
  /**
   * "auto" (fused on cpu/wasm with BLAS and on webgpu), "fused" or "ops". Default "auto".
   * On webgpu the fused op is `nn/kernels/webgpu/conv_max.ts`.
   */
  implementation?: "auto" | "fused" | "ops";
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name (tfjs). */
  name?: string;
  /** Input shape `[T, E]` when this is the first layer. */
  inputShape?: tf.Shape;
}

/** Fused conv → activation → max over time of `x [B, T, E]` (cpu and wasm backends). */
export function convMaxFused(
  x: tf.Tensor3D,
  kernel: tf.Tensor3D,
  bias: tf.Tensor1D,
  relu: boolean,
): tf.Tensor2D {
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, wt, bt, save] = args as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        (ts: tf.Tensor[]) => void,
      ];
      save([xt, wt]);
      const [B, T, E] = xt.shape as [number, number, number];
      const [k, , F] = wt.shape as [number, number, number];
      const X = readF32(xt);
      const W = readF32(wt);
      const bv = readF32(bt);
      const L = T - k + 1; // valid positions per sample
      const M = B * T - k + 1; // rows computed (the k − 1 straddling samples are ignored)
      const K = simd();
      // Y[r] = Σ_tap X[r + tap] · W[tap], rows of F; then per (b, f) the max and its row
      const [yB, bestB, argB] = simdAlloc([B * T * F, B * F, B * F]);
      const Y = yB.view();
      for (let tap = 0; tap < k; tap++) {
        gemm(
          false,
          false,
          M,
          F,
          E,
          1,
          X.subarray(tap * E),
          E,
          W.subarray(tap * E * F),
          F,
          tap === 0 ? 0 : 1,
          Y,
          F,
        );
      }
      K.max_over_time(yB.offset, bestB.offset, argB.offset, B, T, L, F);
      const best = bestB.view();
      const arg = new Int32Array(best.buffer, argB.offset, B * F).slice(); // row of each max
      const out = acquire(B * F);
      for (let i = 0; i < B * F; i++) {
        const v = best[i] + bv[i % F];
        out[i] = relu && v < 0 ? 0 : v;
      }
      for (const b of [yB, bestB, argB]) b.free();
      const outs = out.slice(); // kept for the relu mask in the backward pass
      const value = toTensor(out, [B, F]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const KE = k * E;
        // x; W as [F, k·E] (each filter's taps contiguous); dx; dW as [F, k·E]; g; rows
        const [xB, wtB, dxB, dwtB, gB, aB] = simdAlloc([
          B * T * E,
          F * KE,
          B * T * E,
          F * KE,
          B * F,
          B * F,
        ]);
        const dO = readF32(dy);
        xB.view().set(readF32(saved[0]));
        const W = readF32(saved[1]);
        const Wt = wtB.view();
        for (let r = 0; r < KE; r++) {
          for (let f = 0; f < F; f++) Wt[f * KE + r] = W[r * F + f];
        }
        dxB.view().fill(0);
        dwtB.view().fill(0);
        const g = gB.view();
        const db = acquire(F, true);
        for (let i = 0; i < B * F; i++) {
          g[i] = relu && !(outs[i] > 0) ? 0 : dO[i];
          db[i % F] += g[i];
        }
        new Int32Array(g.buffer, aB.offset, B * F).set(arg);
        K.conv_max_backward(
          xB.offset,
          wtB.offset,
          dxB.offset,
          dwtB.offset,
          gB.offset,
          aB.offset,
          B * F,
          F,
          KE,
          E,
        );
        const dWt = dwtB.view();
        const dW = acquire(KE * F);
        for (let r = 0; r < KE; r++) for (let f = 0; f < F; f++) dW[r * F + f] = dWt[f * KE + r];
        const dX = copyToTensor(dxB.view(), [B, T, E]);
        for (const b of [xB, wtB, dxB, dwtB, gB, aB]) b.free();
        return [dX, toTensor(dW, [k, E, F]), toTensor(db, [F])];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  // named scope: profiles (tf.profile) show the op as "convMaxOverTimeFused"
  return tf.tidy(
    "convMaxOverTimeFused",
    () => (op as unknown as (...a: tf.Tensor[]) => tf.Tensor2D)(x, kernel, bias),
  );
}

/** The same branch in tfjs ops (any backend). */
export function convMaxOps(
  x: tf.Tensor3D,
  kernel: tf.Tensor3D,
  bias: tf.Tensor1D,
  relu: boolean,
): tf.Tensor2D {
  return tf.tidy(() => {
    const y = tf.add(tf.conv1d(x, kernel, 1, "valid"), bias); // [B, L, F]
    return tf.max(relu ? tf.relu(y) : y, 1) as tf.Tensor2D; // [B, F]
  });
}

/** Conv1D → activation → max over time (see module docs). */
export class ConvMaxOverTime extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNConvMaxOverTime";
  /** Output channels. */
  readonly filters: number;
  /** Window width. */
  readonly kernelSize: number;
  /** Activation before the max. */
  readonly activation: "relu" | "linear";
  /** Which implementation runs. */
  readonly implementation: "auto" | "fused" | "ops";
  /** Seed of the initial weights. */
  readonly seed: number;
  #kernel: tf.LayerVariable | null = null;
  #bias: tf.LayerVariable | null = null;

  constructor(args: ConvMaxOverTimeArgs) {
    super(args);
    if (!(Number.isInteger(args.filters) && args.filters >= 1)) {
      throw new RangeError(`ConvMaxOverTime needs filters ≥ 1, got ${args.filters}.`);
    }
    if (!(Number.isInteger(args.kernelSize) && args.kernelSize >= 1)) {
      throw new RangeError(`ConvMaxOverTime needs kernelSize ≥ 1, got ${args.kernelSize}.`);
    }
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.activation = args.activation ?? "relu";
    this.implementation = args.implementation ?? "auto";
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const e = shape[shape.length - 1];
    if (e === null) throw new Error("ConvMaxOverTime needs a known channel dimension.");
    const r = rng(this.seed);
    this.#kernel = this.addWeight(
      "kernel",
      [this.kernelSize, e, this.filters],
      "float32",
      r.initializer(this.activation === "relu" ? "heUniform" : "glorotUniform"),
    );
    this.#bias = this.addWeight("bias", [this.filters], "float32", tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0], this.filters];
  }

  /** Whether the fused implementation runs on the current backend. */
  usesFused(): boolean {
    if (this.implementation !== "auto") return this.implementation === "fused";
    const name = tf.getBackend();
    if (name === "webgpu") return webgpuFusion();
    return (name === "cpu" || name === "wasm") && hasBlas();
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      if (x.shape[1] < this.kernelSize) {
        throw new RangeError(
          `ConvMaxOverTime: sequences of ${
            x.shape[1]
          } are shorter than kernelSize ${this.kernelSize}.`,
        );
      }
      const fused = tf.getBackend() === "webgpu" ? convMaxWebGPU : convMaxFused;
      const run = this.usesFused() ? fused : convMaxOps;
      return run(
        x,
        this.#kernel!.read() as tf.Tensor3D,
        this.#bias!.read() as tf.Tensor1D,
        this.activation === "relu",
      );
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      activation: this.activation,
      implementation: this.implementation,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(ConvMaxOverTime);
