/**
 * Small models for the live-panel tests, trained here in a few seconds on the wasm backend
 * with the library's builders (the layers the notebooks publish: ConvMaxOverTime, the
 * encoder–decoder's CrossAttention, LayerNorm and PositionEmbedding, MultiHeadSelfAttention,
 * FusedLSTM, dense and pruned MLPs), published with `exportModel` into the folder the runner
 * gives a notebook, and an executed notebook whose outputs record them, as the kernel would.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import * as nn from "nn";
import { MagnitudePruner } from "nn/models/sparse_pruning.ts";
import { exportModel, type PublishModelOptions } from "nn/publish.ts";
import { MODEL_MIME } from "nn/live/format.ts";
import type { Notebook } from "../../kernel/notebook.ts";

/** A sentence corpus small enough to learn in a few steps. */
export const SENTENCES: [string, number][] = [
  ["The food was great and the staff friendly", 1],
  ["I loved this phone, it works great", 1],
  ["Excellent service, would recommend", 1],
  ["What a wonderful and funny movie", 1],
  ["Great value and a good battery", 1],
  ["The best place in town, very good", 1],
  ["The food was bad and the staff rude", 0],
  ["I hated this phone, it broke at once", 0],
  ["Terrible service, would not recommend", 0],
  ["What a boring and awful movie", 0],
  ["Poor value and a bad battery", 0],
  ["The worst place in town, very bad", 0],
];

/** Moby-Dick's first lines: the character models' text. */
export const TEXT = "Call me Ishmael. Some years ago - never mind how long precisely - having " +
  "little or no money in my purse, and nothing particular to interest me on shore, I thought " +
  "I would sail about a little and see the watery part of the world.";

/** What a fixture model was published with, and its networks (still in memory). */
export interface FixtureModel {
  name: string;
  options: PublishModelOptions;
  networks: tf.LayersModel[];
}

async function fit(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor,
  loss: string | ((a: tf.Tensor, b: tf.Tensor) => tf.Tensor),
  epochs: number,
) {
  model.compile({ optimizer: tf.train.adam(0.02), loss });
  await nn.train(model, x, y, { epochs, batchSize: 32, seed: 0, progress: "none" });
}

/** Trains the five networks of the four demos (a few seconds on wasm). */
export async function trainFixtureModels(): Promise<FixtureModel[]> {
  const texts = SENTENCES.map(([t]) => t);
  const vocab = nn.Vocabulary.fromTexts(texts);
  const length = 12;
  const sentimentInputs = {
    vocabulary: vocab,
    length,
    padding: "post",
    truncating: "post",
  } as const;
  const ids = nn.sequencesToTensor(
    nn.encodeTexts(texts, vocab, { length, padding: "post", truncating: "post" }),
  );
  const labels = tf.oneHot(tf.tensor1d(SENTENCES.map(([, l]) => l), "int32"), 2);
  const cnn = nn.cnnTextClassifier({
    vocabSize: vocab.size,
    sequenceLength: length,
    embeddingDim: 8,
    filters: 4,
    kernelSizes: [2, 3],
    outputs: 2,
    dropout: 0.2,
    seed: 0,
  });
  await fit(cnn, ids, labels, "categoricalCrossentropy", 8);
  // the loss above reads the logits as probabilities; any trained weights will do here
  tf.dispose([ids, labels]);

  const dates = nn.dateExamples(64, { seed: 0 });
  const dt = nn.dateTensors(dates);
  const seq2seq = nn.encoderDecoder({
    sourceVocabSize: nn.DATE_SOURCE_VOCAB,
    targetVocabSize: nn.DATE_TARGET_VOCAB,
    sourceLength: nn.DATE_SOURCE_LENGTH,
    targetLength: nn.DATE_TARGET_LENGTH + 1,
    dModel: 16,
    numHeads: 2,
    encoderLayers: 1,
    decoderLayers: 1,
    seed: 0,
  });
  await fit(seq2seq, [dt.source, dt.targetIn], dt.targetOut, "categoricalCrossentropy", 2);
  tf.dispose([dt.source, dt.targetIn, dt.targetOut]);

  const corpus = nn.charCorpus([TEXT]);
  const context = 16;
  const windows = nn.charWindowTensors(corpus.train, context, corpus.chars.length);
  const xent = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred);
  const gpt = nn.decoderLanguageModel({
    vocabSize: corpus.chars.length,
    maxLength: context,
    dModel: 16,
    numHeads: 2,
    numLayers: 1,
    seed: 0,
  });
  await fit(gpt, windows.x, windows.y, xent, 3);
  const lstm = nn.charLanguageModel({
    vocabSize: corpus.chars.length,
    embeddingDim: 8,
    units: 16,
    cell: "lstm",
    seed: 0,
  });
  await fit(lstm, windows.x, windows.y, xent, 3);
  tf.dispose([windows.x, windows.y]);

  const data = await nn.loadMnist({ trainSize: 300, testSize: 10, seed: 0 });
  const mt = nn.mnistTensors(data);
  const dense = nn.compileClassifier(nn.mlp({ inputs: 784, hidden: [32], outputs: 10, seed: 0 }));
  await nn.train(dense, mt.xTrain, mt.yTrain, {
    epochs: 2,
    batchSize: 32,
    seed: 0,
    progress: "none",
  });
  const pruned = nn.compileClassifier(nn.mlp({ inputs: 784, hidden: [32], outputs: 10, seed: 0 }));
  pruned.setWeights(dense.getWeights());
  const pruner = new MagnitudePruner(pruned);
  await pruner.prune(0.9);
  pruner.dispose();
  tf.dispose(Object.values(mt).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]);

  return [
    {
      name: "sentiment-cnn",
      options: {
        demo: "sentiment",
        inputs: sentimentInputs,
        title: "Sentiment of a sentence (CNN)",
        examples: ["The food was great", "Terrible phone, it broke"],
      },
      networks: [cnn],
    },
    {
      name: "dates",
      options: {
        demo: "seq2seq",
        inputs: nn.DATE_CODEC,
        title: "Dates to ISO",
        examples: ["March 3, 2001", "12/24/99"],
        beamWidth: 3,
      },
      networks: [seq2seq],
    },
    {
      name: "chars",
      options: {
        demo: "generate",
        inputs: { chars: corpus.chars, context },
        title: "Character models",
        length: 30,
        prompt: "Call me ",
      },
      networks: [gpt, lstm],
    },
    {
      name: "digits",
      options: { demo: "digits", title: "Draw a digit" },
      networks: [dense, pruned],
    },
  ];
}

/** Labels of the networks of a fixture model, in order. */
export function networkLabels(m: FixtureModel): string[] {
  if (m.name === "chars") return ["Transformer", "LSTM"];
  if (m.name === "digits") return ["dense", "pruned 90 %"];
  return [m.name];
}

/**
 * Publishes the fixture models into `<outDir>/live.models/` (the runner's folder for
 * `<outDir>/live.ipynb`) and returns the executed notebook that records them.
 */
export async function publishFixtures(models: FixtureModel[], outDir: string): Promise<Notebook> {
  const cells: Notebook["cells"] = [{
    cell_type: "markdown",
    id: "title",
    metadata: {},
    source: "# Live models\n\nA fixture: every demo's panel, under the cell that published it.",
  }];
  for (const m of models) {
    const labels = networkLabels(m);
    const arg = m.networks.length === 1
      ? m.networks[0]
      : Object.fromEntries(m.networks.map((n, i) => [labels[i], n]));
    const published = await exportModel(m.name, arg, {
      ...m.options,
      dir: join(outDir, "live.models"),
    });
    cells.push({
      cell_type: "code",
      id: `publish-${m.name}`,
      execution_count: cells.length,
      metadata: {},
      source: `await nn.publishModel(${
        JSON.stringify(m.name)
      }, model, { demo: "${m.options.demo}" });`,
      outputs: [{
        output_type: "display_data",
        metadata: {},
        data: {
          [MODEL_MIME]: { ...published.meta, folder: m.name, bytes: published.bytes },
          "text/plain": `published model "${m.name}"`,
        },
      }],
    });
  }
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: "neural-notebooks",
        display_name: "Neural Notebooks (Deno)",
        language: "typescript",
      },
      language_info: { name: "typescript" },
    },
    cells,
  };
}
