// CNN text builder: options (widths, filters, embedding size, static vs trainable
// embeddings, initial embedding weights), parameter formula against tfjs, receptive field.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../lib/kernels/mod.ts";
import {
  cnnTextClassifier,
  cnnTextFormula,
  cnnTextParameters,
  receptiveField,
} from "../../../lib/models/cnn_text.ts";
import { disposeModel } from "../../../lib/train.ts";

await tf.setBackend("cpu");

Deno.test("cnn text: parameter formula equals countParams for several shapes", () => {
  const cases = [
    { vocabSize: 50, embeddingDim: 8, filters: 5, kernelSizes: [1], outputs: 2 },
    { vocabSize: 50, embeddingDim: 8, filters: 5, kernelSizes: [3], outputs: 3 },
    { vocabSize: 120, embeddingDim: 16, filters: 7, kernelSizes: [3, 4, 5], outputs: 2 },
    { vocabSize: 30, embeddingDim: 4, filters: 2, kernelSizes: [2, 2], outputs: 1 },
  ];
  for (const c of cases) {
    for (const implementation of ["fused", "layers"] as const) {
      const m = cnnTextClassifier({ ...c, sequenceLength: 9, seed: 1, implementation });
      assert.equal(m.countParams(), cnnTextParameters(c), JSON.stringify({ c, implementation }));
      disposeModel(m);
    }
  }
  // by hand, independent of the formula string
  const v = 120, e = 16, f = 7, o = 2;
  assert.equal(
    cnnTextParameters({
      vocabSize: v,
      embeddingDim: e,
      filters: f,
      kernelSizes: [3, 4, 5],
      outputs: o,
    }),
    v * e + (3 + 4 + 5) * e * f + 3 * f + (3 * f + 1) * o,
  );
  assert.equal(cnnTextParameters({ vocabSize: 5000, outputs: 2 }), 397702);
  assert.throws(() => cnnTextParameters({ vocabSize: 1.5, outputs: 2 }), /whole/);
});

Deno.test("cnn text: static embeddings are frozen, trainable ones learn", async () => {
  const x = tf.tensor2d([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]], undefined, "int32");
  const y = tf.tensor2d([[1, 0], [0, 1]]);
  for (const trainable of [true, false]) {
    const m = cnnTextClassifier({
      vocabSize: 10,
      sequenceLength: 6,
      embeddingDim: 4,
      filters: 3,
      kernelSizes: [2, 3],
      outputs: 2,
      trainableEmbeddings: trainable,
      seed: 0,
    });
    const emb = m.getLayer("token_embedding");
    assert.equal(emb.trainable, trainable);
    const trainableCount = m.trainableWeights.reduce(
      (s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1),
      0,
    );
    assert.equal(trainableCount, m.countParams() - (trainable ? 0 : 10 * 4));
    const before = await emb.getWeights()[0].data();
    m.compile({ optimizer: tf.train.sgd(0.5), loss: tf.losses.softmaxCrossEntropy });
    await m.fit(x, y, { epochs: 3, batchSize: 2, shuffle: false, verbose: 0 });
    const after = await emb.getWeights()[0].data();
    const changed = after.some((v, i) => v !== before[i]);
    assert.equal(changed, trainable, `embeddings ${trainable ? "learn" : "stay fixed"}`);
    disposeModel(m);
  }
  tf.dispose([x, y]);
});

Deno.test("cnn text: embeddingWeights sets the initial embedding and is checked", async () => {
  const w = tf.randomNormal([10, 4], 0, 1, "float32", 3) as tf.Tensor2D;
  const m = cnnTextClassifier({
    vocabSize: 10,
    sequenceLength: 5,
    embeddingDim: 4,
    filters: 2,
    kernelSizes: [3],
    outputs: 2,
    embeddingWeights: w,
    trainableEmbeddings: false,
  });
  assert.deepEqual(
    Array.from(await m.getLayer("token_embedding").getWeights()[0].data()),
    Array.from(await w.data()),
  );
  assert.throws(
    () =>
      cnnTextClassifier({
        vocabSize: 11,
        sequenceLength: 5,
        embeddingDim: 4,
        outputs: 2,
        embeddingWeights: w,
      }),
    /embeddingWeights has shape/,
  );
  disposeModel(m);
  w.dispose();
});

Deno.test("cnn text: widths, filters and sizes shape the model; fused equals layers", () => {
  const opts = {
    vocabSize: 40,
    sequenceLength: 8,
    embeddingDim: 6,
    filters: 4,
    outputs: 3,
    seed: 2,
  };
  const fused = cnnTextClassifier({ ...opts, kernelSizes: [1, 3], implementation: "fused" });
  const layers = cnnTextClassifier({ ...opts, kernelSizes: [1, 3], implementation: "layers" });
  assert.deepEqual(fused.outputs[0].shape, [null, 3]);
  assert.equal(fused.getLayer("classifier").getWeights()[0].shape[0], 2 * 4);
  layers.setWeights(fused.getWeights());
  const x = tf.tensor2d([[0, 1, 2, 3, 4, 5, 6, 7], [9, 9, 3, 0, 0, 12, 39, 2]], undefined, "int32");
  const a = fused.predict(x) as tf.Tensor;
  const b = layers.predict(x) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(a, b))).arraySync() as number < 1e-5);
  assert.throws(
    () => cnnTextClassifier({ ...opts, sequenceLength: 2, kernelSizes: [3] }),
    /shorter/,
  );
  tf.dispose([x, a, b]);
  disposeModel(fused);
  disposeModel(layers);
});

Deno.test("cnn text: receptive field formula matches the gradient support of a conv1d stack", () => {
  for (const widths of [[1], [3], [5], [3, 3], [2, 4, 3]]) {
    const T = 20;
    const x = tf.randomNormal([1, T, 2], 0, 1, "float32", 1);
    const convs = widths.map((k, i) =>
      tf.layers.conv1d({ filters: 2, kernelSize: k, kernelInitializer: "ones", name: `c${i}_${k}` })
    );
    // gradient of one output position w.r.t. the input: nonzero on exactly the receptive field
    const g = tf.grad((inp: tf.Tensor) => {
      let h = inp;
      for (const c of convs) h = c.apply(h) as tf.Tensor;
      return tf.sum(tf.slice(h, [0, 2, 0], [1, 1, -1]));
    })(x);
    const rows = (g.squeeze([0]).abs().sum(1).arraySync() as number[]).filter((v) => v > 0).length;
    assert.equal(rows, receptiveField(widths), `widths ${widths}`);
    tf.dispose([x, g]);
  }
  assert.equal(receptiveField([3, 4]), 6);
  assert.throws(() => receptiveField([]), /whole numbers/);
  assert.equal(cnnTextFormula("receptiveField").text, "1 + sum(k - 1)");
  assert.match(cnnTextFormula("parameters").tex, /\\cdot/);
});
