/**
 * Max over time of a Conv1D on WebGPU (the `ConvMaxOverTime` layer's fused op): the
 * convolution is tfjs's `conv1d`, then one program takes, for each (sample, filter), the
 * maximum over positions, adds the bias and applies the ReLU. The backward pass touches
 * only the winning window of each (sample, filter): one program finds the winners and
 * their gradients, one writes dW, one dx, one db — instead of tfjs's two full
 * convolutions (input and filter gradients) and the max and ReLU gradients. Ties go to
 * the first maximum, as in the cpu/wasm fused op.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { convMaxWebGPU } from "nn/kernels/webgpu/conv_max.ts";
 * if (tf.getBackend() === "webgpu") {
 *   const y = convMaxWebGPU(tf.ones([2, 6, 3]) as tf.Tensor3D, tf.ones([2, 3, 4]) as tf.Tensor3D,
 *     tf.zeros([4]) as tf.Tensor1D, true);
 *   console.log(await y.data()); // eight 6s
 * }
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { runProgram, type Uniform, WGSLProgram, WORKGROUP } from "./program.ts";

/** The winner of (b, f) = index: `best` (max over l of y[b, l, f]) and `arg` (its l). */
function winner(L: number, F: number): string {
  return `
  let b = index / ${F};
  let f = index - b * ${F};
  var best = y[b * ${L} * ${F} + f];
  var arg = 0;
  for (var l = 1; l < ${L}; l++) {
    let v = y[(b * ${L} + l) * ${F} + f];
    if (v > best) { best = v; arg = l; }
  }`;
}

/**
 * `x [B, T, E]`, `kernel [k, E, F]`, `bias [F]` → `max_l act(conv(x)[b, l, f] + bias[f])`
 * `[B, F]` (act ReLU when `relu`), differentiable in all three.
 */
export function convMaxWebGPU(
  x: tf.Tensor3D,
  kernel: tf.Tensor3D,
  bias: tf.Tensor1D,
  relu: boolean,
): tf.Tensor2D {
  const [B, T, E] = x.shape;
  const [k, , F] = kernel.shape;
  const L = T - k + 1;
  const key = `${T}_${E}_${k}_${F}_${relu}`;
  const size: Uniform[] = [];
  const program = (name: string, inputs: string[], shape: number[], code: string) =>
    new WGSLProgram({
      key: `convmax_${name}_${key}`,
      inputs,
      outputShape: shape,
      workgroups: Math.ceil(shape.reduce((a, b) => a * b, 1) / WORKGROUP),
      code,
    });
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [xt, wt, bt, save] = args as [
        tf.Tensor3D,
        tf.Tensor3D,
        tf.Tensor,
        (ts: tf.Tensor[]) => void,
      ];
      const y = tf.conv1d(xt, wt, 1, "valid"); // [B, L, F]
      save([xt, wt, bt, y]);
      const value = runProgram(
        program(
          "fwd",
          ["y", "bias"],
          [B, F],
          `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  ${winner(L, F)}
  let v = best + bias[f];
  result[index] = ${relu ? "max(v, 0.0)" : "v"};
}`,
        ),
        [y, bt],
        size,
      );
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
        const [xs, ws, bs, ys] = saved;
        // per (b, f): [the gradient reaching the winner, the winner's position]
        const ga = runProgram(
          program(
            "win",
            ["y", "bias", "dy"],
            [B, F, 2],
            `
fn main(index : i32) {
  if (index >= uniforms.size / 2) { return; }
  ${winner(L, F)}
  let v = best + bias[f];
  result[2 * index] = ${relu ? "select(0.0, dy[index], v > 0.0)" : "dy[index]"};
  result[2 * index + 1] = f32(arg);
}`,
          ),
          [ys, bs, dy],
          size,
        );
        // dW[tap, e, f] = Σ_b g[b, f] · x[b, arg[b, f] + tap, e]
        const dW = runProgram(
          program(
            "dw",
            ["ga", "x"],
            [k, E, F],
            `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  let tap = index / ${E * F};
  let e = (index / ${F}) % ${E};
  let f = index % ${F};
  var acc = 0.0;
  for (var b = 0; b < ${B}; b++) {
    let w = 2 * (b * ${F} + f);
    acc += ga[w] * x[(b * ${T} + i32(ga[w + 1]) + tap) * ${E} + e];
  }
  result[index] = acc;
}`,
          ),
          [ga, xs],
          size,
        );
        // dx[b, t, e] = Σ_f g[b, f] · W[t − arg[b, f], e, f] where that tap exists
        const dX = runProgram(
          program(
            "dx",
            ["ga", "kernel"],
            [B, T, E],
            `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  let b = index / ${T * E};
  let t = (index / ${E}) % ${T};
  let e = index % ${E};
  var acc = 0.0;
  for (var f = 0; f < ${F}; f++) {
    let w = 2 * (b * ${F} + f);
    let tap = t - i32(ga[w + 1]);
    if (tap >= 0 && tap < ${k}) { acc += ga[w] * kernel[(tap * ${E} + e) * ${F} + f]; }
  }
  result[index] = acc;
}`,
          ),
          [ga, ws],
          size,
        );
        const db = runProgram(
          program(
            "db",
            ["ga"],
            [F],
            `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  var acc = 0.0;
  for (var b = 0; b < ${B}; b++) { acc += ga[2 * (b * ${F} + index)]; }
  result[index] = acc;
}`,
          ),
          [ga],
          size,
        );
        ga.dispose();
        return [dX, dW, db];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return (op as unknown as (...a: tf.Tensor[]) => tf.Tensor2D)(x, kernel, bias);
}
