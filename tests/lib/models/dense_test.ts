import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { disposeModel, setupBackend, train } from "nn";
import { compileClassifier, layerSizes, mlp, SeededDropout } from "nn/models/dense.ts";
import { mlpParameters } from "nn/models/counting.ts";

await setupBackend({ backend: "cpu" });

async function weightsOf(model: tf.LayersModel): Promise<number[][]> {
  const out: number[][] = [];
  for (const w of model.getWeights()) out.push(Array.from(await w.data()));
  return out;
}

Deno.test("mlp: layers, shapes and activations as asked", () => {
  const model = mlp({ inputs: 784, hidden: [128, 64], outputs: 10, activation: "tanh" });
  const dense = model.layers.filter((l) => l.getClassName() === "Dense");
  assert.equal(dense.length, 3);
  assert.deepEqual(model.inputs[0].shape, [null, 784]);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  const cfg = dense.map((l) => l.getConfig());
  assert.deepEqual(cfg.map((c) => c.units), [128, 64, 10]);
  assert.deepEqual(cfg.map((c) => c.activation), ["tanh", "tanh", "softmax"]);
  model.dispose();
});

Deno.test("mlp: countParams equals the mathjs formula for every configuration", () => {
  for (
    const hidden of [[], [1], [16], [128], [512], [128, 64], [32, 32, 32, 32], [8, 300, 8]]
  ) {
    for (const dropout of [0, 0.3]) {
      const options = { inputs: 784, hidden, outputs: 10, dropout };
      const model = mlp(options);
      assert.equal(model.countParams(), mlpParameters(layerSizes(options)), `hidden ${hidden}`);
      model.dispose();
    }
  }
});

Deno.test("mlp: the same seed gives the same weights, another seed others", async () => {
  const a = mlp({ inputs: 20, hidden: [8, 8], outputs: 3, seed: 5 });
  const b = mlp({ inputs: 20, hidden: [8, 8], outputs: 3, seed: 5 });
  const c = mlp({ inputs: 20, hidden: [8, 8], outputs: 3, seed: 6 });
  const [wa, wb, wc] = [await weightsOf(a), await weightsOf(b), await weightsOf(c)];
  assert.deepEqual(wa, wb);
  assert.notDeepEqual(wa[0], wc[0]);
  // biases start at zero; kernels do not
  assert.ok(wa[1].every((v) => v === 0));
  assert.ok(wa[0].some((v) => v !== 0));
  // heNormal for relu: variance ≈ 2 / fan_in (truncated normal, so a bit lower)
  const big = mlp({ inputs: 400, hidden: [400], outputs: 2, seed: 1 });
  const k = Array.from(await big.getWeights()[0].data());
  const variance = k.reduce((s, v) => s + v * v, 0) / k.length;
  assert.ok(variance > 0.5 * (2 / 400) && variance < 1.2 * (2 / 400), `variance ${variance}`);
  [a, b, c, big].forEach((m) => m.dispose());
});

Deno.test("mlp: dropout layers after each hidden layer, rates per layer", () => {
  const model = mlp({ inputs: 4, hidden: [8, 8, 8], outputs: 2, dropout: [0.1, 0, 0.5] });
  assert.deepEqual(model.layers.map((l) => l.getClassName()), [
    "Dense",
    "NnSeededDropout",
    "Dense",
    "Dense",
    "NnSeededDropout",
    "Dense",
  ]);
  const rates = model.layers.filter((l) => l instanceof SeededDropout).map((l) =>
    (l as SeededDropout).rate
  );
  assert.deepEqual(rates, [0.1, 0.5]);
  model.dispose();
});

Deno.test("mlp: bad options are refused with a message that says what to do", () => {
  assert.throws(() => mlp({ inputs: 0, hidden: [4], outputs: 2 }), /inputs must be/);
  assert.throws(() => mlp({ inputs: 4, hidden: [4, 2.5], outputs: 2 }), /hidden\[1\]/);
  assert.throws(() => mlp({ inputs: 4, hidden: [4], outputs: 2, dropout: 1 }), /\[0, 1\)/);
  assert.throws(
    () => mlp({ inputs: 4, hidden: [4, 4], outputs: 2, dropout: [0.1] }),
    /one rate per hidden layer/,
  );
  assert.throws(() =>
    compileClassifier(mlp({ inputs: 1, hidden: [], outputs: 2 }), {
      learningRate: 0,
    }), /learningRate/);
});

Deno.test("SeededDropout: new mask per training call, same stream per seed, identity at inference", async () => {
  const x = tf.ones([64, 64]);
  const masks = async (seed: number) => {
    const layer = new SeededDropout({ rate: 0.25, seed });
    const out: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      out.push(Array.from(await y.data()));
      y.dispose();
    }
    const inference = layer.apply(x) as tf.Tensor;
    const kept = Array.from(await inference.data());
    inference.dispose();
    return { out, kept };
  };
  const a = await masks(1), b = await masks(1), c = await masks(2);
  assert.deepEqual(a.out, b.out, "same seed, same masks");
  assert.notDeepEqual(a.out[0], a.out[1], "a fresh mask for each batch");
  assert.notDeepEqual(a.out[0], c.out[0], "another seed, other masks");
  assert.ok(a.kept.every((v) => v === 1), "identity at inference");
  for (const m of a.out) {
    const zeros = m.filter((v) => v === 0).length / m.length;
    assert.ok(Math.abs(zeros - 0.25) < 0.03, `dropped fraction ${zeros}`);
    assert.ok(m.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6), "inverted scaling");
  }
  x.dispose();
});

Deno.test("mlp: serialises and loads back with SeededDropout", async () => {
  const model = mlp({ inputs: 6, hidden: [5], outputs: 3, dropout: 0.2, seed: 3 });
  const artifacts = await new Promise<tf.io.ModelArtifacts>((resolve) => {
    model.save(tf.io.withSaveHandler((a) => {
      resolve(a);
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
  });
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  assert.equal(loaded.layers[1].getClassName(), "NnSeededDropout");
  assert.equal(loaded.countParams(), model.countParams());
  const x = tf.randomNormal([4, 6], 0, 1, "float32", 9);
  const [ya, yb] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
  assert.deepEqual(Array.from(await ya.data()), Array.from(await yb.data()));
  tf.dispose([x, ya, yb]);
  model.dispose();
  loaded.dispose();
});

Deno.test("mlp + compileClassifier learn a separable task; no tensors leak", async () => {
  const before = tf.memory().numTensors;
  const n = 256;
  const xs = new Float32Array(n * 2);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.cos(i * 2.4), b = Math.sin(i * 1.7);
    xs[2 * i] = a;
    xs[2 * i + 1] = b;
    ys[i] = a * b > 0 ? 1 : 0; // XOR-like quadrants: needs a hidden layer
  }
  const x = tf.tensor2d(xs, [n, 2]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(ys, "int32"), 2));
  const model = compileClassifier(
    mlp({ inputs: 2, hidden: [32, 32], outputs: 2, dropout: 0.1, seed: 0 }),
    { learningRate: 0.02 },
  );
  const { history } = await train(model, x, y, {
    epochs: 30,
    batchSize: 32,
    seed: 0,
    progress: "none",
  });
  assert.ok(history.acc.at(-1)! > 0.9, `accuracy ${history.acc.at(-1)}`);
  assert.ok(history.loss.at(-1)! < history.loss[0]);
  disposeModel(model);
  tf.dispose([x, y]);
  assert.equal(tf.memory().numTensors, before);
});
