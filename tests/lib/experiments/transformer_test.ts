// Measurement helpers of the Transformer notebook: profiles, causal gradients, position dot
// products, the LSTM size matching a budget, timing and the recall task's data; no leaked
// tensors. Attention by hand and the models are in the notebook's cells.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import "../../../lib/kernels/mod.ts";
import { charLanguageModel, sequenceClassifier } from "../../../lib/models/recurrent.ts";
import { transformerClassifier } from "../../../lib/models/transformer.ts";
import * as ex from "../../../lib/experiments/transformer.ts";

await tf.setBackend("cpu");

Deno.test("transformerProfile merges overrides and rejects unknown profiles", () => {
  const p = ex.transformerProfile("full", { chars: { maxEpochs: 2 } });
  assert.equal(p.chars.maxEpochs, 2);
  assert.equal(p.chars.window, 64);
  assert.throws(() => ex.transformerProfile("huge"), /Unknown profile/);
});

Deno.test("causalGradients: zero above the diagonal, non-zero on and below", async () => {
  const before = tf.memory().numTensors;
  const g = await ex.causalGradients({ seed: 1, length: 5, dModel: 8 });
  assert.equal(g.norms.length, 5);
  assert.equal(g.leak, 0);
  assert.ok(g.smallestPast > 0);
  assert.ok(g.norms.every((row, t) => row.every((v, s) => (s > t ? v === 0 : v > 0))));
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  // seed 0 too: tfjs's random ops take a seed of 0 for none, so it must not reach them
  const [a, b] = [
    await ex.causalGradients({ seed: 0, length: 4 }),
    await ex.causalGradients({ seed: 0, length: 4 }),
  ];
  assert.deepEqual(a.norms, b.norms, "the same seed gives the same inputs and gradients");
});

Deno.test("positionDotProducts: D/2 at distance 0, falls with distance, same for every p", () => {
  const r = ex.positionDotProducts({ length: 40, d: 16, maxDistance: 10 });
  assert.ok(Math.abs(r.meanDot[0] - 8) < 1e-5);
  assert.ok(r.meanDot[1] < r.meanDot[0] && r.meanDot[2] < r.meanDot[1]);
  assert.ok(r.maxSpread < 1e-4, `${r.maxSpread}`);
  assert.equal(r.distances.length, 11);
});

Deno.test("matchingLstmUnits picks the units whose model size is closest", () => {
  const target = 50000;
  const u = ex.matchingLstmUnits({ params: target, vocabSize: 40, embeddingDim: 16 });
  const size = (n: number) => {
    const m = charLanguageModel({ vocabSize: 40, embeddingDim: 16, units: n });
    const c = m.countParams();
    m.dispose();
    return c;
  };
  const d = Math.abs(size(u) - target);
  assert.ok(d <= Math.abs(size(u - 1) - target) && d <= Math.abs(size(u + 1) - target));
});

Deno.test("recallFirstTask: the label is the first symbol", async () => {
  const d = ex.recallFirstTask({ n: 50, length: 7, symbols: 5, seed: 2 });
  const x = (await d.x.array()) as number[][];
  const y = (await tf.argMax(d.y, 1).array()) as number[];
  assert.ok(x.every((row, i) => row[0] - 1 === y[i] && row.every((v) => v >= 1 && v <= 5)));
  assert.ok(new Set(y).size > 1, "several classes");
  d.dispose();
});

Deno.test("timeForwardBackward returns one row per model and length, and frees its tensors", async () => {
  const before = tf.memory().numTensors;
  const lstm = (_length: number) =>
    sequenceClassifier({
      input: { vocabSize: 100, embeddingDim: 8 },
      cell: "lstm",
      units: 8,
      outputs: 2,
      seed: 0,
    });
  const transformer = (length: number) =>
    transformerClassifier({
      vocabSize: 100,
      sequenceLength: length,
      dModel: 8,
      numHeads: 2,
      numLayers: 1,
      outputs: 3,
      seed: 0,
    });
  const rows = await ex.timeForwardBackward({
    models: { lstm, transformer },
    lengths: [4, 8],
    batchSize: 2,
    repeats: 1,
    seed: 0,
  });
  assert.deepEqual(rows.map((r) => `${r.kind}${r.length}`), [
    "lstm4",
    "transformer4",
    "lstm8",
    "transformer8",
  ]);
  assert.ok(rows.every((r) => r.ms > 0 && r.cpuMs >= 0));
  assert.equal(rows[0].params, rows[2].params, "the LSTM's size does not depend on T");
  assert.equal(rows[3].params - rows[1].params, 4 * 8, "four more learned positions of width 8");
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
});
