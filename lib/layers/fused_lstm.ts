/**
 * An LSTM layer whose whole sequence, forward and backward, runs as one operation.
 *
 * tfjs's `tf.layers.lstm` runs a dozen kernels per time step (about 14 000 kernel
 * calls per training batch at T = 100), so per-kernel overhead dominates on CPU. Here,
 * on the cpu and wasm backends, the forward pass is one GEMM for all input projections
 * plus one GEMM per step for the recurrence, with the gate maths in a tight loop; the
 * backward pass (backpropagation through time) is written out by hand the same way,
 * registered with `tf.customGrad`. GEMMs go to OpenBLAS through FFI where present (see
 * `nn/kernels/gemm.ts`). On webgpu the whole time
 * loop runs as one WGSL program each way (`nn/kernels/webgpu/recurrent.ts`); with
 * `implementation: "ops"` the same maths runs as ordinary tfjs ops, so the layer trains everywhere.
 *
 * Weights and gate order are Keras's (`kernel [I, 4U]`, `recurrent_kernel [U, 4U]`,
 * `bias [4U]`; gates i, f, c, o), so `tf.layers.lstm` weights load into it; the gate
 * activation is the logistic sigmoid (PyTorch's, and Keras's since 2.0), the forget
 * gate bias starts at 1.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FusedLSTM } from "nn/layers/fused_lstm.ts";
 * const lstm = new FusedLSTM({ units: 8, seed: 0 });
 * console.log((lstm.apply(tf.zeros([2, 5, 3])) as tf.Tensor).shape); // [2, 8]
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
import { acquire, readF32, toTensor } from "../kernels/memory.ts";
import { backwardMayFollow, simd, simdAlloc } from "../kernels/simd/simd.ts";

/** Config of {@linkcode FusedLSTM}. */
export type FusedLSTMArgs = FusedRecurrentArgs;

/**
 * The fused LSTM as a differentiable function of (x [B,T,I], W [I,4U], U [U,4U], b [4U])
 * for the cpu and wasm backends. The gate maths runs in the SIMD kernels
 * (`nn/kernels/simd/simd.ts`), whose memory also holds the state kept for the backward
 * pass: it is freed by the backward pass, at once when no gradient is being taped, or
 * when the tape is dropped unused.
 */
export function lstmSequenceFused(
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
      const G = 4 * U;
      const k = simd();
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        if (state.some((s) => s.freed)) {
          throw new Error("FusedLSTM: the backward pass ran twice or after its state was freed.");
        }
        // dZ: gradient of the pre-activations (every entry written); dh, dc: carried back in time
        const [dZb, dhb, dcb, dyb] = simdAlloc([
          B * T * G,
          B * U,
          B * U,
          returnSequences ? B * T * U : 0,
        ]);
        const dZ = dZb.view();
        const dh = dhb.view();
        const dc = dcb.view();
        dc.fill(0);
        if (returnSequences) {
          dh.fill(0);
          dyb.view().set(readF32(dy));
        } else dh.set(readF32(dy));
        const X = readF32(saved[0]);
        const W = readF32(saved[1]);
        const R = readF32(saved[2]);
        for (let t = T - 1; t >= 0; t--) {
          k.lstm_backward_step(
            gatesB.at(t * G),
            dZb.at(t * G),
            4 * T * G,
            t > 0 ? csB.at((t - 1) * U) : 0,
            tcsB.at(t * U),
            4 * T * U,
            dyb.at(t * U),
            dhb.offset,
            dcb.offset,
            B,
            U,
            t === 0 ? 1 : 0,
            returnSequences ? 1 : 0,
          );
          // dh_{t-1} = dZ_t · Uᵀ
          if (t > 0) gemm(false, true, B, U, G, 1, dZ.subarray(t * G), T * G, R, G, 0, dh, U);
        }
        const hs = hsB.view();
        const dR = acquire(U * G, true);
        for (let t = 1; t < T; t++) {
          // dU += h_{t-1}ᵀ · dZ_t
          gemm(
            true,
            false,
            U,
            G,
            B,
            1,
            hs.subarray((t - 1) * U),
            T * U,
            dZ.subarray(t * G),
            T * G,
            1,
            dR,
            G,
          );
        }
        const [dX, dW] = projectionGrads(dZ, X, W, B, T, I, G);
        // db = 1ᵀ · dZ (the ones come from the dh block, no longer needed)
        const ones = dh.subarray(0, Math.min(B * U, B * T));
        const db = acquire(G, true);
        for (let r = 0; r < B * T; r += ones.length) {
          const n = Math.min(ones.length, B * T - r);
          ones.fill(1);
          gemm(false, false, 1, G, n, 1, ones, n, dZ.subarray(r * G), G, 1, db, G);
        }
        for (const s of [...state, dZb, dhb, dcb, dyb]) s.free();
        return [dX, dW, toTensor(dR, [U, G]), toTensor(db, [G])];
      };
      // gates [B, T, 4U]: pre-activations, then (in place) i, f, g, o after activation;
      // h_t, c_t and tanh(c_t) at [b, t]
      const state = simdAlloc([B * T * G, B * T * U, B * T * U, B * T * U], gradFunc);
      const [gatesB, hsB, csB, tcsB] = state;
      const gates = gatesB.view();
      const hs = hsB.view();
      const X = readF32(xt);
      const W = readF32(wt);
      const R = readF32(ut);
      projectInputs(gates, X, W, readF32(bt), B * T, I, G); // X·W + b for all steps
      for (let t = 0; t < T; t++) {
        if (t > 0) {
          const z = gates.subarray(t * G);
          gemm(false, false, B, G, U, 1, hs.subarray((t - 1) * U), T * U, R, G, 1, z, T * G);
        }
        k.lstm_forward_step(
          gatesB.at(t * G),
          4 * T * G,
          t > 0 ? csB.at((t - 1) * U) : 0,
          csB.at(t * U),
          tcsB.at(t * U),
          hsB.at(t * U),
          4 * T * U,
          B,
          U,
          t === 0 ? 1 : 0,
        );
      }
      const value = sequenceOutput(hs, B, T, U, returnSequences);
      // no backward pass will come: free the state now
      if (!backwardMayFollow()) { for (const s of state) s.free(); }
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  // named scope: profiles (tf.profile) show the op as "lstmFused"
  return tf.tidy(
    "lstmFused",
    () => (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, kernel, recurrent, bias),
  );
}

/** The same LSTM with ordinary tfjs ops (any backend, autodiff gradients). */
export function lstmSequenceOps(
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
      4 * U,
    ]);
    // T × [B, 4U]; tf.unstack of one step has no gradient in tfjs 4.22, so reshape then
    const steps = T === 1 ? [tf.reshape(xw, [B, 4 * U])] : tf.unstack(xw, 1);
    let h: tf.Tensor2D = tf.zeros([B, U]);
    let c: tf.Tensor2D = tf.zeros([B, U]);
    const outs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const z = t === 0 ? steps[t] : tf.add(steps[t], tf.matMul(h, recurrent)); // [B, 4U]
      const [zi, zf, zg, zo] = tf.split(z, 4, 1);
      const i = tf.sigmoid(zi);
      const f = tf.sigmoid(zf);
      const g = tf.tanh(zg);
      const o = tf.sigmoid(zo);
      c = tf.add(tf.mul(f, c), tf.mul(i, g));
      h = tf.mul(o, tf.tanh(c));
      if (returnSequences) outs.push(h);
    }
    return returnSequences ? tf.stack(outs, 1) : h;
  });
}

/** LSTM over `[B, T, I]` inputs, fused into one op on CPU backends (see module docs). */
export class FusedLSTM extends FusedRecurrentLayer {
  /** The name tfjs serialises this class under. */
  static className = "NNFusedLSTM";
  protected readonly gates = 4;
  protected readonly fusedSequence: SequenceFn = lstmSequenceFused;
  protected readonly opsSequence: SequenceFn = lstmSequenceOps;
  protected readonly webgpuCell = "lstm" as const;

  constructor(args: FusedLSTMArgs) {
    super(args, "FusedLSTM");
  }

  /** Forget-gate bias 1, the others 0 (Gers et al. 2000; Jozefowicz et al. 2015). */
  protected override biasInitializer(): tf.serialization.Serializable {
    const u = this.units;
    return {
      apply: (s: number[]) =>
        tf.tidy(() => tf.concat([tf.zeros([u]), tf.ones([u]), tf.zeros([2 * u])]).reshape(s)),
    } as unknown as tf.serialization.Serializable;
  }
}
tf.serialization.registerClass(FusedLSTM);
