/**
 * Parameter (参数) and FLOP counts of dense networks as mathjs formulas.
 *
 * A fully connected layer from `a` to `b` units holds an `a × b` weight matrix and `b`
 * biases. For layer sizes `n = [n₁, …, n_{L+1}]` (input first, as `layerSizes` returns)
 * the formulas are mathjs expressions over the vector `n` and the number of weight
 * layers `L` (mathjs indexes from 1):
 *
 * - parameters: `sum((n[1:L] + 1) .* n[2:L + 1])`;
 * - forward FLOPs per sample: `sum(2 * n[1:L] .* n[2:L + 1] + n[2:L + 1])` — one multiply
 *   and one add per weight, one add per bias; activations and softmax are not counted;
 * - training FLOPs per sample: `3 * forward`, the usual estimate that the backward pass
 *   costs about twice the forward pass (gradients with respect to activations and to
 *   weights; Kaplan et al. 2020, "Scaling laws for neural language models", C ≈ 6N).
 *
 * The same expressions are shown in notebooks (`toTex`, `toString`) and evaluated here,
 * so what the reader sees is what is checked against `model.countParams()`.
 *
 * @example
 * ```ts
 * import { mlpForwardFlops, mlpParameters } from "nn/models/counting.ts";
 * console.log(mlpParameters([784, 128, 10])); // 101770
 * console.log(mlpForwardFlops([784, 128, 10])); // 203402
 * ```
 * @module
 */

import { all, create, type MathNode } from "mathjs";

const math = create(all, {});

/** Parameters of an MLP with layer sizes `n` (input first) and `L` weight layers. */
export const PARAMETER_FORMULA = "sum((n[1:L] + 1) .* n[2:L + 1])";
/** Forward-pass FLOPs per sample of an MLP (multiply-adds count 2, bias adds 1). */
export const FORWARD_FLOPS_FORMULA = "sum(2 * n[1:L] .* n[2:L + 1] + n[2:L + 1])";
/** Training FLOPs per sample: forward plus a backward pass of about twice its cost. */
export const TRAINING_FLOPS_FORMULA = "3 * forward";
/**
 * Parameters of an MLP with `d` hidden layers of equal width `w`, `i` inputs and `o`
 * outputs (d ≥ 1): the closed form of {@linkcode PARAMETER_FORMULA} for that shape.
 */
export const UNIFORM_WIDTH_FORMULA = "(i + 1) * w + (d - 1) * (w + 1) * w + (w + 1) * o";

/** The formulas by name, for display. */
export const FORMULAS = {
  parameters: PARAMETER_FORMULA,
  forwardFlops: FORWARD_FLOPS_FORMULA,
  trainingFlops: TRAINING_FLOPS_FORMULA,
  uniformWidth: UNIFORM_WIDTH_FORMULA,
} as const;

/** Name of one of {@linkcode FORMULAS}. */
export type FormulaName = keyof typeof FORMULAS;

const compiled = new Map<string, ReturnType<MathNode["compile"]>>();

function evaluate(expression: string, scope: Record<string, unknown>): number {
  let code = compiled.get(expression);
  if (!code) {
    code = math.parse(expression).compile();
    compiled.set(expression, code);
  }
  const value = code.evaluate(scope);
  const number = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(number)) {
    throw new Error(`The formula ${expression} gave ${String(value)}, not a finite number.`);
  }
  return number;
}

function checkSizes(sizes: readonly number[]): void {
  if (sizes.length < 2) {
    throw new RangeError(
      `Layer sizes need an input and an output size, e.g. [784, 10]; got [${sizes.join(", ")}].`,
    );
  }
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 1) {
      throw new RangeError(
        `Layer sizes must be whole numbers ≥ 1; got [${sizes.join(", ")}].`,
      );
    }
  }
}

function sizeScope(sizes: readonly number[]): Record<string, unknown> {
  checkSizes(sizes);
  return { n: math.matrix([...sizes]), L: sizes.length - 1 };
}

/**
 * Parameters of an MLP with the given layer sizes (input first), from
 * {@linkcode PARAMETER_FORMULA}.
 *
 * @example
 * ```ts
 * import { mlpParameters } from "nn/models/counting.ts";
 * console.log(mlpParameters([784, 10])); // 7850
 * ```
 */
export function mlpParameters(sizes: readonly number[]): number {
  return evaluate(PARAMETER_FORMULA, sizeScope(sizes));
}

/**
 * Forward-pass FLOPs per sample, from {@linkcode FORWARD_FLOPS_FORMULA}.
 *
 * @example
 * ```ts
 * import { mlpForwardFlops } from "nn/models/counting.ts";
 * console.log(mlpForwardFlops([2, 3])); // 2*2*3 + 3 = 15
 * ```
 */
export function mlpForwardFlops(sizes: readonly number[]): number {
  return evaluate(FORWARD_FLOPS_FORMULA, sizeScope(sizes));
}

/**
 * Training FLOPs per sample (forward + backward), from
 * {@linkcode TRAINING_FLOPS_FORMULA}.
 *
 * @example
 * ```ts
 * import { mlpTrainingFlops } from "nn/models/counting.ts";
 * console.log(mlpTrainingFlops([2, 3])); // 45
 * ```
 */
export function mlpTrainingFlops(sizes: readonly number[]): number {
  return evaluate(TRAINING_FLOPS_FORMULA, { forward: mlpForwardFlops(sizes) });
}

/**
 * Parameters of each weight layer (weights + biases), input side first; they add up to
 * {@linkcode mlpParameters}.
 *
 * @example
 * ```ts
 * import { parametersPerLayer } from "nn/models/counting.ts";
 * console.log(parametersPerLayer([784, 128, 10])); // [100480, 1290]
 * ```
 */
export function parametersPerLayer(sizes: readonly number[]): number[] {
  checkSizes(sizes);
  return sizes.slice(1).map((b, k) => evaluate("(a + 1) * b", { a: sizes[k], b }));
}

/** Shape of an MLP with equal hidden widths, for {@linkcode uniformWidthParameters}. */
export interface UniformShape {
  /** Inputs per sample. */
  inputs: number;
  /** Number of hidden layers (≥ 1). */
  depth: number;
  /** Units of every hidden layer. */
  width: number;
  /** Output units. */
  outputs: number;
}

/**
 * Parameters of an MLP with `depth` hidden layers of `width` units, from the closed form
 * {@linkcode UNIFORM_WIDTH_FORMULA}.
 *
 * @example
 * ```ts
 * import { uniformWidthParameters } from "nn/models/counting.ts";
 * console.log(uniformWidthParameters({ inputs: 784, depth: 2, width: 128, outputs: 10 })); // 118282
 * ```
 */
export function uniformWidthParameters(shape: UniformShape): number {
  const { inputs: i, depth: d, width: w, outputs: o } = shape;
  checkSizes([i, o, w, d]);
  return evaluate(UNIFORM_WIDTH_FORMULA, { i, d, w, o });
}

/**
 * The widest equal hidden width whose MLP of `depth` hidden layers stays within a
 * parameter budget: the positive root of the quadratic {@linkcode UNIFORM_WIDTH_FORMULA}
 * = budget in `w`, rounded down.
 *
 * @throws {RangeError} when even width 1 exceeds the budget
 * @example
 * ```ts
 * import { uniformWidthParameters, widthForBudget } from "nn/models/counting.ts";
 * const w = widthForBudget({ inputs: 784, depth: 4, outputs: 10, budget: 100_000 });
 * console.log(w, uniformWidthParameters({ inputs: 784, depth: 4, width: w, outputs: 10 }));
 * ```
 */
export function widthForBudget(
  options: { inputs: number; depth: number; outputs: number; budget: number },
): number {
  const { inputs: i, depth: d, outputs: o, budget } = options;
  checkSizes([i, o, d]);
  // (d-1) w² + (i + 1 + (d-1) + o) w + (o - budget) = 0
  const a = d - 1;
  const b = i + 1 + (d - 1) + o;
  const c = o - budget;
  const root = a === 0 ? -c / b : (-b + Math.sqrt(b * b - 4 * a * c)) / (2 * a);
  let w = Math.max(0, Math.floor(root));
  // Guard against rounding at the boundary.
  while (w > 0 && uniformWidthParameters({ inputs: i, depth: d, width: w, outputs: o }) > budget) {
    w--;
  }
  while (uniformWidthParameters({ inputs: i, depth: d, width: w + 1, outputs: o }) <= budget) w++;
  if (w < 1) {
    throw new RangeError(
      `A budget of ${budget} parameters is too small for ${d} hidden layers between ` +
        `${i} inputs and ${o} outputs: raise the budget or lower the depth.`,
    );
  }
  return w;
}

/**
 * A formula as LaTeX (for a Markdown cell or `text/latex` output) and as plain text.
 *
 * @example
 * ```ts
 * import { formula } from "nn/models/counting.ts";
 * console.log(formula("parameters").text); // "sum((n[1:L] + 1) .* n[2:L + 1])"
 * ```
 */
export function formula(name: FormulaName): { text: string; tex: string } {
  const node = math.parse(FORMULAS[name]);
  return { text: node.toString(), tex: node.toTex() };
}
