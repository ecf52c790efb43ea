/**
 * Scaled dot-product attention of all heads on WebGPU, reading queries, keys and values
 * in place from the fused projection `qkv [B·T, 3D]` and writing the heads merged,
 * `[B·T, D]` (the layout of `attentionFused` in `nn/layers/multi_head_attention.ts`).
 *
 * Forward: one program; a workgroup per (sequence, head, query) computes the scaled
 * scores, the causal mask, the softmax and the weighted sum of values. Backward: two
 * programs; the first recomputes each row's attention weights P (cheaper than keeping
 * `[B, H, T, T]`) and the softmax gradient `dS = P ∘ (dP − Σ P·dP)`, the second writes
 * dQ, dK and dV side by side into `dqkv [B·T, 3D]`. With tfjs ops the same attention is
 * about thirty programs (splits, transposes, batched matmuls, softmax and their
 * gradients).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { attentionWebGPU } from "nn/kernels/webgpu/attention.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const y = attentionWebGPU(tf.ones([2 * 5, 3 * 8]) as tf.Tensor2D, 2, 2, true);
 *   console.log(y.shape); // [10, 8]
 * }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { runProgram, type Uniform, WGSLProgram, WORKGROUP } from "./program.ts";
import { ROW_REDUCE } from "./reduce.ts";

/** Sequence lengths the programs hold a row of weights for (workgroup memory). */
export const MAX_ATTENTION_LENGTH = 2048;

/** Row (b, h, i) of this workgroup, the scores into p[j], and the row's softmax. */
function rowSoftmax(T: number, D: number, hd: number, H: number, causal: boolean): string {
  const L = 3 * D;
  return `
var<workgroup> p : array<f32, ${T}>;
fn softmaxRow(w : i32) {
  let tid = i32(localId.x);
  let i = w % ${T};
  let bh = w / ${T};
  let h = bh % ${H};
  let b = bh / ${H};
  let q = (b * ${T} + i) * ${L} + h * ${hd};
  var m = -3.402823e+38;
  for (var j = tid; j < ${T}; j += WG) {
    let k = (b * ${T} + j) * ${L} + ${D} + h * ${hd};
    var s = 0.0;
    for (var d = 0; d < ${hd}; d++) { s += qkv[q + d] * qkv[k + d]; }
    s = s * uniforms.scale;
    ${causal ? "if (j > i) { s = s - 1e9; }" : ""}
    p[j] = s;
    m = max(m, s);
  }
  let rowMaxValue = rowMax(m);
  var sum = 0.0;
  for (var j = tid; j < ${T}; j += WG) {
    let e = exp(p[j] - rowMaxValue);
    p[j] = e;
    sum += e;
  }
  let total = rowSum(sum);
  for (var j = tid; j < ${T}; j += WG) { p[j] = p[j] / total; }
  workgroupBarrier();
}`;
}

function forwardCode(T: number, D: number, hd: number, H: number, causal: boolean): string {
  return ROW_REDUCE + rowSoftmax(T, D, hd, H, causal) + `
fn main(index : i32) {
  let w = index / WG;
  softmaxRow(w);
  let tid = i32(localId.x);
  let i = w % ${T};
  let bh = w / ${T};
  let h = bh % ${H};
  let b = bh / ${H};
  for (var d = tid; d < ${hd}; d += WG) {
    var y = 0.0;
    for (var j = 0; j < ${T}; j++) { y += p[j] * qkv[(b * ${T} + j) * ${3 * D} + ${
    2 * D
  } + h * ${hd} + d]; }
    result[(b * ${T} + i) * ${D} + h * ${hd} + d] = y;
  }
}`;
}

/** Per row: [P (T) | dS (T)]. */
function softmaxGradCode(T: number, D: number, hd: number, H: number, causal: boolean): string {
  return ROW_REDUCE + rowSoftmax(T, D, hd, H, causal) + `
fn main(index : i32) {
  let w = index / WG;
  softmaxRow(w);
  let tid = i32(localId.x);
  let i = w % ${T};
  let bh = w / ${T};
  let h = bh % ${H};
  let b = bh / ${H};
  let g = (b * ${T} + i) * ${D} + h * ${hd};
  var c = 0.0;
  for (var j = tid; j < ${T}; j += WG) {
    let v = (b * ${T} + j) * ${3 * D} + ${2 * D} + h * ${hd};
    var dp = 0.0;
    for (var d = 0; d < ${hd}; d++) { dp += dy[g + d] * qkv[v + d]; }
    result[w * ${2 * T} + ${T} + j] = dp;
    c += dp * p[j];
  }
  let total = rowSum(c);
  for (var j = tid; j < ${T}; j += WG) {
    let o = w * ${2 * T};
    result[o + j] = p[j];
    result[o + ${T} + j] = p[j] * (result[o + ${T} + j] - total);
  }
}`;
}

/** dqkv[b·T + t, part·D + h·hd + d]: dQ, dK (both · scale) or dV. */
function qkvGradCode(T: number, D: number, hd: number, H: number): string {
  const L = 3 * D;
  return `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  let r = index / ${L};
  let c = index - r * ${L};
  let part = c / ${D};
  let hc = c - part * ${D};
  let h = hc / ${hd};
  let b = r / ${T};
  let t = r - b * ${T};
  let base = (b * ${H} + h) * ${T} * ${2 * T};
  var acc = 0.0;
  if (part == 0) {
    for (var j = 0; j < ${T}; j++) {
      acc += pds[base + t * ${2 * T} + ${T} + j] * qkv[(b * ${T} + j) * ${L} + ${D} + hc];
    }
    acc = acc * uniforms.scale;
  } else if (part == 1) {
    for (var i = 0; i < ${T}; i++) {
      acc += pds[base + i * ${2 * T} + ${T} + t] * qkv[(b * ${T} + i) * ${L} + hc];
    }
    acc = acc * uniforms.scale;
  } else {
    for (var i = 0; i < ${T}; i++) {
      acc += pds[base + i * ${2 * T} + t] * dy[(b * ${T} + i) * ${D} + hc];
    }
  }
  result[index] = acc;
}`;
}

/**
 * Attention of `qkv [B·T, 3D]` (queries | keys | values, heads side by side) over
 * `batch` sequences and `heads` heads, causal or not → `[B·T, D]`, differentiable.
 */
export function attentionWebGPU(
  qkv: tf.Tensor2D,
  batch: number,
  heads: number,
  causal: boolean,
): tf.Tensor2D {
  const rows = qkv.shape[0];
  const D = qkv.shape[1] / 3;
  const T = rows / batch;
  const hd = D / heads;
  if (T > MAX_ATTENTION_LENGTH) {
    throw new RangeError(
      `attentionWebGPU holds rows of at most ${MAX_ATTENTION_LENGTH} positions, got ${T}; ` +
        `use implementation: "ops".`,
    );
  }
  const key = `${T}_${D}_${hd}_${causal}`;
  const scale: Uniform[] = [{ type: "float32", data: [1 / Math.sqrt(hd)] }];
  const program = (name: string, inputs: string[], shape: number[], n: number, code: string) =>
    new WGSLProgram({
      key: `att_${name}_${key}`,
      inputs,
      outputShape: shape,
      workgroups: n,
      uniforms: "scale : f32,",
      code,
    });
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [x, save] = args as [tf.Tensor, (ts: tf.Tensor[]) => void];
      save([x]);
      const fwd = program(
        "fwd",
        ["qkv"],
        [rows, D],
        batch * heads * T,
        forwardCode(T, D, hd, heads, causal),
      );
      const value = runProgram(fwd, [x], scale);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [qkvSaved] = saved;
        const pds = runProgram(
          program(
            "dsoftmax",
            ["qkv", "dy"],
            [batch * heads * T, 2 * T],
            batch * heads * T,
            softmaxGradCode(T, D, hd, heads, causal),
          ),
          [qkvSaved, dy],
          scale,
        );
        const dqkv = runProgram(
          program(
            "dqkv",
            ["qkv", "dy", "pds"],
            [rows, 3 * D],
            Math.ceil((rows * 3 * D) / WORKGROUP),
            qkvGradCode(T, D, hd, heads),
          ),
          [qkvSaved, dy, pds],
          scale,
        );
        pds.dispose();
        return [dqkv];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (op as unknown as (a: tf.Tensor) => tf.Tensor2D)(qkv);
}
