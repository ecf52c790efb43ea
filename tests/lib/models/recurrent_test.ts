// Recurrent builders: shapes, parameter counts against the mathjs formulas (LSTM 4× and
// GRU 3× the simple cell), bidirectional wrapper, dense inputs, gradients w.r.t. inputs.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../lib/kernels/mod.ts";
import {
  canonicalCell,
  charLanguageModel,
  recurrentFormula,
  recurrentLayerParameters,
  sequenceClassifier,
  sequenceModelParameters,
  sequenceRegressor,
} from "../../../lib/models/recurrent.ts";

const CELLS = ["simple", "lstm", "gru"] as const;

Deno.test("recurrent formulas: LSTM is 4× and GRU 3× the simple cell, by hand", () => {
  for (const [i, u] of [[2, 1], [8, 6], [64, 64], [3, 17]]) {
    const simple = recurrentLayerParameters({ cell: "simple", inputs: i, units: u });
    assert.equal(simple, u * (i + u + 1));
    assert.equal(recurrentLayerParameters({ cell: "lstm", inputs: i, units: u }), 4 * simple);
    assert.equal(recurrentLayerParameters({ cell: "gru", inputs: i, units: u }), 3 * simple);
    assert.equal(recurrentLayerParameters({ cell: "simpleRNN", inputs: i, units: u }), simple);
  }
  assert.throws(() => recurrentLayerParameters({ cell: "simple", inputs: 1.5, units: 2 }), /whole/);
  assert.throws(() => canonicalCell("rnn" as never), /simple/);
  assert.equal(recurrentFormula("layer").text, "g * u * (i + u + 1)");
  assert.match(recurrentFormula("model").tex, /\\cdot/);
});

Deno.test("recurrent builders: countParams equals the formula for every cell and input kind", async () => {
  await tf.setBackend("cpu");
  for (const cell of CELLS) {
    for (const bidirectional of [false, true]) {
      const token = {
        input: { vocabSize: 30, embeddingDim: 5, sequenceLength: 7 },
        cell,
        units: 4,
        outputs: 3,
        bidirectional,
      };
      const dense = {
        input: { features: 2, sequenceLength: 9 },
        cell,
        units: 6,
        outputs: 1,
        bidirectional,
      };
      const c = sequenceClassifier({ ...token, seed: 1 });
      const r = sequenceRegressor({ ...dense, seed: 1 });
      assert.equal(
        c.countParams(),
        sequenceModelParameters(token),
        `${cell} classifier bi=${bidirectional}`,
      );
      assert.equal(
        r.countParams(),
        sequenceModelParameters(dense),
        `${cell} regressor bi=${bidirectional}`,
      );
      assert.deepEqual(c.outputs[0].shape, [null, 3]);
      assert.deepEqual(r.outputs[0].shape, [null, 1]);
      const y = r.predict(tf.ones([2, 9, 2])) as tf.Tensor;
      assert.deepEqual(y.shape, [2, 1]);
      y.dispose();
      c.dispose();
      r.dispose();
    }
  }
});

Deno.test("charLanguageModel: logits at every step, parameters from the formula", async () => {
  await tf.setBackend("cpu");
  for (const cell of CELLS) {
    const m = charLanguageModel({ vocabSize: 11, embeddingDim: 4, units: 5, cell, seed: 0 });
    const y = m.predict(tf.zeros([2, 6], "int32")) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 6, 11], cell);
    assert.equal(
      m.countParams(),
      sequenceModelParameters({
        input: { vocabSize: 11, embeddingDim: 4 },
        cell,
        units: 5,
        outputs: 11,
      }),
    );
    y.dispose();
    m.dispose();
  }
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`recurrent regressors: tf.grad w.r.t. the input sequence on ${backend}`, async () => {
    await tf.setBackend(backend);
    for (const cell of CELLS) {
      const m = sequenceRegressor({ input: { features: 2 }, cell, units: 3, outputs: 1, seed: 2 });
      const x = tf.randomUniform([4, 5, 2], 0, 1, "float32", 3);
      const before = tf.memory().numTensors;
      const g = tf.grad((xs: tf.Tensor) => tf.mean(tf.square(m.apply(xs) as tf.Tensor)))(x);
      assert.deepEqual(g.shape, [4, 5, 2], cell);
      const v = await g.data();
      assert.ok(
        v.every(Number.isFinite) && v.some((e) => e !== 0),
        `${cell}: gradient finite, nonzero`,
      );
      // numerical check of one entry
      const eps = 1e-2;
      const at = (d: number) =>
        tf.tidy(() => {
          const bump = tf.buffer([4, 5, 2]);
          bump.set(d, 1, 2, 0);
          return tf.mean(tf.square(m.apply(tf.add(x, bump.toTensor())) as tf.Tensor)).dataSync()[0];
        });
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      assert.ok(
        Math.abs(numeric - v[1 * 10 + 2 * 2]) < 1e-3 + 0.05 * Math.abs(numeric),
        `${cell}: ${numeric} vs ${v[14]}`,
      );
      g.dispose();
      assert.equal(tf.memory().numTensors, before + 0, `${cell}: no leaked tensors`);
      x.dispose();
      m.dispose();
    }
  });
}
