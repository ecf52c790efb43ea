/**
 * A dense layer's training step on WebGPU with bias and activation fused: forward, one
 * `_FusedMatMul` program (tfjs-webgpu's matmul with the bias and ReLU in its epilogue);
 * backward, one program for `dz = dy ∘ [y > 0]`, then `dX = dz · Wᵀ`, `dW = xᵀ · dz`
 * and the bias gradient `Σ dz`.
 *
 * tfjs's `fused.matMul` fuses only where no gradient is taped: while training, a dense
 * layer with ReLU dispatches a matmul, a bias add and the ReLU forward, and `Step`,
 * `Multiply` and the rest backward. Calling the `_FusedMatMul` kernel inside a
 * `tf.customGrad` keeps the fused program while training.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { denseWebGPU } from "nn/kernels/webgpu/dense.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const y = denseWebGPU(tf.ones([2, 3]), tf.ones([3, 4]), tf.zeros([4]), "relu");
 *   console.log(await y.data()); // eight 3s
 * }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { runProgram, WGSLProgram, WORKGROUP } from "./program.ts";

/** Lanes that each handle this many elements of the ReLU gradient. */
const PER_LANE = 4;

function reluGradCode(): string {
  return `
fn main(index : i32) {
  for (var e = 0; e < ${PER_LANE}; e++) {
    let i = index * ${PER_LANE} + e;
    if (i < uniforms.size) { result[i] = select(0.0, dy[i], y[i] > 0.0); }
  }
}`;
}

/**
 * `act(x · kernel + bias)` over the last axis of `x` (`[..., K]` · `[K, N]`), differentiable
 * in all three, as one fused program forward (see the module docs). `bias` may be null.
 */
export function denseWebGPU(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor | null,
  activation: "linear" | "relu",
): tf.Tensor {
  const K = kernel.shape[0];
  const N = kernel.shape[1] as number;
  const lead = x.shape.slice(0, -1);
  const rows = x.size / K;
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const xt = args[0] as tf.Tensor;
      const wt = args[1] as tf.Tensor;
      const bt = bias ? args[2] as tf.Tensor : null;
      const save = args[bias ? 3 : 2] as (ts: tf.Tensor[]) => void;
      const x2 = tf.reshape(xt, [rows, K]);
      const inputs: Record<string, tf.Tensor> = { a: x2, b: wt };
      if (bt) inputs.bias = bt;
      const y = tf.engine().runKernel("_FusedMatMul", inputs, {
        transposeA: false,
        transposeB: false,
        activation,
        leakyreluAlpha: 0,
      }) as tf.Tensor;
      save([x2, wt, y]);
      const value = tf.reshape(y, [...lead, N]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xs, ws, ys] = saved;
        const dy2 = tf.reshape(dy, [rows, N]);
        const dz = activation === "relu"
          ? runProgram(
            new WGSLProgram({
              key: "dense_relu_grad",
              inputs: ["dy", "y"],
              outputShape: [rows, N],
              workgroups: Math.ceil((rows * N) / (PER_LANE * WORKGROUP)),
              code: reluGradCode(),
            }),
            [dy2, ys],
          )
          : dy2;
        const dx = tf.reshape(tf.matMul(dz, ws, false, true), xt.shape);
        const dw = tf.matMul(xs, dz, true, false);
        return bias ? [dx, dw, tf.sum(dz, 0)] : [dx, dw];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const apply = op as unknown as (...a: tf.Tensor[]) => tf.Tensor;
  return tf.tidy("denseWebGPU", () => bias ? apply(x, kernel, bias) : apply(x, kernel));
}
