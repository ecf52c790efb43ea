// FusedGRU and FusedSimpleRNN against tfjs's own tf.layers.gru / tf.layers.simpleRNN with
// the same weights: forward (last state and every state) and gradients w.r.t. the input
// and all three weights, on cpu and wasm, for the fused op (OpenBLAS and TypeScript GEMM)
// and the "ops" implementation; edge cases B = 1, T = 1; serialisation; seeding; no
// leaked tensors per training step; recurrentLayer's choice of layer.
// Tolerance: |a − b| ≤ 1e-6 + 1e-5 · |b| for every element (float32 throughout).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { data } from "../numeric.ts";
import "../../../lib/kernels/mod.ts";
import { disableBlasForTesting, hasBlas } from "../../../lib/kernels/gemm.ts";
import {
  FusedGRU,
  FusedLSTM,
  FusedSimpleRNN,
  gruSequenceFused,
  gruSequenceOps,
  simpleRnnSequenceFused,
  simpleRnnSequenceOps,
} from "../../../lib/layers/mod.ts";
import { recurrentLayer, recurrentLayerParameters } from "../../../lib/models/recurrent.ts";
import { simdMemoryStats } from "../../../lib/kernels/simd/simd.ts";

const RTOL = 1e-5;
const ATOL = 1e-6;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(
      err <= ATOL + RTOL * Math.abs(expected[i]),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (error ${err})`,
    );
  }
}

type Cell = "gru" | "simple";
type Impl = "fused" | "ops";
const GATES: Record<Cell, number> = { gru: 3, simple: 1 };

function ourLayer(cell: Cell, units: number, returnSequences: boolean, implementation: Impl) {
  const args = { units, returnSequences, implementation, seed: 7 };
  return cell === "gru" ? new FusedGRU(args) : new FusedSimpleRNN(args);
}

function tfjsLayer(cell: Cell, units: number, returnSequences: boolean): tf.layers.Layer {
  return cell === "gru"
    ? tf.layers.gru({ units, returnSequences, recurrentActivation: "sigmoid", activation: "tanh" })
    : tf.layers.simpleRNN({ units, returnSequences, activation: "tanh" });
}

/**
 * The layer's output. For tfjs's layers at T = 1 the cell is applied once by hand: the
 * gradient of tfjs 4.22's RNN loop throws for one-step sequences ("Argument tensors
 * passed to stack must be a `Tensor[]`"), though its forward pass works (checked).
 */
function forward(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  const [B, T] = x.shape;
  if (T !== 1 || !(layer instanceof tf.RNN)) return layer.apply(x) as tf.Tensor;
  const config = layer.getConfig();
  const [h] = layer.cell.call(
    [tf.squeeze(x, [1]), tf.zeros([B, config.units as number])],
    {},
  ) as tf.Tensor[];
  const y = config.returnSequences ? tf.expandDims(h, 1) : h;
  assertClose(y.dataSync(), (layer.apply(x) as tf.Tensor).dataSync(), "tfjs cell at T = 1");
  return y;
}

/**
 * Output and gradients of sum(layer(x) · dy) w.r.t. x, kernel, recurrent kernel and bias,
 * after loading `weights` into the layer.
 */
function outputAndGrads(layer: tf.layers.Layer, x: tf.Tensor, weights: tf.Tensor[]): number[][] {
  tf.dispose(layer.apply(x) as tf.Tensor); // builds the layer
  layer.setWeights(weights);
  return tf.tidy(() => {
    const xv = tf.variable(x);
    const vars = [xv, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
    assert.deepEqual(
      layer.trainableWeights.map((w) => w.originalName.split("/").pop()),
      ["kernel", "recurrent_kernel", "bias"],
    );
    const y = forward(layer, xv);
    const dy = data(y.shape, 99);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(forward(layer, xv), dy)),
      vars,
    );
    const out = [
      Array.from(y.dataSync()),
      // a weight the output does not depend on gets no gradient from tfjs ("ops" at T = 1
      // never multiplies the zero initial state by U): zeros, as the other paths give
      ...vars.map((v) =>
        grads[v.name] ? Array.from(grads[v.name].dataSync()) : new Array(v.size).fill(0)
      ),
    ];
    xv.dispose();
    return out;
  });
}

// [B, T, I, U]: general, B = 1, T = 1, both 1
const SHAPES = [[3, 7, 4, 5], [1, 6, 2, 3], [4, 1, 3, 2], [1, 1, 1, 1]];

for (const backend of ["cpu", "wasm"]) {
  for (const cell of ["gru", "simple"] as const) {
    const variants: { impl: Impl; blas: boolean; label: string }[] = [
      { impl: "fused", blas: true, label: hasBlas() ? "fused, OpenBLAS" : "fused" },
      { impl: "fused", blas: false, label: "fused, TypeScript GEMM" },
      { impl: "ops", blas: true, label: "ops" },
    ];
    for (const { impl, blas, label } of variants) {
      Deno.test(`${cell} (${label}) equals tf.layers.${cell === "gru" ? "gru" : "simpleRNN"}: forward and gradients (${backend})`, async () => {
        await tf.setBackend(backend);
        if (!blas) disableBlasForTesting(true);
        try {
          for (const [B, T, I, U] of SHAPES) {
            const G = GATES[cell] * U;
            const x = data([B, T, I], B * 100 + T);
            const weights = [data([I, G], 2, 0.7), data([U, G], 3, 0.7), data([G], 4, 0.3)];
            for (const seqs of [false, true]) {
              const ours = ourLayer(cell, U, seqs, impl);
              const theirs = tfjsLayer(cell, U, seqs);
              const a = outputAndGrads(ours, x, weights);
              const b = outputAndGrads(theirs, x, weights);
              assert.equal(ours.usesFused(), impl === "fused");
              const where = `${cell} ${label} B=${B} T=${T} I=${I} U=${U} seq=${seqs}`;
              assert.equal(a[0].length, seqs ? B * T * U : B * U, `${where}: output size`);
              ["y", "dx", "dW", "dU", "db"].forEach((name, i) =>
                assertClose(a[i], b[i], `${where} ${name}`)
              );
              ours.dispose();
              theirs.dispose();
            }
            tf.dispose([x, ...weights]);
          }
        } finally {
          disableBlasForTesting(false);
        }
      });
    }
  }
}

Deno.test("sequence functions: fused and ops agree on longer sequences (wasm)", async () => {
  await tf.setBackend("wasm");
  const x = data([5, 30, 3], 11) as tf.Tensor3D;
  for (const cell of ["gru", "simple"] as const) {
    const G = GATES[cell] * 8;
    const w = data([3, G], 12, 0.5) as tf.Tensor2D;
    const u = data([8, G], 13, 0.5) as tf.Tensor2D;
    const b = data([G], 14, 0.2) as tf.Tensor1D;
    const [fused, ops] = cell === "gru"
      ? [gruSequenceFused, gruSequenceOps]
      : [simpleRnnSequenceFused, simpleRnnSequenceOps];
    for (const seqs of [false, true]) {
      const run = (f: typeof fused) =>
        tf.tidy(() => {
          const vars = [x, w, u, b];
          const dyShape = seqs ? [5, 30, 8] : [5, 8];
          const dy = data(dyShape, 15);
          const g = tf.grads((...t: tf.Tensor[]) =>
            tf.sum(tf.mul(
              f(
                t[0] as tf.Tensor3D,
                t[1] as tf.Tensor2D,
                t[2] as tf.Tensor2D,
                t[3] as tf.Tensor1D,
                seqs,
              ),
              dy,
            ))
          )(vars);
          return [
            Array.from(f(x, w, u, b, seqs).dataSync()),
            ...g.map((t) => Array.from(t.dataSync())),
          ];
        });
      const a = run(fused);
      const c = run(ops);
      ["y", "dx", "dW", "dU", "db"].forEach((name, i) =>
        assertClose(a[i], c[i], `${cell} T=30 seq=${seqs} ${name}`)
      );
    }
    tf.dispose([w, u, b]);
  }
  x.dispose();
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`fused recurrent layers: no leaked tensors per training step (${backend})`, async () => {
    await tf.setBackend(backend);
    const simdBefore = simdMemoryStats().usedBytes;
    for (const cell of ["gru", "simple"] as const) {
      for (const impl of ["fused", "ops"] as const) {
        const layer = cell === "gru"
          ? new FusedGRU({ units: 6, seed: 1, implementation: impl, inputShape: [5, 2] })
          : new FusedSimpleRNN({ units: 6, seed: 1, implementation: impl, inputShape: [5, 2] });
        const model = tf.sequential({ layers: [layer, tf.layers.dense({ units: 1 })] });
        const optimizer = tf.train.adam(1e-2);
        model.compile({ optimizer, loss: "meanSquaredError" });
        const x = data([8, 5, 2], 30);
        const y = data([8, 1], 31);
        const before = layer.getWeights().map((w) => Array.from(w.dataSync()));
        const losses = [Number(await model.trainOnBatch(x, y))];
        const count = tf.memory().numTensors;
        for (let i = 0; i < 4; i++) losses.push(Number(await model.trainOnBatch(x, y)));
        assert.equal(tf.memory().numTensors, count, `${cell} ${impl}: tensors per step`);
        assert.ok(losses.every(Number.isFinite), `${cell} ${impl}: finite losses`);
        assert.ok(losses[4] < losses[0], `${cell} ${impl}: loss falls (${losses})`);
        const after = layer.getWeights().map((w) => Array.from(w.dataSync()));
        after.forEach((w, i) => assert.notDeepEqual(w, before[i], `${cell} ${impl}: weight ${i}`));
        // prediction frees the SIMD state at once (no backward pass will come)
        tf.dispose(model.predict(x) as tf.Tensor);
        assert.equal(simdMemoryStats().usedBytes, simdBefore, `${cell} ${impl}: SIMD memory`);
        tf.dispose([x, y]);
        model.dispose();
        optimizer.dispose();
      }
    }
  });
}

Deno.test("fused recurrent layers: seeded glorot-uniform kernels, zero bias", async () => {
  await tf.setBackend("cpu");
  for (
    const make of [
      (seed: number) => new FusedGRU({ units: 4, seed }),
      (seed: number) => new FusedSimpleRNN({ units: 4, seed }),
    ]
  ) {
    const weightsOf = (seed: number) => {
      const layer = make(seed);
      tf.dispose(layer.apply(tf.zeros([1, 2, 3])) as tf.Tensor);
      const w = layer.getWeights().map((t) => ({
        shape: t.shape,
        values: Array.from(t.dataSync()),
      }));
      layer.dispose();
      return w;
    };
    const a = weightsOf(5);
    assert.deepEqual(weightsOf(5), a, "same seed, same weights");
    assert.notDeepEqual(weightsOf(6)[0].values, a[0].values, "another seed, other weights");
    for (const { shape, values } of a.slice(0, 2)) {
      const limit = Math.sqrt(6 / (shape[0] + shape[1]!));
      assert.ok(values.every((v) => Math.abs(v) <= limit), `glorot limit ${limit}`);
      assert.ok(values.some((v) => v !== 0));
    }
    assert.ok(a[2].values.every((v) => v === 0), "bias starts at zero");
  }
  assert.throws(() => new FusedGRU({ units: 0 }), /units ≥ 1/);
  assert.throws(() => new FusedSimpleRNN({ units: 1.5 }), /units ≥ 1/);
});

Deno.test("fused recurrent layers round-trip through toJSON and modelFromJSON", async () => {
  await tf.setBackend("wasm");
  const input = tf.input({ shape: [6, 3] });
  const h = new FusedGRU({ units: 5, returnSequences: true, seed: 3, implementation: "fused" })
    .apply(input) as tf.SymbolicTensor;
  const out = new FusedSimpleRNN({ units: 4, seed: 4, name: "elman" }).apply(
    h,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  assert.deepEqual(out.shape, [null, 4]);
  assert.deepEqual(h.shape, [null, 6, 5]);
  const json = model.toJSON(null, false) as unknown as tf.io.ModelJSON["modelTopology"];
  const copy = await tf.models.modelFromJSON({ modelTopology: json } as tf.io.ModelJSON);
  copy.setWeights(model.getWeights());
  const x = data([2, 6, 3], 17);
  assertClose(
    (copy.predict(x) as tf.Tensor).dataSync(),
    (model.predict(x) as tf.Tensor).dataSync(),
    "round trip",
  );
  assert.deepEqual(copy.layers.slice(1).map((l) => l.getClassName()), [
    "NNFusedGRU",
    "NNFusedSimpleRNN",
  ]);
  const [gru, rnn] = copy.layers.slice(1).map((l) => l.getConfig());
  assert.equal(gru.units, 5);
  assert.equal(gru.returnSequences, true);
  assert.equal(gru.implementation, "fused");
  assert.equal(gru.seed, 3);
  assert.equal(rnn.returnSequences, false);
  assert.equal(rnn.implementation, "auto");
  assert.equal(rnn.name, "elman");
  // getConfig → fromConfig directly
  const again = FusedGRU.fromConfig(FusedGRU, model.layers[1].getConfig()) as FusedGRU;
  assert.equal(again.units, 5);
  assert.equal(again.seed, 3);
  model.dispose();
  copy.dispose();
});

Deno.test("recurrentLayer: fused layers by default, tfjs layers on request, same parameters", async () => {
  await tf.setBackend("cpu");
  const expected = { simple: "NNFusedSimpleRNN", gru: "NNFusedGRU", lstm: "NNFusedLSTM" };
  const layers = { simple: "SimpleRNN", gru: "GRU", lstm: "LSTM" };
  for (const cell of ["simple", "gru", "lstm"] as const) {
    const fused = recurrentLayer({ cell, units: 4, seed: 9, returnSequences: true });
    const tfjs = recurrentLayer({ cell, units: 4, seed: 9, implementation: "layers" });
    assert.equal(fused.getClassName(), expected[cell]);
    assert.equal(tfjs.getClassName(), layers[cell]);
    const x = tf.zeros([2, 3, 5]);
    tf.tidy(() => {
      assert.deepEqual((fused.apply(x) as tf.Tensor).shape, [2, 3, 4]);
      assert.deepEqual((tfjs.apply(x) as tf.Tensor).shape, [2, 4]);
    });
    assert.equal(fused.name, tfjs.name, "same layer name either way");
    assert.equal(fused.countParams(), recurrentLayerParameters({ cell, inputs: 5, units: 4 }));
    assert.equal(tfjs.countParams(), fused.countParams());
    assert.deepEqual(
      fused.getWeights().map((w) => w.shape),
      tfjs.getWeights().map((w) => w.shape),
      `${cell}: [W, U, b] shapes`,
    );
    // deterministic by seed
    const twin = recurrentLayer({ cell, units: 4, seed: 9 });
    tf.dispose(twin.apply(x) as tf.Tensor);
    assert.deepEqual(
      twin.getWeights().map((w) => Array.from(w.dataSync())),
      fused.getWeights().map((w) => Array.from(w.dataSync())),
    );
    assert.ok(
      fused instanceof (cell === "gru" ? FusedGRU : cell === "simple" ? FusedSimpleRNN : FusedLSTM),
    );
    tf.dispose(x);
    fused.dispose();
    tfjs.dispose();
    twin.dispose();
  }
});
