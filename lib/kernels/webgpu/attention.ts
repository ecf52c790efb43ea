/**
 * Scaled dot-product attention of all heads on WebGPU, reading queries, keys and values
 * in place from the fused projection `qkv [B·T, 3D]` and writing the heads merged,
 * `[B·T, D]` (the layout of `attentionFused` in `nn/layers/multi_head_attention.ts`).
 *
 * Forward: one program; a lane per (sequence, head, query) computes the scaled scores,
 * the causal mask and the key padding mask (an optional `keyMask [B, T]`, 1 = token,
 * 0 = padding: −1e9 added to a padded key's score, as in the layer's ops path), an
 * online softmax and the weighted sum of values, with no workgroup memory or barrier. Backward: two programs; the first recomputes each row's attention
 * weights P (cheaper than keeping
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

/** The longest sequence the programs take (each lane loops over a row of this length). */
export const MAX_ATTENTION_LENGTH = 65536;

/** `n` statements, `f(d)` for d = 0 … n − 1 (unrolled: per-lane registers, no scratch). */
const unroll = (n: number, f: (d: number) => string) =>
  Array.from({ length: n }, (_, d) => f(d)).join("\n    ");

/**
 * One lane per row (b, h, i) of the scores: no workgroup memory, no barriers (a
 * software adapter pays dearly for each). `rowStart` decodes the row, keeps the query in
 * registers q0 … and runs an online softmax over the keys: the row's max `m` and
 * Σ exp(s − m) `sum`; `score(j)` recomputes one scaled, masked score.
 */
function rowStart(T: number, D: number, hd: number, H: number): string {
  const L = 3 * D;
  return `
  if (index >= uniforms.nrows) { return; }
  let i = index % ${T};
  let bh = index / ${T};
  let h = bh % ${H};
  let b = bh / ${H};
  let qo = (b * ${T} + i) * ${L} + h * ${hd};
  ${unroll(hd, (d) => `let q${d} = qkv[qo + ${d}];`)}
  var m = -3.402823e+38;
  var sum = 0.0;
  for (var j = 0; j < ${T}; j++) {
    let s = score(b, h, i, j, ${unroll(hd, (d) => `q${d}`).replaceAll("\n    ", ", ")});
    let m2 = max(m, s);
    sum = sum * exp(m - m2) + exp(s - m2);
    m = m2;
  }`;
}

function scoreFn(T: number, D: number, hd: number, causal: boolean, masked: boolean): string {
  const args = unroll(hd, (d) => `q${d} : f32`).replaceAll("\n    ", ", ");
  return `
fn score(b : i32, h : i32, i : i32, j : i32, ${args}) -> f32 {
  let k = (b * ${T} + j) * ${3 * D} + ${D} + h * ${hd};
  var s = (${
    unroll(hd, (d) => `q${d} * qkv[k + ${d}]`).replaceAll("\n    ", " + ")
  }) * uniforms.scale;
  ${masked ? `s = s + (1.0 - keymask[b * ${T} + j]) * -1e9;` : ""}
  ${causal ? "if (j > i) { return s - 1e9; }" : ""}
  return s;
}`;
}

function forwardCode(
  T: number,
  D: number,
  hd: number,
  H: number,
  causal: boolean,
  masked: boolean,
): string {
  const qs = unroll(hd, (d) => `q${d}`).replaceAll("\n    ", ", ");
  return scoreFn(T, D, hd, causal, masked) + `
fn main(index : i32) {` + rowStart(T, D, hd, H) + `
  ${unroll(hd, (d) => `var y${d} = 0.0;`)}
  for (var j = 0; j < ${T}; j++) {
    let p = exp(score(b, h, i, j, ${qs}) - m) / sum;
    let v = (b * ${T} + j) * ${3 * D} + ${2 * D} + h * ${hd};
    ${unroll(hd, (d) => `y${d} += p * qkv[v + ${d}];`)}
  }
  let o = (b * ${T} + i) * ${D} + h * ${hd};
  ${unroll(hd, (d) => `result[o + ${d}] = y${d};`)}
}`;
}

/** Per row: [P (T) | dS (T)], dS = P ∘ (dP − Σ P·dP), dP = dY · Vᵀ. */
function softmaxGradCode(
  T: number,
  D: number,
  hd: number,
  H: number,
  causal: boolean,
  masked: boolean,
): string {
  const qs = unroll(hd, (d) => `q${d}`).replaceAll("\n    ", ", ");
  return scoreFn(T, D, hd, causal, masked) + `
fn main(index : i32) {` + rowStart(T, D, hd, H) + `
  let g = (b * ${T} + i) * ${D} + h * ${hd};
  ${unroll(hd, (d) => `let g${d} = dy[g + ${d}];`)}
  let o = index * ${2 * T};
  var c = 0.0;
  for (var j = 0; j < ${T}; j++) {
    let p = exp(score(b, h, i, j, ${qs}) - m) / sum;
    let v = (b * ${T} + j) * ${3 * D} + ${2 * D} + h * ${hd};
    let dp = ${unroll(hd, (d) => `g${d} * qkv[v + ${d}]`).replaceAll("\n    ", " + ")};
    result[o + j] = p;
    result[o + ${T} + j] = dp;
    c += p * dp;
  }
  for (var j = 0; j < ${T}; j++) {
    result[o + ${T} + j] = result[o + j] * (result[o + ${T} + j] - c);
  }
}`;
}

/**
 * dqkv: one lane per (b, t, part, h) writes that head's hd values of dQ (part 0), dK
 * (part 1, both · scale) or dV (part 2), each weight of the row read once.
 */
function qkvGradCode(T: number, D: number, hd: number, H: number): string {
  const L = 3 * D;
  return `
fn main(index : i32) {
  if (index >= uniforms.nrows * 3) { return; }
  let h = index % ${H};
  let part = (index / ${H}) % 3;
  let r = index / ${3 * H};
  let b = r / ${T};
  let t = r - b * ${T};
  let base = (b * ${H} + h) * ${T} * ${2 * T};
  ${unroll(hd, (d) => `var a${d} = 0.0;`)}
  var f = 1.0;
  if (part == 0) {
    for (var j = 0; j < ${T}; j++) {
      let w = pds[base + t * ${2 * T} + ${T} + j];
      let k = (b * ${T} + j) * ${L} + ${D} + h * ${hd};
      ${unroll(hd, (d) => `a${d} += w * qkv[k + ${d}];`)}
    }
    f = uniforms.scale;
  } else if (part == 1) {
    for (var i = 0; i < ${T}; i++) {
      let w = pds[base + i * ${2 * T} + ${T} + t];
      let q = (b * ${T} + i) * ${L} + h * ${hd};
      ${unroll(hd, (d) => `a${d} += w * qkv[q + ${d}];`)}
    }
    f = uniforms.scale;
  } else {
    for (var i = 0; i < ${T}; i++) {
      let w = pds[base + i * ${2 * T} + t];
      let g = (b * ${T} + i) * ${D} + h * ${hd};
      ${unroll(hd, (d) => `a${d} += w * dy[g + ${d}];`)}
    }
  }
  let o = r * ${L} + part * ${D} + h * ${hd};
  ${unroll(hd, (d) => `result[o + ${d}] = a${d} * f;`)}
}`;
}

/**
 * Attention of `qkv [B·T, 3D]` (queries | keys | values, heads side by side) over
 * `batch` sequences and `heads` heads, causal or not, with an optional key padding mask
 * `keyMask [B, T]` (float32, 1 = token, 0 = padding; its gradient is zero) → `[B·T, D]`,
 * differentiable.
 */
export function attentionWebGPU(
  qkv: tf.Tensor2D,
  batch: number,
  heads: number,
  causal: boolean,
  keyMask: tf.Tensor | null = null,
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
  const masked = keyMask !== null;
  const key = `${T}_${D}_${hd}_${causal}${masked ? "_masked" : ""}`;
  const scale: Uniform[] = [
    { type: "float32", data: [1 / Math.sqrt(hd)] },
    { type: "int32", data: [batch * heads * T] },
  ];
  const rowGroups = Math.ceil((batch * heads * T) / WORKGROUP);
  const program = (name: string, inputs: string[], shape: number[], n: number, code: string) =>
    new WGSLProgram({
      key: `att_${name}_${key}`,
      inputs,
      outputShape: shape,
      workgroups: n,
      uniforms: "scale : f32, nrows : i32,",
      code,
    });
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const x = args[0] as tf.Tensor;
      const mask = masked ? [args[1] as tf.Tensor] : [];
      (args[masked ? 2 : 1] as (ts: tf.Tensor[]) => void)([x, ...mask]);
      const maskName = masked ? ["keymask"] : [];
      const fwd = program(
        "fwd",
        ["qkv", ...maskName],
        [rows, D],
        rowGroups,
        forwardCode(T, D, hd, heads, causal, masked),
      );
      const value = runProgram(fwd, [x, ...mask], scale);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [qkvSaved, ...maskSaved] = saved;
        const pds = runProgram(
          program(
            "dsoftmax",
            ["qkv", "dy", ...maskName],
            [batch * heads * T, 2 * T],
            rowGroups,
            softmaxGradCode(T, D, hd, heads, causal, masked),
          ),
          [qkvSaved, dy, ...maskSaved],
          scale,
        );
        const dqkv = runProgram(
          program(
            "dqkv",
            ["qkv", "dy", "pds"],
            [rows, 3 * D],
            Math.ceil((rows * 3 * heads) / WORKGROUP),
            qkvGradCode(T, D, hd, heads),
          ),
          [qkvSaved, dy, pds],
          scale,
        );
        pds.dispose();
        return masked ? [dqkv, tf.zerosLike(maskSaved[0])] : [dqkv];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const apply = op as unknown as (...a: tf.Tensor[]) => tf.Tensor2D;
  return keyMask ? apply(qkv, keyMask) : apply(qkv);
}
