/**
 * The library's own GEMM (`gemm.wat`: packed panels, a 4×8 register tile of f32x4
 * accumulators, cache blocking), for machines without a system BLAS. It uses relaxed
 * SIMD's fused multiply-add where the runtime validates it (V8 compiles
 * `f32x4.relaxed_madd` to one FMA instruction on CPUs that have it), plain f32x4
 * multiply and add elsewhere.
 *
 * The module has its own linear memory (so that growing it never detaches the views the
 * fused ops hold into the other SIMD module's memory): the operands are copied in (a
 * `memcpy` per matrix, or per row for a strided slice of a wider array), and C copied
 * back; that is O(m·k + k·n + m·n) next to the product's O(m·n·k).
 *
 * @example
 * ```ts
 * import { simdGemm } from "nn/kernels/simd/simd_gemm.ts";
 * const a = new Float32Array([1, 2, 3, 4]); // [[1, 2], [3, 4]]
 * const c = new Float32Array([10, 10, 10, 10]);
 * simdGemm(false, true, 2, 2, 2, 1, a, 2, a, 2, 1, c, 2); // c += a·aᵀ
 * console.log(c); // Float32Array [15, 21, 21, 35]
 * ```
 * @module
 */

import { decodeBase64 } from "./base64.ts";
import { GEMM_RELAXED_WASM_BASE64, GEMM_WASM_BASE64 } from "./gemm_wasm.ts";

interface GemmModule {
  memory: WebAssembly.Memory;
  gemm(
    ta: number,
    tb: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
    wa: number,
    wb: number,
  ): void;
}

/** Which build of the own GEMM runs. */
export type SimdGemmKind = "relaxed fma" | "f32x4";

type Loaded = { module: GemmModule; kind: SimdGemmKind };

let instance: Loaded | null | undefined;
let forcePlain = false;
const built = new Map<SimdGemmKind, Loaded | null>();

/** The build of that kind, or `null` where this runtime does not validate it. */
function build(kind: SimdGemmKind): Loaded | null {
  if (!built.has(kind)) {
    const bytes = decodeBase64(kind === "f32x4" ? GEMM_WASM_BASE64 : GEMM_RELAXED_WASM_BASE64);
    let loaded: Loaded | null = null;
    if (WebAssembly.validate(bytes)) {
      const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      loaded = { module: inst.exports as unknown as GemmModule, kind };
    }
    built.set(kind, loaded);
  }
  return built.get(kind)!;
}

function instantiate(): Loaded | null {
  if (typeof WebAssembly === "undefined") return null;
  return (forcePlain ? null : build("relaxed fma")) ?? build("f32x4");
}

function loaded(): Loaded | null {
  if (instance === undefined) instance = instantiate();
  return instance;
}

/**
 * The build that runs: `"relaxed fma"` (relaxed SIMD validated), `"f32x4"` (plain
 * SIMD), or `null` where this runtime has no WebAssembly SIMD.
 */
export function simdGemmKind(): SimdGemmKind | null {
  return loaded()?.kind ?? null;
}

/**
 * Uses the plain f32x4 build even where relaxed SIMD validates (`true`), or chooses
 * again (`false`); for tests and benchmarks.
 * @internal
 */
export function forcePlainSimdGemm(plain: boolean): void {
  forcePlain = plain;
  instance = undefined;
}

// must match gemm.wat's blocking
const MC = 128;
const KC = 256;
const NC = 1024;
/** Bytes 0–127 hold the micro-kernel's scratch tile. */
const HEAP_START = 128;

const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** Where a matrix operand goes in the module's memory, and how to copy it there. */
interface Placement {
  /** floats the copy occupies */
  floats: number;
  /** row stride of the copy */
  ld: number;
  /** copy the whole span (rows − 1)·ld + cols at once (else row by row, compacted) */
  span: boolean;
}

function place(rows: number, cols: number, ld: number): Placement {
  const spanFloats = (rows - 1) * ld + cols;
  // a strided slice of a much wider array (a time step of a sequence) goes row by row
  if (ld === cols || spanFloats <= 2 * rows * cols) return { floats: spanFloats, ld, span: true };
  return { floats: rows * cols, ld: cols, span: false };
}

/** Rows at most this long are copied by a loop (a `subarray` and `set` per row cost more). */
const SHORT_ROW = 64;

function copyIn(
  heap: Float32Array,
  at: number,
  src: Float32Array,
  rows: number,
  cols: number,
  ld: number,
  p: Placement,
) {
  if (p.span) heap.set(p.floats === src.length ? src : src.subarray(0, p.floats), at);
  else if (cols <= SHORT_ROW) {
    for (let r = 0; r < rows; r++) {
      const s = r * ld, d = at + r * cols;
      for (let j = 0; j < cols; j++) heap[d + j] = src[s + j];
    }
  } else {
    for (let r = 0; r < rows; r++) heap.set(src.subarray(r * ld, r * ld + cols), at + r * cols);
  }
}

function copyOut(
  heap: Float32Array,
  at: number,
  c: Float32Array,
  m: number,
  n: number,
  ldc: number,
  p: Placement,
) {
  if (p.span) c.set(heap.subarray(at, at + p.floats));
  else if (n <= SHORT_ROW) {
    for (let r = 0; r < m; r++) {
      const s = at + r * n, d = r * ldc;
      for (let j = 0; j < n; j++) c[d + j] = heap[s + j];
    }
  } else {
    for (let r = 0; r < m; r++) c.set(heap.subarray(at + r * n, at + r * n + n), r * ldc);
  }
}

let heapView: Float32Array | null = null;

/** A view of the whole memory, made again only after the memory grew. */
function heapOf(memory: WebAssembly.Memory): Float32Array {
  if (heapView?.buffer !== memory.buffer) heapView = new Float32Array(memory.buffer);
  return heapView;
}

/**
 * `C = alpha · op(A) · op(B) + beta · C` in the own SIMD GEMM (same contract as
 * `gemm` in `lib/kernels/gemm.ts`: row-major arrays, strides in floats). Throws where
 * WebAssembly SIMD is unavailable (see {@linkcode simdGemmKind}).
 */
export function simdGemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
): void {
  if (m <= 0 || n <= 0) return;
  const mod = loaded()?.module;
  if (!mod) {
    throw new Error(
      "simdGemm: this runtime cannot compile WebAssembly SIMD; use the TypeScript GEMM (gemmTs).",
    );
  }
  const useAB = k > 0 && alpha !== 0;
  const aRows = transA ? k : m, aCols = transA ? m : k;
  const bRows = transB ? n : k, bCols = transB ? k : n;
  const pa = useAB ? place(aRows, aCols, lda) : { floats: 0, ld: lda, span: true };
  const pb = useAB ? place(bRows, bCols, ldb) : { floats: 0, ld: ldb, span: true };
  const pc = place(m, n, ldc);
  const offA = HEAP_START;
  const offB = offA + align(4 * pa.floats);
  const offC = offB + align(4 * pb.floats);
  const offWa = offC + align(4 * pc.floats);
  const offWb = offWa + (useAB ? 4 * MC * KC : 0);
  const end = offWb + (useAB ? 4 * KC * Math.ceil(Math.min(n, NC) / 8) * 8 : 0);
  const memory = mod.memory;
  if (end > memory.buffer.byteLength) {
    memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  }
  const heap = heapOf(memory);
  if (useAB) {
    copyIn(heap, offA / 4, a, aRows, aCols, lda, pa);
    copyIn(heap, offB / 4, b, bRows, bCols, ldb, pb);
  }
  // C's old values are needed when beta ≠ 0, and in the gaps of a span copied back whole
  if (beta !== 0 || (pc.span && pc.ld !== n)) copyIn(heap, offC / 4, c, m, n, ldc, pc);
  mod.gemm(
    transA ? 1 : 0,
    transB ? 1 : 0,
    m,
    n,
    useAB ? k : 0,
    alpha,
    offA,
    pa.ld,
    offB,
    pb.ld,
    beta,
    offC,
    pc.ld,
    offWa,
    offWb,
  );
  copyOut(heap, offC / 4, c, m, n, ldc, pc);
}
