/**
 * The library's SIMD kernels (`kernels.wat`, WebAssembly f32x4) and the memory they work
 * in: a lazily instantiated module, and blocks of its linear memory handed out to the
 * fused ops, which keep their working arrays there so that the kernels need no copies.
 *
 * V8 spends about 10 ns on one `Math.exp`; these kernels compute four activations with
 * one polynomial exponential (relative error below 3e-7, see the `.wat` file), which
 * took the LSTM reference model's gate loop from 24 ms to about 2 ms per batch.
 *
 * A block's {@linkcode SimdBlock.view} is valid until the next {@linkcode simdAlloc}
 * (growing the memory detaches old views): allocate first, then take views.
 *
 * @example
 * ```ts
 * import { simd, simdAlloc } from "nn/kernels/simd/simd.ts";
 * const [block] = simdAlloc([3]);
 * block.view().set([-1, 0, 1]);
 * simd().sigmoid(block.offset, 3);
 * console.log(Array.from(block.view(), (v) => v.toFixed(4))); // ["0.2689", "0.5000", "0.7311"]
 * block.free();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { decodeBase64 } from "./base64.ts";
import { provideHelperModule, resetHelperThreads } from "./helper_threads.ts";
import {
  WASM_BASE64,
  WASM_HEAP_BASE64,
  WASM_HEAP_RELAXED_BASE64,
  WASM_SHARED_BASE64,
} from "./kernels_wasm.ts";

/** The module's exports. Addresses are byte offsets into `memory`; see `kernels.wat`. */
export interface SimdKernels {
  /** The module's linear memory. */
  memory: WebAssembly.Memory;
  /** `n` floats at `p`, in place: 1 / (1 + e^−x). */
  sigmoid(p: number, n: number): void;
  /** `n` floats at `p`, in place: tanh x. */
  tanh(p: number, n: number): void;
  /** `n` floats at `p`, in place: e^x (x clamped to [−87, 88]). */
  exp(p: number, n: number): void;
  /** `rows` rows of `cols` floats, `stride` bytes apart, in place: sigmoid (fn 0) or tanh (1). */
  activate_rows(p: number, rows: number, cols: number, stride: number, fn: number): void;
  /** One LSTM step for a batch (gates activated in place; c, tanh c and h written). */
  lstm_forward_step(
    z: number,
    zStride: number,
    cPrev: number,
    c: number,
    tanhC: number,
    h: number,
    stateStride: number,
    batch: number,
    units: number,
    first: number,
  ): void;
  /** The backward step of `lstm_forward_step` (pre-activation gradients, dc in place). */
  lstm_backward_step(
    gates: number,
    dz: number,
    zStride: number,
    cPrev: number,
    tanhC: number,
    stateStride: number,
    dy: number,
    dh: number,
    dc: number,
    batch: number,
    units: number,
    first: number,
    hasDy: number,
  ): void;
  /** Softmax of `rows` rows of `cols` floats in place (`causal`: row i keeps i + 1). */
  softmax_rows(p: number, rows: number, cols: number, stride: number, causal: number): void;
  /**
   * `softmax_rows` with a key mask folded in: `bias` (`cols` floats: 0, or −1e9 for a
   * padded key) added to each row first; with `zero` ≠ 0 the entries of nonzero bias then
   * exactly 0. The rows are rows `row0 …` of the score matrix (their causal extent).
   */
  /**
   * `C = alpha·A·B` (`acc` = 0) or `C += alpha·A·B`: A `m×k`, B `k×n`, C `m×n`, row-major,
   * row strides in bytes (the attention's per-head products, in place).
   */
  mm(
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    acc: number,
  ): void;
  /** `dst = srcᵀ`: src `rows×cols` (row stride `lds` bytes), dst `cols×rows` (`ldd`). */
  transpose(src: number, lds: number, dst: number, ldd: number, rows: number, cols: number): void;
  /**
   * The attention's forward pass for sequences `b0 … b1 − 1`: per head, `P = softmax(scale ·
   * Q·Kᵀ)` (causal ≠ 0: keys ≤ the query's position) into `p [B, heads, T, T]`, then
   * `Y = P·V` into `y [B·T, D]`, from `qkv [B·T, 3D]`; `kt` is scratch for one head's Kᵀ.
   * With `starts` ≠ 0 the key mask (see `kernels.wat`): `starts` int32 [B], `bias` [B, T].
   */
  attention_forward(
    qkv: number,
    y: number,
    p: number,
    kt: number,
    T: number,
    D: number,
    heads: number,
    scale: number,
    causal: number,
    b0: number,
    b1: number,
    starts: number,
    bias: number,
  ): void;
  /**
   * The attention's backward pass for sequences `b0 … b1 − 1`: `dqkv [B·T, 3D]` written
   * from `qkv`, the forward's weights `p` and the output's gradient `dy [B·T, D]`; `work`
   * is scratch of `hd·T + 3·T·T` floats.
   */
  attention_backward(
    qkv: number,
    dy: number,
    p: number,
    dqkv: number,
    work: number,
    T: number,
    D: number,
    heads: number,
    scale: number,
    b0: number,
    b1: number,
  ): void;
  /** Output row i = table row `ids[i]` (int32), `n` rows of `rowBytes` (ids already checked). */
  gather_rows(out: number, table: number, ids: number, n: number, rowBytes: number): void;
  /**
   * `out = 0` (`segments` rows of `inner` floats), then out row `ids[r]` += src row r for
   * r = 0 … n − 1 in order; ids outside `[0, segments)` skipped.
   */
  scatter_add_rows(
    out: number,
    src: number,
    ids: number,
    n: number,
    inner: number,
    segments: number,
  ): void;
  softmax_rows_masked(
    p: number,
    rows: number,
    cols: number,
    stride: number,
    causal: number,
    row0: number,
    bias: number,
    zero: number,
  ): void;
  /** Softmax backward in place of `d`: d ← p ∘ (d − Σ d·p), row by row. */
  softmax_backward_rows(p: number, d: number, rows: number, cols: number, stride: number): void;
  /**
   * Layer normalisation of contiguous rows of `d` floats (x̂, y and 1/σ written); of the
   * rows of x + residual where `residual` (an address) is not 0, the sum also written to
   * `sum` where that is not 0.
   */
  layer_norm_forward(
    x: number,
    y: number,
    xhat: number,
    rstd: number,
    gamma: number,
    beta: number,
    rows: number,
    d: number,
    epsilon: number,
    residual: number,
    sum: number,
  ): void;
  /**
   * Its backward pass: dx written (plus `ds` where that address is not 0), Σ dy·x̂ and Σ dy
   * added to dgamma and dbeta.
   */
  layer_norm_backward(
    dy: number,
    xhat: number,
    rstd: number,
    gamma: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    rows: number,
    d: number,
    ds: number,
  ): void;
  /** Per sample and channel of `y [B·T, F]`, max over its first `L` rows and that row (i32). */
  max_over_time(
    y: number,
    best: number,
    arg: number,
    batch: number,
    steps: number,
    valid: number,
    channels: number,
  ): void;
  /** Gradient of conv → max over time through the winning windows (see `kernels.wat`). */
  conv_max_backward(
    x: number,
    wt: number,
    dx: number,
    dwt: number,
    g: number,
    arg: number,
    n: number,
    channels: number,
    window: number,
    features: number,
  ): void;
  /** `n` floats at `p`, in place: max(x, 0) on the bits (−0 and negatives become +0). */
  relu(p: number, n: number): void;
  /**
   * A dense layer's backward epilogue over `rows × n` floats: `dz = dy · step(y)` when
   * `relu` ≠ 0, and `db` = the column sums of dz (of dy when `relu` = 0).
   */
  dense_backward_epilogue(
    dy: number,
    y: number,
    dz: number,
    db: number,
    rows: number,
    n: number,
    relu: number,
  ): void;
  /** One Adam step over `n` weights in place (m, v and w updated; see `kernels.wat`). */
  adam_update(
    g: number,
    m: number,
    v: number,
    w: number,
    n: number,
    beta1: number,
    beta2: number,
    learningRate: number,
    c1: number,
    c2: number,
    epsilon: number,
  ): void;
}

let kernels: SimdKernels | null = null;
/** The compiled shared-memory build, when {@linkcode simd} runs it (helper threads can). */
let sharedModule: WebAssembly.Module | null = null;
let forceOwn = false;

/** Pages of 64 KiB the shared memory may grow to (as the shared build declares: 4 GiB). */
const MAX_PAGES = 65536;

/**
 * The instantiated SIMD module (compiled on first use, about 16 kB). Where the runtime
 * has shared WebAssembly memory and relaxed SIMD, its memory is a shared
 * `WebAssembly.Memory` (the same kernels then run on helper threads, `simd_threads.ts`)
 * and `$madd` is relaxed SIMD's fused multiply-add; elsewhere a memory of its own and
 * plain f32x4 multiply and add. Throws, saying so, where WebAssembly SIMD is unavailable.
 */
export function simd(): SimdKernels {
  if (kernels) return kernels;
  const bytes = decodeBase64(WASM_BASE64);
  if (!WebAssembly.validate(bytes)) {
    throw new Error(
      "This runtime cannot compile the library's SIMD kernels (WebAssembly SIMD, multi-value " +
        "and bulk memory are needed): use Deno ≥ 1.30 or a current browser.",
    );
  }
  if (!forceOwn) {
    try {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
      const module = new WebAssembly.Module(decodeBase64(WASM_SHARED_BASE64));
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      kernels = { ...instance.exports, memory } as unknown as SimdKernels;
      sharedModule = module;
      return kernels;
    } catch {
      // no shared WebAssembly memory here: the build with a memory of its own
    }
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  kernels = instance.exports as unknown as SimdKernels;
  sharedModule = null;
  return kernels;
}

/**
 * The compiled module {@linkcode simd} runs when its memory is shared (for helper threads
 * to instantiate on the same memory), else `null`.
 */
export function simdSharedModule(): WebAssembly.Module | null {
  simd();
  return sharedModule;
}

// the helper threads (helper_threads.ts) run every exported function of the shared build
provideHelperModule("kernels", () => {
  const module = simdSharedModule();
  const exports = module
    ? WebAssembly.Module.exports(module).filter((e) => e.kind === "function").map((e) => e.name)
    : [];
  return { module, memory: module ? simd().memory : null, exports };
});

/**
 * Runs {@linkcode simd} on a memory of its own (`true`: no helper threads, as where shared
 * memory is missing) or chooses again (`false`). Every block must be free: the memory is
 * replaced. For tests of that fallback.
 * @internal
 */
export function forceOwnSimdMemory(own: boolean): void {
  if (used.length > 0) {
    throw new Error("forceOwnSimdMemory: free every SimdBlock first (the memory is replaced).");
  }
  forceOwn = own;
  kernels = null;
  sharedModule = null;
  void resetHelperThreads(); // their instances are on the memory replaced
}

/** tfjs-backend-wasm's backend, as far as {@linkcode wasmHeapKernels} reads it. */
interface WasmBackendLike {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap?: { get(dataId: object): { memoryOffset: number; refCount?: number } | undefined };
}

/** The SIMD kernels instantiated on tfjs-backend-wasm's heap, with tensors' addresses. */
export interface HeapKernels {
  /** The kernels; their addresses are byte offsets into tfjs-wasm's heap. */
  kernels: Omit<SimdKernels, "memory">;
  /** The heap itself (its buffer changes when tfjs grows it: take views after allocating). */
  memory: WebAssembly.Memory;
  /** Byte address of a tensor's data in the heap. */
  address(t: { dataId: object }): number;
  /** How many tensors share this tensor's data (1: nobody else sees it change). */
  refCount(t: { dataId: object }): number;
  /**
   * The build: `"relaxed fma"` (`mm` and `exp` with relaxed SIMD's fused multiply-add,
   * where the runtime validates it) or `"f32x4"` (plain multiply and add).
   */
  kind: "relaxed fma" | "f32x4";
}

let heapInstances = new WeakMap<object, HeapKernels | null>();
let heapPlain = false;

/**
 * Instantiates the plain f32x4 heap build even where relaxed SIMD validates (`true`), or
 * chooses again (`false`); for tests and benchmarks. Applies to backends seen after it.
 * @internal
 */
export function forcePlainHeapKernels(plain: boolean): void {
  heapPlain = plain;
  heapInstances = new WeakMap();
}

/**
 * The SIMD kernels on tfjs-backend-wasm's own heap (`kernels.wat` assembled with its
 * memory imported, see `build.ts`), so that a kernel registered for the wasm backend can
 * run them in place on its inputs and outputs instead of copying them into
 * {@linkcode simd}'s memory and back; `null` for any other backend, or where tfjs-wasm's
 * memory cannot be imported (its multi-threaded build shares its memory).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { wasmHeapKernels } from "nn/kernels/simd/simd.ts";
 * await tf.setBackend("cpu");
 * console.log(wasmHeapKernels(tf.backend())); // null: not the wasm backend
 * ```
 */
export function wasmHeapKernels(backend: object): HeapKernels | null {
  if (heapInstances.has(backend)) return heapInstances.get(backend)!;
  const b = backend as WasmBackendLike;
  const memory = b.wasm?.asm?.memory;
  const ids = b.dataIdMap;
  let found: HeapKernels | null = null;
  if (memory instanceof WebAssembly.Memory && ids) {
    try {
      const relaxed = decodeBase64(WASM_HEAP_RELAXED_BASE64);
      const kind = !heapPlain && WebAssembly.validate(relaxed) ? "relaxed fma" : "f32x4";
      const bytes = kind === "relaxed fma" ? relaxed : decodeBase64(WASM_HEAP_BASE64);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
        env: { memory },
      });
      const info = (t: { dataId: object }) => {
        const i = ids.get(t.dataId);
        if (!i) throw new Error("wasmHeapKernels: a tensor that is not on the wasm backend.");
        return i;
      };
      found = {
        kernels: instance.exports as unknown as Omit<SimdKernels, "memory">,
        memory,
        address: (t) => info(t).memoryOffset,
        refCount: (t) => info(t).refCount ?? Infinity, // unknown: treat as shared
        kind,
      };
    } catch {
      found = null; // a shared (threaded) heap: the callers copy, as on cpu
    }
  }
  heapInstances.set(backend, found);
  return found;
}

/** The first bytes stay unused, so that no block starts at address 0. */
const HEAP_START = 64;
const PAGE = 65536;
/** [start, end) byte ranges in use, sorted by start. */
const used: [number, number][] = [];

const orphans = new FinalizationRegistry<SimdBlock[]>((blocks) => {
  for (const b of blocks) b.free();
});

/** A block of floats in the SIMD module's memory. */
export class SimdBlock {
  /** Byte offset of the first float (16-byte aligned). */
  readonly offset: number;
  /** Number of floats. */
  readonly length: number;
  #freed = false;

  constructor(offset: number, length: number) {
    this.offset = offset;
    this.length = length;
  }

  /** Whether {@linkcode SimdBlock.free} ran. */
  get freed(): boolean {
    return this.#freed;
  }

  /** The block's floats; valid until the next {@linkcode simdAlloc}. */
  view(): Float32Array {
    if (this.#freed) throw new Error("SimdBlock.view() after free(): the block was released.");
    return new Float32Array(simd().memory.buffer, this.offset, this.length);
  }

  /** Byte address of the block's float number `floats` (for the kernels' pointer arguments). */
  at(floats: number): number {
    return this.offset + 4 * floats;
  }

  /** Gives the block back (idempotent). */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    const i = used.findIndex(([s]) => s === this.offset);
    if (i >= 0) used.splice(i, 1);
  }
}

function place(bytes: number): number {
  let start = HEAP_START;
  for (let i = 0; i < used.length; i++) {
    if (used[i][0] - start >= bytes) {
      used.splice(i, 0, [start, start + bytes]);
      return start;
    }
    start = used[i][1];
  }
  const memory = simd().memory;
  const need = start + bytes - memory.buffer.byteLength;
  if (need > 0) memory.grow(Math.ceil(need / PAGE));
  used.push([start, start + bytes]);
  return start;
}

/**
 * Blocks of the given numbers of floats (contents undefined). Free each with
 * {@linkcode SimdBlock.free}; blocks given an `owner` are also freed once the owner is
 * garbage-collected (for state a backward pass may never come to release).
 */
export function simdAlloc(lengths: number[], owner?: object): SimdBlock[] {
  const blocks = lengths.map((n) => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`simdAlloc: bad length ${n}.`);
    return new SimdBlock(place(Math.max(16, Math.ceil((4 * n) / 16) * 16)), n);
  });
  if (owner) orphans.register(owner, blocks);
  return blocks;
}

/** Bytes in use and the memory's size (for leak checks in tests). */
export function simdMemoryStats(): { usedBytes: number; blocks: number; memoryBytes: number } {
  return {
    usedBytes: used.reduce((s, [a, b]) => s + b - a, 0),
    blocks: used.length,
    memoryBytes: simd().memory.buffer.byteLength,
  };
}

/**
 * Whether tfjs is recording a gradient tape, so that a fused op's backward pass may
 * follow; when not, an op frees the state it would have kept for it at once.
 */
export function backwardMayFollow(): boolean {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
}

/**
 * Applies one of the element-wise kernels to a copy of `values` (for tests and small
 * inputs; fused ops call the kernels on their own blocks).
 *
 * @example
 * ```ts
 * import { simdMap } from "nn/kernels/simd/simd.ts";
 * console.log(simdMap("exp", new Float32Array([0, 1]))[1].toFixed(5)); // "2.71828"
 * ```
 */
export function simdMap(fn: "exp" | "sigmoid" | "tanh", values: Float32Array): Float32Array {
  const [block] = simdAlloc([values.length]);
  try {
    block.view().set(values);
    simd()[fn](block.offset, values.length);
    return block.view().slice();
  } finally {
    block.free();
  }
}
