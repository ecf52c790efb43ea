/**
 * The layer shell shared by {@linkcode FusedSimpleRNN}, {@linkcode FusedGRU} and
 * {@linkcode FusedLSTM}: Keras's weights (`kernel [I, gU]`, `recurrent_kernel [U, gU]`,
 * `bias [gU]` for g gate blocks, glorot-uniform kernels drawn from the layer's seed),
 * shape inference, the choice between the fused op and plain tfjs ops, and serialisation.
 * Each cell supplies its gate count, its bias initialiser and its two sequence functions.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FusedGRU } from "nn/layers/fused_gru.ts";
 * const gru = new FusedGRU({ units: 4, seed: 0 });
 * gru.apply(tf.zeros([1, 3, 2]));
 * console.log(gru.getWeights().map((w) => w.shape)); // [[2, 12], [4, 12], [12]]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { fillRows, gemm, hasBlas } from "../kernels/gemm.ts";
import { acquire, toTensor } from "../kernels/memory.ts";
import {
  type Cell,
  recurrentFitsWebGPU,
  recurrentSequenceWebGPU,
} from "../kernels/webgpu/recurrent.ts";
import { webgpuFusion } from "../kernels/webgpu/program.ts";

/** Config of a fused recurrent layer. */
export interface FusedRecurrentArgs {
  /** Hidden units U. */
  units: number;
  /** Return every step's hidden state `[B, T, U]` instead of the last `[B, U]`. Default false. */
  returnSequences?: boolean;
  /**
   * "auto" (fused on cpu/wasm with BLAS and on webgpu, ops elsewhere), "fused" or "ops".
   * Default "auto". On webgpu the fused op is the WGSL time loop of
   * `nn/kernels/webgpu/recurrent.ts`.
   */
  implementation?: "auto" | "fused" | "ops";
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name (tfjs). */
  name?: string;
  /** Input shape `[T, I]` when this is the first layer. */
  inputShape?: tf.Shape;
  /** Whether the weights train. Default true. */
  trainable?: boolean;
}

/** A whole-sequence recurrence `(x [B,T,I], W, U, b, returnSequences) → [B,U] or [B,T,U]`. */
export type SequenceFn = (
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrent: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
) => tf.Tensor;

/** Base class of the fused recurrent layers (see the module doc). */
export abstract class FusedRecurrentLayer extends tf.layers.Layer {
  /** Hidden units. */
  readonly units: number;
  /** Whether every step's state is returned. */
  readonly returnSequences: boolean;
  /** Which implementation runs. */
  readonly implementation: "auto" | "fused" | "ops";
  /** Seed of the initial weights. */
  readonly seed: number;
  /** Gate blocks per step (1 simple, 3 GRU, 4 LSTM). */
  protected abstract readonly gates: number;
  /** The fused sequence op (cpu and wasm). */
  protected abstract readonly fusedSequence: SequenceFn;
  /** The same recurrence in plain tfjs ops (any backend). */
  protected abstract readonly opsSequence: SequenceFn;
  /** The cell's WebGPU time loop (`nn/kernels/webgpu/recurrent.ts`). */
  protected abstract readonly webgpuCell: Cell;
  #label: string;
  #kernel: tf.LayerVariable | null = null;
  #recurrent: tf.LayerVariable | null = null;
  #bias: tf.LayerVariable | null = null;

  /** Checks `units` and stores the options; `label` names the layer in error messages. */
  constructor(args: FusedRecurrentArgs, label: string) {
    super(args);
    if (!Number.isInteger(args.units) || args.units < 1) {
      throw new RangeError(`${label} needs units ≥ 1, got ${args.units}.`);
    }
    this.#label = label;
    this.units = args.units;
    this.returnSequences = args.returnSequences ?? false;
    this.implementation = args.implementation ?? "auto";
    this.seed = args.seed ?? 0;
  }

  /** The bias initialiser (zeros unless a cell overrides it). */
  protected biasInitializer(): tf.serialization.Serializable {
    return tf.initializers.zeros();
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputDim = shape[shape.length - 1];
    if (inputDim === null) throw new Error(`${this.#label} needs a known feature dimension.`);
    const r = rng(this.seed);
    const g = this.gates * this.units;
    this.#kernel = this.addWeight(
      "kernel",
      [inputDim, g],
      "float32",
      r.initializer("glorotUniform"),
    );
    this.#recurrent = this.addWeight(
      "recurrent_kernel",
      [this.units, g],
      "float32",
      r.initializer("glorotUniform"),
    );
    this.#bias = this.addWeight("bias", [g], "float32", this.biasInitializer() as never);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return this.returnSequences ? [shape[0], shape[1], this.units] : [shape[0], this.units];
  }

  /** Whether the fused implementation runs on the current backend. */
  usesFused(): boolean {
    if (this.implementation === "fused") return true;
    if (this.implementation === "ops") return false;
    const name = tf.getBackend();
    if (name === "webgpu") {
      return webgpuFusion() && recurrentFitsWebGPU(this.webgpuCell, this.units);
    }
    return (name === "cpu" || name === "wasm") && hasBlas();
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const cell = this.webgpuCell;
      const fused: SequenceFn = tf.getBackend() === "webgpu"
        ? (...a) => recurrentSequenceWebGPU(cell, ...a)
        : this.fusedSequence;
      const run = this.usesFused() ? fused : this.opsSequence;
      return run(
        x,
        this.#kernel!.read() as tf.Tensor2D,
        this.#recurrent!.read() as tf.Tensor2D,
        this.#bias!.read() as tf.Tensor1D,
        this.returnSequences,
      );
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      returnSequences: this.returnSequences,
      implementation: this.implementation,
      seed: this.seed,
    };
  }
}

/**
 * The fused ops' input projection of every step at once: `z = X·W + b` for the
 * `B·T` rows of `X [B·T, I]`, into `z [B·T, G]` (the bias written first, the GEMM adds).
 */
export function projectInputs(
  z: Float32Array,
  X: Float32Array,
  W: Float32Array,
  bias: Float32Array,
  rows: number,
  I: number,
  G: number,
): void {
  fillRows(z, bias);
  gemm(false, false, rows, G, I, 1, X, I, W, G, 1, z, G);
}

/** A fused op's output from its states `hs [B, T, U]`: all of them, or the last step's `[B, U]`. */
export function sequenceOutput(
  hs: Float32Array,
  B: number,
  T: number,
  U: number,
  returnSequences: boolean,
): tf.Tensor {
  if (returnSequences) return tf.tensor3d(hs.slice(), [B, T, U]);
  const last = acquire(B * U);
  for (let b = 0; b < B; b++) last.set(hs.subarray((b * T + T - 1) * U, (b * T + T) * U), b * U);
  return toTensor(last, [B, U]);
}

/**
 * Gradients of the input projection `z = X·W + b` with respect to `X` and `W`, from
 * `dZ [B·T, G]`: `[dX [B, T, I], dW [I, G]]` (each cell sums `db` itself).
 */
export function projectionGrads(
  dZ: Float32Array,
  X: Float32Array,
  W: Float32Array,
  B: number,
  T: number,
  I: number,
  G: number,
): [tf.Tensor, tf.Tensor] {
  const dX = acquire(B * T * I);
  gemm(false, true, B * T, I, G, 1, dZ, G, W, G, 0, dX, I);
  const dW = acquire(I * G);
  gemm(true, false, I, G, B * T, 1, X, I, dZ, G, 0, dW, G);
  return [toTensor(dX, [B, T, I]), toTensor(dW, [I, G])];
}
