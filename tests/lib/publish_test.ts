/**
 * `exportModel` / `publishModel` and the demos: every demo's model survives the round trip
 * through its files (the same numbers from the loaded copy as from the original), the files
 * are tfjs's layers format with the library's layers by class name, the folder is chosen by
 * `dir`, `NN_PUBLISH_DIR` or `out/models`, bad names and vocabularies fail clearly, and the
 * digit preprocessing centres and scales a drawing as MNIST does.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import * as nn from "nn";
import { exportModel, publishDir } from "nn/publish.ts";
import {
  classifyDigit,
  digitPixels,
  predictSentiment,
  sampleChars,
  translate,
} from "nn/live/demos.ts";
import { type LiveMeta, modelFromArtifacts } from "nn/live/format.ts";

await nn.setupBackend({ backend: "cpu" });

async function loadBack(dir: string, meta: LiveMeta, i = 0): Promise<tf.LayersModel> {
  const folder = join(dir, meta.networks[i].path);
  const json = JSON.parse(await Deno.readTextFile(join(folder, "model.json")));
  const weights = await Deno.readFile(join(folder, "weights.bin"));
  return modelFromArtifacts(json.modelTopology, json.weightsManifest[0].weights, weights);
}

Deno.test("every demo's model gives the same numbers after its round trip through the files", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "nn-publish-" });
  try {
    await t.step("sentiment (ConvMaxOverTime)", async () => {
      const vocab = nn.Vocabulary.fromTexts(["good food", "bad food", "not good"]);
      const model = nn.cnnTextClassifier({
        vocabSize: vocab.size,
        sequenceLength: 6,
        embeddingDim: 4,
        filters: 3,
        kernelSizes: [2, 3],
        outputs: 2,
        seed: 1,
      });
      const r = await exportModel("sentiment", model, {
        demo: "sentiment",
        inputs: { vocabulary: vocab, length: 6, padding: "post", truncating: "post" },
        dir,
      });
      assert.deepEqual(r.meta.networks[0].customLayers, ["NNConvMaxOverTime"]);
      assert.equal(r.meta.networks[0].output, "logits");
      assert.deepEqual(r.meta.demo.demo === "sentiment" && r.meta.demo.labels, [
        "negative",
        "positive",
      ]);
      const back = await loadBack(r.dir, r.meta);
      const text = "Good food, not bad!";
      const a = await predictSentiment(model, r.meta.demo as never, text, "logits");
      const b = await predictSentiment(back, r.meta.demo as never, text, "logits");
      assert.deepEqual(b, a);
      assert.deepEqual(a.words, ["good", "food", ",", "not", "bad", "!"]);
      assert.deepEqual(a.known, [true, true, false, true, true, false]);
      assert.ok(Math.abs(a.probabilities[0] + a.probabilities[1] - 1) < 1e-6);
      assert.equal(a.contributions.length, 6);
    });

    await t.step("seq2seq (CrossAttention, LayerNorm, PositionEmbedding)", async () => {
      const model = nn.encoderDecoder({
        sourceVocabSize: nn.DATE_SOURCE_VOCAB,
        targetVocabSize: nn.DATE_TARGET_VOCAB,
        sourceLength: nn.DATE_SOURCE_LENGTH,
        targetLength: nn.DATE_TARGET_LENGTH + 1,
        dModel: 8,
        numHeads: 2,
        encoderLayers: 1,
        decoderLayers: 1,
        seed: 2,
      });
      const r = await exportModel("dates", model, { demo: "seq2seq", inputs: nn.DATE_CODEC, dir });
      assert.deepEqual(r.meta.networks[0].customLayers, [
        "NNCrossAttention",
        "NNLayerNorm",
        "NNPaddingMask",
        "NNPositionEmbedding",
      ]);
      const back = await loadBack(r.dir, r.meta);
      for (const beamWidth of [1, 3]) {
        const a = await translate(nn.seq2seqParts(model), r.meta.demo as never, "3 May 2001", {
          beamWidth,
        });
        const b = await translate(nn.seq2seqParts(back), r.meta.demo as never, "3 May 2001", {
          beamWidth,
        });
        assert.deepEqual(b, a);
        assert.equal(a.tokens.length, 10);
        assert.equal(a.attention.length, 10);
        assert.equal(a.attention[0].length, "3 May 2001".length);
      }
      await assert.rejects(
        translate(nn.seq2seqParts(model), r.meta.demo as never, "3 May 2001 ☃", {}),
        /"☃" is not one of the model's characters/,
      );
    });

    await t.step("generate (MultiHeadSelfAttention and FusedLSTM), as nn.sampleText", async () => {
      const corpus = nn.charCorpus(["abcabd abba cab"]);
      const gpt = nn.decoderLanguageModel({
        vocabSize: corpus.chars.length,
        maxLength: 8,
        dModel: 8,
        numHeads: 2,
        numLayers: 1,
        seed: 3,
      });
      const lstm = nn.charLanguageModel({
        vocabSize: corpus.chars.length,
        embeddingDim: 4,
        units: 6,
      });
      const r = await exportModel("chars", { Transformer: gpt, LSTM: lstm }, {
        demo: "generate",
        inputs: { chars: corpus.chars, context: 8 },
        dir,
      });
      assert.deepEqual(r.meta.networks.map((n) => n.path), ["transformer", "lstm"]);
      assert.ok(r.meta.networks[0].customLayers.includes("NNMultiHeadSelfAttention"));
      assert.deepEqual(r.meta.networks[1].customLayers, ["NNFusedLSTM"]);
      for (const [i, model] of [gpt, lstm].entries()) {
        const back = await loadBack(r.dir, r.meta, i);
        const options = { prompt: "ab", length: 12, temperature: 0.9, seed: 5 };
        const a = await sampleChars(model, r.meta.demo as never, options);
        const b = await sampleChars(back, r.meta.demo as never, options);
        assert.deepEqual(b, a);
        const same = await nn.sampleText(model, corpus, { ...options, context: 8 });
        assert.equal(a.text, same, "the panel samples what nn.sampleText samples");
      }
    });

    await t.step("digits: dense and pruned side by side, zeros counted", async () => {
      const dense = nn.mlp({ inputs: 784, hidden: [6], outputs: 10, seed: 4 });
      const pruned = nn.mlp({ inputs: 784, hidden: [6], outputs: 10, seed: 4 });
      pruned.setWeights(pruned.getWeights().map((w, i) => i === 0 ? tf.zerosLike(w) : w));
      const r = await exportModel("digits", { dense, "pruned 90 %": pruned }, {
        demo: "digits",
        dir,
      });
      assert.deepEqual(r.meta.networks.map((n) => [n.label, n.path]), [
        ["dense", "dense"],
        ["pruned 90 %", "pruned-90"],
      ]);
      assert.equal(r.meta.networks[1].zeros >= 784 * 6, true);
      assert.equal(r.meta.networks[0].output, "probabilities");
      const pixels = new Float32Array(784).map((_, i) => (i % 7) / 7);
      const a = await classifyDigit(
        [dense, pruned].map((model) => ({ model, output: "probabilities" })),
        pixels,
      );
      const loaded = [await loadBack(r.dir, r.meta, 0), await loadBack(r.dir, r.meta, 1)];
      const b = await classifyDigit(
        loaded.map((model) => ({ model, output: "probabilities" })),
        pixels,
      );
      assert.deepEqual(b, a);
    });

    await t.step("a new export replaces the folder whole", async () => {
      const model = nn.mlp({ inputs: 784, hidden: [2], outputs: 10 });
      await Deno.writeTextFile(join(dir, "digits", "left-over.txt"), "x");
      await exportModel("digits", model, { demo: "digits", dir });
      const names = [];
      for await (const e of Deno.readDir(join(dir, "digits"))) names.push(e.name);
      assert.deepEqual(names.sort(), ["digits", "live.json"]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("publishModel: clear errors, and the folder it writes to", async () => {
  const model = nn.mlp({ inputs: 784, hidden: [2], outputs: 10 });
  await assert.rejects(
    exportModel("my model!", model, { demo: "digits", dir: "/nonexistent" }),
    /"my model!" is not a usable model name/,
  );
  await assert.rejects(
    exportModel("words", model, {
      demo: "sentiment",
      inputs: { vocabulary: ["a", "b"], length: 3 },
      dir: "/nonexistent",
    }),
    /must start with "<pad>" and "<oov>"/,
  );
  assert.equal(publishDir("/tmp/x"), "/tmp/x");
  const before = Deno.env.get("NN_PUBLISH_DIR");
  try {
    Deno.env.set("NN_PUBLISH_DIR", "/tmp/from-the-runner");
    assert.equal(publishDir(), "/tmp/from-the-runner");
    Deno.env.delete("NN_PUBLISH_DIR");
    assert.match(publishDir(), /\/out\/models$/);
  } finally {
    if (before !== undefined) Deno.env.set("NN_PUBLISH_DIR", before);
  }
  const dir = await Deno.makeTempDir();
  const printed: string[] = [];
  const log = console.log;
  console.log = (line: string) => printed.push(line);
  try {
    await nn.publishModel("tiny", model, { demo: "digits", dir });
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
  assert.match(printed.join("\n"), /published model "tiny" \(digits demo; tiny: 1,600 parameters/);
});

Deno.test("digitPixels: the drawing scaled into a 20 × 20 box and centred by mass", () => {
  assert.deepEqual(
    Array.from(digitPixels(new Float32Array(50 * 50), 50, 50)),
    new Array(784).fill(0),
  );
  // a 40 × 10 bar in the corner of a 100 × 100 drawing
  const ink = new Float32Array(100 * 100);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 40; x++) ink[y * 100 + x] = 1;
  const p = digitPixels(ink, 100, 100);
  const rows = Array.from({ length: 28 }, (_, y) => p.slice(y * 28, y * 28 + 28));
  const inked = rows.flatMap((r, y) =>
    Array.from(r, (v, x) => v > 0 ? [x, y] : []).filter((a) => a.length)
  );
  const xs = inked.map(([x]) => x);
  const ys = inked.map(([, y]) => y);
  assert.equal(Math.max(...xs) - Math.min(...xs) + 1, 20, "the long side fills the box");
  assert.equal(Math.max(...ys) - Math.min(...ys) + 1, 5, "the aspect ratio is kept");
  assert.equal(Math.min(...xs), 4, "centred: (28 − 20) / 2");
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 100) < 1e-3, "every small pixel fully inked");
});
