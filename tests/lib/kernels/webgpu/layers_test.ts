// The library's layers on webgpu pick the fused WebGPU programs by themselves
// ("auto"), give the outputs of their plain-ops path on the same adapter
// (setWebGPUFusion(false)) within 1e-4 · (1 + max |y|), and dispatch fewer programs.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { setupBackend } from "../../../../lib/backend.ts";
import {
  ConvMaxOverTime,
  FusedGRU,
  FusedLSTM,
  FusedSimpleRNN,
  LayerNorm,
  MultiHeadSelfAttention,
} from "../../../../lib/layers/mod.ts";
import { setWebGPUFusion, startCounting } from "../../../../lib/kernels/webgpu/program.ts";
import { transformerClassifier } from "../../../../lib/models/transformer.ts";
import { gpuTest, values } from "./harness.ts";

const LAYERS: Array<[string, () => tf.layers.Layer & { usesFused(): boolean }, number[]]> = [
  ["FusedLSTM", () => new FusedLSTM({ units: 5, seed: 1 }), [2, 4, 3]],
  ["FusedGRU", () => new FusedGRU({ units: 5, returnSequences: true, seed: 1 }), [2, 4, 3]],
  ["FusedSimpleRNN", () => new FusedSimpleRNN({ units: 5, seed: 1 }), [2, 4, 3]],
  ["LayerNorm", () => new LayerNorm(), [2, 4, 6]],
  [
    "MultiHeadSelfAttention",
    () => new MultiHeadSelfAttention({ numHeads: 2, causal: true, seed: 1 }),
    [2, 5, 6],
  ],
  ["ConvMaxOverTime", () => new ConvMaxOverTime({ filters: 4, kernelSize: 2, seed: 1 }), [
    2,
    5,
    3,
  ]],
];

gpuTest("layers on webgpu: fused programs by default, same outputs as plain ops", async () => {
  await setupBackend({ backend: "webgpu" });
  for (const [name, make, shape] of LAYERS) {
    const before = tf.memory().numTensors;
    const x = tf.tensor(values(shape.reduce((a, b) => a * b, 1), 3), shape);
    const out: Float32Array[] = [];
    const programs: number[] = [];
    for (const fusion of [true, false]) {
      const was = setWebGPUFusion(fusion);
      const layer = make();
      assert.equal(layer.usesFused(), fusion, `${name}: usesFused with fusion ${fusion}`);
      const counter = startCounting();
      const y = layer.apply(x) as tf.Tensor;
      counter.stop();
      programs.push(counter.programs);
      out.push(await y.data() as Float32Array);
      y.dispose();
      layer.dispose();
      setWebGPUFusion(was);
    }
    x.dispose();
    const scale = Math.max(...Array.from(out[1], Math.abs));
    for (let i = 0; i < out[1].length; i++) {
      assert.ok(Math.abs(out[0][i] - out[1][i]) <= 1e-4 * (1 + scale), `${name}[${i}]`);
    }
    assert.ok(programs[0] < programs[1], `${name}: ${programs[0]} vs ${programs[1]} programs`);
    assert.equal(tf.memory().numTensors, before, `${name}: leaked tensors`);
  }
});

gpuTest("MultiHeadSelfAttention with a key padding mask on webgpu: fused = plain ops", async () => {
  await setupBackend({ backend: "webgpu" });
  const [B, T, D] = [2, 6, 8];
  const x = tf.tensor(values(B * T * D, 5), [B, T, D]);
  const mask = tf.tensor2d([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]]);
  const out: Float32Array[] = [];
  for (const fusion of [true, false]) {
    const was = setWebGPUFusion(fusion);
    const layer = new MultiHeadSelfAttention({ numHeads: 2, seed: 1 });
    const y = layer.apply([x, mask]) as tf.Tensor;
    out.push(await y.data() as Float32Array);
    y.dispose();
    layer.dispose();
    setWebGPUFusion(was);
  }
  const scale = Math.max(...Array.from(out[1], Math.abs));
  for (let i = 0; i < out[1].length; i++) {
    assert.ok(Math.abs(out[0][i] - out[1][i]) <= 1e-4 * (1 + scale), `masked attention[${i}]`);
  }
  tf.dispose([x, mask]);
});

gpuTest("transformerClassifier with padding on webgpu = cpu: logits and gradients", async () => {
  // the same seeded model built on each backend; padded ids in both pre and post position
  const ids = [[0, 0, 0, 3, 4, 5], [7, 8, 9, 2, 0, 0]];
  const run = async (backend: string) => {
    await setupBackend({ backend });
    const before = tf.memory().numTensors;
    const model = transformerClassifier({
      vocabSize: 12,
      sequenceLength: 6,
      dModel: 8,
      numHeads: 2,
      ffDim: 8,
      numLayers: 2,
      outputs: 2,
      norm: "pre",
      seed: 1,
    });
    const x = tf.tensor2d(ids, [2, 6], "int32");
    const y = tf.tensor2d([[1, 0], [0, 1]]);
    const logits = model.predict(x) as tf.Tensor;
    const { value, grads } = tf.variableGrads(() =>
      tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar
    );
    const names = Object.keys(grads).sort();
    const out = [await logits.data() as Float32Array, await value.data() as Float32Array];
    for (const n of names) out.push(await grads[n].data() as Float32Array);
    tf.dispose([x, y, logits, value, ...Object.values(grads)]);
    model.dispose();
    assert.equal(tf.memory().numTensors, before, `${backend}: leaked tensors`);
    return out;
  };
  const want = await run("cpu");
  const got = await run("webgpu");
  assert.equal(got.length, want.length);
  want.forEach((w, k) => {
    const scale = Math.max(...Array.from(w, Math.abs));
    for (let i = 0; i < w.length; i++) {
      assert.ok(Math.abs(got[k][i] - w[i]) <= 1e-4 * (1 + scale), `output ${k}[${i}]`);
    }
  });
});
