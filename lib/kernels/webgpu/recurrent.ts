/**
 * The recurrent cells' whole time loop on WebGPU: one program runs every step of the
 * forward pass, one runs backpropagation through time, for the LSTM, the GRU and the
 * simple (tanh) RNN of `nn/layers/fused_*.ts` (same maths, weights and gate order).
 *
 * One workgroup owns up to eight sequences of the batch and loops over time: each step
 * it multiplies the previous states (in workgroup memory) by the recurrent kernel, applies
 * the gates, and writes the step's gates and states to one packed output row (kept for
 * the backward pass). The input projection `X·W + b` of all steps is one matmul before
 * the loop; after BPTT, `dX`, `dW` and `db` are two matmuls and a sum, and the
 * recurrent kernel's gradient is one program. A training step of a recurrent layer is
 * thus about ten GPU programs, against several per time step with tfjs ops.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { recurrentSequenceWebGPU } from "nn/kernels/webgpu/recurrent.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const [x, w, r, b] = [tf.ones([2, 3, 4]), tf.ones([4, 8]), tf.ones([2, 8]), tf.zeros([8])];
 *   const h = recurrentSequenceWebGPU("lstm", x as tf.Tensor3D, w as tf.Tensor2D,
 *     r as tf.Tensor2D, b as tf.Tensor1D, false);
 *   console.log(h.shape); // [2, 2]
 * }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { runProgram, WGSLProgram, WORKGROUP } from "./program.ts";

/** The recurrent cells with a WebGPU time loop. */
export type Cell = "lstm" | "gru" | "simple";

const GATES: Record<Cell, number> = { lstm: 4, gru: 3, simple: 1 };
/** Floats per (sequence, step) row of the packed state: LSTM i f g o c h, GRU z r ĥ h, h. */
const STATE: Record<Cell, number> = { lstm: 6, gru: 4, simple: 1 };
/** Where h sits in a state row, in units of U. */
const H_AT: Record<Cell, number> = { lstm: 5, gru: 3, simple: 0 };

/** Workgroup memory (bytes) the loops need per unit and sequence, forward and backward. */
const SHARED_PER_UNIT: Record<Cell, number> = { lstm: 4 * 6, gru: 4 * 5, simple: 4 * 2 };
/** WebGPU's guaranteed workgroup memory. */
const SHARED_BYTES = 16384;

/** Whether `units` fits the loops' workgroup memory (16 KiB, WebGPU's guaranteed minimum). */
export function recurrentFitsWebGPU(cell: Cell, units: number): boolean {
  return SHARED_PER_UNIT[cell] * units <= SHARED_BYTES;
}

let byUnit = true;

/**
 * For tests and comparisons: `false` runs every cell's forward pass in the general loop
 * (gates in workgroup memory) instead of the lane-per-unit loops. Returns the old setting.
 * @internal
 */
export function setRecurrentByUnit(on: boolean): boolean {
  const was = byUnit;
  byUnit = on;
  return was;
}

/** Most sequences per workgroup. */
const MAX_TILE = 8;
/**
 * Sequences per workgroup: each recurrent-kernel value read serves that many (≤ 8; 8
 * rather than 4 made the LSTM reference model's training step 1.4× faster on llvmpipe,
 * where the loop is bound by those reads; unmeasured on a real GPU).
 */
function tile(cell: Cell, U: number, B: number): number {
  let nb = MAX_TILE;
  while (nb > 1 && (nb > B || nb * SHARED_PER_UNIT[cell] * U > SHARED_BYTES)) nb >>= 1;
  return nb;
}

/**
 * Code shared by both loops: workgroup `index / WG` owns sequences b0 … b0 + NB − 1
 * (rows past B compute on a clamped copy and write nothing); `each(body)` runs `body`
 * for every (sequence n, unit j) pair, with `b`, `row` (that sequence's row at step t),
 * `o` (its state row's offset) and `q` (its gate row's offset) defined.
 */
function frame(U: number, G: number, S: number, NB: number) {
  // one statement per sequence of the tile, unrolled (private arrays indexed in a loop
  // become scratch memory on some compilers)
  const rows = (f: (n: number) => string) => Array.from({ length: NB }, (_, n) => f(n)).join(" ");
  const each = (body: string) => `
    for (var e = tid; e < ${NB * U}; e += WG) {
      let n = e / ${U};
      let j = e - n * ${U};
      let b = b0 + n;
      let row = min(b, B - 1) * T + t;
      let o = row * ${S};
      let q = row * ${G};
      let live = b < B;
      ${body}
    }`;
  // dst[n·G + g] ← act(init + Σ_k src[n·U + k] · mat[k·stride + g]) for g in [from, to)
  const matvec = (
    dst: string,
    init: (n: string) => string,
    src: string,
    mat: string,
    from: number,
    to: number,
    stride: number,
    act: string,
  ) => `
    for (var g = ${from} + tid; g < ${to}; g += WG) {
      ${rows((n) => `var acc${n} = ${init(`${n}`)};`)}
      for (var k = 0; k < ${U}; k++) {
        let w = ${mat}[k * ${stride} + g];
        ${rows((n) => `acc${n} += ${src}[${n * U} + k] * w;`)}
      }
      ${rows((n) => `${dst}[${n * G} + g] = ${act}(acc${n});`)}
    }`;
  const start = (init: string) => `
fn main(index : i32) {
  let b0 = (index / WG) * ${NB};
  let tid = i32(localId.x);
  let T = uniforms.T;
  let B = uniforms.B;
  for (var e = tid; e < ${NB * U}; e += WG) { ${init} }
  workgroupBarrier();`;
  return { each, matvec, start, rows };
}

/**
 * The LSTM forward loop where every unit has a lane of its own (`U ≤ WG`): lane `j`
 * computes all four gates of unit `j` for the tile's sequences in registers, so a step
 * reads each recurrent-kernel value once per tile and each state value once per gate
 * block (a third of the general loop's loads), needs no gate array in workgroup memory
 * and one barrier fewer.
 */
function lstmForwardByUnit(U: number, NB: number): string {
  const G = 4 * U;
  const S = 6 * U;
  const { start, rows: seqs } = frame(U, G, S, NB);
  const gates = (f: (m: number, n: number) => string) =>
    seqs((n) => [0, 1, 2, 3].map((m) => f(m, n)).join(" "));
  return `
var<workgroup> hs : array<f32, ${NB * U}>;
var<workgroup> cs : array<f32, ${NB * U}>;` + start("hs[e] = 0.0; cs[e] = 0.0;") + `
  let j = tid;
  let jj = min(j, ${U - 1});
  for (var t = 0; t < T; t++) {
      ${seqs((n) => `let x${n} = (min(b0 + ${n}, B - 1) * T + t) * ${G} + jj;`)}
      ${gates((m, n) => `var z${m}_${n} = 0.0;`)}
    // lanes past the units skip the work (barriers stay in uniform control flow)
    if (j < ${U}) {
      ${gates((m, n) => `z${m}_${n} = xw[x${n} + ${m * U}];`)}
      for (var k = 0; k < ${U}; k++) {
        let w0 = r[k * ${G} + jj];
        let w1 = r[k * ${G} + ${U} + jj];
        let w2 = r[k * ${G} + ${2 * U} + jj];
        let w3 = r[k * ${G} + ${3 * U} + jj];
        ${seqs((n) => `let h${n} = hs[${n * U} + k];`)}
        ${gates((m, n) => `z${m}_${n} += h${n} * w${m};`)}
      }
    }
    workgroupBarrier();
    if (j < ${U}) {
      ${
    seqs((n) =>
      `{
        let ig = sigmoid_(z0_${n});
        let fg = sigmoid_(z1_${n});
        let gg = tanh_(z2_${n});
        let og = sigmoid_(z3_${n});
        let c = fg * cs[${n * U} + j] + ig * gg;
        let h = og * tanh_(c);
        cs[${n * U} + j] = c;
        hs[${n * U} + j] = h;
        if (b0 + ${n} < B) {
          let o = ((b0 + ${n}) * T + t) * ${S} + j;
          result[o] = ig;
          result[o + ${U}] = fg;
          result[o + ${2 * U}] = gg;
          result[o + ${3 * U}] = og;
          result[o + ${4 * U}] = c;
          result[o + ${5 * U}] = h;
        }
      }`
    )
  }
    }
    workgroupBarrier();
  }
}`;
}

/**
 * The GRU forward loop with a lane per unit (`U ≤ WG`), as {@linkcode lstmForwardByUnit}:
 * lane `j` accumulates the update and reset gates of unit `j` for the tile's sequences in
 * registers, writes `r ⊙ h₋` to workgroup memory, then accumulates the candidate; two
 * barriers a step instead of four, and no gate array in workgroup memory. The sums run
 * over k in the same order as the general loop's: the same float32 results.
 */
function gruForwardByUnit(U: number, NB: number): string {
  const G = 3 * U;
  const S = 4 * U;
  const { start, rows: seqs } = frame(U, G, S, NB);
  return `
var<workgroup> hs : array<f32, ${NB * U}>;
var<workgroup> rh : array<f32, ${NB * U}>;` + start("hs[e] = 0.0;") + `
  let j = tid;
  let jj = min(j, ${U - 1});
  for (var t = 0; t < T; t++) {
    ${seqs((n) => `let x${n} = (min(b0 + ${n}, B - 1) * T + t) * ${G} + jj;`)}
    ${seqs((n) => `var zg${n} = 0.0; var rg${n} = 0.0; var c${n} = 0.0;`)}
    // lanes past the units skip the work (barriers stay in uniform control flow)
    if (j < ${U}) {
      ${seqs((n) => `var z${n} = xw[x${n}]; var r${n} = xw[x${n} + ${U}];`)}
      for (var k = 0; k < ${U}; k++) {
        let w0 = r[k * ${G} + jj];
        let w1 = r[k * ${G} + ${U} + jj];
        ${seqs((n) => `let h${n} = hs[${n * U} + k]; z${n} += h${n} * w0; r${n} += h${n} * w1;`)}
      }
      ${seqs((n) => `zg${n} = sigmoid_(z${n}); rg${n} = sigmoid_(r${n});`)}
      ${seqs((n) => `rh[${n * U} + j] = rg${n} * hs[${n * U} + j];`)}
    }
    workgroupBarrier();
    if (j < ${U}) {
      ${seqs((n) => `c${n} = xw[x${n} + ${2 * U}];`)}
      for (var k = 0; k < ${U}; k++) {
        let w2 = r[k * ${G} + ${2 * U} + jj];
        ${seqs((n) => `c${n} += rh[${n * U} + k] * w2;`)}
      }
      ${
    seqs((n) =>
      `{
        let hh = tanh_(c${n});
        let h = zg${n} * hs[${n * U} + j] + (1.0 - zg${n}) * hh;
        hs[${n * U} + j] = h;
        if (b0 + ${n} < B) {
          let o = ((b0 + ${n}) * T + t) * ${S} + j;
          result[o] = zg${n};
          result[o + ${U}] = rg${n};
          result[o + ${2 * U}] = hh;
          result[o + ${3 * U}] = h;
        }
      }`
    )
  }
    }
    workgroupBarrier();
  }
}`;
}

/**
 * The simple RNN's forward loop with a lane per unit (`U ≤ WG`): lane `j` accumulates
 * unit `j`'s pre-activation for the tile's sequences in registers; no gate array in
 * workgroup memory. Same order of sums as the general loop.
 */
function simpleForwardByUnit(U: number, NB: number): string {
  const { start, rows: seqs } = frame(U, U, U, NB);
  return `
var<workgroup> hs : array<f32, ${NB * U}>;` + start("hs[e] = 0.0;") + `
  let j = tid;
  let jj = min(j, ${U - 1});
  for (var t = 0; t < T; t++) {
    ${seqs((n) => `var z${n} = 0.0;`)}
    // lanes past the units skip the work (barriers stay in uniform control flow)
    if (j < ${U}) {
      ${seqs((n) => `z${n} = xw[(min(b0 + ${n}, B - 1) * T + t) * ${U} + jj];`)}
      for (var k = 0; k < ${U}; k++) {
        let w = r[k * ${U} + jj];
        ${seqs((n) => `z${n} += hs[${n * U} + k] * w;`)}
      }
    }
    workgroupBarrier();
    if (j < ${U}) {
      ${
    seqs((n) =>
      `{
        let h = tanh_(z${n});
        hs[${n * U} + j] = h;
        if (b0 + ${n} < B) { result[((b0 + ${n}) * T + t) * ${U} + j] = h; }
      }`
    )
  }
    }
    workgroupBarrier();
  }
}`;
}

function forwardCode(cell: Cell, U: number, NB: number): string {
  if (U <= WORKGROUP && byUnit) {
    if (cell === "lstm") return lstmForwardByUnit(U, NB);
    if (cell === "gru") return gruForwardByUnit(U, NB);
    return simpleForwardByUnit(U, NB);
  }
  const G = GATES[cell] * U;
  const S = STATE[cell] * U;
  const { each, matvec, start } = frame(U, G, S, NB);
  const xw = (n: string) => `xw[(min(b0 + ${n}, B - 1) * T + t) * ${G} + g]`;
  const shared = `
var<workgroup> hs : array<f32, ${NB * U}>;
var<workgroup> zs : array<f32, ${NB * G}>;
${cell === "lstm" ? `var<workgroup> cs : array<f32, ${NB * U}>;` : ""}
${cell === "gru" ? `var<workgroup> rh : array<f32, ${NB * U}>;` : ""}`;
  const open = start(`hs[e] = 0.0; ${cell === "lstm" ? "cs[e] = 0.0;" : ""}`) + `
  for (var t = 0; t < T; t++) {`;
  const close = `
    workgroupBarrier();
  }
}`;
  if (cell === "lstm") {
    return shared + open + matvec("zs", xw, "hs", "r", 0, G, G, "") + `
    workgroupBarrier();` + each(`
      let z = n * ${G} + j;
      let ig = sigmoid_(zs[z]);
      let fg = sigmoid_(zs[z + ${U}]);
      let gg = tanh_(zs[z + ${2 * U}]);
      let og = sigmoid_(zs[z + ${3 * U}]);
      let c = fg * cs[e] + ig * gg;
      let h = og * tanh_(c);
      cs[e] = c;
      hs[e] = h;
      if (live) {
        result[o + j] = ig;
        result[o + ${U} + j] = fg;
        result[o + ${2 * U} + j] = gg;
        result[o + ${3 * U} + j] = og;
        result[o + ${4 * U} + j] = c;
        result[o + ${5 * U} + j] = h;
      }`) + close;
  }
  if (cell === "gru") {
    return shared + open + matvec("zs", xw, "hs", "r", 0, 2 * U, G, "sigmoid_") + `
    workgroupBarrier();` + each(`rh[e] = zs[n * ${G} + ${U} + j] * hs[e];`) + `
    workgroupBarrier();` + matvec("zs", xw, "rh", "r", 2 * U, G, G, "tanh_") + `
    workgroupBarrier();` + each(`
      let z = zs[n * ${G} + j];
      let hh = zs[n * ${G} + ${2 * U} + j];
      let h = z * hs[e] + (1.0 - z) * hh;
      hs[e] = h;
      if (live) {
        result[o + j] = z;
        result[o + ${U} + j] = zs[n * ${G} + ${U} + j];
        result[o + ${2 * U} + j] = hh;
        result[o + ${3 * U} + j] = h;
      }`) + close;
  }
  return shared + open + matvec("zs", xw, "hs", "r", 0, G, G, "tanh_") + `
    workgroupBarrier();` + each(`
      hs[e] = zs[n * ${G} + j];
      if (live) { result[o + j] = hs[e]; }`) + close;
}

function backwardCode(cell: Cell, U: number, NB: number, seq: boolean): string {
  const G = GATES[cell] * U;
  const S = STATE[cell] * U;
  const { each, start, rows } = frame(U, G, S, NB);
  // the gradient reaching h_t: carried back from t + 1, plus the output's own at t
  const dOut = seq ? `dh[e] + dy[row * ${U} + j]` : "dh[e]";
  const prev = (at: number) => `select(0.0, st[max(o - ${S}, 0) + ${at * U} + j], t > 0)`;
  // rT is the recurrent kernel transposed, [G, U]: lane k reads rT[g, k], contiguous
  const shared = `
var<workgroup> dh : array<f32, ${NB * U}>;
var<workgroup> dz : array<f32, ${NB * G}>;
${cell === "lstm" ? `var<workgroup> dc : array<f32, ${NB * U}>;` : ""}
${cell === "gru" ? `var<workgroup> dg : array<f32, ${NB * U}>;` : ""}`;
  const first = seq ? "0.0" : `dy[min(b0 + e / ${U}, B - 1) * ${U} + e % ${U}]`;
  const open = start(`dh[e] = ${first}; ${cell === "lstm" ? "dc[e] = 0.0;" : ""}`) + `
  for (var t = T - 1; t >= 0; t--) {`;
  const close = `
    workgroupBarrier();
  }
}`;
  // dst[n·U + k] ← Σ_{g in [from, to)} dz[n·G + g] · rT[g, k] (+ extra): dh₋ through the kernel
  const back = (dst: string, from: number, to: number, extra: (n: string) => string) => `
    for (var k = tid; k < ${U}; k += WG) {
      ${rows((n) => `var acc${n} = ${extra(`${n}`)};`)}
      for (var g = ${from}; g < ${to}; g++) {
        let w = rT[g * ${U} + k];
        ${rows((n) => `acc${n} += dz[${n * G} + g] * w;`)}
      }
      ${rows((n) => `${dst}[${n * U} + k] = acc${n};`)}
    }`;
  const write = (m: number) =>
    `if (live) { result[q + ${m * U} + j] = dz[n * ${G} + ${m * U} + j]; }`;
  if (cell === "lstm") {
    // With whole vec4s of sequences (NB a multiple of 4), dz is laid out gate-major with
    // the tile's sequences side by side: the product with the recurrent kernel then reads
    // one vec4 per four sequences instead of four floats.
    const vec = NB % 4 === 0;
    const V = NB / 4;
    const dzAt = (m: number) =>
      vec ? `dz[(${m * U} + j) * ${V} + n / 4][n % 4]` : `dz[n * ${G} + ${m * U} + j]`;
    const accs = Array.from({ length: V }, (_, v) => v);
    const product = vec
      ? `
    for (var k = tid; k < ${U}; k += WG) {
      ${accs.map((v) => `var acc${v} = vec4<f32>(0.0);`).join(" ")}
      for (var g = 0; g < ${G}; g++) {
        let w = rT[g * ${U} + k];
        ${accs.map((v) => `acc${v} += dz[g * ${V} + ${v}] * w;`).join(" ")}
      }
      ${rows((n) => `dh[${n * U} + k] = acc${n >> 2}[${n & 3}];`)}
    }`
      : back("dh", 0, G, () => "0.0");
    const lstmShared = vec
      ? `
var<workgroup> dh : array<f32, ${NB * U}>;
var<workgroup> dz : array<vec4<f32>, ${G * V}>;
var<workgroup> dc : array<f32, ${NB * U}>;`
      : shared;
    return lstmShared + open + each(`
      let d = ${dOut};
      let ig = st[o + j];
      let fg = st[o + ${U} + j];
      let gg = st[o + ${2 * U} + j];
      let og = st[o + ${3 * U} + j];
      let tc = tanh_(st[o + ${4 * U} + j]);
      let dct = dc[e] + d * og * (1.0 - tc * tc);
      let d0 = dct * gg * ig * (1.0 - ig);
      let d1 = dct * ${prev(4)} * fg * (1.0 - fg);
      let d2 = dct * ig * (1.0 - gg * gg);
      let d3 = d * tc * og * (1.0 - og);
      ${[0, 1, 2, 3].map((m) => `${dzAt(m)} = d${m};`).join(" ")}
      dc[e] = dct * fg;
      if (live) {
        ${[0, 1, 2, 3].map((m) => `result[q + ${m * U} + j] = d${m};`).join(" ")}
      }`) + `
    workgroupBarrier();` + product + close;
  }
  if (cell === "gru") {
    // dg = d(r ⊙ h₋) = dĥ · U_hᵀ; then dh₋ = dh · z + dg · r + [dz dr] · U_zrᵀ
    return shared + open + each(`
      let d = ${dOut};
      let z = st[o + j];
      let hh = st[o + ${2 * U} + j];
      dz[n * ${G} + j] = d * (${prev(3)} - hh) * z * (1.0 - z);
      dz[n * ${G} + ${2 * U} + j] = d * (1.0 - z) * (1.0 - hh * hh);
      dg[e] = d * z;
      ${write(0)} ${write(2)}`) + `
    workgroupBarrier();` + back("dh", 2 * U, G, () => "0.0") + `
    workgroupBarrier();` + each(`
      let rr = st[o + ${U} + j];
      dz[n * ${G} + ${U} + j] = dh[e] * ${prev(3)} * rr * (1.0 - rr);
      dg[e] += dh[e] * rr;
      ${write(1)}`) + `
    workgroupBarrier();` + back("dh", 0, 2 * U, (n) => `dg[${n} * ${U} + k]`) + close;
  }
  return shared + open + each(`
      let h = st[o + j];
      dz[n * ${G} + j] = (${dOut}) * (1.0 - h * h);
      ${write(0)}`) + `
    workgroupBarrier();` + back("dh", 0, G, () => "0.0") + close;
}

/**
 * What the recurrent kernel multiplied at each step, `[B·T, U]`: h_{t−1} (0 at t = 0),
 * or for the GRU's candidate block (`gated`) r_t ⊙ h_{t−1}; its transpose times dZ is
 * the recurrent kernel's gradient.
 */
function previousCode(cell: Cell, U: number, gated: boolean): string {
  const S = STATE[cell] * U;
  const h = H_AT[cell] * U;
  const a = gated ? `st[p + ${h} + j] * st[p + ${S + U} + j]` : `st[p + ${h} + j]`;
  return `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  let row = index / ${U};
  let j = index - row * ${U};
  let t = row % uniforms.T;
  let p = max(row - 1, 0) * ${S};
  result[index] = select(0.0, ${a}, t > 0);
}`;
}

/**
 * A whole recurrent sequence on WebGPU as one differentiable op: `x [B, T, I]`,
 * `kernel [I, gU]`, `recurrent [U, gU]`, `bias [gU]` → the last state `[B, U]` or every
 * state `[B, T, U]`. Same maths and weight layout as the layers' fused cpu/wasm ops.
 */
export function recurrentSequenceWebGPU(
  cell: Cell,
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrent: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
): tf.Tensor {
  const [B, T, I] = x.shape;
  const U = recurrent.shape[0];
  const G = GATES[cell] * U;
  const S = STATE[cell] * U;
  const NB = tile(cell, U, B);
  if (!recurrentFitsWebGPU(cell, U)) {
    throw new RangeError(
      `The WebGPU ${cell} loop holds ${U} units in 16 KiB of workgroup memory at most ` +
        `${Math.floor(16384 / SHARED_PER_UNIT[cell])}; use implementation: "ops".`,
    );
  }
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, wt, rt, bt, save] = args as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        (ts: tf.Tensor[]) => void,
      ];
      const x2 = tf.reshape(xt, [B * T, I]);
      const xw = tf.fused.matMul({ a: x2 as tf.Tensor2D, b: wt as tf.Tensor2D, bias: bt });
      const forward = new WGSLProgram({
        key: `${cell}_fwd_${U}_${NB}_${U <= WORKGROUP && byUnit ? "unit" : "general"}`,
        inputs: ["xw", "r"],
        outputShape: [B, T, S],
        workgroups: Math.ceil(B / NB),
        uniforms: "T : i32, B : i32,",
        code: forwardCode(cell, U, NB),
      });
      const state = runProgram(forward, [xw, rt], [{ type: "int32", data: [T] }, {
        type: "int32",
        data: [B],
      }]);
      save([x2, wt, rt, state]);
      const h = H_AT[cell] * U;
      const value = returnSequences
        ? tf.slice(state, [0, 0, h], [B, T, U])
        : tf.reshape(tf.slice(state, [0, T - 1, h], [B, 1, U]), [B, U]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xs, ws, rs, st] = saved;
        const bptt = new WGSLProgram({
          key: `${cell}_bptt_${U}_${NB}_${returnSequences ? "seq" : "last"}`,
          inputs: ["st", "rT", "dy"],
          outputShape: [B * T, G],
          workgroups: Math.ceil(B / NB),
          uniforms: "T : i32, B : i32,",
          code: backwardCode(cell, U, NB, returnSequences),
        });
        const dims = [{ type: "int32" as const, data: [T] }, { type: "int32" as const, data: [B] }];
        const dZ = runProgram(bptt, [st, tf.transpose(rs), dy], dims);
        const previous = (gated: boolean) =>
          runProgram(
            new WGSLProgram({
              key: `${cell}_prev_${U}_${gated}`,
              inputs: ["st"],
              outputShape: [B * T, U],
              workgroups: Math.ceil((B * T * U) / WORKGROUP),
              uniforms: "T : i32,",
              code: previousCode(cell, U, gated),
            }),
            [st],
            [{ type: "int32", data: [T] }],
          );
        // dR = Σ_t a_tᵀ · dZ_t: the GRU's candidate block multiplied r ⊙ h₋, not h₋
        const dR = cell === "gru"
          ? tf.concat([
            tf.matMul(previous(false), tf.slice(dZ, [0, 0], [B * T, 2 * U]), true, false),
            tf.matMul(previous(true), tf.slice(dZ, [0, 2 * U], [B * T, U]), true, false),
          ], 1)
          : tf.matMul(previous(false), dZ, true, false);
        const dX = tf.reshape(tf.matMul(dZ, ws, false, true), [B, T, I]);
        const dW = tf.matMul(xs, dZ, true, false);
        return [dX, dW, dR, tf.sum(dZ, 0)];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (op as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, kernel, recurrent, bias);
}
