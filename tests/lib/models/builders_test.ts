// Builders of the reference architectures: shapes, parameter counts against their
// formulas, seeding, and one short training run on wasm and cpu (no missing kernel).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../lib/kernels/mod.ts";
import { rnnClassifier } from "../../../lib/models/recurrent.ts";
import { transformerClassifier } from "../../../lib/models/transformer.ts";
import { cnnTextClassifier } from "../../../lib/models/cnn_text.ts";
import { disposeModel, train } from "../../../lib/train.ts";

const V = 50, T = 12, E = 8, U = 6, OUT = 3;

const builders = {
  lstm: (seed: number) =>
    rnnClassifier({
      vocabSize: V,
      sequenceLength: T,
      embeddingDim: E,
      units: U,
      cell: "lstm",
      outputs: OUT,
      seed,
    }),
  gru: (seed: number) =>
    rnnClassifier({
      vocabSize: V,
      sequenceLength: T,
      embeddingDim: E,
      units: U,
      cell: "gru",
      outputs: OUT,
      seed,
    }),
  simpleRNN: (seed: number) =>
    rnnClassifier({
      vocabSize: V,
      sequenceLength: T,
      embeddingDim: E,
      units: U,
      cell: "simpleRNN",
      outputs: OUT,
      seed,
    }),
  transformer: (seed: number) =>
    transformerClassifier({
      vocabSize: V,
      sequenceLength: T,
      dModel: E,
      numHeads: 2,
      ffDim: 16,
      numLayers: 2,
      outputs: OUT,
      seed,
    }),
  cnn: (seed: number) =>
    cnnTextClassifier({
      vocabSize: V,
      sequenceLength: T,
      embeddingDim: E,
      filters: 5,
      kernelSizes: [2, 3],
      outputs: OUT,
      seed,
    }),
  // tfjs's own layers: on wasm these need the library's UnsortedSegmentSum and
  // Conv2DBackpropFilter kernels
  lstmLayers: (seed: number) =>
    rnnClassifier({
      vocabSize: V,
      sequenceLength: T,
      embeddingDim: E,
      units: U,
      cell: "lstm",
      outputs: OUT,
      seed,
      implementation: "layers",
    }),
  cnnLayers: (seed: number) =>
    cnnTextClassifier({
      vocabSize: V,
      sequenceLength: T,
      embeddingDim: E,
      filters: 5,
      kernelSizes: [2, 3],
      outputs: OUT,
      seed,
      implementation: "layers",
    }),
};

const expectedParams: Record<keyof typeof builders, number> = {
  lstm: V * E + 4 * (E * U + U * U + U) + U * OUT + OUT,
  // tfjs's GRU (no reset_after): 3 gates, one bias each
  gru: V * E + 3 * (E * U + U * U + U) + U * OUT + OUT,
  simpleRNN: V * E + (E * U + U * U + U) + U * OUT + OUT,
  transformer: V * E + T * E +
    2 * ((E * 3 * E + 3 * E) + (E * E + E) + 2 * 2 * E + (E * 16 + 16) + (16 * E + E)) + E * OUT +
    OUT,
  cnn: V * E + (2 * E * 5 + 5) + (3 * E * 5 + 5) + 10 * OUT + OUT,
  lstmLayers: V * E + 4 * (E * U + U * U + U) + U * OUT + OUT,
  cnnLayers: V * E + (2 * E * 5 + 5) + (3 * E * 5 + 5) + 10 * OUT + OUT,
};

Deno.test("builders: output shape and parameter counts match the formulas", async () => {
  await tf.setBackend("cpu"); // importing the library loads webgpu, which makes itself the default
  for (const [name, build] of Object.entries(builders)) {
    const m = build(0);
    assert.deepEqual(m.outputs[0].shape, [null, OUT], name);
    assert.equal(m.countParams(), expectedParams[name as keyof typeof builders], name);
    m.dispose();
  }
});

Deno.test("builders: the same seed gives the same weights, another seed others", async () => {
  await tf.setBackend("cpu");
  for (const [name, build] of Object.entries(builders)) {
    const [a, b, c] = [build(7), build(7), build(8)];
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(b.getWeights().map((w) => Array.from(w.dataSync())), wa, name);
    assert.notDeepEqual(c.getWeights().map((w) => Array.from(w.dataSync())), wa, name);
    [a, b, c].forEach((m) => m.dispose());
  }
});

for (const backend of ["wasm", "cpu"]) {
  Deno.test(`builders: every model trains on ${backend} and its loss falls`, async () => {
    await tf.setBackend(backend);
    const n = 24;
    const ids = tf.tensor2d(
      Array.from({ length: n * T }, (_, i) => (i * 7 + (i % 5)) % V),
      [n, T],
      "int32",
    );
    const labels = tf.tensor1d(Array.from({ length: n }, (_, i) => i % OUT), "int32");
    const y = tf.oneHot(labels, OUT);
    for (const [name, build] of Object.entries(builders)) {
      const before = tf.memory().numTensors;
      const m = build(1);
      m.compile({ optimizer: tf.train.adam(0.01), loss: tf.losses.softmaxCrossEntropy });
      const { history } = await train(m, ids, y, {
        epochs: 4,
        batchSize: 8,
        seed: 0,
        progress: "none",
      });
      const loss = history.loss;
      assert.ok(loss.every(Number.isFinite), `${name}: loss finite`);
      assert.ok(
        loss[loss.length - 1] < loss[0],
        `${name} on ${backend}: loss ${loss.join(" → ")} should fall`,
      );
      disposeModel(m);
      // tfjs's own recurrent layers keep a few tensors after dispose: check ours only
      if (!name.endsWith("Layers")) {
        assert.equal(
          tf.memory().numTensors - before,
          0,
          `${name}: tensors left after disposeModel`,
        );
      }
    }
    tf.dispose([ids, labels, y]);
  });
}
