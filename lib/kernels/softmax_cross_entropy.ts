/**
 * Softmax cross-entropy on logits as one op with a hand-written gradient, for the cpu and
 * wasm backends.
 *
 * `tf.losses.softmaxCrossEntropy` builds the loss from about twenty small kernels (max,
 * subtract, exp, sum, log, multiply, negate, the mean's cast and divide…) and its gradient
 * from as many again; at a classifier's usual size (a batch of 128 rows of 10 logits) each
 * kernel's dispatch costs more than its arithmetic, about 1 ms a training step on wasm in
 * all (measured in `deno task bench --profile`; PyTorch's `cross_entropy` takes 0.05 ms).
 * This op computes the loss and the softmax in one pass over the logits and the gradient
 * in one pass over the saved softmax. Labels may be float32 or int32 (`tf.oneHot`'s
 * dtype, which tfjs's loss casts to float32; the gradient for them is float32, as tfjs's). On webgpu (where reading the logits back would stall
 * the GPU) and for inputs it does not take, it is `tf.losses.softmaxCrossEntropy` itself.
 *
 * The maths is tfjs's: the mean over rows of `−Σ_c labels_c · log softmax(logits)_c`
 * (the `SUM_BY_NONZERO_WEIGHTS` reduction without weights), the gradient `(softmax − labels)`
 * for the logits and `(labels − softmax)` for the labels, each times the upstream
 * gradient over the number of rows.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { softmaxCrossEntropy } from "nn/kernels/softmax_cross_entropy.ts";
 * await tf.setBackend("cpu");
 * const labels = tf.tensor2d([[1, 0], [0, 1]]);
 * const logits = tf.tensor2d([[2, 0], [0, 2]]);
 * console.log((await softmaxCrossEntropy(labels, logits).data())[0].toFixed(4)); // "0.1269"
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { copyToTensor, readF32, readInt32 } from "./memory.ts";

/** Whether the one-pass op runs for these inputs (else tfjs's loss runs). */
function fusable(labels: tf.Tensor, logits: tf.Tensor): boolean {
  const backend = tf.getBackend();
  return (backend === "cpu" || backend === "wasm") &&
    logits.dtype === "float32" && (labels.dtype === "float32" || labels.dtype === "int32") &&
    logits.rank >= 1 &&
    logits.size > 0 && tf.util.arraysEqual(labels.shape, logits.shape);
}

/**
 * The mean softmax cross-entropy of `logits` against `labels` (one-hot or any
 * distribution over the last axis), as tfjs's `tf.losses.softmaxCrossEntropy(labels,
 * logits)`, in one pass each way on cpu and wasm. The argument order is a Keras loss's
 * (`yTrue`, `yPred`), so it compiles as is: `model.compile({ loss: softmaxCrossEntropy })`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { softmaxCrossEntropy } from "nn/kernels/softmax_cross_entropy.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
 * model.compile({ optimizer: "adam", loss: softmaxCrossEntropy });
 * ```
 */
export function softmaxCrossEntropy(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  if (!fusable(labels, logits)) {
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  }
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const [yt, xt] = args as [tf.Tensor, tf.Tensor];
      const C = xt.shape[xt.rank - 1];
      const n = xt.size;
      const rows = n / C;
      // softmax and labels, kept (in JS memory) for the backward pass
      const p = readF32(xt).slice();
      // (one-hot labels from tf.oneHot are int32: read as float32, as tfjs's loss casts them)
      const y = yt.dtype === "float32" ? readF32(yt).slice() : Float32Array.from(readInt32(yt));
      let total = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * C;
        let max = -Infinity;
        for (let c = 0; c < C; c++) if (p[o + c] > max) max = p[o + c];
        let sum = 0;
        for (let c = 0; c < C; c++) sum += Math.exp(p[o + c] - max);
        const logZ = max + Math.log(sum);
        let loss = 0;
        for (let c = 0; c < C; c++) {
          const logit = p[o + c];
          loss += y[o + c] * (logZ - logit);
          p[o + c] = Math.exp(logit - logZ);
        }
        total += loss;
      }
      const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
        const scale = readF32(dy)[0] / rows;
        const dx = new Float32Array(n);
        const dLabels = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const d = scale * (p[i] - y[i]);
          dx[i] = d;
          dLabels[i] = -d;
        }
        return [copyToTensor(dLabels, yt.shape), copyToTensor(dx, xt.shape)];
      };
      return { value: tf.scalar(total / rows), gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  // named scope: profiles (tf.profile) show the op as "softmaxCrossEntropyFused"
  return tf.tidy(
    "softmaxCrossEntropyFused",
    () => (op as unknown as (...a: tf.Tensor[]) => tf.Scalar)(labels, logits),
  );
}
