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

/**
 * dγ (partial sums over blocks of rows, then their sum) and dβ (the sum of dy's rows) from
 * the rows normalised (`x`, or `[x, residual]` with `residual`) and dy.
 */
function gammaBetaGrads(
  rowsIn: tf.Tensor | tf.Tensor[],
  dy: tf.Tensor,
  D: number,
  rows: number,
  residual: boolean,
  uniforms: Uniform[],
): [tf.Tensor, tf.Tensor] {
  const blocks = Math.ceil(rows / BLOCK);
  const partial = runProgram(
    new WGSLProgram({
      key: `ln_dgamma${residual ? "_res" : ""}_${D}`,
      inputs: [...(residual ? ["x", "residual"] : ["x"]), "dy"],
      outputShape: [blocks, D],
      workgroups: Math.ceil(blocks / WORKGROUP),
      uniforms: "epsilon : f32, rows : i32,",
      code: dgammaCode(D, residual),
    }),
    [...(Array.isArray(rowsIn) ? rowsIn : [rowsIn]), dy],
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
  const rows = x.size / D;
  const res = residual !== null;
  const tag = res ? "_res" : "";
  const xs = res ? ["x", "residual"] : ["x"];
  const eps: Uniform = { type: "float32", data: [epsilon] };
  const nrows: Uniform = { type: "int32", data: [rows] };
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const tensors = args.slice(0, -1) as tf.Tensor[];
      const save = args[args.length - 1] as (ts: tf.Tensor[]) => void;
      const rows_ = tensors.slice(0, xs.length); // x (and the residual)
      const [gt, bt] = tensors.slice(xs.length);
      save([...rows_, gt]);
      const fwd = new WGSLProgram({
        key: `ln_fwd${tag}_${D}`,
        inputs: [...xs, "gamma", "beta"],
        outputShape: rows_[0].shape,
        workgroups: Math.ceil(rows / WORKGROUP),
        uniforms: "epsilon : f32, rows : i32,",
        code: forwardCode(D, res),
      });
      const value = runProgram(fwd, [...rows_, gt, bt], [eps, nrows]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const sx = saved.slice(0, xs.length);
        const gs = saved[xs.length];
        const dx = runProgram(
          new WGSLProgram({
            key: `ln_dx${tag}_${D}`,
            inputs: [...xs, "gamma", "dy"],
            outputShape: sx[0].shape,
            workgroups: Math.ceil(rows / WORKGROUP),
            uniforms: "epsilon : f32, rows : i32,",
            code: dxCode(D, res),
          }),
          [...sx, gs, dy],
          [eps, nrows],
        );
        const [dgamma, dbeta] = gammaBetaGrads(sx, dy, D, rows, res, [eps, nrows]);
        // the residual's gradient is x's: a second tensor on the same data
        const dxs = res ? [dx, tf.clone(dx)] : [dx];
        return [...dxs, dgamma, dbeta];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(
    ...(residual ? [x, residual] : [x]),
    gamma,
    beta,
  );
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
  const rows = x.size / D;
  const eps: Uniform = { type: "float32", data: [epsilon] };
  const nrows: Uniform = { type: "int32", data: [rows] };
  const op = customGradMulti(([xt, rt, gt, bt], save) => {
    const sum = tf.add(xt, rt);
    save([sum, gt]);
    const fwd = new WGSLProgram({
      key: `ln_fwd_${D}`,
      inputs: ["x", "gamma", "beta"],
      outputShape: sum.shape,
      workgroups: Math.ceil(rows / WORKGROUP),
      uniforms: "epsilon : f32, rows : i32,",
      code: forwardCode(D, false),
    });
    const y = runProgram(fwd, [sum, gt, bt], [eps, nrows]);
    const gradFunc = ([ds, dy]: tf.Tensor[], [s, gs]: tf.Tensor[]): tf.Tensor[] => {
      const dx = runProgram(
        new WGSLProgram({
          key: `ln_dx_ds_${D}`,
          inputs: ["x", "gamma", "dy", "ds"],
          outputShape: s.shape,
          workgroups: Math.ceil(rows / WORKGROUP),
          uniforms: "epsilon : f32, rows : i32,",
          code: dxCode(D, false, true),
        }),
        [s, gs, dy, ds],
        [eps, nrows],
      );
      const [dgamma, dbeta] = gammaBetaGrads(s, dy, D, rows, false, [eps, nrows]);
      return [dx, tf.clone(dx), dgamma, dbeta];
    };
    return { value: [sum, y], gradFunc };
  });
  const [sum, y] = tf.tidy("addLayerNormWebGPU", () => op(x, residual, gamma, beta));
  return [sum, y];
}
