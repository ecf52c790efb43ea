/**
 * Matrix products for software WebGPU adapters (Mesa's llvmpipe / lavapipe, SwiftShader):
 * `BatchMatMul` and `_FusedMatMul` (bias, ReLU) as one WGSL program in which each lane
 * computes eight rows by four columns of C in registers, with no workgroup memory and no
 * barrier. tfjs-webgpu's tiled matmul shares tiles through workgroup memory between
 * barriers, which a GPU runs well and a CPU-emulated adapter runs slowly: on lavapipe
 * (2-core AMD EPYC) `[128, 784] · [784, 300]` took 89 ms with it (0.68 GFLOP/s) against
 * about 60 ms with this program. Each element of C is the same float32 sum over k in
 * order. Used only while the backend's adapter is a fallback adapter (set by
 * `setupBackend`, or {@linkcode setSoftwareAdapter}) and the library's WebGPU fusion is
 * on; what it does not take (ranks above 3, batch broadcasting other than against 1,
 * other activations, a bias that is not one value per column, more than 65 535 workgroups
 * of 64 lanes) goes to tfjs's kernel.
 *
 * @example
 * ```ts
 * import { setSoftwareAdapter, softwareAdapter } from "nn/kernels/webgpu/matmul_software.ts";
 * setSoftwareAdapter(true); // as if setupBackend had found llvmpipe
 * console.log(softwareAdapter()); // true
 * setSoftwareAdapter(null); // follow the adapter again
 * ```
 * @module
 */

import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { sizeOf } from "../io.ts";
import { type Uniform, WGSLProgram } from "./program.ts";

let detected = false;
let forced: boolean | null = null;

/**
 * Whether the webgpu backend is taken to run on a software (fallback) adapter: what
 * {@linkcode setSoftwareAdapter} forced, else what `setupBackend` found.
 */
export function softwareAdapter(): boolean {
  return forced ?? detected;
}

/**
 * Forces {@linkcode softwareAdapter} (`true` / `false`; `null`: follow the adapter again);
 * returns the previous forced value. For tests and comparisons.
 */
export function setSoftwareAdapter(on: boolean | null): boolean | null {
  const was = forced;
  forced = on;
  return was;
}

/**
 * Records whether the adapter `setupBackend` chose is a fallback adapter.
 * @internal called by the library's backend hook
 */
export function noteFallbackAdapter(fallback: boolean): void {
  detected = fallback;
}

/** Rows of C per lane (columns: one vec4). */
const ROWS = 8;

const ACTIVATIONS: Record<string, string> = { linear: "v", relu: "max(v, vec4<f32>(0.0))" };

function program(
  key: string,
  outShape: number[],
  lanes: number,
  transposeA: boolean,
  transposeB: boolean,
  bias: boolean,
  activation: string,
): WGSLProgram {
  const r = [...Array(ROWS).keys()];
  // A[b, row, q] and B[b, q, col] as stored (transposed or not)
  const aAt = transposeA ? "q * M + rr" : "rr * K + q";
  const bAt = (j: number) => transposeB ? `(c${j}) * K + q` : `q * N + c${j}`;
  return new WGSLProgram({
    key,
    inputs: bias ? ["A", "B", "bias"] : ["A", "B"],
    outputShape: outShape,
    workgroups: Math.ceil(lanes / 64),
    uniforms: "M : i32, K : i32, N : i32, batch : i32, strideA : i32, strideB : i32,",
    code: `
fn main(index : i32) {
  let M = uniforms.M; let K = uniforms.K; let N = uniforms.N;
  let n4 = (N + 3) / 4;
  let m8 = (M + ${ROWS - 1}) / ${ROWS};
  if (index >= uniforms.batch * m8 * n4) { return; }
  let b = index / (m8 * n4);
  let row = ((index / n4) % m8) * ${ROWS};
  let col = (index % n4) * 4;
  let a0 = b * uniforms.strideA;
  let b0 = b * uniforms.strideB;
  // columns past N read column N − 1 (stores skip them)
  let c0 = min(col, N - 1); let c1 = min(col + 1, N - 1);
  let c2 = min(col + 2, N - 1); let c3 = min(col + 3, N - 1);
  ${r.map((i) => `var s${i} = vec4<f32>(0.0);`).join("\n  ")}
  for (var q = 0; q < K; q++) {
    let bv = vec4<f32>(B[b0 + ${bAt(0)}], B[b0 + ${bAt(1)}], B[b0 + ${bAt(2)}], B[b0 + ${bAt(3)}]);
    ${
      r.map((i) =>
        `{ let rr = min(row + ${i}, M - 1); s${i} = fma(vec4<f32>(A[a0 + ${aAt}]), bv, s${i}); }`
      ).join("\n    ")
    }
  }
  ${
      bias
        ? `let bb = vec4<f32>(bias[c0], bias[c1], bias[c2], bias[c3]);
  ${r.map((i) => `s${i} = s${i} + bb;`).join(" ")}`
        : ""
    }
  let out0 = b * M * N;
  ${
      r.map((i) =>
        `if (row + ${i} < M) { let v = s${i}; store(out0 + (row + ${i}) * N, col, N, ${
          ACTIVATIONS[activation]
        }); }`
      ).join("\n  ")
    }
}
fn store(at : i32, col : i32, N : i32, v : vec4<f32>) {
  for (var j = 0; j < 4; j++) { if (col + j < N) { result[at + col + j] = v[j]; } }
}`,
  });
}

/**
 * `BatchMatMul` or `_FusedMatMul` (per `kernelName`) as the software adapter's program, or
 * `null` where the arguments are not ones it takes (the caller then runs tfjs's kernel).
 */
export function softwareMatMul(
  kernelName: string,
  args: Parameters<KernelFunc>[0],
): TensorInfo | null {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo>;
  const attrs = (args.attrs ?? {}) as {
    transposeA?: boolean;
    transposeB?: boolean;
    activation?: string;
  };
  const activation = attrs.activation ?? "linear";
  if (a.dtype !== "float32" || b.dtype !== "float32" || preluActivationWeights) return null;
  if (!(activation in ACTIVATIONS)) return null;
  if (a.shape.length < 2 || a.shape.length > 3 || b.shape.length < 2 || b.shape.length > 3) {
    return null;
  }
  const [ta, tb] = [Boolean(attrs.transposeA), Boolean(attrs.transposeB)];
  const batchA = a.shape.length === 3 ? a.shape[0] : 1;
  const batchB = b.shape.length === 3 ? b.shape[0] : 1;
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [M, K] = ta ? [ca, ra] : [ra, ca];
  const [K2, N] = tb ? [cb, rb] : [rb, cb];
  if (K !== K2) return null; // tfjs's kernel says what is wrong
  if (bias && (bias.dtype !== "float32" || sizeOf(bias.shape) !== N)) return null;
  const batch = Math.max(batchA, batchB);
  const outShape = a.shape.length === 3 || b.shape.length === 3 ? [batch, M, N] : [M, N];
  if (M === 0 || N === 0 || K === 0) return null;
  const lanes = batch * Math.ceil(M / ROWS) * Math.ceil(N / 4);
  // one dispatch dimension: at most 65 535 workgroups (WebGPU's guaranteed limit)
  if (Math.ceil(lanes / 64) > 65535) return null;
  const key = `software_matmul_${ta ? "t" : "n"}${tb ? "t" : "n"}_${bias ? "bias" : ""}` +
    `_${activation}_${kernelName}`;
  const prog = program(key, outShape, lanes, ta, tb, Boolean(bias), activation);
  const int = (x: number): Uniform => ({ type: "int32", data: [x] });
  const uniforms = [
    int(M),
    int(K),
    int(N),
    int(batch),
    int(batchA === 1 ? 0 : M * K),
    int(batchB === 1 ? 0 : K * N),
  ];
  const backend = args.backend as unknown as WebGPUBackend;
  return backend.runWebGPUProgram(prog, bias ? [a, b, bias] : [a, b], "float32", uniforms);
}
