/**
 * A GRU layer whose whole sequence, forward and backward, runs as one operation.
 *
 * tfjs's `tf.layers.gru` runs about fifteen kernels per time step, so per-kernel overhead
 * dominates on CPU. Here, on the cpu and wasm backends, the forward pass is one GEMM for
 * all input projections plus two GEMMs per step for the recurrence, with the gates'
 * sigmoid and tanh in the SIMD kernels (`nn/kernels/simd/simd.ts`, whose memory holds
 * the gates until the backward pass); the backward pass (backpropagation through time) is written out by
 * hand the same way and registered with `tf.customGrad`. GEMMs go to OpenBLAS through
 * FFI where present (see `nn/kernels/gemm.ts`). On webgpu the whole time
 * loop runs as one WGSL program each way (`nn/kernels/webgpu/recurrent.ts`); with
 * `implementation: "ops"` the same maths runs as ordinary tfjs ops.
 *
 * The maths, weight layout and weight names are those of tfjs 4.22's `tf.layers.gru` with
 * `recurrentActivation: "sigmoid"` (Keras's `reset_after: false` GRU): `kernel [I, 3U]`,
 * `recurrent_kernel [U, 3U]`, `bias [3U]`, gate blocks in the order z (update), r
 * (reset), h (candidate), and the reset gate applied to the previous state BEFORE its
 * product with the candidate's recurrent kernel:
 *
 * ```
 * z = σ(x W_z + h₋ U_z + b_z)
 * r = σ(x W_r + h₋ U_r + b_r)
 * ĥ = tanh(x W_h + (r ⊙ h₋) U_h + b_h)
 * h = z ⊙ h₋ + (1 − z) ⊙ ĥ
 * ```
 *
 * so `tf.layers.gru` weights load into it with `setWeights` and give the same outputs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FusedGRU } from "nn/layers/fused_gru.ts";
 * const gru = new FusedGRU({ units: 8, seed: 0 });
 * console.log((gru.apply(tf.zeros([2, 5, 3])) as tf.Tensor).shape); // [2, 8]
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

/** Config of {@linkcode FusedGRU}. */
export type FusedGRUArgs = FusedRecurrentArgs;

/**
 * `prev[b, t] = h[b, t − 1]` (zero at t = 0) for states stored `[B, T, U]`: the left
 * operand of the recurrent-kernel gradient as one GEMM over all steps.
 */
function shiftedStates(hs: Float32Array, B: number, T: number, U: number): Float32Array {
  const prev = acquire(B * T * U);
  for (let b = 0; b < B; b++) {
    const o = b * T * U;
    prev.fill(0, o, o + U);
    prev.set(hs.subarray(o, o + (T - 1) * U), o + U);
  }
  return prev;
}

/**
 * The fused GRU as a differentiable function of (x [B,T,I], W [I,3U], U [U,3U], b [3U])
 * for the cpu and wasm backends (tfjs's gate order z, r, h; see module docs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gruSequenceFused } from "nn/layers/fused_gru.ts";
 * const y = gruSequenceFused(tf.ones([1, 4, 2]), tf.ones([2, 9]), tf.zeros([3, 9]), tf.zeros([9]), false);
 * console.log(y.shape); // [1, 3]
 * ```
 */
export function gruSequenceFused(
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
      const G = 3 * U;
      const X = readF32(xt);
      const W = readF32(wt);
      const R = readF32(ut);
      const bv = readF32(bt);
      const k = simd();
      // gates [B, T, 3U] in the SIMD kernels' memory: pre-activations, then (in place) z, r, ĥ
      // after activation; kept for the backward pass
      const [gatesB] = simdAlloc([B * T * G], gradFunc);
      const gates = gatesB.view();
      projectInputs(gates, X, W, bv, B * T, I, G); // X·W + b for all steps
      const hs = acquire(B * T * U); // h_t at [b, t]
      const rhs = acquire(B * T * U); // r_t ⊙ h_{t−1}, kept for the backward pass
      const Rh = R.subarray(2 * U); // U_h: columns 2U… of the recurrent kernel (row stride 3U)
      for (let t = 0; t < T; t++) {
        const zt = gates.subarray(t * G); // step t's rows, stride T·3U
        if (t > 0) {
          // z, r pre-activations += h_{t−1} · [U_z U_r]
          gemm(false, false, B, 2 * U, U, 1, hs.subarray((t - 1) * U), T * U, R, G, 1, zt, T * G);
        }
        k.activate_rows(gatesB.at(t * G), B, 2 * U, 4 * T * G, 0); // z, r = σ(·)
        for (let b = 0; b < B; b++) {
          const zo = (b * T + t) * G;
          const so = (b * T + t) * U;
          for (let j = 0; j < U; j++) rhs[so + j] = t > 0 ? gates[zo + U + j] * hs[so - U + j] : 0;
        }
        if (t > 0) {
          // ĥ pre-activation += (r ⊙ h_{t−1}) · U_h
          gemm(
            false,
            false,
            B,
            U,
            U,
            1,
            rhs.subarray(t * U),
            T * U,
            Rh,
            G,
            1,
            zt.subarray(2 * U),
            T * G,
          );
        }
        k.activate_rows(gatesB.at(t * G + 2 * U), B, U, 4 * T * G, 1); // ĥ = tanh(·)
        for (let b = 0; b < B; b++) {
          const zo = (b * T + t) * G;
          const so = (b * T + t) * U;
          for (let j = 0; j < U; j++) {
            const zg = gates[zo + j];
            const hPrev = t > 0 ? hs[so - U + j] : 0;
            hs[so + j] = zg * hPrev + (1 - zg) * gates[zo + 2 * U + j];
          }
        }
      }
      const value = sequenceOutput(hs, B, T, U, returnSequences);
      function gradFunc(dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] {
        if (gatesB.freed) throw new Error("FusedGRU: the backward pass ran twice.");
        const gates = gatesB.view(); // a fresh view: the memory may have grown since
        const dY = readF32(dy);
        const X = readF32(saved[0]);
        const W = readF32(saved[1]);
        const R = readF32(saved[2]);
        const Rh = R.subarray(2 * U);
        const dZ = acquire(B * T * G); // gradient of the pre-activations (every entry written)
        const dh = acquire(B * U, true); // dL/dh_t flowing back through time
        const drh = acquire(B * U); // dL/d(r ⊙ h_{t−1}) of one step
        if (!returnSequences) dh.set(dY);
        for (let t = T - 1; t >= 0; t--) {
          for (let b = 0; b < B; b++) {
            const zo = (b * T + t) * G;
            const so = (b * T + t) * U;
            for (let j = 0; j < U; j++) {
              const k = b * U + j;
              const g = returnSequences ? dh[k] + dY[so + j] : dh[k];
              const zg = gates[zo + j];
              const hh = gates[zo + 2 * U + j];
              const hPrev = t > 0 ? hs[so - U + j] : 0;
              dZ[zo + j] = g * (hPrev - hh) * zg * (1 - zg);
              dZ[zo + 2 * U + j] = g * (1 - zg) * (1 - hh * hh);
              dh[k] = g;
            }
          }
          if (t === 0) {
            for (let b = 0; b < B; b++) dZ.fill(0, b * T * G + U, b * T * G + 2 * U); // r ⊙ 0
            break;
          }
          // d(r ⊙ h_{t−1}) = dĥ_pre · U_hᵀ
          gemm(false, true, B, U, U, 1, dZ.subarray(t * G + 2 * U), T * G, Rh, G, 0, drh, U);
          for (let b = 0; b < B; b++) {
            const zo = (b * T + t) * G;
            const so = (b * T + t) * U;
            for (let j = 0; j < U; j++) {
              const k = b * U + j;
              const rg = gates[zo + U + j];
              dZ[zo + U + j] = drh[k] * hs[so - U + j] * rg * (1 - rg);
              dh[k] = dh[k] * gates[zo + j] + drh[k] * rg;
            }
          }
          // dh_{t−1} += [dz_pre dr_pre] · [U_z U_r]ᵀ
          gemm(false, true, B, U, 2 * U, 1, dZ.subarray(t * G), T * G, R, G, 1, dh, U);
        }
        const prev = shiftedStates(hs, B, T, U);
        const dR = acquire(U * G);
        // [dU_z dU_r] = Σ_t h_{t−1}ᵀ · [dz_pre dr_pre];  dU_h = Σ_t (r ⊙ h_{t−1})ᵀ · dĥ_pre
        gemm(true, false, U, 2 * U, B * T, 1, prev, U, dZ, G, 0, dR, G);
        gemm(true, false, U, U, B * T, 1, rhs, U, dZ.subarray(2 * U), G, 0, dR.subarray(2 * U), G);
        const [dX, dW] = projectionGrads(dZ, X, W, B, T, I, G);
        const db = acquire(G, true);
        for (let r = 0; r < B * T; r++) {
          const ro = r * G;
          for (let j = 0; j < G; j++) db[j] += dZ[ro + j];
        }
        release(dZ, dh, drh, prev, hs, rhs);
        gatesB.free();
        return [dX, dW, toTensor(dR, [U, G]), toTensor(db, [G])];
      }
      // no backward pass will come: free the state now
      if (!backwardMayFollow()) gatesB.free();
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  // named scope: profiles (tf.profile) show the op as "gruFused"
  return tf.tidy(
    "gruFused",
    () => (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, kernel, recurrent, bias),
  );
}

/**
 * The same GRU with ordinary tfjs ops (any backend, autodiff gradients).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gruSequenceOps } from "nn/layers/fused_gru.ts";
 * const y = gruSequenceOps(tf.ones([1, 4, 2]), tf.ones([2, 9]), tf.zeros([3, 9]), tf.zeros([9]), true);
 * console.log(y.shape); // [1, 4, 3]
 * ```
 */
export function gruSequenceOps(
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
      3 * U,
    ]);
    // T × [B, 3U]; tfjs's Unpack gradient throws for one output, so T = 1 is a reshape
    const steps = T === 1 ? [tf.reshape(xw, [B, 3 * U])] : tf.unstack(xw, 1);
    const [rzr, rh] = tf.split(recurrent, [2 * U, U], 1);
    let h: tf.Tensor2D = tf.zeros([B, U]);
    const outs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const [xz, xr, xh] = tf.split(steps[t], 3, 1);
      if (t === 0) {
        const z = tf.sigmoid(xz);
        h = tf.mul(tf.sub(1, z), tf.tanh(xh));
      } else {
        const [hz, hr] = tf.split(tf.matMul(h, rzr), 2, 1);
        const z = tf.sigmoid(tf.add(xz, hz));
        const r = tf.sigmoid(tf.add(xr, hr));
        const hh = tf.tanh(tf.add(xh, tf.matMul(tf.mul(r, h), rh)));
        h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hh));
      }
      if (returnSequences) outs.push(h);
    }
    if (!returnSequences) return h;
    return T === 1 ? tf.expandDims(h, 1) : tf.stack(outs, 1);
  });
}

/** GRU over `[B, T, I]` inputs, fused into one op on CPU backends (see module docs). */
export class FusedGRU extends FusedRecurrentLayer {
  /** The name tfjs serialises this class under. */
  static className = "NNFusedGRU";
  protected readonly gates = 3;
  protected readonly fusedSequence: SequenceFn = gruSequenceFused;
  protected readonly opsSequence: SequenceFn = gruSequenceOps;
  protected readonly webgpuCell = "gru" as const;

  constructor(args: FusedGRUArgs) {
    super(args, "FusedGRU");
  }
}
tf.serialization.registerClass(FusedGRU);
