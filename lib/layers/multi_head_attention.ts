/**
 * Multi-head self-attention as one serialisable layer, written the way nanoGPT's
 * `CausalSelfAttention` reads: one projection to queries, keys and values, split into
 * heads, scaled dot-product attention, heads merged, output projection.
 *
 * Weights (PyTorch `nn.MultiheadAttention` names in brackets): `qkv/kernel [D, 3D]`
 * and `qkv/bias [3D]` (`in_proj`), `out/kernel [D, D]` and `out/bias [D]`
 * (`out_proj`). With `causal: true` position t attends only to positions ≤ t (a
 * decoder); otherwise every position sees the whole sequence (an encoder).
 *
 * Inputs: `x [B, T, D]`, or `[x, keyMask]` with a key padding mask `keyMask [B, T]`
 * (1 for a token, 0 for padding; PyTorch's `key_padding_mask` inverted, made from the ids
 * by `PaddingMask`): padded keys get exactly zero weight in every query's softmax (BERT's
 * attention mask), on every implementation (tfjs ops, the fused cpu/wasm op and the
 * WebGPU programs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MultiHeadSelfAttention } from "nn/layers/multi_head_attention.ts";
 * const mha = new MultiHeadSelfAttention({ numHeads: 4, seed: 0 });
 * console.log((mha.apply(tf.zeros([2, 10, 16])) as tf.Tensor).shape); // [2, 10, 16]
 * const mask = tf.tensor2d([[1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]);
 * const w = mha.attentionWeights(tf.ones([2, 10, 16]), mask); // [2, 4, 10, 10]
 * const rows = (await w.array()) as number[][][][];
 * console.log(rows[0][0][0].slice(2, 4)); // [0.3333…, 0]: three tokens alike, padding none
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { rng } from "../random.ts";
import { gemm, hasBlas, hasNativeBlas } from "../kernels/gemm.ts";
import { copyToTensor, readF32, readInt32 } from "../kernels/memory.ts";
import { dense, denseFusedHere } from "../kernels/dense.ts";
import {
  backwardMayFollow,
  type HeapKernels,
  simd,
  simdAlloc,
  type SimdBlock,
  wasmHeapKernels,
} from "../kernels/simd/simd.ts";
import { allocTensor, f32 } from "../kernels/io.ts";
import { attentionWebGPU, MAX_ATTENTION_LENGTH } from "../kernels/webgpu/attention.ts";
import { webgpuFusion } from "../kernels/webgpu/program.ts";
import { MASKED_SCORE } from "./scaled_dot_product_attention.ts";

/** Where the attention's per-head products run: see {@linkcode setAttentionProducts}. */
export type AttentionProducts = "auto" | "module" | "gemm";

let products: AttentionProducts = "auto";

/**
 * Chooses where {@linkcode attentionFused} computes its per-head products (`Q·Kᵀ`,
 * `P·V` and their four gradients): `"module"` with the SIMD kernels' `mm` (no packing:
 * these products are 64 × 64 × 16 in the reference Transformer; on wasm in place on
 * tfjs's heap, on cpu in the kernels' own memory), `"gemm"` through {@linkcode gemm} (a native BLAS or the own SIMD GEMM),
 * `"auto"` (the default) the module without a native BLAS, the BLAS with one. Returns the
 * previous setting.
 *
 * @example
 * ```ts
 * import { setAttentionProducts } from "nn/layers/multi_head_attention.ts";
 * const was = setAttentionProducts("module");
 * setAttentionProducts(was);
 * ```
 */
export function setAttentionProducts(where: AttentionProducts): AttentionProducts {
  const was = products;
  products = where;
  return was;
}

function attentionProductsInModule(): boolean {
  return products === "module" || (products === "auto" && !hasNativeBlas());
}

/**
 * The SIMD kernels on tfjs-wasm's heap, where the products run in the module on the wasm
 * backend (their copies into the module's memory are then not needed).
 */
function attentionOnHeapHere(): HeapKernels | null {
  if (!attentionProductsInModule() || tf.getBackend() !== "wasm") return null;
  return wasmHeapKernels(tf.backend());
}

interface HeadDims {
  batch: number;
  heads: number;
  T: number;
  D: number;
  hd: number;
  scale: number;
}

/**
 * The attention's backward pass with every product in the SIMD kernels' memory: `QKV` and
 * `dY` copied in once, `P` (kept by the forward pass) read in place; frees `Pb`.
 */
function backwardInModule(
  Pb: SimdBlock,
  QKV: Float32Array,
  dY: Float32Array,
  { batch, heads, T, D, hd, scale }: HeadDims,
): tf.Tensor {
  const k = simd();
  const L = 3 * D;
  const rows = batch * T;
  const [qB, dyB, dqB, vtB, ptB, dSb, dstB] = simdAlloc([
    rows * L,
    rows * D,
    rows * L,
    hd * T,
    T * T,
    T * T,
    T * T,
  ]);
  qB.view().set(QKV);
  dyB.view().set(dY);
  const [t4, l4, d4] = [4 * T, 4 * L, 4 * D];
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const q = qB.at(b * T * L + h * hd);
      const dy = dyB.at(b * T * D + h * hd);
      const dq = dqB.at(b * T * L + h * hd);
      const p = Pb.at((b * heads + h) * T * T);
      // dP = dY · Vᵀ ; dV = Pᵀ · dY
      k.transpose(q + 8 * D, l4, vtB.offset, t4, T, hd);
      k.mm(dy, d4, vtB.offset, t4, dSb.offset, t4, T, T, hd, 1, 0);
      k.transpose(p, t4, ptB.offset, t4, T, T);
      k.mm(ptB.offset, t4, dy, d4, dq + 8 * D, l4, T, hd, T, 1, 0);
      // softmax backward: dS = P ∘ (dP − Σ_j dP·P)
      k.softmax_backward_rows(p, dSb.offset, T, T, t4);
      // dQ = scale · dS · K ; dK = scale · dSᵀ · Q
      k.mm(dSb.offset, t4, q + 4 * D, l4, dq, l4, T, hd, T, scale, 0);
      k.transpose(dSb.offset, t4, dstB.offset, t4, T, T);
      k.mm(dstB.offset, t4, q, l4, dq + 4 * D, l4, T, hd, T, scale, 0);
    }
  }
  Pb.free();
  const dqkv = copyToTensor(dqB.view(), [rows, L]);
  for (const blk of [qB, dyB, dqB, vtB, ptB, dSb, dstB]) blk.free();
  return dqkv;
}

/**
 * {@linkcode attentionFused} on tfjs-wasm's own heap: the SIMD kernels (`transpose`, `mm`,
 * the (masked) softmax and its backward pass, instantiated on tfjs-wasm's memory) read
 * `qkv` and write the output and the gradient where tfjs keeps them; the weights
 * `P [B, H, T, T]` are a heap tensor saved for the backward pass. The same arithmetic as
 * the module path of `attentionFused`, without copying queries, keys, values, outputs
 * and gradients into the module's memory and back (about 5.5 MB a layer of the
 * reference Transformer).
 */
function attentionOnHeap(
  heap: HeapKernels,
  qkv: tf.Tensor2D,
  batch: number,
  heads: number,
  causal: boolean,
  keyMask: tf.Tensor | null,
): tf.Tensor2D {
  const backend = tf.backend();
  const alloc = (shape: number[]) => allocTensor(backend, shape);
  const at = heap.address;
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const t0 = args[0] as tf.Tensor;
      const mask = keyMask ? args[1] as tf.Tensor : null;
      const save = args[keyMask ? 2 : 1] as (ts: tf.Tensor[]) => void;
      const rows = t0.shape[0];
      const D = t0.shape[1]! / 3;
      const T = rows / batch;
      const hd = D / heads;
      const scale = 1 / Math.sqrt(hd);
      // the key mask: an additive bias per key, and per sequence the first row whose
      // padded keys become exactly 0 (-1: no padded key), as attentionFused's rule
      let bias: tf.Tensor | null = null;
      let start: tf.Tensor | null = null;
      if (mask) {
        const m = readF32(mask);
        const biasValues = new Float32Array(batch * T);
        const starts = new Int32Array(batch);
        for (let b = 0; b < batch; b++) {
          let first = T;
          let padded = false;
          for (let j = 0; j < T; j++) {
            if (m[b * T + j] === 0) {
              padded = true;
              biasValues[b * T + j] = MASKED_SCORE;
            } else if (first === T) first = j;
          }
          starts[b] = !padded ? -1 : first === T ? T : causal ? first : 0;
        }
        bias = tf.tensor(biasValues, [batch, T]);
        start = tf.tensor(starts, [batch], "int32");
      }
      const y = alloc([rows, D]);
      const p = alloc([batch * heads * T * T]);
      const kt = alloc([hd * T]);
      const k = heap.kernels;
      const [T4, L4, D4] = [4 * T, 12 * D, 4 * D];
      const [qkvAt, yAt, pAt, ktAt] = [at(t0), at(y), at(p), at(kt)];
      const biasAt = bias ? at(bias) : 0;
      const starts = start ? readInt32(start) : null;
      for (let b = 0; b < batch; b++) {
        const s = starts ? starts[b] : -1;
        for (let h = 0; h < heads; h++) {
          const q = qkvAt + b * T * L4 + h * 4 * hd; // Q[b, :, h]; K at q + D, V at q + 2D
          const ph = pAt + (b * heads + h) * T * T4;
          // S = scale · Q · Kᵀ
          k.transpose(q + D4, L4, ktAt, T4, T, hd);
          k.mm(q, L4, ktAt, T4, ph, T4, T, T, hd, scale, 0);
          if (s < 0) k.softmax_rows(ph, T, T, T4, causal ? 1 : 0);
          else {
            // rows before `s` see only padded keys; from `s` on, padded keys exactly 0
            const bb = biasAt + b * T4;
            if (s > 0) k.softmax_rows_masked(ph, s, T, T4, causal ? 1 : 0, 0, bb, 0);
            if (s < T) k.softmax_rows_masked(ph + s * T4, T - s, T, T4, causal ? 1 : 0, s, bb, 1);
          }
          // Y[b, :, h] = P · V
          k.mm(ph, T4, q + 2 * D4, L4, yAt + b * T * D4 + h * 4 * hd, D4, T, hd, T, 1, 0);
        }
      }
      tf.dispose([kt, bias, start].filter((t): t is tf.Tensor => t !== null));
      save([t0, p]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [x, weights] = saved;
        const dqkv = alloc([rows, 3 * D]);
        // scratch: Vᵀ, Pᵀ, dS and dSᵀ of one head
        const work = alloc([hd * T + 3 * T * T]);
        const [xAt, dyAt, wAt, dqAt] = [at(x), at(dy), at(weights), at(dqkv)];
        const vt = at(work);
        const [pt, ds, dst] = [vt + hd * T4, vt + hd * T4 + T * T4, vt + hd * T4 + 2 * T * T4];
        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < heads; h++) {
            const off = b * T * L4 + h * 4 * hd;
            const [q, dq] = [xAt + off, dqAt + off];
            const d = dyAt + b * T * D4 + h * 4 * hd;
            const ph = wAt + (b * heads + h) * T * T4;
            // dP = dY · Vᵀ ; dV = Pᵀ · dY
            k.transpose(q + 2 * D4, L4, vt, T4, T, hd);
            k.mm(d, D4, vt, T4, ds, T4, T, T, hd, 1, 0);
            k.transpose(ph, T4, pt, T4, T, T);
            k.mm(pt, T4, d, D4, dq + 2 * D4, L4, T, hd, T, 1, 0);
            // softmax backward: dS = P ∘ (dP − Σ_j dP·P)
            k.softmax_backward_rows(ph, ds, T, T, T4);
            // dQ = scale · dS · K ; dK = scale · dSᵀ · Q
            k.mm(ds, T4, q + D4, L4, dq, L4, T, hd, T, scale, 0);
            k.transpose(ds, T4, dst, T4, T, T);
            k.mm(dst, T4, q, L4, dq + D4, L4, T, hd, T, scale, 0);
          }
        }
        work.dispose();
        return mask ? [dqkv, tf.zerosLike(mask)] : [dqkv];
      };
      return { value: y, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const apply = op as unknown as (...a: tf.Tensor[]) => tf.Tensor2D;
  return tf.tidy("attentionFused", () => keyMask ? apply(qkv, keyMask) : apply(qkv));
}

/**
 * Scaled dot-product attention of all heads in one op (cpu and wasm backends):
 * `qkv [B·T, 3D]` (queries | keys | values, heads side by side) → `[B·T, D]` (heads
 * merged). Every head's matrices are read in place with strided GEMMs: no split, no
 * transpose, no `[B, H, T, T]` tensor for tfjs to track; the backward pass is written
 * out (softmax Jacobian included) and keeps the attention weights from the forward.
 *
 * The scale 1/√d is folded into the score GEMM (its alpha) and the key mask into the SIMD
 * softmax (`softmax_rows_masked`): with a `keyMask [B, T]` (1 = token, 0 = padding) the
 * scores of padded keys get {@linkcode MASKED_SCORE} added, as in the ops path, and their
 * softmax weights are then set to exactly 0 (the SIMD exponential clamps at e^−87, not 0)
 * in every row that has a key it may see; a row with none keeps the softmax of the masked
 * scores, as the ops do. The mask gets a zero gradient.
 */
export function attentionFused(
  qkv: tf.Tensor2D,
  batch: number,
  heads: number,
  causal: boolean,
  keyMask: tf.Tensor | null = null,
): tf.Tensor2D {
  const heap = attentionOnHeapHere();
  if (heap) return attentionOnHeap(heap, qkv, batch, heads, causal, keyMask);
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const t0 = args[0] as tf.Tensor;
      const mask = keyMask ? args[1] as tf.Tensor : null;
      (args[keyMask ? 2 : 1] as (ts: tf.Tensor[]) => void)(mask ? [t0, mask] : [t0]);
      const rows = t0.shape[0];
      const D = t0.shape[1]! / 3;
      const T = rows / batch;
      const hd = D / heads;
      const scale = 1 / Math.sqrt(hd);
      // per sequence: the padded key positions, and the first real one (T when none)
      const padded: number[][] = [];
      const firstReal: number[] = [];
      if (mask) {
        const m = readF32(mask);
        for (let b = 0; b < batch; b++) {
          const list: number[] = [];
          let first = T;
          for (let j = 0; j < T; j++) {
            if (m[b * T + j] === 0) list.push(j);
            else if (first === T) first = j;
          }
          padded.push(list);
          firstReal.push(first);
        }
      }
      const inModule = attentionProductsInModule();
      // the output written straight into its tensor's memory; allocated before any view of
      // tfjs's heap is taken (on wasm an allocation may grow the heap and detach them)
      const out = inModule ? null : allocTensor(tf.backend(), [rows, D]);
      const QKV = readF32(t0);
      const L = 3 * D;
      const k = simd();
      const dims: HeadDims = { batch, heads, T, D, hd, scale };
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        if (Pb.freed) throw new Error("attentionFused: the backward pass ran twice.");
        if (inModule) {
          const dqkv = backwardInModule(Pb, readF32(saved[0]), readF32(dy), dims);
          return mask ? [dqkv, tf.zerosLike(mask)] : [dqkv];
        }
        const [dSb] = simdAlloc([T * T]);
        const P = Pb.view();
        const dS = dSb.view();
        // the gradient written straight into its tensor's memory; allocated first, since
        // on wasm an allocation may grow tfjs's heap and detach the views taken before it
        const dqkv = allocTensor(tf.backend(), [rows, L]);
        const dQKV = f32(tf.backend(), dqkv);
        const dY = readF32(dy);
        const QKV = readF32(saved[0]);
        for (let b = 0; b < batch; b++) {
          for (let h = 0; h < heads; h++) {
            const q = b * T * L + h * hd;
            const y = b * T * D + h * hd;
            const head = (b * heads + h) * T * T;
            const S = P.subarray(head, head + T * T);
            // dP = dY · Vᵀ ; dV = Pᵀ · dY
            gemm(false, true, T, T, hd, 1, dY.subarray(y), D, QKV.subarray(q + 2 * D), L, 0, dS, T);
            gemm(true, false, T, hd, T, 1, S, T, dY.subarray(y), D, 0, dQKV.subarray(q + 2 * D), L);
            // softmax backward: dS = P ∘ (dP − Σ_j dP·P)
            k.softmax_backward_rows(Pb.at(head), dSb.offset, T, T, 4 * T);
            // dQ = dS · K · scale ; dK = dSᵀ · Q · scale
            gemm(
              false,
              false,
              T,
              hd,
              T,
              scale,
              dS,
              T,
              QKV.subarray(q + D),
              L,
              0,
              dQKV.subarray(q),
              L,
            );
            gemm(
              true,
              false,
              T,
              hd,
              T,
              scale,
              dS,
              T,
              QKV.subarray(q),
              L,
              0,
              dQKV.subarray(q + D),
              L,
            );
          }
        }
        Pb.free();
        dSb.free();
        return mask ? [dqkv, tf.zerosLike(mask)] : [dqkv];
      };
      // per sequence: the keys' additive mask (0 or MASKED_SCORE), read by the softmax
      const biasB = mask ? simdAlloc([batch * T])[0] : null;
      // attention weights [B, H, T, T] (SIMD memory: the softmax runs there), kept for backward
      const [Pb] = simdAlloc([batch * heads * T * T], gradFunc);
      // the in-module products: queries, keys and values, the output, one head's Kᵀ
      const [qB, yB, ktB] = inModule ? simdAlloc([rows * L, rows * D, hd * T]) : [];
      const P = Pb.view(); // views after the last allocation
      qB?.view().set(QKV);
      if (biasB) {
        const bias = biasB.view();
        const m = readF32(mask!);
        for (let i = 0; i < batch * T; i++) bias[i] = m[i] === 0 ? MASKED_SCORE : 0;
      }
      const Y = out ? f32(tf.backend(), out) : null;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const q = b * T * L + h * hd; // Q[b, :, h] starts here, row stride 3D
          const head = (b * heads + h) * T * T;
          const S = P.subarray(head, head + T * T);
          if (qB) {
            // S = scale · Q · Kᵀ, in place in the module's memory
            k.transpose(qB.at(q + D), 4 * L, ktB!.offset, 4 * T, T, hd);
            k.mm(qB.at(q), 4 * L, ktB!.offset, 4 * T, Pb.at(head), 4 * T, T, T, hd, scale, 0);
          } else {
            gemm(false, true, T, T, hd, scale, QKV.subarray(q), L, QKV.subarray(q + D), L, 0, S, T);
          }
          if (biasB && padded[b].length > 0) {
            // the key mask folded into the softmax: scores + mask, then exactly 0 at padded
            // keys in the rows that see a real key (from `start` on)
            const start = firstReal[b] === T ? T : causal ? firstReal[b] : 0;
            const c = causal ? 1 : 0;
            const bias = biasB.at(b * T);
            if (start > 0) k.softmax_rows_masked(Pb.at(head), start, T, 4 * T, c, 0, bias, 0);
            if (start < T) {
              k.softmax_rows_masked(
                Pb.at(head + start * T),
                T - start,
                T,
                4 * T,
                c,
                start,
                bias,
                1,
              );
            }
          } else k.softmax_rows(Pb.at(head), T, T, 4 * T, causal ? 1 : 0);
          // Y[b, :, h] = P · V
          if (qB) {
            const y = yB!.at(b * T * D + h * hd);
            k.mm(Pb.at(head), 4 * T, qB.at(q + 2 * D), 4 * L, y, 4 * D, T, hd, T, 1, 0);
            continue;
          }
          gemm(
            false,
            false,
            T,
            hd,
            T,
            1,
            S,
            T,
            QKV.subarray(q + 2 * D),
            L,
            0,
            Y!.subarray(b * T * D + h * hd),
            D,
          );
        }
      }
      biasB?.free();
      const value = yB ? copyToTensor(yB.view(), [rows, D]) : out!;
      for (const blk of [qB, yB, ktB]) blk?.free();
      if (!backwardMayFollow()) Pb.free(); // no backward pass will come
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const apply = op as unknown as (...a: tf.Tensor[]) => tf.Tensor2D;
  // named scope: profiles (tf.profile) show the op as "attentionFused"
  return tf.tidy("attentionFused", () => keyMask ? apply(qkv, keyMask) : apply(qkv));
}

/** Config of {@linkcode MultiHeadSelfAttention}. */
export interface MultiHeadSelfAttentionArgs {
  /** Number of heads H; the model width D must be divisible by it. */
  numHeads: number;
  /** Mask future positions (decoder). Default false (encoder). */
  causal?: boolean;
  /**
   * "auto" (fused attention on cpu/wasm with BLAS and on webgpu, ops elsewhere), "fused"
   * or "ops". Default "auto". On webgpu the fused attention is
   * `nn/kernels/webgpu/attention.ts`.
   */
  implementation?: "auto" | "fused" | "ops";
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name (tfjs). */
  name?: string;
  /** Input shape when this is the first layer. */
  inputShape?: tf.Shape;
}

/**
 * Multi-head scaled dot-product self-attention over `[B, T, D]` inputs, with an optional
 * key padding mask as a second input (`[x, keyMask [B, T]]`).
 */
export class MultiHeadSelfAttention extends tf.layers.Layer {
  /** The name tfjs serialises this class under. */
  static className = "NNMultiHeadSelfAttention";
  /** Number of heads. */
  readonly numHeads: number;
  /** Whether future positions are masked. */
  readonly causal: boolean;
  /** Seed of the initial weights. */
  readonly seed: number;
  /** Which implementation runs. */
  readonly implementation: "auto" | "fused" | "ops";
  #qkvKernel: tf.LayerVariable | null = null;
  #qkvBias: tf.LayerVariable | null = null;
  #outKernel: tf.LayerVariable | null = null;
  #outBias: tf.LayerVariable | null = null;
  #mask: tf.Tensor | null = null;

  constructor(args: MultiHeadSelfAttentionArgs) {
    super(args);
    if (!Number.isInteger(args.numHeads) || args.numHeads < 1) {
      throw new RangeError(`MultiHeadSelfAttention needs numHeads ≥ 1, got ${args.numHeads}.`);
    }
    this.numHeads = args.numHeads;
    this.causal = args.causal ?? false;
    this.seed = args.seed ?? 0;
    this.implementation = args.implementation ?? "auto";
  }

  /** Whether the fused attention runs on the current backend. */
  usesFused(): boolean {
    if (this.implementation !== "auto") return this.implementation === "fused";
    const name = tf.getBackend();
    if (name === "webgpu") return webgpuFusion();
    return (name === "cpu" || name === "wasm") && hasBlas();
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    if (d === null || d % this.numHeads !== 0) {
      throw new Error(
        `MultiHeadSelfAttention: the model width (${d}) must be known and divisible by ` +
          `numHeads (${this.numHeads}).`,
      );
    }
    const r = rng(this.seed);
    const zeros = tf.initializers.zeros();
    this.#qkvKernel = this.addWeight(
      "qkv/kernel",
      [d, 3 * d],
      "float32",
      r.initializer("glorotUniform"),
    );
    this.#qkvBias = this.addWeight("qkv/bias", [3 * d], "float32", zeros);
    this.#outKernel = this.addWeight(
      "out/kernel",
      [d, d],
      "float32",
      r.initializer("glorotUniform"),
    );
    this.#outBias = this.addWeight("out/bias", [d], "float32", zeros);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return Array.isArray(inputShape[0]) ? (inputShape as tf.Shape[])[0] : inputShape;
  }

  /** Additive mask `[T, T]`: 0 on and below the diagonal, −1e9 above (kept, not tracked). */
  #causalMask(t: number): tf.Tensor {
    if (!this.#mask || this.#mask.shape[0] !== t) {
      this.#mask?.dispose();
      this.#mask = tf.tidy(() => {
        const lower = tf.linalg.bandPart(tf.ones([t, t]), -1, 0);
        return tf.keep(tf.mul(tf.sub(1, lower), -1e9));
      });
    }
    return this.#mask;
  }

  /**
   * The attention weights `[B, H, T, T]` for inputs `x` and, when the layer was given
   * one, the same key padding mask `keyMask [B, T]` (for heatmaps; not tracked for
   * gradients).
   */
  attentionWeights(x: tf.Tensor, keyMask?: tf.Tensor | null): tf.Tensor {
    return tf.tidy(() => this.#attend(x, keyMask ?? null, true));
  }

  #attend(x: tf.Tensor, keyMask: tf.Tensor | null, weightsOnly: boolean): tf.Tensor {
    const [b, t, d] = x.shape as [number, number, number];
    const h = this.numHeads;
    const hd = d / h;
    const gpu = tf.getBackend() === "webgpu";
    // cpu/wasm: the projections as one NNDense kernel each way (nn/kernels/dense.ts)
    const project = (a: tf.Tensor, kernel: tf.LayerVariable, bias: tf.LayerVariable) =>
      denseFusedHere() ? dense(a, kernel.read(), bias.read()) : tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: kernel.read() as tf.Tensor2D,
        bias: bias.read(),
      });
    const qkv = project(tf.reshape(x, [b * t, d]), this.#qkvKernel!, this.#qkvBias!); // [B·T, 3D]
    const mask = keyMask ? tf.cast(keyMask, "float32") : null; // [B, T], 0 = padding
    if (!weightsOnly && this.usesFused() && !(gpu && t > MAX_ATTENTION_LENGTH)) {
      const merged = (gpu ? attentionWebGPU : attentionFused)(
        qkv as tf.Tensor2D,
        b,
        h,
        this.causal,
        mask,
      ); // [B·T, D]
      const out = project(merged, this.#outKernel!, this.#outBias!);
      return tf.reshape(out, [b, t, d]);
    }
    const [q, k, v] = tf.split(qkv, 3, 1).map((p) =>
      tf.transpose(tf.reshape(p, [b, t, h, hd]), [0, 2, 1, 3]) // [B, H, T, hd]
    );
    let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)); // [B, H, T, T]
    if (this.causal) scores = tf.add(scores, this.#causalMask(t));
    if (mask) {
      // padded keys: + MASKED_SCORE, the same for every head and query
      scores = tf.add(scores, tf.mul(tf.sub(1, tf.reshape(mask, [b, 1, 1, t])), MASKED_SCORE));
    }
    const att = tf.softmax(scores); // over the last axis: who each position attends to
    if (weightsOnly) return att;
    const y = tf.matMul(att, v); // [B, H, T, hd]
    const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b * t, d]); // [B·T, D]
    const out = tf.fused.matMul({
      a: merged,
      b: this.#outKernel!.read(),
      bias: this.#outBias!.read(),
    });
    return tf.reshape(out, [b, t, d]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [x, keyMask] = Array.isArray(inputs) ? inputs : [inputs];
    return tf.tidy(() => this.#attend(x, keyMask ?? null, false));
  }

  override dispose(): ReturnType<tf.layers.Layer["dispose"]> {
    this.#mask?.dispose();
    this.#mask = null;
    return super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      causal: this.causal,
      implementation: this.implementation,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(MultiHeadSelfAttention);
