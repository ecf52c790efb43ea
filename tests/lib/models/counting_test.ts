import assert from "node:assert/strict";
import {
  formula,
  mlpForwardFlops,
  mlpParameters,
  mlpTrainingFlops,
  parametersPerLayer,
  uniformWidthParameters,
  widthForBudget,
} from "nn/models/counting.ts";

/** Independent reference: loop over the weight layers. */
function loopParameters(sizes: number[]): number {
  let p = 0;
  for (let k = 1; k < sizes.length; k++) p += sizes[k - 1] * sizes[k] + sizes[k];
  return p;
}

Deno.test("mlpParameters: known counts and the loop reference", () => {
  assert.equal(mlpParameters([784, 10]), 7850); // logistic regression on MNIST
  assert.equal(mlpParameters([784, 128, 10]), 101_770);
  assert.equal(mlpParameters([784, 256, 256, 10]), 269_322); // REFERENCE.md's mlp
  for (const sizes of [[1, 1], [3, 5, 7, 2], [784, 16, 16, 16, 16, 10], [10, 1000, 1]]) {
    assert.equal(mlpParameters(sizes), loopParameters(sizes), `sizes ${sizes}`);
  }
});

Deno.test("parametersPerLayer adds up to mlpParameters; the first layer dominates MNIST MLPs", () => {
  const sizes = [784, 128, 64, 10];
  const per = parametersPerLayer(sizes);
  assert.deepEqual(per, [100_480, 8_256, 650]);
  assert.equal(per.reduce((a, b) => a + b, 0), mlpParameters(sizes));
});

Deno.test("FLOP formulas: 2 per weight + 1 per bias forward, 3× that for training", () => {
  assert.equal(mlpForwardFlops([2, 3]), 2 * 2 * 3 + 3);
  assert.equal(mlpForwardFlops([784, 128, 10]), 2 * (784 * 128 + 128 * 10) + 128 + 10);
  assert.equal(mlpTrainingFlops([784, 128, 10]), 3 * mlpForwardFlops([784, 128, 10]));
  // forward FLOPs ≈ 2 × parameters for wide layers (Kaplan et al. 2020: C_forward ≈ 2N)
  const sizes = [784, 1024, 1024, 10];
  const ratio = mlpForwardFlops(sizes) / mlpParameters(sizes);
  assert.ok(ratio > 1.99 && ratio < 2, `ratio ${ratio}`);
});

Deno.test("uniformWidthParameters is the closed form of the general formula", () => {
  for (const depth of [1, 2, 5]) {
    for (const width of [1, 7, 128]) {
      assert.equal(
        uniformWidthParameters({ inputs: 784, depth, width, outputs: 10 }),
        mlpParameters([784, ...new Array(depth).fill(width), 10]),
        `depth ${depth} width ${width}`,
      );
    }
  }
});

Deno.test("widthForBudget: the widest width within the budget", () => {
  for (const depth of [1, 2, 4, 8]) {
    for (const budget of [10_000, 100_000, 1_234_567]) {
      const w = widthForBudget({ inputs: 784, depth, outputs: 10, budget });
      const at = (width: number) =>
        uniformWidthParameters({ inputs: 784, depth, width, outputs: 10 });
      assert.ok(at(w) <= budget, `depth ${depth}: ${at(w)} > ${budget}`);
      assert.ok(at(w + 1) > budget, `depth ${depth}: width ${w + 1} also fits ${budget}`);
    }
  }
  assert.throws(
    () => widthForBudget({ inputs: 784, depth: 1, outputs: 10, budget: 100 }),
    /too small/,
  );
});

Deno.test("formulas render as text and LaTeX; bad sizes are refused", () => {
  assert.equal(formula("parameters").text, "sum((n[1:L] + 1) .* n[2:L + 1])");
  assert.match(formula("parameters").tex, /\\mathrm\{sum\}/);
  assert.match(formula("uniformWidth").tex, /\\cdot/);
  assert.throws(() => mlpParameters([784]), /input and an output/);
  assert.throws(() => mlpParameters([784, 0, 10]), /whole numbers/);
  assert.throws(() => mlpParameters([784, 1.5, 10]), /whole numbers/);
});
