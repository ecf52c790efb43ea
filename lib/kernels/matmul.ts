/**
 * Faster `BatchMatMul` and `_FusedMatMul` for the wasm and cpu backends.
 *
 * With a system BLAS (see {@linkcode gemm}) both run as `cblas_sgemm` calls straight on
 * the wasm heap, transposes included, bias and activation fused in a pass over the
 * output. Without one, transposed operands are first materialised with the backend's
 * own `Transpose` (tfjs-wasm's XNNPACK matmul is about 10× slower on a transposed
 * operand than on a transposed copy, and every backward matmul is transposed).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "nn/kernels/mod.ts";
 * await tf.setBackend("wasm");
 * const a = tf.tensor2d([[1, 2], [3, 4]]);
 * console.log(tf.matMul(a, a, true, false).arraySync()); // [[10, 14], [14, 20]]
 * ```
 * @module
 */

import { broadcast_util, getKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { allocOutput, f32, release, sizeOf, view } from "./io.ts";
import { fillRows, gemm, hasBlas } from "./gemm.ts";
import { reluInPlace } from "./dense.ts";

type Attrs = Record<string, unknown>;

function originalOf(kernelName: string, backendName: string): KernelConfig {
  const k = getKernel(kernelName, backendName);
  if (!k) throw new Error(`tfjs has no ${kernelName} kernel for ${backendName} to wrap.`);
  return k;
}

interface Plan {
  m: number;
  n: number;
  k: number;
  batch: number;
  batchA: number;
  batchB: number;
  outShape: number[];
}

function plan(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean): Plan | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return null; // let the original kernel raise its error
  const outer = broadcast_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  const batch = sizeOf(outer);
  if (!(batchA === batch || batchA === 1) || !(batchB === batch || batchB === 1)) return null;
  return { m, n, k, batch, batchA, batchB, outShape: [...outer, m, n] };
}

function sgemmBatched(
  backend: object,
  a: TensorInfo,
  b: TensorInfo,
  transA: boolean,
  transB: boolean,
  p: Plan,
  init?: (C: Float32Array) => void,
): TensorInfo {
  const out = allocOutput(backend, p.outShape, "float32");
  const C = f32(backend, out);
  // with `init` (a bias), C starts from its values and the GEMMs add to them (beta = 1)
  if (init) init(C);
  const beta = init ? 1 : 0;
  const A = f32(backend, a);
  const B = f32(backend, b);
  const { m, n, k } = p;
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  if (k === 0 && !init) C.fill(0);
  for (let i = 0; i < p.batch; i++) {
    const ao = p.batchA === 1 ? 0 : i * m * k;
    const bo = p.batchB === 1 ? 0 : i * k * n;
    gemm(
      transA,
      transB,
      m,
      n,
      k,
      1,
      ao === 0 ? A : A.subarray(ao),
      lda,
      bo === 0 ? B : B.subarray(bo),
      ldb,
      beta,
      i === 0 ? C : C.subarray(i * m * n),
      n,
    );
  }
  return out;
}

function transposeLast2(
  backend: object,
  transpose: KernelFunc,
  x: TensorInfo,
): TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
}

/** Runs `original` on transposed copies instead of transposed operands. */
function materialised(
  original: KernelFunc,
  transpose: KernelFunc,
  args: { inputs: Record<string, TensorInfo>; backend: object; attrs?: Attrs },
): TensorInfo {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as Attrs;
  const tA = Boolean(attrs.transposeA);
  const tB = Boolean(attrs.transposeB);
  if (!tA && !tB) return original(args as never) as TensorInfo;
  const a = tA ? transposeLast2(backend, transpose, inputs.a) : inputs.a;
  const b = tB ? transposeLast2(backend, transpose, inputs.b) : inputs.b;
  try {
    return original({
      inputs: { ...inputs, a, b },
      backend,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    } as never) as TensorInfo;
  } finally {
    if (tA) release(backend, a);
    if (tB) release(backend, b);
  }
}

function applyActivation(
  C: Float32Array,
  activation: string,
  alpha: number,
): boolean {
  switch (activation) {
    case "linear":
      return true;
    case "relu":
      reluInPlace(C);
      return true;
    case "relu6":
      for (let i = 0; i < C.length; i++) C[i] = C[i] < 0 ? 0 : C[i] > 6 ? 6 : C[i];
      return true;
    case "elu":
      for (let i = 0; i < C.length; i++) if (C[i] < 0) C[i] = Math.expm1(C[i]);
      return true;
    case "sigmoid":
      for (let i = 0; i < C.length; i++) C[i] = 1 / (1 + Math.exp(-C[i]));
      return true;
    case "leakyrelu":
      for (let i = 0; i < C.length; i++) if (C[i] < 0) C[i] *= alpha;
      return true;
    default:
      return false;
  }
}

/**
 * Kernel configs that replace tfjs's matmuls on `backendName` ("wasm" or "cpu"). Without a
 * native BLAS, wasm materialises transposed operands (see the module doc) and cpu keeps
 * tfjs's own kernel.
 */
export function matmulKernels(backendName: string): KernelConfig[] {
  const batchConfig = originalOf("BatchMatMul", backendName);
  const fusedConfig = originalOf("_FusedMatMul", backendName);
  const batchOriginal = batchConfig.kernelFunc;
  const fusedOriginal = fusedConfig.kernelFunc;
  const transpose = originalOf("Transpose", backendName).kernelFunc;
  // tfjs-cpu's matmul reads transposed operands as fast as plain ones: no copies there
  const fallback = (original: KernelFunc, args: Parameters<KernelFunc>[0]) =>
    backendName === "wasm"
      ? materialised(original, transpose, args as never)
      : original(args) as TensorInfo;
  /** float32 storage the GEMM can read (cpu tensors may hold other arrays). */
  const readable = (backend: object, ...ts: (TensorInfo | undefined)[]) =>
    ts.every((t) => !t || (t.dtype === "float32" && view(backend, t) instanceof Float32Array));

  const batchMatMul: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { a: TensorInfo; b: TensorInfo };
      backend: object;
      attrs: Attrs;
    };
    const { a, b } = inputs;
    const tA = Boolean(attrs.transposeA);
    const tB = Boolean(attrs.transposeB);
    if (hasBlas() && readable(backend, a, b)) {
      const p = plan(a, b, tA, tB);
      if (p) return sgemmBatched(backend, a, b, tA, tB, p);
    }
    return fallback(batchOriginal, args);
  };

  const fusedMatMul: KernelFunc = (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: {
        a: TensorInfo;
        b: TensorInfo;
        bias?: TensorInfo;
        preluActivationWeights?: TensorInfo;
      };
      backend: object;
      attrs: Attrs;
    };
    const { a, b, bias } = inputs;
    const tA = Boolean(attrs.transposeA);
    const tB = Boolean(attrs.transposeB);
    const activation = String(attrs.activation ?? "linear");
    const supported = ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu"].includes(
      activation,
    );
    if (hasBlas() && supported && readable(backend, a, b, bias)) {
      const p = plan(a, b, tA, tB);
      const biasSize = bias ? sizeOf(bias.shape) : 0;
      const outSize = p ? sizeOf(p.outShape) : 0;
      const biasOk = !bias ||
        (bias.dtype === "float32" &&
          (biasSize === 1 || (biasSize === p?.n && bias.shape[bias.shape.length - 1] === p.n) ||
            (biasSize === outSize && bias.shape.length === p?.outShape.length)));
      if (p && biasOk) {
        // the bias is written into the output first and the GEMM adds the product to it
        const init = bias
          ? (C: Float32Array) => {
            const bv = f32(backend, bias);
            if (biasSize === 1) C.fill(bv[0]);
            else fillRows(C, bv); // a row of n, or the whole output
          }
          : undefined;
        const out = sgemmBatched(backend, a, b, tA, tB, p, init);
        const C = f32(backend, out);
        applyActivation(C, activation, Number(attrs.leakyreluAlpha ?? 0.2));
        return out;
      }
    }
    return fallback(fusedOriginal, args);
  };

  return [
    // keep the originals' setup (it binds their wasm functions when the backend starts)
    {
      kernelName: "BatchMatMul",
      backendName,
      kernelFunc: batchMatMul,
      setupFunc: batchConfig.setupFunc,
    },
    {
      kernelName: "_FusedMatMul",
      backendName,
      kernelFunc: fusedMatMul,
      setupFunc: fusedConfig.setupFunc,
    },
  ];
}
