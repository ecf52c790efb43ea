/**
 * An LSTM layer whose whole sequence, forward and backward, runs as one operation.
 *
 * tfjs's `tf.layers.lstm` runs a dozen kernels per time step (about 14 000 kernel
 * calls per training batch at T = 100), so per-kernel overhead dominates on CPU. Here,
 * on the cpu and wasm backends, the forward pass is one GEMM for all input projections
 * plus one GEMM per step for the recurrence, with the gate maths in a tight loop; the
 * backward pass (backpropagation through time) is written out by hand the same way,
 * registered with `tf.customGrad`. GEMMs go to OpenBLAS through FFI where present (see
 * `nn/kernels/gemm.ts`). On webgpu (and with `implementation: "ops"`) the same maths
 * runs as ordinary tfjs ops, so the layer trains everywhere.
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
  type SequenceFn,
} from "./fused_recurrent.ts";
import { acquire, readF32, release, toTensor } from "../kernels/memory.ts";

/** Config of {@linkcode FusedLSTM}. */
export type FusedLSTMArgs = FusedRecurrentArgs;

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
/** tanh through one `exp` (about 1.5× faster than `Math.tanh` in V8). */
const tanh = (v: number) => {
  const e = Math.exp(-2 * Math.abs(v));
  const t = (1 - e) / (1 + e);
  return v < 0 ? -t : t;
};

/**
 * The fused LSTM as a differentiable function of (x [B,T,I], W [I,4U], U [U,4U], b [4U])
 * for the cpu and wasm backends.
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
      const X = readF32(xt);
      const W = readF32(wt);
      const R = readF32(ut);
      const bv = readF32(bt);
      // gates [B, T, 4U]: pre-activations, then (in place) i, f, g, o after activation
      const gates = acquire(B * T * G);
      for (let r = 0; r < B * T; r++) gates.set(bv, r * G);
      gemm(false, false, B * T, G, I, 1, X, I, W, G, 1, gates, G); // X·W + b for all steps
      const hs = acquire(B * T * U); // h_t at [b, t]
      const cs = acquire(B * T * U); // c_t at [b, t]
      const tcs = acquire(B * T * U); // tanh(c_t), kept for the backward pass
      for (let t = 0; t < T; t++) {
        const z = gates.subarray(t * G);
        if (t > 0) {
          gemm(false, false, B, G, U, 1, hs.subarray((t - 1) * U), T * U, R, G, 1, z, T * G);
        }
        for (let b = 0; b < B; b++) {
          const zo = (b * T + t) * G;
          const so = (b * T + t) * U;
          const cPrev = t > 0 ? so - U : -1;
          for (let j = 0; j < U; j++) {
            const i = sigmoid(gates[zo + j]);
            const f = sigmoid(gates[zo + U + j]);
            const g = tanh(gates[zo + 2 * U + j]);
            const o = sigmoid(gates[zo + 3 * U + j]);
            gates[zo + j] = i;
            gates[zo + U + j] = f;
            gates[zo + 2 * U + j] = g;
            gates[zo + 3 * U + j] = o;
            const c = (cPrev >= 0 ? f * cs[cPrev + j] : 0) + i * g;
            const tc = tanh(c);
            cs[so + j] = c;
            tcs[so + j] = tc;
            hs[so + j] = o * tc;
          }
        }
      }
      let value: tf.Tensor;
      if (returnSequences) value = tf.tensor3d(hs.slice(), [B, T, U]);
      else {
        const last = acquire(B * U);
        for (let b = 0; b < B; b++) {
          last.set(
            hs.subarray((b * T + T - 1) * U, (b * T + T) * U),
            b * U,
          );
        }
        value = toTensor(last, [B, U]);
      }
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const dY = readF32(dy);
        const X = readF32(saved[0]);
        const W = readF32(saved[1]);
        const R = readF32(saved[2]);
        const dZ = acquire(B * T * G); // gradient of the pre-activations (every entry written)
        const dh = acquire(B * U, true); // dL/dh_t flowing back through time
        const dc = acquire(B * U, true);
        if (!returnSequences) dh.set(dY);
        for (let t = T - 1; t >= 0; t--) {
          for (let b = 0; b < B; b++) {
            const zo = (b * T + t) * G;
            const so = (b * T + t) * U;
            for (let j = 0; j < U; j++) {
              const k = b * U + j;
              const h = returnSequences ? dh[k] + dY[so + j] : dh[k];
              const i = gates[zo + j];
              const f = gates[zo + U + j];
              const g = gates[zo + 2 * U + j];
              const o = gates[zo + 3 * U + j];
              const tc = tcs[so + j];
              const dcT = dc[k] + h * o * (1 - tc * tc);
              const cPrev = t > 0 ? cs[so - U + j] : 0;
              dZ[zo + j] = dcT * g * i * (1 - i);
              dZ[zo + U + j] = dcT * cPrev * f * (1 - f);
              dZ[zo + 2 * U + j] = dcT * i * (1 - g * g);
              dZ[zo + 3 * U + j] = h * tc * o * (1 - o);
              dc[k] = dcT * f;
            }
          }
          // dh_{t-1} = dZ_t · Uᵀ
          if (t > 0) gemm(false, true, B, U, G, 1, dZ.subarray(t * G), T * G, R, G, 0, dh, U);
        }
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
        const dX = acquire(B * T * I);
        gemm(false, true, B * T, I, G, 1, dZ, G, W, G, 0, dX, I);
        const dW = acquire(I * G);
        gemm(true, false, I, G, B * T, 1, X, I, dZ, G, 0, dW, G);
        const db = acquire(G, true);
        for (let r = 0; r < B * T; r++) {
          const ro = r * G;
          for (let j = 0; j < G; j++) db[j] += dZ[ro + j];
        }
        release(dZ, dh, dc, gates, hs, cs, tcs);
        return [
          toTensor(dX, [B, T, I]),
          toTensor(dW, [I, G]),
          toTensor(dR, [U, G]),
          toTensor(db, [G]),
        ];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, kernel, recurrent, bias);
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
