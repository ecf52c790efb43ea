import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  gradientTimesInput,
  integratedGradients,
  runFrom,
  topShare,
} from "../../../lib/models/attribution.ts";
import { imageCnn } from "../../../lib/models/cnn_image.ts";
import { cnnTextClassifier } from "../../../lib/models/cnn_text.ts";
import { transformerClassifier } from "../../../lib/models/transformer.ts";

Deno.test("gradient × input of a linear function is w ⊙ x, per example and target", async () => {
  await tf.setBackend("cpu");
  const w = tf.tensor2d([[1, 2], [3, -1], [0.5, 0]]); // 3 inputs, 2 outputs
  const x = tf.tensor2d([[1, 1, 2], [2, 0, -1]]);
  const a = gradientTimesInput((t) => tf.matMul(t, w), x, { target: [0, 1] });
  const got = await a.data();
  [1, 3, 1, 4, 0, 0].forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-6, `${i}`));
  tf.dispose([w, x, a]);
});

Deno.test("integrated gradients: exact on a quadratic, completeness on a small ReLU network", async () => {
  await tf.setBackend("cpu");
  // F(x) = Σ x_i²: IG from 0 is x_i² exactly (the integrand is linear in α)
  const x = tf.tensor2d([[1, -2, 3]]);
  const q = await integratedGradients((t) => tf.sum(tf.square(t), 1, true), x, {
    target: 0,
    steps: 4,
  });
  assert.deepEqual(Array.from(await q.attributions.data()), [1, 4, 9]);
  tf.dispose([x, q.attributions]);
  // a seeded CNN on random images: Σ attributions ≈ F(x) − F(baseline) for every example
  const before = tf.memory().numTensors;
  const model = imageCnn({ inputShape: [8, 8, 1], filters: [4], classes: 3, seed: 2 });
  const images = tf.randomUniform([3, 8, 8, 1], 0, 1, "float32", 7);
  const f = (t: tf.Tensor) => model.apply(t) as tf.Tensor;
  const ig = await integratedGradients(f, images, { target: [0, 1, 2], steps: 64, batchSize: 20 });
  for (let i = 0; i < 3; i++) {
    assert.ok(
      ig.gap[i] <= 0.01 * Math.abs(ig.difference[i]) + 1e-4,
      `example ${i}: ${ig.sum[i]} vs ${ig.difference[i]}`,
    );
  }
  // coarser steps: a larger (but still reported) gap
  const coarse = await integratedGradients(f, images, { target: 0, steps: 1 });
  assert.equal(coarse.gap.length, 3);
  tf.dispose([images, ig.attributions, coarse.attributions]);
  const zeros = tf.zeros([1, 8, 8, 1]);
  await assert.rejects(integratedGradients(f, zeros, { target: 0, steps: 0 }), /steps/);
  zeros.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
});

Deno.test("runFrom replays a text CNN from its embeddings", async () => {
  await tf.setBackend("cpu");
  const model = cnnTextClassifier({
    vocabSize: 20,
    sequenceLength: 6,
    embeddingDim: 4,
    filters: 3,
    kernelSizes: [2, 3],
    outputs: 2,
    seed: 1,
  });
  const ids = tf.tensor2d([[2, 3, 4, 5, 0, 0], [7, 8, 9, 1, 2, 3]], [2, 6], "int32");
  const direct = await (model.predict(ids) as tf.Tensor).data();
  const embedded = model.getLayer("token_embedding").apply(ids) as tf.Tensor;
  const replay = await runFrom(model, "token_embedding")(embedded).data();
  direct.forEach((v, i) => assert.ok(Math.abs(v - replay[i]) < 1e-6));
  // and integrated gradients over the embeddings are complete
  const ig = await integratedGradients(runFrom(model, "token_embedding"), embedded, {
    target: 1,
    steps: 64,
  });
  for (let i = 0; i < 2; i++) assert.ok(ig.gap[i] <= 0.02 * Math.abs(ig.difference[i]) + 1e-4);
  tf.dispose([ids, embedded, ig.attributions]);
  model.dispose();
  assert.throws(() => runFrom(model, "nope"), /nope|No such layer/);
});

Deno.test("runFrom replays a pre-norm Transformer (layers with two outputs) from its embeddings", async () => {
  await tf.setBackend("cpu");
  const model = transformerClassifier({
    vocabSize: 20,
    sequenceLength: 6,
    dModel: 8,
    numHeads: 2,
    ffDim: 16,
    numLayers: 2,
    outputs: 2,
    norm: "pre",
    maskPadding: false, // the padding mask reads the ids, upstream of the embeddings
    seed: 2,
  });
  // the blocks' Add & Norm layers output [x + r, LN(x + r)]
  assert.ok(model.layers.some((l) => Array.isArray(l.output)));
  const ids = tf.tensor2d([[2, 3, 4, 5, 0, 0], [7, 8, 9, 1, 2, 3]], [2, 6], "int32");
  const direct = await (model.predict(ids) as tf.Tensor).data();
  const embedded = model.getLayer("token_embedding").apply(ids) as tf.Tensor;
  const replay = await runFrom(model, "token_embedding")(embedded).data();
  direct.forEach((v, i) => assert.ok(Math.abs(v - replay[i]) < 1e-6, `${v} vs ${replay[i]}`));
  tf.dispose([ids, embedded]);
  model.dispose();
});

Deno.test("topShare: the share of |mass| in the largest entries", () => {
  assert.equal(topShare([4, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.1), 1);
  assert.equal(topShare(new Array(10).fill(-1), 0.1), 0.1);
  assert.equal(topShare([0, 0], 0.5), 0);
  assert.ok(Math.abs(topShare([3, -1, 0, 0], 0.5) - 1) < 1e-12);
  assert.throws(() => topShare([1], 0), /fraction/);
});
