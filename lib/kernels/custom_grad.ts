/**
 * `tf.customGrad` for an op with several outputs.
 *
 * `tf.customGrad` asserts that its function returns one tensor, though the engine path
 * under it (`runKernelFunc`, the path of every op with a hand-written gradient) records
 * any number of outputs on the tape and hands the gradient function one `dy` per output
 * (zeros for an output that no loss reached). The pre-norm Transformer's Add & Norm needs
 * two: the sum `x + r`, which goes on as the residual stream, and its layer norm.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { customGradMulti } from "nn/kernels/custom_grad.ts";
 * // [a + b, a · b], each gradient by hand
 * const sumAndProduct = customGradMulti(([a, b], save) => {
 *   save([a, b]);
 *   return {
 *     value: [tf.add(a, b), tf.mul(a, b)],
 *     gradFunc: ([dSum, dProduct], [sa, sb]) => [
 *       tf.add(dSum, tf.mul(dProduct, sb)),
 *       tf.add(dSum, tf.mul(dProduct, sa)),
 *     ],
 *   };
 * });
 * const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
 *   const [s, p] = sumAndProduct(a, b);
 *   return tf.add(s, p).sum();
 * });
 * const [da, db] = grads([tf.tensor1d([2]), tf.tensor1d([3])]);
 * console.log(await da.data(), await db.data()); // [4] [3]: 1 + b, 1 + a
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** What the function given to {@linkcode customGradMulti} returns. */
export interface MultiGradResult {
  /** The op's outputs. */
  value: tf.Tensor[];
  /**
   * The inputs' gradients (one per input, in order) from one `dy` per output and the
   * tensors the forward pass saved.
   */
  gradFunc: (dys: tf.Tensor[], saved: tf.Tensor[]) => tf.Tensor[];
}

/** The forward pass: the inputs, and `save` for tensors the gradient needs. */
export type MultiGradFunc = (
  inputs: tf.Tensor[],
  save: (tensors: tf.Tensor[]) => void,
) => MultiGradResult;

/** The engine method `tf.customGrad` runs on (private in tfjs's typings). */
interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: (tensors: tf.Tensor[]) => void) => tf.Tensor[];
    backwardsFunc: (
      dy: tf.Tensor | tf.Tensor[],
      saved: tf.Tensor[],
    ) => Record<string, () => tf.Tensor>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor | tf.Tensor[];
}

/**
 * An op with several outputs and a hand-written gradient, recorded on the tape as one
 * node (named after the enclosing `tf.tidy` scope in profiles, as `tf.customGrad`'s are).
 * The op always returns an array, of one tensor or more.
 */
export function customGradMulti(f: MultiGradFunc): (...inputs: tf.Tensor[]) => tf.Tensor[] {
  return (...inputs: tf.Tensor[]): tf.Tensor[] => {
    for (const t of inputs) {
      if (!(t instanceof tf.Tensor)) {
        throw new TypeError("customGradMulti: every argument of the op must be a tensor.");
      }
    }
    let res: MultiGradResult | null = null;
    const engine = tf.engine() as unknown as KernelFuncEngine;
    if (typeof engine.runKernelFunc !== "function") {
      throw new Error(
        "customGradMulti: this tfjs has no engine.runKernelFunc; pin @tensorflow/tfjs 4.22 " +
          "(deno.json) or port customGradMulti to the new engine.",
      );
    }
    const out = engine.runKernelFunc({
      forwardFunc: (_backend, save) => {
        res = f(inputs, save);
        if (res.value.length === 0) throw new Error("customGradMulti: the op returned no output.");
        return res.value;
      },
      backwardsFunc: (dy, saved) => {
        const grads = res!.gradFunc(Array.isArray(dy) ? dy : [dy], saved);
        if (grads.length !== inputs.length) {
          throw new Error(
            `customGradMulti: the gradient function returned ${grads.length} tensors for ` +
              `${inputs.length} inputs; return one gradient per input, in order.`,
          );
        }
        return Object.fromEntries(grads.map((g, i) => [String(i), () => g]));
      },
      inputs: Object.fromEntries(inputs.map((t, i) => [String(i), t])),
    });
    return Array.isArray(out) ? out : [out];
  };
}
