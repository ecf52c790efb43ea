import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { disposeModel, Rng, setupBackend } from "nn";
import { compileClassifier } from "nn/models/dense.ts";
import {
  activeExpertsPerExample,
  expertLoad,
  loadCv,
  moeClassifier,
  TopKMixtureOfExperts,
} from "nn/models/sparse.ts";

await setupBackend({ backend: "cpu" });

const D = 6, E = 5, K = 2, H = 4, O = 3;

function layer(options: { balanceWeight?: number; seed?: number; topK?: number } = {}) {
  const moe = new TopKMixtureOfExperts({
    units: O,
    experts: E,
    topK: options.topK ?? K,
    hiddenUnits: H,
    balanceWeight: options.balanceWeight ?? 0.01,
    seed: options.seed ?? 0,
  });
  moe.build([null, D]);
  return moe;
}

/** Frees a layer's weights (tfjs's Layer.dispose refuses layers never used in a model). */
function free(moe: TopKMixtureOfExperts): void {
  for (const w of moe.weights) w.dispose();
}

function inputs(batch: number, seed = 1): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(new Float32Array(batch * D).map(() => rng.normal()), [batch, D]);
}

/** The layer's maths in plain JavaScript, using only the k chosen experts. */
async function reference(moe: TopKMixtureOfExperts, x: tf.Tensor2D) {
  const [wg, w1, b1, w2, b2] = await Promise.all(moe.getWeights().map((w) => w.data()));
  const xs = await x.data();
  const batch = x.shape[0];
  const out: number[] = [];
  const chosen: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const logits = Array.from({ length: E }, (_, e) => {
      let s = 0;
      for (let i = 0; i < D; i++) s += xs[b * D + i] * wg[i * E + e];
      return s;
    });
    const top = logits.map((v, e) => [v, e]).sort((p, q) => q[0] - p[0] || p[1] - q[1])
      .slice(0, moe.topK).map((p) => p[1]);
    chosen.push(top);
    const max = Math.max(...top.map((e) => logits[e]));
    const z = top.reduce((s, e) => s + Math.exp(logits[e] - max), 0);
    const y = new Array<number>(O).fill(0);
    for (const e of top) {
      const g = Math.exp(logits[e] - max) / z;
      const hidden = Array.from({ length: H }, (_, j) => {
        let s = b1[e * H + j];
        for (let i = 0; i < D; i++) s += xs[b * D + i] * w1[(i * E + e) * H + j];
        return Math.max(0, s);
      });
      for (let o = 0; o < O; o++) {
        let s = b2[e * O + o];
        for (let j = 0; j < H; j++) s += hidden[j] * w2[(e * H + j) * O + o];
        y[o] += g * s;
      }
    }
    out.push(...y);
  }
  return { out, chosen, logits: null };
}

Deno.test("moe: the output equals the top-k experts' mixture computed by hand", async () => {
  const moe = layer({ seed: 3 });
  const x = inputs(9, 2);
  const y = moe.apply(x) as tf.Tensor;
  assert.deepEqual(y.shape, [9, O]);
  const ref = await reference(moe, x);
  const got = await y.data();
  ref.out.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-5, `${got[i]} vs ${v}`));
  const routing = await moe.route(x);
  for (let b = 0; b < 9; b++) {
    const row = routing.gates.subarray(b * E, (b + 1) * E);
    const nonZero = [...row.keys()].filter((e) => row[e] !== 0);
    assert.deepEqual(nonZero, [...ref.chosen[b]].sort((p, q) => p - q), `example ${b}`);
    assert.ok(Math.abs(row.reduce((a, v) => a + v, 0) - 1) < 1e-6);
    assert.deepEqual(Array.from(routing.indices.subarray(b * K, (b + 1) * K)), ref.chosen[b]);
  }
  assert.equal(activeExpertsPerExample(routing), K);
  tf.dispose([x, y]);
  free(moe);
});

Deno.test("moe: gradients reach the chosen experts and the gate only", async () => {
  const moe = layer({ seed: 5, balanceWeight: 0.5 });
  const x = inputs(1, 7);
  const chosen = (await reference(moe, x)).chosen[0];
  const variables = moe.trainableWeights.map((w) => w.read() as tf.Variable);
  const rng = new Rng(9);
  const r = tf.tensor2d(Array.from({ length: O }, () => rng.normal()), [1, O]);
  for (const training of [false, true]) {
    const { grads } = tf.variableGrads(() => {
      const y = moe.apply(x, { training }) as tf.Tensor;
      const task = tf.sum(tf.mul(y, r)) as tf.Scalar;
      const aux = moe.calculateLosses();
      return (aux.length ? tf.addN([task, ...aux]) : task) as tf.Scalar;
    }, variables);
    const values = Object.fromEntries(
      await Promise.all(variables.map(async (v) => [v.name, await grads[v.name].data()] as const)),
    );
    const [gate, w1, b1, w2, b2] = variables.map((v) => values[v.name]);
    for (let e = 0; e < E; e++) {
      const used = chosen.includes(e);
      const slices = [
        Array.from({ length: D * H }, (_, k) => w1[(Math.floor(k / H) * E + e) * H + (k % H)]),
        Array.from(b1.subarray(e * H, (e + 1) * H)),
        Array.from(w2.subarray(e * H * O, (e + 1) * H * O)),
        Array.from(b2.subarray(e * O, (e + 1) * O)),
      ];
      for (const s of slices) {
        if (used) assert.ok(s.some((v) => v !== 0), `expert ${e} (chosen) gets a gradient`);
        else assert.ok(s.every((v) => v === 0), `expert ${e} (not chosen) gets none`);
      }
      const gateColumn = Array.from({ length: D }, (_, i) => gate[i * E + e]);
      if (used || training) {
        assert.ok(gateColumn.some((v) => v !== 0), `gate column ${e}, training ${training}`);
      } else {
        // without the balancing loss only the chosen experts' logits matter
        assert.ok(gateColumn.every((v) => v === 0), `gate column ${e} is 0 at inference`);
      }
    }
    tf.dispose(grads);
  }
  tf.dispose([x, r]);
  free(moe);
});

Deno.test("moe: the balancing loss is α·E·Σ f·P and joins the training loss", async () => {
  const alpha = 0.3;
  const moe = layer({ seed: 2, balanceWeight: alpha });
  const x = inputs(16, 4);
  const aux = tf.tidy(() => {
    moe.apply(x, { training: true });
    return moe.calculateLosses()[0];
  });
  // by hand: f from the routing, P from the softmax over all logits
  const logits = await tf.matMul(x, moe.getWeights()[0]).data();
  const routing = await moe.route(x);
  const f = expertLoad(routing);
  const p = new Array<number>(E).fill(0);
  for (let b = 0; b < 16; b++) {
    const row = Array.from(logits.subarray(b * E, (b + 1) * E));
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    row.forEach((v, e) => (p[e] += Math.exp(v - m) / z / 16));
  }
  const expected = alpha * E * f.reduce((s, fe, e) => s + fe * p[e], 0);
  assert.ok(Math.abs((await aux.data())[0] - expected) < 1e-5);
  aux.dispose();
  // no balancing loss at inference
  tf.tidy(() => {
    moe.apply(x);
    assert.equal(moe.calculateLosses()[0].dataSync()[0], 0);
  });
  tf.dispose(x);
  free(moe);

  // in a model: trainOnBatch's loss = cross-entropy + the balancing loss
  const model = compileClassifier(
    moeClassifier({
      inputs: 8,
      outputs: 3,
      experts: 4,
      topK: 2,
      hiddenUnits: 5,
      balanceWeight: 1,
      seed: 1,
    }),
  );
  const rng = new Rng(2);
  const xb = tf.tensor2d(new Float32Array(32 * 8).map(() => rng.normal()), [32, 8]);
  const yb = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, () => rng.int(3)), "int32"), 3);
  const ce = (await (model.evaluate(xb, yb) as tf.Scalar[])[0].data())[0];
  const balance = tf.tidy(() => {
    // (Sequential.apply does not pass `training` on; fit and trainOnBatch do)
    model.layers[0].apply(xb, { training: true });
    return model.calculateLosses()[0].dataSync()[0];
  });
  assert.ok(balance > 0.9, `E·Σ f·P is about 1 or more, got ${balance}`);
  const loss = (await model.trainOnBatch(xb, yb) as number[])[0];
  assert.ok(Math.abs(loss - (ce + balance)) < 1e-4, `${loss} vs ${ce} + ${balance}`);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await model.trainOnBatch(xb, yb);
  assert.equal(tf.memory().numTensors, before, "no tensors leak per training step");
  tf.dispose([xb, yb]);
  disposeModel(model);
});

Deno.test("moe: parameters total vs active per example; k/E of the experts", () => {
  const model = moeClassifier({ inputs: 784, outputs: 10, experts: 8, topK: 2, hiddenUnits: 64 });
  const counts = (model.layers[0] as TopKMixtureOfExperts).parameterCounts();
  assert.equal(counts.gate, 784 * 8);
  assert.equal(counts.perExpert, 785 * 64 + 65 * 10);
  assert.equal(counts.total, model.countParams());
  assert.equal(counts.activePerExample, counts.gate + 2 * counts.perExpert);
  assert.equal(counts.activeExpertFraction, 2 / 8);
  assert.equal(2 * counts.perExpert / counts.experts, 0.25);
  model.dispose();
  assert.throws(
    () => new TopKMixtureOfExperts({ units: 1, experts: 4, topK: 0, hiddenUnits: 1 }),
    /topK/,
  );
  assert.throws(
    () => new TopKMixtureOfExperts({ units: 1, experts: 4, topK: 5, hiddenUnits: 1 }),
    /exceeds/,
  );
  assert.throws(
    () => new TopKMixtureOfExperts({ units: 1, experts: 1, topK: 1, hiddenUnits: 1 }),
    /2 experts/,
  );
  assert.throws(
    () =>
      new TopKMixtureOfExperts({
        units: 1,
        experts: 2,
        topK: 1,
        hiddenUnits: 1,
        balanceWeight: -1,
      }),
    /balanceWeight/,
  );
  assert.throws(
    () =>
      layer().parameterCounts.call(
        new TopKMixtureOfExperts({ units: 1, experts: 2, topK: 1, hiddenUnits: 1 }),
      ),
    /not built/,
  );
});

Deno.test("moe: getConfig round trip, and a saved model loads with the same outputs", async () => {
  const model = moeClassifier({
    inputs: 6,
    outputs: 3,
    experts: 4,
    topK: 2,
    hiddenUnits: 5,
    balanceWeight: 0.05,
    seed: 8,
  });
  const original = model.layers[0] as TopKMixtureOfExperts;
  const config = original.getConfig();
  assert.equal(config.experts, 4);
  assert.equal(config.topK, 2);
  assert.equal(config.balanceWeight, 0.05);
  const registered = tf.serialization.SerializationMap.getMap().classNameMap;
  assert.ok(TopKMixtureOfExperts.className in registered, "registered with tfjs");
  const copy = TopKMixtureOfExperts.fromConfig(TopKMixtureOfExperts, config);
  assert.ok(copy instanceof TopKMixtureOfExperts);
  assert.deepEqual(copy.getConfig(), config);

  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  assert.match(JSON.stringify(artifacts!.modelTopology), /NnTopKMixtureOfExperts/);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  const x = inputs(5, 3);
  const a = await (model.predict(x) as tf.Tensor).data();
  const b = await (loaded.predict(x) as tf.Tensor).data();
  assert.deepEqual(Array.from(b), Array.from(a));
  assert.deepEqual((loaded.layers[0] as TopKMixtureOfExperts).getConfig(), config);
  tf.dispose(x);
  model.dispose();
  loaded.dispose();
});

Deno.test("moe: the same seed gives the same weights; inference leaks nothing", async () => {
  const a = layer({ seed: 11 });
  const b = layer({ seed: 11 });
  const c = layer({ seed: 12 });
  const wa = await a.getWeights()[1].data();
  assert.deepEqual(Array.from(await b.getWeights()[1].data()), Array.from(wa));
  assert.notDeepEqual(Array.from(await c.getWeights()[1].data()), Array.from(wa));
  const x = inputs(4);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    a.apply(x);
  });
  await a.route(x);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(x);
  [a, b, c].forEach(free);
});

Deno.test("moe helpers: expert load, active experts, coefficient of variation", () => {
  const routing = {
    batch: 2,
    experts: 3,
    gates: new Float32Array([0.6, 0.4, 0, 0, 0.5, 0.5]),
    indices: new Int32Array([0, 1, 1, 2]),
  };
  assert.deepEqual(expertLoad(routing), [0.25, 0.5, 0.25]);
  assert.equal(activeExpertsPerExample(routing), 2);
  assert.equal(
    activeExpertsPerExample({ ...routing, gates: new Float32Array([1, 0, 0, 0, 0.5, 0.5]) }),
    1.5,
  );
  assert.equal(loadCv([0.5, 0.5]), 0);
  assert.ok(Math.abs(loadCv([1, 0, 0, 0]) - Math.sqrt(3)) < 1e-12);
});
