/**
 * Input attributions (输入归因), a first tool of interpretability (可解释性): how much each
 * input feature (a pixel, a word's embedding) contributed to one output of a model.
 *
 * - **Gradient × input**: a_i = x_i · ∂F/∂x_i — the first-order Taylor term of each feature.
 * - **Integrated gradients** (积分梯度; Sundararajan, Taly & Yan 2017, *Axiomatic Attribution
 *   for Deep Networks*, ICML): a_i = (x_i − x'_i) · ∫₀¹ ∂F(x' + α(x − x'))/∂x_i dα from a
 *   baseline x' (a black image, zero embeddings), here by the trapezoidal rule over
 *   `steps` intervals. Its *completeness* axiom says Σ_i a_i = F(x) − F(x'); the
 *   quadrature's gap from that is returned, so a caller can check it.
 *
 * `F` is any function from a batch of inputs to a batch of outputs `[n, classes]`; the
 * attributed output is column `target` of each row. {@linkcode runFrom} makes such a
 * function from the middle of a model (e.g. from a text model's embeddings).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { integratedGradients } from "nn/models/attribution.ts";
 * await tf.setBackend("cpu");
 * const f = (x: tf.Tensor) => tf.square(x).sum(1, true) as tf.Tensor2D; // F(x) = Σ x²
 * const x = tf.tensor2d([[1, 2]]);
 * const ig = await integratedGradients(f, x, { target: 0, steps: 16 });
 * console.log(Array.from(await ig.attributions.data())); // [1, 4]
 * ig.attributions.dispose();
 * x.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** A differentiable function from a batch of inputs to outputs `[n, classes]`. */
export type AttributedFunction = (x: tf.Tensor) => tf.Tensor;

/** Which output column to attribute: one class for all rows, or one per row. */
export type Target = number | readonly number[];

function targetMask(target: Target, rows: number, classes: number): tf.Tensor2D {
  const per = typeof target === "number" ? new Array(rows).fill(target) : [...target];
  if (per.length !== rows) {
    throw new RangeError(`target: ${per.length} classes given for ${rows} examples.`);
  }
  for (const c of per) {
    if (!Number.isInteger(c) || c < 0 || c >= classes) {
      throw new RangeError(`target class ${c} is not in 0 … ${classes - 1}.`);
    }
  }
  const mask = new Float32Array(rows * classes);
  per.forEach((c, i) => (mask[i * classes + c] = 1));
  return tf.tensor2d(mask, [rows, classes]);
}

/** F(x)'s target column, one value per row (a tensor `[n]`). */
function picked(f: AttributedFunction, x: tf.Tensor, target: Target): tf.Tensor1D {
  const out = f(x);
  if (out.rank !== 2) throw new RangeError(`F must return [n, classes], got shape [${out.shape}].`);
  return tf.sum(
    tf.mul(out, targetMask(target, out.shape[0], out.shape[1] as number)),
    1,
  ) as tf.Tensor1D;
}

/**
 * Gradient × input: x ⊙ ∂F_target/∂x, same shape as x (every example of the batch at once).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gradientTimesInput } from "nn/models/attribution.ts";
 * await tf.setBackend("cpu");
 * const w = tf.tensor2d([[2], [-1]]);
 * const a = gradientTimesInput((x) => tf.matMul(x, w), tf.tensor2d([[3, 4]]), { target: 0 });
 * console.log(Array.from(await a.data())); // [6, -4]
 * ```
 */
export function gradientTimesInput(
  f: AttributedFunction,
  x: tf.Tensor,
  options: { target: Target },
): tf.Tensor {
  return tf.tidy(() => {
    const grad = tf.grad((input: tf.Tensor) => tf.sum(picked(f, input, options.target)))(x);
    return tf.mul(grad, x);
  });
}

/** Options of {@linkcode integratedGradients}. */
export interface IntegratedGradientsOptions {
  /** The output column to attribute, for all examples or one per example. */
  target: Target;
  /** Baseline x' (same shape as x, or broadcastable); default all zeros. */
  baseline?: tf.Tensor;
  /** Intervals of the trapezoidal rule (default 32: 33 gradient evaluations per example). */
  steps?: number;
  /** Path points evaluated in one batch, to bound memory (default 64). */
  batchSize?: number;
}

/** What {@linkcode integratedGradients} returns (tensors are the caller's to dispose). */
export interface IntegratedGradients {
  /** The attributions, same shape as x. */
  attributions: tf.Tensor;
  /** Σ_i a_i per example. */
  sum: Float32Array;
  /** F(x) − F(x') per example: what completeness says the sum equals. */
  difference: Float32Array;
  /** |Σ a − (F(x) − F(x'))| per example: the quadrature's error. */
  gap: Float32Array;
}

/**
 * Integrated gradients of F's target output for each example of x, from a baseline,
 * with the completeness check Σ_i a_i against F(x) − F(x').
 *
 * @throws {RangeError} for steps < 1 or a target outside F's outputs
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { integratedGradients } from "nn/models/attribution.ts";
 * await tf.setBackend("cpu");
 * const f = (x: tf.Tensor) => tf.relu(x).sum(1, true) as tf.Tensor2D;
 * const ig = await integratedGradients(f, tf.tensor2d([[1, -1]]), { target: 0 });
 * console.log(ig.sum[0], ig.difference[0]); // 1 1
 * ig.attributions.dispose();
 * ```
 */
export async function integratedGradients(
  f: AttributedFunction,
  x: tf.Tensor,
  options: IntegratedGradientsOptions,
): Promise<IntegratedGradients> {
  const { target, steps = 32, batchSize = 64 } = options;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`integratedGradients: steps must be an integer >= 1, got ${steps}.`);
  }
  const n = x.shape[0];
  const per = typeof target === "number" ? new Array<number>(n).fill(target) : [...target];
  const baseline = options.baseline ? tf.broadcastTo(options.baseline, x.shape) : tf.zerosLike(x);
  const delta = tf.sub(x, baseline);
  let gradSum = tf.zerosLike(x);
  const gradOf = tf.grad((input: tf.Tensor) =>
    tf.sum(picked(f, input, repeat(per, input.shape[0] / n)))
  );
  // Trapezoid: weights ½, 1, …, 1, ½ over α_k = k / steps, divided by steps.
  const alphas = Array.from({ length: steps + 1 }, (_, k) => k / steps);
  const chunk = Math.max(1, Math.floor(batchSize / n));
  for (let start = 0; start < alphas.length; start += chunk) {
    const part = alphas.slice(start, start + chunk);
    const previous = gradSum;
    gradSum = tf.tidy(() => {
      // points [part.length · n, ...]: for each α, the whole batch on the path
      const points = tf.concat(part.map((a) => tf.add(baseline, tf.mul(delta, a))));
      const grads = gradOf(points);
      const weights = part.map((a) => (a === 0 || a === 1 ? 0.5 : 1) / steps);
      const pieces = tf.split(grads, part.length);
      let acc = previous;
      pieces.forEach((g, k) => (acc = tf.add(acc, tf.mul(g, weights[k]))));
      return acc;
    });
    previous.dispose();
  }
  const attributions = tf.mul(delta, gradSum);
  const [sumT, fx, fb] = tf.tidy(() => {
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
    return [
      axes.length ? tf.sum(attributions, axes) : attributions,
      picked(f, x, per),
      picked(f, baseline, per),
    ];
  });
  const sum = (await sumT.data()) as Float32Array;
  const fxv = await fx.data(), fbv = await fb.data();
  tf.dispose([sumT, fx, fb, baseline, delta, gradSum]);
  const difference = Float32Array.from(fxv, (v, i) => v - fbv[i]);
  const gap = Float32Array.from(sum, (s, i) => Math.abs(s - difference[i]));
  return { attributions, sum, difference, gap };
}

function repeat(per: number[], times: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < times; k++) out.push(...per);
  return out;
}

/**
 * A function that runs a model from the output of one of its layers onwards: given a
 * tensor shaped like that layer's output, it applies every later layer (in inference
 * mode) and returns the model's output. Used to attribute to a text model's word
 * embeddings instead of its integer token ids, through which no gradient flows.
 *
 * @throws {Error} when the model has no such layer or several outputs
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { runFrom } from "nn/models/attribution.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [
 *   tf.layers.dense({ units: 3, inputShape: [2], name: "a" }),
 *   tf.layers.dense({ units: 1, name: "b" }),
 * ] });
 * const x = tf.ones([1, 2]);
 * const direct = await (m.predict(x) as tf.Tensor).data();
 * const viaA = await runFrom(m, "a")(m.getLayer("a").apply(x) as tf.Tensor).data();
 * console.log(direct[0] === viaA[0]); // true
 * ```
 */
export function runFrom(model: tf.LayersModel, layerName: string): AttributedFunction {
  const start = model.getLayer(layerName);
  if (model.outputs.length !== 1) {
    throw new Error(`runFrom: the model has ${model.outputs.length} outputs; one is supported.`);
  }
  const outputLayer = model.outputs[0].sourceLayer;
  return (value: tf.Tensor) => {
    // each layer's output: one tensor, or several (a pre-norm block's Add & Norm gives two)
    const values = new Map<unknown, tf.Tensor | tf.Tensor[]>([[start, value]]);
    for (const layer of model.layers) {
      if (values.has(layer)) continue;
      const node = layer.inboundNodes[0];
      if (!node || node.inboundLayers.length === 0) continue; // an input layer
      const inputs = node.inboundLayers.map((l, i) => {
        const v = values.get(l);
        return Array.isArray(v) ? v[node.tensorIndices[i]] : v;
      });
      if (inputs.some((t) => t === undefined)) continue; // upstream of the start layer
      const out = layer.apply(inputs.length === 1 ? inputs[0]! : inputs as tf.Tensor[]);
      values.set(layer, out as tf.Tensor | tf.Tensor[]);
    }
    const last = values.get(outputLayer);
    const out = Array.isArray(last) ? last[model.outputs[0].outputTensorIndex ?? 0] : last;
    if (!out) {
      throw new Error(`runFrom: the model's output does not depend on layer "${layerName}".`);
    }
    return out;
  };
}

/**
 * How concentrated a set of attributions (or weights) is: the share of the total
 * |value| held by the largest `fraction` of entries (by |value|). 0.1 of the entries
 * holding 0.1 of the mass is perfectly spread; holding all of it, perfectly concentrated.
 *
 * @example
 * ```ts
 * import { topShare } from "nn/models/attribution.ts";
 * console.log(topShare([4, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.1)); // 1
 * console.log(topShare(new Array(10).fill(1), 0.1)); // 0.1
 * ```
 */
export function topShare(values: ArrayLike<number>, fraction: number): number {
  if (!(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`fraction must be in (0, 1], got ${fraction}.`);
  }
  const abs = Float64Array.from(values, Math.abs).sort().reverse();
  const k = Math.max(1, Math.round(fraction * abs.length));
  let top = 0, total = 0;
  abs.forEach((v, i) => {
    total += v;
    if (i < k) top += v;
  });
  return total === 0 ? 0 : top / total;
}
