/**
 * Publishing a trained model for the site's live panels: `await nn.publishModel(name,
 * model, options)` ends an experiment, writes the network in tfjs's layers format
 * (`model.json` + `weights.bin`; the library's layers under their registered class names)
 * with what a page needs to use it (vocabulary, tokeniser settings, labels, output format)
 * and displays a record of it. Nothing is exported unless a notebook asks.
 *
 * Where it goes: under `NN_PUBLISH_DIR`, which `deno task run` (and so `deno task build`)
 * sets for each notebook's kernel to `<out>/<notebook>.models/`, next to the executed copy;
 * elsewhere (Jupyter, a script) under `out/models/` of this project, or `options.dir`. The
 * record is an output of type `application/vnd.neural-notebooks.model+json`, so the runner and
 * the site find the export from the executed notebook: `deno task build` turns each into a
 * live panel under the cell that published it.
 *
 * | demo | network | panel |
 * | --- | --- | --- |
 * | `sentiment` | word ids `[B, length]` → class scores | a sentence box, the probability, each word's contribution |
 * | `seq2seq` | an `nn.encoderDecoder` model | a source box, greedy or beam output, the cross-attention |
 * | `generate` | character ids `[1, T]` → next-character logits `[1, T, V]` | a prompt, a temperature, sampled text |
 * | `digits` | 784 pixels → 10 classes | a canvas to draw on, each network's probabilities |
 *
 * Several networks (a record of label → model) share one panel side by side, e.g. a dense
 * and a pruned classifier.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { exportModel } from "nn/publish.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [784], activation: "softmax" })] });
 * const dir = await Deno.makeTempDir();
 * const published = await exportModel("digits", model, { demo: "digits", dir });
 * console.log(published.meta.networks[0].params, published.meta.networks[0].output); // 7850 probabilities
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { fileURLToPath } from "node:url";
import { join, relative, resolve } from "node:path";
import { escapeHtml, publish } from "./display.ts";
import type { Vocabulary } from "./data/vocabulary.ts";
import {
  type CharCodecMeta,
  type DemoKind,
  type DemoMeta,
  type LiveMeta,
  MODEL_MIME,
  type NetworkMeta,
  type OutputKind,
  outputKind,
  type TargetCodecMeta,
} from "./live/format.ts";

export { MODEL_MIME } from "./live/format.ts";

/** Word inputs of a `sentiment` model: how a sentence became the ids it was trained on. */
export interface WordInputs {
  /** The vocabulary (or its tokens in id order, `<pad>` and `<oov>` first). */
  vocabulary: Vocabulary | readonly string[];
  /** Ids per sentence. */
  length: number;
  /** Where short sentences were padded. Default `"pre"` (`nn.encodeTexts`'s default). */
  padding?: "pre" | "post";
  /** Where long sentences were cut. Default `"pre"`. */
  truncating?: "pre" | "post";
  /** `nn.wordTokenize`'s `lowercase`. Default true. */
  lowercase?: boolean;
  /** `nn.wordTokenize`'s `punctuation`. Default true. */
  punctuation?: boolean;
}

/** Character alphabets of a `seq2seq` model (`nn.DATE_CODEC` for the date task). */
export interface Seq2SeqInputs {
  /** Source characters: `chars[i]` has id `i + offset`; padded to `length` with `pad`. */
  source: { chars: string; offset: number; length: number; pad?: number };
  /** Target characters, with the start and end ids. */
  target: {
    chars: string;
    offset: number;
    length: number;
    start: number;
    end: number;
    pad?: number;
  };
}

/** Alphabet of a `generate` model (a `nn.charCorpus`'s `chars`) and the characters fed per step. */
export interface GenerateInputs {
  /** Characters in id order. */
  chars: readonly string[];
  /** The last characters fed at each step (at most the model's positions). */
  context: number;
}

/** Image inputs of a `digits` model. Default 28 × 28, flattened. */
export interface DigitInputs {
  /** Width in pixels. */
  width?: number;
  /** Height in pixels. */
  height?: number;
  /** The model takes `[B, width·height]` (true, default) or `[B, height, width, 1]`. */
  flatten?: boolean;
}

/** Options shared by every demo. */
interface CommonOptions {
  /** The panel's title. Default: the model's name. */
  title?: string;
  /** A sentence under the title. */
  description?: string;
  /** Example inputs offered on the panel (sentences, dates, prompts). */
  examples?: string[];
  /** Folder to publish into. Default `NN_PUBLISH_DIR`, else `out/models/` of this project. */
  dir?: string;
  /** How each network's output reads. Default: probabilities after a softmax layer, else logits. */
  output?: OutputKind;
}

/** Options of {@linkcode publishModel}, by demo. */
export type PublishModelOptions =
  | CommonOptions & {
    demo: "sentiment";
    inputs: WordInputs;
    /** One per output unit. Default `["negative", "positive"]`. */
    labels?: string[];
    /** The unit whose probability the panel explains. Default the last. */
    positive?: number;
  }
  | CommonOptions & {
    demo: "seq2seq";
    inputs: Seq2SeqInputs;
    /** Beam width offered besides greedy. Default 4. */
    beamWidth?: number;
  }
  | CommonOptions & {
    demo: "generate";
    inputs: GenerateInputs;
    /** Characters per sample. Default 200. */
    length?: number;
    /** The first prompt. Default the first example, else the alphabet's first character. */
    prompt?: string;
    /** The first temperature. Default 0.8. */
    temperature?: number;
  }
  | CommonOptions & {
    demo: "digits";
    inputs?: DigitInputs;
    /** One per class. Default "0" … "9". */
    labels?: string[];
  };

/** What {@linkcode exportModel} wrote. */
export interface PublishedModel {
  /** The model's folder (absolute). */
  dir: string;
  /** Its `live.json`. */
  meta: LiveMeta;
  /** Bytes written (all files). */
  bytes: number;
}

const PROJECT_OUT = new URL("../out/models/", import.meta.url);

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The folder models are published into: `options.dir`, `NN_PUBLISH_DIR`, else `out/models/`. */
export function publishDir(dir?: string): string {
  return resolve(dir ?? env("NN_PUBLISH_DIR") ?? fileURLToPath(PROJECT_OUT));
}

function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "model";
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new TypeError(
      `publishModel: "${name}" is not a usable model name: use letters, digits, ".", "_" and ` +
        `"-" (at most 64, starting with a letter or digit), e.g. "sentiment-cnn".`,
    );
  }
}

async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    saved = artifacts;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  return saved!;
}

function weightBytes(artifacts: tf.io.ModelArtifacts): Uint8Array {
  const data = artifacts.weightData;
  if (data === undefined) return new Uint8Array(0);
  const buffer = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  return new Uint8Array(buffer);
}

function countZeros(specs: tf.io.WeightsManifestEntry[], bytes: Uint8Array): number {
  let zeros = 0;
  let offset = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const size = n * 4; // float32 and int32 alike
    if (spec.dtype === "float32") {
      const values = new Float32Array(bytes.buffer, bytes.byteOffset + offset, n);
      for (const v of values) if (v === 0) zeros++;
    }
    offset += size;
  }
  return zeros;
}

function customLayers(model: tf.LayersModel): string[] {
  const names = new Set<string>();
  const visit = (layers: tf.layers.Layer[]) => {
    for (const layer of layers) {
      const name = layer.getClassName();
      if (/^N[Nn][A-Z]/.test(name)) names.add(name);
      const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (Array.isArray(inner)) visit(inner);
    }
  };
  visit(model.layers);
  return [...names].sort();
}

function demoMeta(options: PublishModelOptions, firstExample: string | undefined): DemoMeta {
  switch (options.demo) {
    case "sentiment": {
      const v = options.inputs.vocabulary;
      const tokens = Array.isArray(v) ? [...v] : [...(v as Vocabulary).tokens];
      if (tokens[0] !== "<pad>" || tokens[1] !== "<oov>") {
        throw new TypeError(
          'publishModel: the vocabulary must start with "<pad>" and "<oov>" (an nn.Vocabulary does).',
        );
      }
      const labels = options.labels ?? ["negative", "positive"];
      return {
        demo: "sentiment",
        inputs: {
          tokens,
          length: options.inputs.length,
          padding: options.inputs.padding ?? "pre",
          truncating: options.inputs.truncating ?? "pre",
          tokenizer: {
            type: "word",
            lowercase: options.inputs.lowercase ?? true,
            punctuation: options.inputs.punctuation ?? true,
          },
        },
        labels,
        positive: options.positive ?? labels.length - 1,
      };
    }
    case "seq2seq": {
      const { source, target } = options.inputs;
      const s: CharCodecMeta = { ...source, pad: source.pad ?? 0 };
      const t: TargetCodecMeta = { ...target, pad: target.pad ?? 0 };
      return {
        demo: "seq2seq",
        inputs: { source: s, target: t },
        beamWidth: options.beamWidth ?? 4,
      };
    }
    case "generate": {
      const chars = [...options.inputs.chars];
      return {
        demo: "generate",
        inputs: { chars, context: options.inputs.context },
        length: options.length ?? 200,
        prompt: options.prompt ?? firstExample ?? chars[0],
        temperature: options.temperature ?? 0.8,
      };
    }
    case "digits":
      return {
        demo: "digits",
        inputs: {
          width: options.inputs?.width ?? 28,
          height: options.inputs?.height ?? 28,
          flatten: options.inputs?.flatten ?? true,
        },
        labels: options.labels ?? Array.from({ length: 10 }, (_, i) => String(i)),
      };
    default:
      throw new TypeError(
        `publishModel: unknown demo "${(options as { demo: string }).demo}": use ` +
          `${(["sentiment", "seq2seq", "generate", "digits"] satisfies DemoKind[]).join(", ")}.`,
      );
  }
}

/**
 * Writes a published model (see the module doc) and returns what was written, without
 * displaying anything. The folder `<dir>/<name>/` is replaced whole: `live.json` and, per
 * network, `<label>/model.json` and `<label>/weights.bin`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { exportModel } from "nn/publish.ts";
 * const dir = await Deno.makeTempDir();
 * const m = () => tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [784] })] });
 * const r = await exportModel("two", { dense: m(), pruned: m() }, { demo: "digits", dir });
 * console.log(r.meta.networks.map((n) => n.path)); // [ "dense", "pruned" ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function exportModel(
  name: string,
  model: tf.LayersModel | Record<string, tf.LayersModel>,
  options: PublishModelOptions,
): Promise<PublishedModel> {
  checkName(name);
  const entries: [string, tf.LayersModel][] = model instanceof tf.LayersModel
    ? [[name, model]]
    : Object.entries(model);
  if (entries.length === 0) throw new TypeError("publishModel: give at least one model.");
  const demo = demoMeta(options, options.examples?.[0]);
  const root = publishDir(options.dir);
  await Deno.mkdir(root, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: root, prefix: `.${name}.new-` });
  let bytes = 0;
  try {
    await Deno.chmod(staging, 0o755); // a temporary folder is private; the published one is not
    const networks: NetworkMeta[] = [];
    const paths = new Set<string>();
    for (const [label, net] of entries) {
      if (!(net instanceof tf.LayersModel)) {
        throw new TypeError(`publishModel: "${label}" is not a tf.LayersModel.`);
      }
      let path = slug(label);
      for (let n = 2; paths.has(path); n++) path = `${slug(label)}-${n}`;
      paths.add(path);
      const artifacts = await artifactsOf(net);
      const weights = weightBytes(artifacts);
      const specs = artifacts.weightSpecs ?? [];
      const modelJson = {
        format: "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ["weights.bin"], weights: specs }],
      };
      await Deno.mkdir(join(staging, path));
      const text = JSON.stringify(modelJson);
      await Deno.writeTextFile(join(staging, path, "model.json"), text);
      await Deno.writeFile(join(staging, path, "weights.bin"), weights);
      bytes += text.length + weights.length;
      networks.push({
        label,
        path,
        params: net.countParams(),
        zeros: countZeros(specs, weights),
        weightBytes: weights.length,
        output: options.output ?? outputKind(net),
        customLayers: customLayers(net),
      });
    }
    const meta: LiveMeta = {
      format: 1,
      name,
      title: options.title ?? name,
      ...(options.description ? { description: options.description } : {}),
      examples: options.examples ?? [],
      networks,
      demo,
      trainedOn: tf.getBackend(),
      exportedAt: new Date().toISOString(),
    };
    const metaText = JSON.stringify(meta, null, 1);
    await Deno.writeTextFile(join(staging, "live.json"), metaText);
    bytes += metaText.length;
    const target = join(root, name);
    await Deno.remove(target, { recursive: true }).catch(() => {});
    await Deno.rename(staging, target);
    return { dir: target, meta, bytes };
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
}

function kB(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

/**
 * Publishes a trained model for the site's live panel (see the module doc), displays where
 * it went and returns nothing. In a notebook, end an experiment with it, in a cell of its
 * own after the training cell: the panel appears there on the site.
 *
 * @example
 * ```ts ignore
 * await nn.publishModel("sentiment-cnn", model, {
 *   demo: "sentiment",
 *   inputs: { vocabulary: data.vocab, length: cfg.length, padding: "post", truncating: "post" },
 *   title: "Sentiment of a sentence (CNN {3, 4, 5})",
 *   examples: ["The food was not good at all."],
 * });
 * ```
 */
export async function publishModel(
  name: string,
  model: tf.LayersModel | Record<string, tf.LayersModel>,
  options: PublishModelOptions,
): Promise<void> {
  const published = await exportModel(name, model, options);
  const { meta } = published;
  const where = relative(Deno.cwd(), published.dir) || published.dir;
  const nets = meta.networks.map((n) =>
    `${n.label}: ${n.params.toLocaleString("en-US")} parameters, ${kB(n.weightBytes)}` +
    (n.zeros >= 0.01 * n.params ? ` (${((100 * n.zeros) / n.params).toFixed(1)} % zeros)` : "")
  );
  const text = `published model "${meta.name}" (${meta.demo.demo} demo; ${nets.join("; ")}) → ` +
    `${where}/`;
  const html = `<div class="nn-published" style="border-left:4px solid #0969da;padding:6px 10px;` +
    `font-family:system-ui,sans-serif"><strong>Published model “${
      escapeHtml(meta.title)
    }”</strong>` +
    ` (${escapeHtml(meta.demo.demo)} demo) → <code>${escapeHtml(where)}/</code><ul>` +
    nets.map((n) => `<li>${escapeHtml(n)}</li>`).join("") +
    `</ul><small>The site (<code>deno task build</code>) shows it as a live panel here.</small></div>`;
  publish({
    [MODEL_MIME]: { ...meta, folder: meta.name, bytes: published.bytes },
    "text/html": html,
    "text/plain": text,
  });
}
