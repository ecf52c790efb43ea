// Sinusoidal position encoding: the table's formula, dot products that depend only on
// distance, the layer adds the table for any length, has no weights and round-trips.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  SinusoidalPositionEncoding,
  sinusoidalTable,
} from "../../../lib/layers/sinusoidal_position_encoding.ts";

Deno.test("sinusoidalTable follows sin/cos(p / 10000^(2i/D))", () => {
  const t = sinusoidalTable(6, 8);
  assert.equal(t[0][0], 0);
  assert.equal(t[0][1], 1);
  assert.ok(Math.abs(t[5][2] - Math.sin(5 / Math.pow(10000, 2 / 8))) < 1e-12);
  assert.ok(Math.abs(t[5][3] - Math.cos(5 / Math.pow(10000, 2 / 8))) < 1e-12);
  // PE[p]·PE[p+k] = Σ cos(ω_i k): the same for every p
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
  const big = sinusoidalTable(40, 16);
  for (const k of [1, 3, 7]) {
    const ds = Array.from({ length: 30 }, (_, p) => dot(big[p], big[p + k]));
    assert.ok(Math.max(...ds) - Math.min(...ds) < 1e-9, `distance ${k}`);
  }
});

Deno.test("SinusoidalPositionEncoding adds the table, any length, no weights, round-trips", async () => {
  const x = tf.input({ shape: [null, 6] });
  const y = new SinusoidalPositionEncoding({ name: "pe" }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: y });
  assert.equal(model.countParams(), 0);
  for (const T of [3, 9]) {
    const out = model.predict(tf.zeros([2, T, 6])) as tf.Tensor;
    const a = (await out.array()) as number[][][];
    const ref = sinusoidalTable(T, 6);
    assert.ok(a[1].every((row, p) => row.every((v, j) => Math.abs(v - ref[p][j]) < 1e-6)));
    out.dispose();
  }
  const json = model.toJSON(null, false) as unknown as tf.io.ModelJSON["modelTopology"];
  const loaded = await tf.models.modelFromJSON({ modelTopology: json } as tf.io.ModelJSON);
  assert.equal(loaded.layers[1].getClassName(), "NNSinusoidalPositionEncoding");
  const inp = tf.randomNormal([1, 4, 6], 0, 1, "float32", 1);
  const [p, q] = [model.predict(inp) as tf.Tensor, loaded.predict(inp) as tf.Tensor];
  assert.deepEqual(Array.from(await p.data()), Array.from(await q.data()));
  // gradient passes straight through (d(x + PE)/dx = 1)
  const g = tf.grad((t: tf.Tensor) => tf.sum(model.apply(t) as tf.Tensor))(inp);
  assert.ok((await g.data()).every((v) => v === 1));
  tf.dispose([inp, p, q, g]);
  model.dispose();
  loaded.dispose();
});
