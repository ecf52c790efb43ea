/**
 * Layer norm over the last axis on WebGPU (the maths of `layerNormFused` in
 * `nn/layers/layer_norm.ts`: biased variance, `(x − mean) / √(var + ε) · γ + β`).
 *
 * Forward: one program, a lane per row (mean, variance, output). Backward: one program
 * for dx (a lane per row, recomputing the row's statistics), one for dγ in
 * blocks of rows plus a sum, and dβ as one sum: four programs, against about fifteen
 * with tfjs ops and their gradients. With a residual `r` the rows normalised are `x + r`
 * (the post-norm Transformer's Add & Norm), summed where each program reads them: no
 * separate add program, and `r` gets `x`'s gradient. {@linkcode addLayerNormWebGPU} keeps
 * the sum too (the pre-norm block's), and adds the sum's gradient in the dx program.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { layerNormWebGPU } from "nn/kernels/webgpu/layer_norm.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const y = layerNormWebGPU(tf.tensor2d([[1, 2, 3]]), tf.ones([3]), tf.zeros([3]), 1e-5);
 *   console.log(await y.data()); // ≈ [−1.22, 0, 1.22]
 * }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { assertResidualShape } from "../io.ts";
import { customGradMulti } from "../custom_grad.ts";
import { runProgram, type Uniform, WGSLProgram, WORKGROUP } from "./program.ts";

/** Rows of each block of the dγ program. */
const BLOCK = 8;

/**
 * `xv(i)`: element i of the rows normalised (`x`, or `x + residual`), and `stats(r)`: row
 * r's mean and 1/σ. One lane per row: no workgroup memory and no barriers (a software
 * adapter pays dearly for each).
 */
function rowStats(D: number, residual: boolean): string {
  return `
fn xv(i : i32) -> f32 { return ${residual ? "x[i] + residual[i]" : "x[i]"}; }
fn stats(r : i32) -> vec2<f32> {
  var s = 0.0;
  for (var d = 0; d < ${D}; d++) { s += xv(r * ${D} + d); }
  let mean = s / f32(${D});
  var v = 0.0;
  for (var d = 0; d < ${D}; d++) {
    let c = xv(r * ${D} + d) - mean;
    v += c * c;
  }
  return vec2<f32>(mean, inverseSqrt(v / f32(${D}) + uniforms.epsilon));
}`;
}

function forwardCode(D: number, residual: boolean): string {
  return rowStats(D, residual) + `
fn main(index : i32) {
  if (index >= uniforms.rows) { return; }
  let st = stats(index);
  for (var d = 0; d < ${D}; d++) {
    let i = index * ${D} + d;
    result[i] = (xv(i) - st.x) * st.y * gamma[d] + beta[d];
  }
}`;
}

// dx = (1/σ) · (g − mean(g) − x̂ · mean(g · x̂)), g = dy · γ; plus ds where given (the
// gradient of a kept sum, addLayerNormWebGPU)
function dxCode(D: number, residual: boolean, withDs = false): string {
  return rowStats(D, residual) + `
fn main(index : i32) {
  if (index >= uniforms.rows) { return; }
  let st = stats(index);
  var a = 0.0;
  var c = 0.0;
  for (var d = 0; d < ${D}; d++) {
    let i = index * ${D} + d;
    let g = dy[i] * gamma[d];
    a += g;
    c += g * (xv(i) - st.x) * st.y;
  }
  let meanG = a / f32(${D});
  let meanGX = c / f32(${D});
  for (var d = 0; d < ${D}; d++) {
    let i = index * ${D} + d;
    let xhat = (xv(i) - st.x) * st.y;
    result[i] = st.y * (dy[i] * gamma[d] - meanG - xhat * meanGX)${withDs ? " + ds[i]" : ""};
  }
}`;
}

// partial dγ of block k (one lane): Σ over its rows of dy · x̂, the row's statistics
// computed once per row
function dgammaCode(D: number, residual: boolean): string {
  return rowStats(D, residual) + `
fn main(index : i32) {
  if (index * ${BLOCK} >= uniforms.rows) { return; }
  let o = index * ${D};
  for (var d = 0; d < ${D}; d++) { result[o + d] = 0.0; }
  let last = min((index + 1) * ${BLOCK}, uniforms.rows);
  for (var r = index * ${BLOCK}; r < last; r++) {
    let st = stats(r);
    for (var d = 0; d < ${D}; d++) {
      result[o + d] += dy[r * ${D} + d] * (xv(r * ${D} + d) - st.x) * st.y;
    }
  }
}`;
}

/** The uniforms every layer-norm program declares. */
const UNIFORMS = "epsilon : f32, rows : i32,";

/** Their values: ε and the number of rows. */
function uniformValues(epsilon: number, rows: number): Uniform[] {
  return [{ type: "float32", data: [epsilon] }, { type: "int32", data: [rows] }];
}

/**
 * The forward or the dx program, a lane per row: reads the rows normalised (`x`, or `x`
 * and `residual`), gamma, then beta (forward) or dy (and ds with `withDs`: dx).
 */
function rowProgram(
  kind: "fwd" | "dx",
  D: number,
  shape: number[],
  residual: boolean,
  withDs = false,
): WGSLProgram {
  const xs = residual ? ["x", "residual"] : ["x"];
  const rows = shape.reduce((a, b) => a * b, 1) / D;
  return new WGSLProgram({
    key: `ln_${kind}${residual ? "_res" : ""}${withDs ? "_ds" : ""}_${D}`,
    inputs: kind === "fwd"
      ? [...xs, "gamma", "beta"]
      : [...xs, "gamma", "dy", ...(withDs ? ["ds"] : [])],
    outputShape: shape,
    workgroups: Math.ceil(rows / WORKGROUP),
    uniforms: UNIFORMS,
    code: kind === "fwd" ? forwardCode(D, residual) : dxCode(D, residual, withDs),
  });
}

/**
 * dγ (partial sums over blocks of rows, then their sum) and dβ (the sum of dy's rows) from
 * the rows normalised (`[x]`, or `[x, residual]`) and dy.
 */
function gammaBetaGrads(rowsIn: tf.Tensor[], dy: tf.Tensor, uniforms: Uniform[]): tf.Tensor[] {
  const D = dy.shape[dy.rank - 1];
  const rows = dy.size / D;
  const residual = rowsIn.length === 2;
  const blocks = Math.ceil(rows / BLOCK);
  const partial = runProgram(
    new WGSLProgram({
      key: `ln_dgamma${residual ? "_res" : ""}_${D}`,
      inputs: [...(residual ? ["x", "residual"] : ["x"]), "dy"],
      outputShape: [blocks, D],
      workgroups: Math.ceil(blocks / WORKGROUP),
      uniforms: UNIFORMS,
      code: dgammaCode(D, residual),
    }),
    [...rowsIn, dy],
    uniforms,
  );
  const dgamma = tf.sum(partial, 0);
  partial.dispose();
  return [dgamma, tf.sum(tf.reshape(dy, [rows, D]), 0)];
}

/**
 * Layer norm of `x [..., D]` (or of `x + residual`, same shape) with `gamma`, `beta` `[D]`,
 * differentiable in each.
 */
export function layerNormWebGPU(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
  residual: tf.Tensor | null = null,
): tf.Tensor {
  if (residual) assertResidualShape("layerNormWebGPU", x.shape, residual.shape);
  const D = x.shape[x.rank - 1];
  const res = residual !== null;
  const uniforms = uniformValues(epsilon, x.size / D);
  const op = customGradMulti((inputs, save) => {
    const rowsIn = inputs.slice(0, inputs.length - 2); // x (and the residual)
    const [gt, bt] = inputs.slice(inputs.length - 2);
    save([...rowsIn, gt]);
    const value = runProgram(rowProgram("fwd", D, x.shape, res), [...rowsIn, gt, bt], uniforms);
    const gradFunc = ([dy]: tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
      const sx = saved.slice(0, -1);
      const gs = saved[saved.length - 1];
      const dx = runProgram(rowProgram("dx", D, x.shape, res), [...sx, gs, dy], uniforms);
      // the residual's gradient is x's: a second tensor on the same data
      return [...(res ? [dx, tf.clone(dx)] : [dx]), ...gammaBetaGrads(sx, dy, uniforms)];
    };
    return { value: [value], gradFunc };
  });
  return op(...(residual ? [x, residual] : [x]), gamma, beta)[0];
}

/**
 * The pre-norm block's Add & Norm on WebGPU: `[x + r, LN(x + r)]`, differentiable in x, r,
 * gamma and beta. The sum is one add program (it must exist as a tensor: it goes on as the
 * residual stream); in the backward pass the dx program adds the sum's own gradient, so
 * no accumulation add runs. x and r get the same gradient.
 */
export function addLayerNormWebGPU(
  x: tf.Tensor,
  residual: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
): [tf.Tensor, tf.Tensor] {
  assertResidualShape("addLayerNormWebGPU", x.shape, residual.shape);
  const D = x.shape[x.rank - 1];
  const uniforms = uniformValues(epsilon, x.size / D);
  const op = customGradMulti(([xt, rt, gt, bt], save) => {
    const sum = tf.add(xt, rt);
    save([sum, gt]);
    const y = runProgram(rowProgram("fwd", D, x.shape, false), [sum, gt, bt], uniforms);
    const gradFunc = ([ds, dy]: tf.Tensor[], [s, gs]: tf.Tensor[]): tf.Tensor[] => {
      const dx = runProgram(rowProgram("dx", D, x.shape, false, true), [s, gs, dy, ds], uniforms);
      return [dx, tf.clone(dx), ...gammaBetaGrads([s], dy, uniforms)];
    };
    return { value: [sum, y], gradFunc };
  });
  const [sum, y] = tf.tidy("addLayerNormWebGPU", () => op(x, residual, gamma, beta));
  return [sum, y];
}
