/**
 * Running a hand-written WGSL program through tfjs-webgpu's program interface, and
 * counting the GPU programs a piece of code dispatches.
 *
 * tfjs-webgpu wraps each program's `getUserCode()` in a shader that declares the output
 * buffer `result`, one read-only storage buffer per input (named as in
 * `variableNames`), and a `uniforms` struct (shapes, then the program's own fields). A
 * program here writes `fn main(index : i32)` (it must read `uniforms` and every input:
 * a binding the shader never uses is dropped from the pipeline), reads its inputs as flat arrays, finds its
 * workgroup as `index / WG` and its lane as `localId.x`, and writes `result[...]`. One
 * program has one output: a kernel that must keep several arrays for its backward pass
 * packs them side by side in one tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { countPrograms, runProgram, WGSLProgram } from "nn/kernels/webgpu/program.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const twice = new WGSLProgram({
 *     key: "twice",
 *     inputs: ["x"],
 *     outputShape: [4],
 *     workgroups: 1,
 *     code: `fn main(index : i32) {
 *       if (index < uniforms.size) { result[index] = 2.0 * x[index]; }
 *     }`,
 *   });
 *   const { value, programs } = countPrograms(() => runProgram(twice, [tf.ones([4])]));
 *   console.log(await value.data(), programs); // Float32Array [2, 2, 2, 2] 1
 * }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend, WebGPUProgram } from "@tensorflow/tfjs-backend-webgpu";

/** Lanes per workgroup of the programs here (tfjs's own default, safe on every adapter). */
export const WORKGROUP = 64;

/** Whether tfjs now runs on the webgpu backend. */
export function onWebGPU(): boolean {
  return tf.getBackend() === "webgpu";
}

let fusion = true;

/**
 * Whether the layers with `implementation: "auto"` (and the library's Adam) use the
 * WebGPU programs here on the webgpu backend (default true). Turn it off to compare with
 * plain tfjs ops on the same adapter: `setWebGPUFusion(false)`.
 */
export function webgpuFusion(): boolean {
  return fusion;
}

/** Sets {@linkcode webgpuFusion}; returns the previous setting. */
export function setWebGPUFusion(on: boolean): boolean {
  const was = fusion;
  fusion = on;
  return was;
}

/** Whether the fused WebGPU programs run now: the webgpu backend with fusion on. */
export function fusedOnWebGPU(): boolean {
  return fusion && onWebGPU();
}

/**
 * A program-defined uniform value, in the order the program's `uniforms` declares it: one
 * per field (tfjs aligns an entry of n numbers as a vecn, so `[T, B]` would not fill
 * `T : i32, B : i32`).
 */
export interface Uniform {
  /** WGSL `i32` or `f32`. */
  type: "int32" | "float32";
  /** The value(s). */
  data: number[];
}

/** What {@linkcode WGSLProgram} needs. */
export interface WGSLProgramArgs {
  /** Cache key: everything baked into `code` (sizes, flags) must be in it. */
  key: string;
  /** Input buffer names, in the order the inputs are passed. */
  inputs: string[];
  /** Shape of the output tensor. */
  outputShape: number[];
  /** Workgroups to dispatch (one dimension). */
  workgroups: number;
  /** WGSL fields of the program's uniforms, e.g. `"T : i32, scale : f32,"`. */
  uniforms?: string;
  /** The WGSL source: helpers, workgroup variables and `fn main(index : i32)`. */
  code: string;
  /** Lanes per workgroup. Default {@linkcode WORKGROUP}. */
  workgroupSize?: number;
}

/** A WGSL compute program in tfjs-webgpu's `WebGPUProgram` form (see the module doc). */
export class WGSLProgram implements WebGPUProgram {
  /** Declares `uniforms.size` (the output's element count). */
  size = true;
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms?: string;
  #code: string;

  constructor(args: WGSLProgramArgs) {
    const wg = args.workgroupSize ?? WORKGROUP;
    // the pipeline layout is "auto": a binding the shader never reads is dropped and the
    // dispatch then fails validation silently (the output stays zero)
    for (const name of [...args.inputs, "uniforms"]) {
      if (!new RegExp(`\\b${name}\\b`).test(args.code)) {
        throw new Error(`WebGPU program ${args.key} must read ${name} in its code.`);
      }
    }
    this.variableNames = args.inputs;
    this.outputShape = args.outputShape;
    this.shaderKey = `nn_${args.key}_wg${wg}`;
    this.dispatchLayout = { x: args.outputShape.map((_, i) => i) };
    this.dispatch = [Math.max(1, args.workgroups), 1, 1];
    this.workgroupSize = [wg, 1, 1];
    if (args.uniforms) this.uniforms = args.uniforms;
    this.#code = `const WG : i32 = ${wg};\n${HELPERS}\n${args.code}`;
  }

  getUserCode(): string {
    return this.#code;
  }
}

/**
 * Activations as the project's kernels define them. `tanh` through `exp(−2|x|)` never
 * overflows (WGSL's built-in may return NaN for large |x| on some drivers).
 */
const HELPERS = `
fn sigmoid_(v : f32) -> f32 { return 1.0 / (1.0 + exp(-v)); }
fn tanh_(v : f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}`;

/**
 * Runs `program` on the webgpu backend with `inputs` (float32 unless `dtype`) and its
 * own `uniforms`; returns the output as a tensor tracked by tfjs (tidy, dispose).
 */
export function runProgram(
  program: WGSLProgram,
  inputs: tf.Tensor[],
  uniforms: Uniform[] = [],
  dtype: "float32" | "int32" = "float32",
): tf.Tensor {
  if (!onWebGPU()) {
    throw new Error(
      `WebGPU program ${program.shaderKey} needs the webgpu backend (now ${tf.getBackend()}); ` +
        `call setupBackend({ backend: "webgpu" }) or use the layer's "ops" implementation.`,
    );
  }
  const backend = tf.backend() as unknown as WebGPUBackend;
  const info = backend.runWebGPUProgram(program, inputs, dtype, uniforms);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * Runs `f` and counts the GPU programs the webgpu backend dispatches meanwhile (tfjs's
 * own kernels and the ones here alike; 0 on other backends). `f` may be async.
 */
export function countPrograms<T>(f: () => T): { value: T; programs: number } {
  const counter = startCounting();
  try {
    const value = f();
    return { value, programs: counter.programs };
  } finally {
    counter.stop();
  }
}

/** A running count of dispatched GPU programs (see {@linkcode startCounting}). */
export interface ProgramCounter {
  /** Programs dispatched since the counter started. */
  readonly programs: number;
  /** Stops counting (restores the backend's method). */
  stop(): void;
}

/**
 * Starts counting the programs the webgpu backend dispatches, for code that awaits
 * (a training step): `const c = startCounting(); await step(); c.stop(); c.programs`.
 */
export function startCounting(): ProgramCounter {
  if (!onWebGPU()) return { programs: 0, stop() {} };
  const backend = tf.backend() as unknown as WebGPUBackend & { runWebGPUProgram: Run };
  const original = backend.runWebGPUProgram;
  let n = 0;
  const wrapped: Run = function (this: WebGPUBackend, ...a: Parameters<Run>) {
    n++;
    return original.apply(this, a);
  };
  backend.runWebGPUProgram = wrapped;
  return {
    get programs() {
      return n;
    },
    stop() {
      if (backend.runWebGPUProgram === wrapped) backend.runWebGPUProgram = original;
    },
  };
}

type Run = WebGPUBackend["runWebGPUProgram"];
