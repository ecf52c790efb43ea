/**
 * A simple (Elman) recurrent layer, `h_t = tanh(x_t W + h_{t−1} U + b)`, whose whole
 * sequence, forward and backward, runs as one operation.
 *
 * tfjs's `tf.layers.simpleRNN` runs several kernels per time step, so per-kernel overhead
 * dominates on CPU. Here, on the cpu and wasm backends, the forward pass is one GEMM for
 * all input projections plus one GEMM per step for the recurrence, the tanh in the SIMD
 * kernels (`nn/kernels/simd/simd.ts`, whose memory holds the states until the backward
 * pass); the backward pass
 * (backpropagation through time) is written out by hand the same way and registered with
 * `tf.customGrad`. GEMMs go to OpenBLAS through FFI where present (see
 * `nn/kernels/gemm.ts`). On webgpu the whole time
 * loop runs as one WGSL program each way (`nn/kernels/webgpu/recurrent.ts`); with
 * `implementation: "ops"` the same maths runs as ordinary tfjs ops.
 *
 * Weights and their names are those of `tf.layers.simpleRNN` with `activation: "tanh"`
 * (`kernel [I, U]`, `recurrent_kernel [U, U]`, `bias [U]`), so its weights load into this
 * layer with `setWeights` and give the same outputs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FusedSimpleRNN } from "nn/layers/fused_simple_rnn.ts";
 * const rnn = new FusedSimpleRNN({ units: 8, seed: 0 });
 * console.log((rnn.apply(tf.zeros([2, 5, 3])) as tf.Tensor).shape); // [2, 8]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { gemm } from "../kernels/gemm.ts";
import {
  type FusedRecurrentArgs,
  FusedRecurrentLayer,
  projectInputs,
  projectionGrads,
  type SequenceFn,
  sequenceOutput,
} from "./fused_recurrent.ts";
import { acquire, readF32, release, toTensor } from "../kernels/memory.ts";
import { backwardMayFollow, simd, simdAlloc } from "../kernels/simd/simd.ts";

/** Config of {@linkcode FusedSimpleRNN}. */
export type FusedSimpleRNNArgs = FusedRecurrentArgs;

/**
 * The fused simple RNN as a differentiable function of (x [B,T,I], W [I,U], U [U,U],
 * b [U]) for the cpu and wasm backends.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { simpleRnnSequenceFused } from "nn/layers/fused_simple_rnn.ts";
 * const y = simpleRnnSequenceFused(tf.ones([1, 4, 2]), tf.ones([2, 3]), tf.zeros([3, 3]), tf.zeros([3]), false);
 * console.log(y.shape); // [1, 3]
 * ```
 */
export function simpleRnnSequenceFused(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrent: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
): tf.Tensor {
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, wt, ut, bt, save] = args as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        (ts: tf.Tensor[]) => void,
      ];
      save([xt, wt, ut]);
      const [B, T, I] = xt.shape as [number, number, number];
      const U = ut.shape[0];
      const X = readF32(xt);
      const W = readF32(wt);
      const R = readF32(ut);
      const bv = readF32(bt);
      // hs [B, T, U] in the SIMD kernels' memory: pre-activations, then (in place)
      // h_t = tanh(…); kept for the backward pass
      const [hsB] = simdAlloc([B * T * U], gradFunc);
      const hs = hsB.view();
      projectInputs(hs, X, W, bv, B * T, I, U); // X·W + b for all steps
      const k = simd();
      for (let t = 0; t < T; t++) {
        if (t > 0) {
          // a_t += h_{t−1} · U (rows of step t−1 and step t do not overlap)
          const prev = hs.subarray((t - 1) * U);
          gemm(false, false, B, U, U, 1, prev, T * U, R, U, 1, hs.subarray(t * U), T * U);
        }
        k.activate_rows(hsB.at(t * U), B, U, 4 * T * U, 1); // h_t = tanh(a_t)
      }
      const value = sequenceOutput(hs, B, T, U, returnSequences);
      function gradFunc(dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] {
        if (hsB.freed) throw new Error("FusedSimpleRNN: the backward pass ran twice.");
        const hs = hsB.view(); // a fresh view: the memory may have grown since
        const dY = readF32(dy);
        const X = readF32(saved[0]);
        const W = readF32(saved[1]);
        const R = readF32(saved[2]);
        const dA = acquire(B * T * U); // gradient of the pre-activations (every entry written)
        const dh = acquire(B * U, true); // dL/dh_t flowing back through time
        if (!returnSequences) dh.set(dY);
        for (let t = T - 1; t >= 0; t--) {
          for (let b = 0; b < B; b++) {
            const so = (b * T + t) * U;
            for (let j = 0; j < U; j++) {
              const k = b * U + j;
              const g = returnSequences ? dh[k] + dY[so + j] : dh[k];
              const h = hs[so + j];
              dA[so + j] = g * (1 - h * h);
            }
          }
          // dh_{t−1} = dA_t · Uᵀ
          if (t > 0) gemm(false, true, B, U, U, 1, dA.subarray(t * U), T * U, R, U, 0, dh, U);
        }
        // dU = Σ_t h_{t−1}ᵀ · dA_t, as one GEMM over the states shifted by one step
        const prev = acquire(B * T * U);
        for (let b = 0; b < B; b++) {
          const o = b * T * U;
          prev.fill(0, o, o + U);
          prev.set(hs.subarray(o, o + (T - 1) * U), o + U);
        }
        const dR = acquire(U * U);
        gemm(true, false, U, U, B * T, 1, prev, U, dA, U, 0, dR, U);
        const [dX, dW] = projectionGrads(dA, X, W, B, T, I, U);
        const db = acquire(U, true);
        for (let r = 0; r < B * T; r++) {
          const ro = r * U;
          for (let j = 0; j < U; j++) db[j] += dA[ro + j];
        }
        release(dA, dh, prev);
        hsB.free();
        return [dX, dW, toTensor(dR, [U, U]), toTensor(db, [U])];
      }
      // no backward pass will come: free the state now
      if (!backwardMayFollow()) hsB.free();
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  // named scope: profiles (tf.profile) show the op as "simpleRNNFused"
  return tf.tidy(
    "simpleRNNFused",
    () => (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, kernel, recurrent, bias),
  );
}

/**
 * The same simple RNN with ordinary tfjs ops (any backend, autodiff gradients).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { simpleRnnSequenceOps } from "nn/layers/fused_simple_rnn.ts";
 * const y = simpleRnnSequenceOps(tf.ones([1, 4, 2]), tf.ones([2, 3]), tf.zeros([3, 3]), tf.zeros([3]), true);
 * console.log(y.shape); // [1, 4, 3]
 * ```
 */
export function simpleRnnSequenceOps(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrent: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
): tf.Tensor {
  return tf.tidy(() => {
    const [B, T, I] = x.shape;
    const U = recurrent.shape[0];
    const xw = tf.reshape(tf.fused.matMul({ a: tf.reshape(x, [B * T, I]), b: kernel, bias }), [
      B,
      T,
      U,
    ]);
    // T × [B, U]; tfjs's Unpack gradient throws for one output, so T = 1 is a reshape
    const steps = T === 1 ? [tf.reshape(xw, [B, U])] : tf.unstack(xw, 1);
    let h: tf.Tensor2D = tf.zeros([B, U]);
    const outs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      h = tf.tanh(t === 0 ? steps[t] : tf.add(steps[t], tf.matMul(h, recurrent))) as tf.Tensor2D;
      if (returnSequences) outs.push(h);
    }
    if (!returnSequences) return h;
    return T === 1 ? tf.expandDims(h, 1) : tf.stack(outs, 1);
  });
}

/** Simple RNN (tanh) over `[B, T, I]` inputs, fused into one op on CPU backends. */
export class FusedSimpleRNN extends FusedRecurrentLayer {
  /** The name tfjs serialises this class under. */
  static className = "NNFusedSimpleRNN";
  protected readonly gates = 1;
  protected readonly fusedSequence: SequenceFn = simpleRnnSequenceFused;
  protected readonly opsSequence: SequenceFn = simpleRnnSequenceOps;
  protected readonly webgpuCell = "simple" as const;

  constructor(args: FusedSimpleRNNArgs) {
    super(args, "FusedSimpleRNN");
  }
}
tf.serialization.registerClass(FusedSimpleRNN);
