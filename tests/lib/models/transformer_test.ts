// Transformer builders: pre-norm and decoder blocks (shapes, parameter counts, the causal
// mask's exactly-zero gradient from the future), the decoder language model and the
// pre-norm / sinusoidal encoder classifier (save/load round trips).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  decoderBlock,
  decoderLanguageModel,
  preNormBlock,
  transformerClassifier,
} from "../../../lib/models/transformer.ts";

async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  const artifacts = await new Promise<tf.io.ModelArtifacts>((resolve) => {
    model.save(tf.io.withSaveHandler((a) => {
      resolve(a);
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
  });
  return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

/** Parameters of one block of width D and feed-forward width F: attention, 2 norms, FFN. */
const blockParams = (D: number, F: number) => 4 * D * D + 4 * D + 4 * D + 2 * D * F + F + D;

Deno.test("preNormBlock and decoderBlock: shape and parameter count", () => {
  const x = tf.input({ shape: [7, 12] });
  const y = preNormBlock(x, { numHeads: 3, ffDim: 20, seed: 1, name: "a" });
  const z = decoderBlock(y, { numHeads: 3, ffDim: 20, seed: 2, name: "b" });
  assert.deepEqual(z.shape, [null, 7, 12]);
  const m = tf.model({ inputs: x, outputs: z });
  assert.equal(m.countParams(), 2 * blockParams(12, 20));
  m.dispose();
});

for (const implementation of ["fused", "ops"] as const) {
  Deno.test(`decoder blocks: output t has exactly zero gradient from inputs after t (${implementation})`, async () => {
    const x = tf.input({ shape: [6, 8] });
    let h = decoderBlock(x, { numHeads: 2, ffDim: 16, seed: 1, name: "d1" });
    h = decoderBlock(h, { numHeads: 2, ffDim: 16, seed: 2, name: "d2" });
    const m = tf.model({ inputs: x, outputs: h });
    for (const l of m.layers) {
      if (l.getClassName() === "NNMultiHeadSelfAttention") {
        (l as unknown as { implementation: string }).implementation = implementation;
      }
    }
    const input = tf.randomNormal([2, 6, 8], 0, 1, "float32", 3);
    for (const t of [0, 2, 4]) {
      const g = tf.grad((xx: tf.Tensor) =>
        tf.sum(tf.slice(m.apply(xx) as tf.Tensor, [0, t, 0], [-1, 1, -1]))
      )(input);
      const a = (await g.array()) as number[][][];
      for (const sample of a) {
        assert.ok(sample.slice(t + 1).flat().every((v) => v === 0), `future of t = ${t}`);
        assert.ok(sample.slice(0, t + 1).flat().some((v) => v !== 0), `past of t = ${t}`);
      }
      g.dispose();
    }
    input.dispose();
    m.dispose();
  });
}

Deno.test("decoderLanguageModel: logits for any length ≤ maxLength, causal, round-trips", async () => {
  for (const positions of ["learned", "sinusoidal"] as const) {
    const m = decoderLanguageModel({
      vocabSize: 11,
      maxLength: 8,
      dModel: 16,
      numHeads: 2,
      ffDim: 24,
      numLayers: 2,
      positions,
      seed: 5,
    });
    const D = 16;
    const expected = 11 * D + (positions === "learned" ? 8 * D : 0) + 2 * blockParams(D, 24) +
      2 * D + D * 11 + 11;
    assert.equal(m.countParams(), expected);
    const a = tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], "int32");
    const b = tf.tensor2d([[1, 2, 3, 9, 9, 9]], [1, 6], "int32");
    const [la, lb] = [m.predict(a) as tf.Tensor, m.predict(b) as tf.Tensor];
    assert.deepEqual(la.shape, [1, 6, 11]);
    const first = async (t: tf.Tensor) =>
      Array.from(await tf.slice(t, [0, 0, 0], [1, 3, -1]).data());
    assert.deepEqual(await first(la), await first(lb), "changing tokens 3.. leaves logits 0..2");
    const loaded = await roundTrip(m);
    const lc = loaded.predict(a) as tf.Tensor;
    assert.deepEqual(Array.from(await lc.data()), Array.from(await la.data()));
    tf.dispose([a, b, la, lb, lc]);
    m.dispose();
    loaded.dispose();
  }
});

Deno.test("transformerClassifier: pre-norm, sinusoidal variant round-trips; default unchanged", async () => {
  const opts = { vocabSize: 20, sequenceLength: 5, dModel: 8, numHeads: 2, ffDim: 8, outputs: 2 };
  const pre = transformerClassifier({ ...opts, norm: "pre", positions: "sinusoidal", seed: 1 });
  const post = transformerClassifier({ ...opts, seed: 1 });
  // the pre-norm model has no position table but a final layer norm (2·D)
  assert.equal(pre.countParams(), post.countParams() - 5 * 8 + 2 * 8);
  assert.ok(pre.layers.some((l) => l.name === "final_norm"));
  const x = tf.tensor2d([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]], [2, 5], "int32");
  const loaded = await roundTrip(pre);
  const [p, q] = [pre.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
  assert.deepEqual(Array.from(await p.data()), Array.from(await q.data()));
  tf.dispose([x, p, q]);
  pre.dispose();
  post.dispose();
  loaded.dispose();
});

Deno.test("transformerClassifier masks padding by default: padding reaches no logit; round-trips", async () => {
  for (const norm of ["post", "pre"] as const) {
    const opts = {
      vocabSize: 20,
      sequenceLength: 6,
      dModel: 8,
      numHeads: 2,
      ffDim: 8,
      outputs: 2,
      norm,
    };
    const masked = transformerClassifier({ ...opts, seed: 3 });
    const plain = transformerClassifier({ ...opts, seed: 3, maskPadding: false });
    assert.ok(masked.layers.some((l) => l.getClassName() === "NNPaddingMask"));
    assert.ok(masked.layers.some((l) => l.getClassName() === "NNMaskedMeanPooling"));
    assert.ok(!plain.layers.some((l) => l.getClassName() === "NNPaddingMask"));
    assert.equal(masked.countParams(), plain.countParams());
    plain.setWeights(masked.getWeights());
    // no padding: the mask changes nothing
    const full = tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], [2, 6], "int32");
    const [a, b] = [masked.predict(full) as tf.Tensor, plain.predict(full) as tf.Tensor];
    const diff = Math.max(...Array.from(await tf.abs(tf.sub(a, b)).data()));
    assert.ok(diff < 1e-5, `same logits without padding: ${diff}`);
    // with padding: the padded positions (their embedding row 0 and their position
    // vectors) get exactly zero gradient; without the mask they do not
    const padded = tf.tensor2d([[1, 2, 3, 0, 0, 0]], [1, 6], "int32");
    for (const [model, isMasked] of [[masked, true], [plain, false]] as const) {
      const emb = model.getLayer("token_embedding").trainableWeights[0];
      const { grads } = tf.variableGrads(
        () => tf.sum(model.apply(padded) as tf.Tensor) as tf.Scalar,
        [emb.read() as tf.Variable],
      );
      const g = (await Object.values(grads)[0].array()) as number[][];
      const padRow = Math.max(...g[0].map(Math.abs));
      if (isMasked) assert.equal(padRow, 0, "pad embedding gradient with the mask");
      else assert.ok(padRow > 0, "pad embedding gradient without the mask");
      assert.ok(Math.max(...g[1].map(Math.abs)) > 0, "token 1 has a gradient");
      tf.dispose(Object.values(grads));
    }
    const loaded = await roundTrip(masked);
    const [p, q] = [masked.predict(padded) as tf.Tensor, loaded.predict(padded) as tf.Tensor];
    assert.deepEqual(Array.from(await q.data()), Array.from(await p.data()));
    tf.dispose([full, padded, a, b, p, q]);
    masked.dispose();
    plain.dispose();
    loaded.dispose();
  }
});
