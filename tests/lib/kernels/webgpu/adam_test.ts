// FastAdam's WebGPU update (three programs per weight) against tfjs's own Adam on the cpu
// backend: three steps on weights of odd sizes, weights and both moments within
// 1e-5 · (1 + max |w|) (FastAdam's cpu/wasm tolerance); tfjs's update with fusion off;
// no leaked tensors.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { setupBackend } from "../../../../lib/backend.ts";
import { adam } from "../../../../lib/kernels/adam.ts";
import { setWebGPUFusion, startCounting } from "../../../../lib/kernels/webgpu/program.ts";
import { gpuTest, values } from "./harness.ts";

// [37, 41]: more elements than lanes, so each lane updates several (grid-stride loop)
const SHAPES = [[3, 5], [7], [1], [37, 41]];

async function train(backend: string, fast: boolean, fusion = true) {
  await setupBackend({ backend });
  const was = setWebGPUFusion(fusion);
  const before = tf.memory().numTensors;
  const vars = SHAPES.map((s, i) =>
    tf.tidy(() => tf.variable(tf.tensor(values(s.reduce((a, b) => a * b, 1), i + 1), s)))
  );
  const opt = fast ? adam(0.01) : tf.train.adam(0.01);
  let programs = 0;
  for (let step = 0; step < 3; step++) {
    const grads = vars.map((v, i) => tf.tensor(values(v.size, 10 * step + i + 5, 2), v.shape));
    const counter = startCounting();
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    counter.stop();
    programs = counter.programs;
    tf.dispose(grads);
  }
  const out = [];
  for (const v of vars) out.push(await v.data());
  const weights = await opt.getWeights();
  for (const w of weights.slice(1)) out.push(await w.tensor.data());
  weights[0].tensor.dispose(); // the step count, made for saving
  tf.dispose(vars);
  opt.dispose();
  setWebGPUFusion(was);
  assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
  return { out, programs };
}

gpuTest("webgpu FastAdam = tfjs Adam on cpu (weights and moments, 3 steps)", async () => {
  const want = await train("cpu", false);
  const got = await train("webgpu", true);
  const plain = await train("webgpu", true, false);
  for (const run of [got, plain]) {
    run.out.forEach((a, i) => {
      const b = want.out[i];
      const scale = Math.max(...Array.from(b, Math.abs));
      for (let j = 0; j < b.length; j++) {
        assert.ok(
          Math.abs(a[j] - b[j]) <= 1e-5 * (1 + scale),
          `array ${i}[${j}]: ${a[j]} vs ${b[j]}`,
        );
      }
    });
  }
  // three programs per weight and two for β₁ᵗ, β₂ᵗ, against tfjs's dozen per weight
  assert.equal(got.programs, 3 * SHAPES.length + 2);
  assert.ok(plain.programs > 3 * got.programs, `tfjs's Adam ran ${plain.programs} programs`);
});
