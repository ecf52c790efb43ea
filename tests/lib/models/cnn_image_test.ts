import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  conv2dParameters,
  imageCnn,
  residualBlock,
  residualCnn,
} from "../../../lib/models/cnn_image.ts";
import { rng } from "../../../lib/random.ts";

Deno.test("parameter counts of the image CNNs equal the convolution formula", async () => {
  await tf.setBackend("cpu");
  const cnn = imageCnn({ inputShape: [28, 28, 1], filters: [8, 16], classes: 10 });
  const p = (k: number, i: number, f: number) =>
    conv2dParameters({ kernel: k, inputs: i, filters: f });
  assert.equal(cnn.countParams(), p(3, 1, 8) + p(3, 8, 16) + (7 * 7 * 16 + 1) * 10);
  const res = residualCnn({ inputShape: [28, 28, 1], stages: [8, 16], classes: 10 });
  // stem, block 1 (identity shortcut), block 2 (stride 2, 1×1 projection), head
  const expected = p(3, 1, 8) + 2 * p(3, 8, 8) + p(3, 8, 16) + p(3, 16, 16) + p(1, 8, 16) +
    (7 * 7 * 16 + 1) * 10;
  assert.equal(res.countParams(), expected);
  assert.ok(
    res.layers.some((l) => l.name === "res1_add") &&
      !res.layers.some((l) => l.name === "res1_project"),
  );
  assert.ok(res.layers.some((l) => l.name === "res2_project"));
  cnn.dispose();
  res.dispose();
});

Deno.test("a residual block computes ReLU(F(x) + x): zero F gives ReLU(x)", async () => {
  await tf.setBackend("cpu");
  const input = tf.input({ shape: [4, 4, 2] });
  const block = tf.model({
    inputs: input,
    outputs: residualBlock(input, { filters: 2, rng: rng(0), name: "b" }),
  });
  const conv2 = block.getLayer("b_conv2");
  conv2.setWeights(conv2.getWeights().map((w) => tf.zerosLike(w)));
  const x = tf.randomNormal([1, 4, 4, 2], 0, 1, "float32", 3);
  const y = block.predict(x) as tf.Tensor;
  const [got, want] = [await y.data(), await tf.relu(x).data()];
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6));
  tf.dispose([x, y]);
  block.dispose();
});

Deno.test("the residual CNN serialises and reloads with the same outputs; seeded", async () => {
  await tf.setBackend("cpu");
  const m = residualCnn({ inputShape: [12, 12, 1], stages: [4, 8], classes: 3, seed: 5 });
  const json = m.toJSON(null, false) as tf.io.ModelJSON["modelTopology"];
  const again = await tf.models.modelFromJSON({ modelTopology: json } as tf.io.ModelJSON);
  again.setWeights(m.getWeights());
  const x = tf.randomUniform([2, 12, 12, 1], 0, 1, "float32", 1);
  const [a, b] = [
    await (m.predict(x) as tf.Tensor).data(),
    await (again.predict(x) as tf.Tensor).data(),
  ];
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6));
  const twin = residualCnn({ inputShape: [12, 12, 1], stages: [4, 8], classes: 3, seed: 5 });
  const [wa, wb] = [await m.getWeights()[0].data(), await twin.getWeights()[0].data()];
  assert.deepEqual(wa, wb);
  tf.dispose(x);
  [m, again, twin].forEach((model) => model.dispose());
});
