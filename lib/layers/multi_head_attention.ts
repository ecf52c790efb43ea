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
import { gemm, hasBlas, hasNativeBlas, wasmThreadsFor } from "../kernels/gemm.ts";
import { copyToTensor, readF32 } from "../kernels/memory.ts";
import { dense, denseFusedHere } from "../kernels/dense.ts";
import {
  backwardMayFollow,
  type HeapKernels,
  simd,
  simdAlloc,
  simdSharedModule,
  wasmHeapKernels,
} from "../kernels/simd/simd.ts";
import { simdSplit } from "../kernels/simd/simd_threads.ts";
import { allocTensor, f32 } from "../kernels/io.ts";
import { attentionWebGPU, MAX_ATTENTION_LENGTH } from "../kernels/webgpu/attention.ts";
import { webgpuFusion } from "../kernels/webgpu/program.ts";
import { MASKED_SCORE } from "./scaled_dot_product_attention.ts";

/** Where the attention's per-head products run: see {@linkcode setAttentionProducts}. */
export type AttentionProducts = "auto" | "module" | "gemm";

let products: AttentionProducts = "auto";

/**
 * Chooses where {@linkcode attentionFused} computes its per-head products (`Q·Kᵀ`,
 * `P·V` and their four gradients) when it runs on one thread: `"module"` with the SIMD
 * kernels' `mm` (no packing: these products are 64 × 64 × 16 in the reference
 * Transformer; on wasm in place on tfjs's heap, on cpu in the kernels' own memory),
 * `"gemm"` through {@linkcode gemm} (a native BLAS or the own SIMD GEMM), `"auto"` (the
 * default) the module without a native BLAS, the BLAS with one. On several threads (see
 * {@linkcode attentionFused}) the SIMD kernels run them whatever this says. Returns the
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

/**
 * The key mask as the kernels read it (`attention_forward` in `kernels.wat`): an additive
 * bias per key (0 for a token, {@linkcode MASKED_SCORE} for padding) and per sequence the
 * first row whose padded keys become exactly 0 (−1: no padded key; rows before it see
 * only padding and keep the softmax of the masked scores).
 */
interface MaskRule {
  bias: Float32Array;
  starts: Int32Array;
}

function maskRule(mask: Float32Array, batch: number, T: number, causal: boolean): MaskRule {
  const bias = new Float32Array(batch * T);
  const starts = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let first = T;
    let padded = false;
    for (let j = 0; j < T; j++) {
      if (mask[b * T + j] === 0) {
        padded = true;
        bias[b * T + j] = MASKED_SCORE;
      } else if (first === T) first = j;
    }
    starts[b] = !padded ? -1 : first === T ? T : causal ? first : 0;
  }
  return { bias, starts };
}

/** The op's shapes: `qkv [B·T, 3D]`, heads of width hd = D / heads. */
interface HeadDims {
  batch: number;
  heads: number;
  T: number;
  D: number;
  hd: number;
  scale: number;
}

function headDims(qkv: tf.Tensor, batch: number, heads: number): HeadDims {
  const D = qkv.shape[1]! / 3;
  const hd = D / heads;
  return { batch, heads, T: qkv.shape[0] / batch, D, hd, scale: 1 / Math.sqrt(hd) };
}

/** The attention as one custom-gradient op of `qkv` (and of the mask, whose gradient is 0). */
type AttentionOp = (
  qkv: tf.Tensor,
  mask: tf.Tensor | null,
  save: (ts: tf.Tensor[]) => void,
) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };

/** `op` applied to `qkv` (and `keyMask`) in a scope that profiles show as "attentionFused". */
function applyAttention(op: AttentionOp, qkv: tf.Tensor2D, keyMask: tf.Tensor | null) {
  const f = tf.customGrad(
    ((...args: unknown[]) => {
      const mask = keyMask ? args[1] as tf.Tensor : null;
      const { value, gradFunc } = op(
        args[0] as tf.Tensor,
        mask,
        args[keyMask ? 2 : 1] as (ts: tf.Tensor[]) => void,
      );
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [dqkv] = gradFunc(dy, saved);
          return mask ? [dqkv, tf.zerosLike(mask)] : [dqkv];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  ) as unknown as (
    ...a: tf.Tensor[]
  ) => tf.Tensor2D;
  return tf.tidy("attentionFused", () => keyMask ? f(qkv, keyMask) : f(qkv));
}

/**
 * {@linkcode attentionFused} on tfjs-wasm's own heap: the SIMD kernels' attention loops
 * (`attention_forward`, `attention_backward`, instantiated on tfjs-wasm's memory) read
 * `qkv` and write the output and the gradient where tfjs keeps them; the weights
 * `P [B, H, T, T]` are a heap tensor saved for the backward pass. No copies of queries,
 * keys, values, outputs and gradients (about 5.5 MB a layer of the reference Transformer).
 */
function attentionOnHeap(heap: HeapKernels, batch: number, heads: number, causal: boolean) {
  const backend = tf.backend();
  const alloc = (shape: number[]) => allocTensor(backend, shape);
  const at = heap.address;
  const k = heap.kernels;
  return ((t0, mask, save) => {
    const { T, D, hd, scale } = headDims(t0, batch, heads);
    const rows = batch * T;
    const rule = mask ? maskRule(readF32(mask), batch, T, causal) : null;
    const bias = rule ? tf.tensor(rule.bias, [batch, T]) : null;
    const starts = rule ? tf.tensor(rule.starts, [batch], "int32") : null;
    const y = alloc([rows, D]);
    const p = alloc([batch * heads * T * T]);
    const kt = alloc([hd * T]);
    k.attention_forward(
      at(t0),
      at(y),
      at(p),
      at(kt),
      T,
      D,
      heads,
      scale,
      causal ? 1 : 0,
      0,
      batch,
      starts ? at(starts) : 0,
      bias ? at(bias) : 0,
    );
    tf.dispose([kt, bias, starts].filter((t): t is tf.Tensor => t !== null));
    save([t0, p]);
    const gradFunc = (dy: tf.Tensor, [x, weights]: tf.Tensor[]) => {
      const dqkv = alloc([rows, 3 * D]);
      const work = alloc([hd * T + 3 * T * T]); // Vᵀ, Pᵀ, dS and dSᵀ of one head
      k.attention_backward(
        at(x),
        at(dy),
        at(weights),
        at(dqkv),
        at(work),
        T,
        D,
        heads,
        scale,
        0,
        batch,
      );
      work.dispose();
      return [dqkv];
    };
    return { value: y, gradFunc };
  }) as AttentionOp;
}

/**
 * {@linkcode attentionFused} in the SIMD kernels' memory, its sequences split across
 * `threads` threads where that memory is shared (`simdSplit`): `qkv` copied in, the
 * output copied out; queries, keys, values and the weights stay there for the backward
 * pass, which copies `dY` in and the gradient out.
 */
function attentionInModule(batch: number, heads: number, causal: boolean, threads: number) {
  return ((t0, mask) => {
    const { T, D, hd, scale } = headDims(t0, batch, heads);
    const rows = batch * T;
    const L = 3 * D;
    const rule = mask ? maskRule(readF32(mask), batch, T, causal) : null;
    const QKV = readF32(t0);
    const gradFunc = (dy: tf.Tensor) => {
      if (pB.freed) throw new Error("attentionFused: the backward pass ran twice.");
      const scratch = hd * T + 3 * T * T; // Vᵀ, Pᵀ, dS and dSᵀ of one head, per thread
      const [dyB, dqB, workB] = simdAlloc([rows * D, rows * L, threads * scratch]);
      dyB.view().set(readF32(dy));
      simdSplit("attention_backward", batch, threads, (from, to, part) => [
        ...[qB.offset, dyB.offset, pB.offset, dqB.offset, workB.at(part * scratch)],
        ...[T, D, heads, scale, from, to],
      ]);
      const dqkv = copyToTensor(dqB.view(), [rows, L]);
      for (const blk of [qB, pB, dyB, dqB, workB]) blk.free();
      return [dqkv];
    };
    // queries, keys, values and the weights [B, H, T, T], kept for the backward pass
    const [qB, pB] = simdAlloc([rows * L, batch * heads * T * T], gradFunc);
    const [yB, ktB, biasB, startsB] = simdAlloc([
      rows * D,
      threads * hd * T,
      rule ? batch * T : 0,
      rule ? batch : 0,
    ]);
    qB.view().set(QKV); // views after the last allocation
    if (rule) {
      biasB.view().set(rule.bias);
      new Int32Array(simd().memory.buffer, startsB.offset, batch).set(rule.starts);
    }
    simdSplit("attention_forward", batch, threads, (from, to, part) => [
      ...[qB.offset, yB.offset, pB.offset, ktB.at(part * hd * T), T, D, heads, scale],
      ...[causal ? 1 : 0, from, to, rule ? startsB.offset : 0, rule ? biasB.offset : 0],
    ]);
    const value = copyToTensor(yB.view(), [rows, D]);
    for (const blk of [yB, ktB, biasB, startsB]) blk.free();
    if (!backwardMayFollow()) { for (const blk of [qB, pB]) blk.free(); // no backward will come
     }
    return { value, gradFunc };
  }) as AttentionOp;
}

/**
 * {@linkcode attentionFused} with every per-head product through {@linkcode gemm} (a
 * native BLAS): `Q·Kᵀ` and `P·V` read `qkv` in place with strided GEMMs and write the
 * output into its tensor; the weights are kept in the SIMD kernels' memory, where their
 * (masked) softmax runs.
 */
function attentionWithGemm(batch: number, heads: number, causal: boolean) {
  return ((t0, mask, save) => {
    save([t0]);
    const { T, D, hd, scale } = headDims(t0, batch, heads);
    const rows = batch * T;
    const L = 3 * D;
    const rule = mask ? maskRule(readF32(mask), batch, T, causal) : null;
    const k = simd();
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      if (Pb.freed) throw new Error("attentionFused: the backward pass ran twice.");
      // the gradient written straight into its tensor's memory; allocated first, since
      // on wasm an allocation may grow tfjs's heap and detach the views taken before it
      const dqkv = allocTensor(tf.backend(), [rows, L]);
      const [dSb] = simdAlloc([T * T]);
      const P = Pb.view();
      const dS = dSb.view();
      const dQKV = f32(tf.backend(), dqkv);
      const dY = readF32(dy);
      const QKV = readF32(saved[0]);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const q = b * T * L + h * hd;
          const y = b * T * D + h * hd;
          const head = (b * heads + h) * T * T;
          const S = P.subarray(head, head + T * T);
          const [Q, K, V] = [QKV.subarray(q), QKV.subarray(q + D), QKV.subarray(q + 2 * D)];
          const [dQ, dK, dV] = [dQKV.subarray(q), dQKV.subarray(q + D), dQKV.subarray(q + 2 * D)];
          // dP = dY · Vᵀ ; dV = Pᵀ · dY
          gemm(false, true, T, T, hd, 1, dY.subarray(y), D, V, L, 0, dS, T);
          gemm(true, false, T, hd, T, 1, S, T, dY.subarray(y), D, 0, dV, L);
          // softmax backward: dS = P ∘ (dP − Σ_j dP·P)
          k.softmax_backward_rows(Pb.at(head), dSb.offset, T, T, 4 * T);
          // dQ = scale · dS · K ; dK = scale · dSᵀ · Q
          gemm(false, false, T, hd, T, scale, dS, T, K, L, 0, dQ, L);
          gemm(true, false, T, hd, T, scale, dS, T, Q, L, 0, dK, L);
        }
      }
      Pb.free();
      dSb.free();
      return [dqkv];
    };
    // the output written straight into its tensor's memory (allocated before any view of
    // tfjs's heap is taken); the weights [B, H, T, T] kept for the backward pass
    const out = allocTensor(tf.backend(), [rows, D]);
    const [Pb] = simdAlloc([batch * heads * T * T], gradFunc);
    const [biasB] = simdAlloc([rule ? batch * T : 0]);
    const P = Pb.view(); // views after the last allocation
    if (rule) biasB.view().set(rule.bias);
    const QKV = readF32(t0);
    const Y = f32(tf.backend(), out);
    const c = causal ? 1 : 0;
    for (let b = 0; b < batch; b++) {
      const s = rule ? rule.starts[b] : -1;
      for (let h = 0; h < heads; h++) {
        const q = b * T * L + h * hd; // Q[b, :, h] starts here, row stride 3D
        const head = (b * heads + h) * T * T;
        const S = P.subarray(head, head + T * T);
        // S = scale · Q · Kᵀ
        gemm(false, true, T, T, hd, scale, QKV.subarray(q), L, QKV.subarray(q + D), L, 0, S, T);
        if (s < 0) k.softmax_rows(Pb.at(head), T, T, 4 * T, c);
        else {
          // the key mask folded into the softmax, as `attention_forward` in kernels.wat
          const bias = biasB.at(b * T);
          if (s > 0) k.softmax_rows_masked(Pb.at(head), s, T, 4 * T, c, 0, bias, 0);
          if (s < T) k.softmax_rows_masked(Pb.at(head + s * T), T - s, T, 4 * T, c, s, bias, 1);
        }
        // Y[b, :, h] = P · V
        const V = QKV.subarray(q + 2 * D);
        gemm(false, false, T, hd, T, 1, S, T, V, L, 0, Y.subarray(b * T * D + h * hd), D);
      }
    }
    biasB.free();
    if (!backwardMayFollow()) Pb.free(); // no backward pass will come
    return { value: out, gradFunc };
  }) as AttentionOp;
}

/**
 * Scaled dot-product attention of all heads in one op (cpu and wasm backends):
 * `qkv [B·T, 3D]` (queries | keys | values, heads side by side) → `[B·T, D]` (heads
 * merged). Every head's matrices are read in place: no split, no transpose, no
 * `[B, H, T, T]` tensor for tfjs to track; the backward pass is written out (softmax
 * Jacobian included) and keeps the attention weights from the forward.
 *
 * The scale 1/√d is folded into the score product and the key mask into the SIMD softmax
 * (`softmax_rows_masked`): with a `keyMask [B, T]` (1 = token, 0 = padding) the scores of
 * padded keys get {@linkcode MASKED_SCORE} added, as in the ops path, and their softmax
 * weights are then set to exactly 0 (the SIMD exponential clamps at e^−87, not 0) in
 * every row that has a key it may see; a row with none keeps the softmax of the masked
 * scores, as the ops do. The mask gets a zero gradient.
 *
 * Where it runs: with enough work and free cores (`wasmThreadsFor`: `NN_GEMM_THREADS`,
 * the load average) the sequences are split across threads in the SIMD kernels' memory
 * (`simd_threads.ts`); on one thread, on tfjs-wasm's heap (the wasm backend), through a
 * native BLAS's GEMM where there is one, else in the SIMD kernels' memory
 * ({@linkcode setAttentionProducts} chooses between the last two).
 */
export function attentionFused(
  qkv: tf.Tensor2D,
  batch: number,
  heads: number,
  causal: boolean,
  keyMask: tf.Tensor | null = null,
): tf.Tensor2D {
  const { T, hd } = headDims(qkv, batch, heads);
  // the products' multiply-adds: 2 · B · H · T² · hd forward, twice that backward
  const threads = simdSharedModule() ? wasmThreadsFor(2 * batch * heads * T * T * hd) : 1;
  const heap = threads < 2 ? attentionOnHeapHere() : null;
  const op = heap
    ? attentionOnHeap(heap, batch, heads, causal)
    : threads > 1 || attentionProductsInModule()
    ? attentionInModule(batch, heads, causal, threads)
    : attentionWithGemm(batch, heads, causal);
  return applyAttention(op, qkv, keyMask);
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
