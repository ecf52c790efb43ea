// Helpers of the WebGPU kernel tests: run the same function on cpu and on webgpu from
// plain arrays (never moving a tensor between backends: that would read the GPU
// synchronously), read results with `await data()`, compare element by element.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { setupBackend } from "../../../../lib/backend.ts";

/** Whether this machine has a WebGPU adapter; the tests skip (saying so) without one. */
export const HAS_WEBGPU = await (async () => {
  try {
    const gpu = (navigator as { gpu?: GPU }).gpu;
    return !!(gpu && await gpu.requestAdapter());
  } catch {
    return false;
  }
})();
if (!HAS_WEBGPU) console.warn("No WebGPU adapter: the WebGPU kernel tests are skipped.");

/** Deno.test options that skip without an adapter (and allow tfjs's async resources). */
export function gpuTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore: !HAS_WEBGPU,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

/** Deterministic values in [−amp, amp]. */
export function values(n: number, seed: number, amp = 1): Float32Array {
  let s = seed * 7919 + 17;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 9301 + 49297) % 233280;
    v[i] = amp * (2 * (s / 233280) - 1);
  }
  return v;
}

/** An input: its shape and values. */
export interface Input {
  shape: number[];
  data: Float32Array | Int32Array;
  dtype?: "float32" | "int32";
}

/** Random float input of `shape`. */
export function input(shape: number[], seed: number, amp = 1): Input {
  return { shape, data: values(shape.reduce((a, b) => a * b, 1), seed, amp) };
}

/**
 * On `backend`: the value of `f(...inputs)` and the gradients of `Σ value · w` (w a fixed
 * random weighting, so every output element matters) with respect to the float inputs
 * listed in `wrt`; also checks that no tensor leaked.
 */
export async function valueAndGrads(
  backend: string,
  f: (...t: tf.Tensor[]) => tf.Tensor,
  inputs: Input[],
  wrt: number[] = inputs.map((_, i) => i),
): Promise<Float32Array[]> {
  await setupBackend({ backend });
  const before = tf.memory().numTensors;
  const ts = inputs.map((i) => tf.tensor(i.data, i.shape, i.dtype ?? "float32"));
  const y = tf.tidy(() => f(...ts));
  const w = tf.tensor(values(y.size, 99), y.shape);
  const grads = tf.grads((...g: tf.Tensor[]) => {
    const all = ts.slice();
    wrt.forEach((k, i) => all[k] = g[i]);
    return tf.sum(tf.mul(f(...all), w));
  })(wrt.map((k) => ts[k]));
  const out = [await y.data() as Float32Array];
  for (const g of grads) out.push(await g.data() as Float32Array);
  tf.dispose([...ts, y, w, ...grads]);
  assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
  return out;
}

/** |a − b| ≤ atol + rtol · |b| for every element. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol: number,
  atol: number,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(
      err <= atol + rtol * Math.abs(expected[i]),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (error ${err})`,
    );
    worst = Math.max(worst, err);
  }
}
