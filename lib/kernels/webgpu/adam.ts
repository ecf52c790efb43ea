/**
 * The Adam update of one weight on WebGPU in three programs (new first moment, new
 * second moment, new weight), against about fifteen with tfjs's `AdamOptimizer`; the
 * maths and its order are tfjs's, with the bias corrections read on the GPU from the
 * optimizer's β₁ᵗ and β₂ᵗ scalars (no read back to the CPU). `FastAdam`
 * (`nn/kernels/adam.ts`) calls it on the webgpu backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { adamUpdateWebGPU } from "nn/kernels/webgpu/adam.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const [w, m, v] = [tf.variable(tf.ones([3])), tf.variable(tf.zeros([3])), tf.variable(tf.zeros([3]))];
 *   const [a1, a2] = [tf.scalar(0.9), tf.scalar(0.999)];
 *   adamUpdateWebGPU(w, tf.ones([3]), m, v, a1, a2, { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
 *   console.log(await w.data()); // ≈ [0.9, 0.9, 0.9]
 * }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { runProgram, type Uniform, WGSLProgram, WORKGROUP } from "./program.ts";

/** Adam's constants. */
export interface AdamConstants {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

// Each lane updates every stride-th element from its own (grid-stride loop): far fewer
// workgroups than one lane per element, which a software adapter launches one by one.
const MOMENT = `
fn main(index : i32) {
  for (var i = index; i < uniforms.size; i += uniforms.stride) {
    let g = grad[i];
    result[i] = moment[i] * uniforms.beta + g * POWER * (1.0 - uniforms.beta);
  }
}`;

// tfjs: w + (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε) · (−lr)
const WEIGHT = `
fn main(index : i32) {
  let c1 = 1.0 - acc1[0];
  let c2 = 1.0 - acc2[0];
  for (var i = index; i < uniforms.size; i += uniforms.stride) {
    let mHat = m[i] / c1;
    let vHat = v[i] / c2;
    result[i] = mHat / (sqrt(vHat) + uniforms.epsilon) * (-uniforms.lr) + w[i];
  }
}`;

/** Elements per lane (at most) of the grid-stride loops. */
const PER_LANE = 16;

function program(key: string, inputs: string[], n: number, uniforms: string, code: string) {
  return new WGSLProgram({
    key,
    inputs,
    outputShape: [n],
    workgroups: lanes(n) / WORKGROUP,
    uniforms: uniforms + " stride : i32,",
    code,
  });
}

/** Lanes dispatched for n elements: whole workgroups, about n / PER_LANE. */
function lanes(n: number): number {
  return Math.ceil(n / (WORKGROUP * PER_LANE)) * WORKGROUP;
}

/**
 * One Adam step of `value` (assigned in place, as are the moments `m` and `v`) from
 * `gradient`, with `accBeta1 = β₁ᵗ` and `accBeta2 = β₂ᵗ` of this step.
 */
export function adamUpdateWebGPU(
  value: tf.Variable,
  gradient: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  accBeta1: tf.Tensor,
  accBeta2: tf.Tensor,
  c: AdamConstants,
): void {
  const n = value.size;
  const f = (x: number): Uniform => ({ type: "float32", data: [x] });
  const stride: Uniform = { type: "int32", data: [lanes(n)] };
  tf.tidy(() => {
    const flat = (t: tf.Tensor) => tf.reshape(t, [n]);
    const g = flat(gradient);
    const moment = (power: 1 | 2, t: tf.Tensor, beta: number) =>
      runProgram(
        program(
          `adam_m${power}`,
          ["moment", "grad"],
          n,
          "beta : f32,",
          MOMENT.replace("POWER", power === 2 ? "g" : "1.0"),
        ),
        [flat(t), g],
        [f(beta), stride],
      );
    const m2 = moment(1, m, c.beta1);
    const v2 = moment(2, v, c.beta2);
    const w2 = runProgram(
      program("adam_w", ["w", "m", "v", "acc1", "acc2"], n, "lr : f32, epsilon : f32,", WEIGHT),
      [flat(value), m2, v2, accBeta1, accBeta2],
      [f(c.learningRate), f(c.epsilon), stride],
    );
    m.assign(tf.reshape(m2, m.shape));
    v.assign(tf.reshape(v2, v.shape));
    value.assign(tf.reshape(w2, value.shape));
  });
}
