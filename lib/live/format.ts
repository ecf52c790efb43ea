/**
 * The published-model format shared by the notebook side (`nn.publishModel`, which writes
 * it) and the browser side (the site's live panels, which read it): what a demo needs to
 * know besides the network (vocabulary, tokeniser settings, labels, output format), and
 * how a model in tfjs's layers format travels inside a script file.
 *
 * A published model is a folder: `model.json` (tfjs's layers format: topology and weight
 * manifest, the project's custom layers under their registered class names, plus
 * {@linkcode LiveMeta} as `userDefinedMetadata.neuralNotebooks`) and `weights.bin`. The site
 * build turns it into one script, `live/models/<page>.<name>.js`, that registers a
 * {@linkcode LiveModelScript} (the weights gzip-compressed and base64-encoded) under
 * `globalThis.nnLiveModels`, so a page opened from `file://` needs no `fetch`.
 *
 * Nothing here uses a Deno API: it is bundled for the browser.
 *
 * @example
 * ```ts
 * import { encodeBase64Bytes, decodeBase64Bytes } from "nn/live/format.ts";
 * const bytes = new Uint8Array([0, 1, 254, 255]);
 * console.log(decodeBase64Bytes(encodeBase64Bytes(bytes))); // Uint8Array(4) [ 0, 1, 254, 255 ]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** The mime type of a published-model output in an executed notebook. */
export const MODEL_MIME = "application/vnd.neural-notebooks.model+json";

/** The panels a published model can drive. */
export type DemoKind = "sentiment" | "seq2seq" | "generate" | "digits";

/** How a network's last layer reports classes: raw scores (softmax applied here) or probabilities. */
export type OutputKind = "logits" | "probabilities";

/** Word inputs of a text classifier: tokeniser, vocabulary and padding. */
export interface WordInputsMeta {
  /** The vocabulary's tokens in id order (`<pad>` = 0, `<oov>` = 1 first). */
  tokens: string[];
  /** Ids per sentence. */
  length: number;
  /** Where short sentences are padded. */
  padding: "pre" | "post";
  /** Where long sentences are cut. */
  truncating: "pre" | "post";
  /** The tokeniser: `nn.wordTokenize` with these options. */
  tokenizer: { type: "word"; lowercase: boolean; punctuation: boolean };
}

/** A character alphabet: character `chars[i]` has id `i + offset`. */
export interface CharCodecMeta {
  /** The characters, in id order. */
  chars: string;
  /** Id of the first character. */
  offset: number;
  /** Ids per sequence (padded with `pad`). */
  length: number;
  /** The padding id. */
  pad: number;
}

/** The target side of a sequence-to-sequence model. */
export interface TargetCodecMeta extends CharCodecMeta {
  /** Start-of-output id fed first. */
  start: number;
  /** End-of-output id (generation stops reading there). */
  end: number;
}

/** What the sentiment panel needs. */
export interface SentimentMeta {
  /** The panel. */
  demo: "sentiment";
  /** Words to ids. */
  inputs: WordInputsMeta;
  /** One label per output unit. */
  labels: string[];
  /** The output unit whose probability the panel shows and explains. */
  positive: number;
}

/** What the sequence-to-sequence panel needs (an `nn.encoderDecoder` model). */
export interface Seq2SeqMeta {
  /** The panel. */
  demo: "seq2seq";
  /** Source and target alphabets. */
  inputs: { source: CharCodecMeta; target: TargetCodecMeta };
  /** Beam width offered besides greedy decoding. */
  beamWidth: number;
}

/** What the text-generation panel needs (character language models). */
export interface GenerateMeta {
  /** The panel. */
  demo: "generate";
  /** The alphabet (`chars[i]` has id i) and the characters fed at each step. */
  inputs: { chars: string[]; context: number };
  /** Characters sampled per click. */
  length: number;
  /** The prompt shown first. */
  prompt: string;
  /** The temperature shown first. */
  temperature: number;
}

/** What the digit panel needs (classifiers of flattened 28 × 28 images, ink 1, paper 0). */
export interface DigitsMeta {
  /** The panel. */
  demo: "digits";
  /** Image size and whether the model takes it flattened. */
  inputs: { width: number; height: number; flatten: boolean };
  /** One label per output unit. */
  labels: string[];
}

/** The demo part of a published model. */
export type DemoMeta = SentimentMeta | Seq2SeqMeta | GenerateMeta | DigitsMeta;

/** Facts about one network of a published model. */
export interface NetworkMeta {
  /** Its name on the panel (e.g. "dense", "pruned 90 %"). */
  label: string;
  /** Folder (relative to the published model's folder) of its `model.json` and `weights.bin`. */
  path: string;
  /** Trainable and other weights. */
  params: number;
  /** Weights that are exactly zero (a pruned network's). */
  zeros: number;
  /** Bytes of `weights.bin` (float32). */
  weightBytes: number;
  /** How its output reads. */
  output: OutputKind;
  /** Custom layer classes it uses (registered names). */
  customLayers: string[];
}

/** Everything a published model records besides the networks' files (the `+json` output too). */
export interface LiveMeta {
  /** Format version. */
  format: 1;
  /** The model's name (a file-name-safe slug). */
  name: string;
  /** The panel's title. */
  title: string;
  /** A sentence under the title. */
  description?: string;
  /** Example inputs the panel offers (sentences, dates, prompts). */
  examples: string[];
  /** The networks, in panel order (one for most demos; two side by side for comparisons). */
  networks: NetworkMeta[];
  /** The demo and its inputs. */
  demo: DemoMeta;
  /** The backend the notebook trained on. */
  trainedOn?: string;
  /** When it was exported (ISO time). */
  exportedAt?: string;
}

/** One network inside a model script. */
export interface ScriptNetwork {
  /** tfjs's `modelTopology`. */
  modelTopology: Record<string, unknown>;
  /** tfjs's weight specs, in `weights.bin` order. */
  weightSpecs: tf.io.WeightsManifestEntry[];
  /** `weights.bin`, gzip-compressed, base64. */
  weightsGzipBase64: string;
}

/** What a model script registers under `globalThis.nnLiveModels[key]`. */
export interface LiveModelScript {
  /** The demo and the networks' facts. */
  meta: LiveMeta;
  /** The networks, in the order of `meta.networks`. */
  networks: ScriptNetwork[];
}

/**
 * Bytes to base64 (no line breaks).
 *
 * @example
 * ```ts
 * import { encodeBase64Bytes } from "nn/live/format.ts";
 * console.log(encodeBase64Bytes(new TextEncoder().encode("hi"))); // aGk=
 * ```
 */
export function encodeBase64Bytes(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/**
 * Base64 to bytes.
 *
 * @example
 * ```ts
 * import { decodeBase64Bytes } from "nn/live/format.ts";
 * console.log(new TextDecoder().decode(decodeBase64Bytes("aGk="))); // hi
 * ```
 */
export function decodeBase64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream) {
  const out = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

/**
 * gzip with the platform's `CompressionStream` (browsers and Deno alike).
 *
 * @example
 * ```ts
 * import { gunzip, gzip } from "nn/live/format.ts";
 * const back = await gunzip(await gzip(new Uint8Array(1000)));
 * console.log(back.length); // 1000
 * ```
 */
export function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new CompressionStream("gzip"));
}

/** Undoes {@linkcode gzip}. */
export function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new DecompressionStream("gzip"));
}

/**
 * A `tf.LayersModel` from its topology, weight specs and weight bytes (the custom layers
 * must be registered: import `nn/layers/mod.ts` first).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { modelFromArtifacts } from "nn/live/format.ts";
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * let saved: tf.io.ModelArtifacts | undefined;
 * await m.save(tf.io.withSaveHandler(async (a) => {
 *   saved = a;
 *   return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
 * }));
 * const weights = new Uint8Array(saved!.weightData as ArrayBuffer);
 * const copy = await modelFromArtifacts(saved!.modelTopology as Record<string, unknown>, saved!.weightSpecs!, weights);
 * console.log(copy.countParams()); // 8
 * ```
 */
export function modelFromArtifacts(
  modelTopology: Record<string, unknown>,
  weightSpecs: tf.io.WeightsManifestEntry[],
  weights: Uint8Array,
): Promise<tf.LayersModel> {
  const weightData = weights.buffer.slice(
    weights.byteOffset,
    weights.byteOffset + weights.byteLength,
  ) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs, weightData }));
}

/** The networks of a model script, loaded (weights unpacked with {@linkcode gunzip}). */
export async function loadScriptNetworks(script: LiveModelScript): Promise<tf.LayersModel[]> {
  const models: tf.LayersModel[] = [];
  for (const n of script.networks) {
    const weights = await gunzip(decodeBase64Bytes(n.weightsGzipBase64));
    models.push(await modelFromArtifacts(n.modelTopology, n.weightSpecs, weights));
  }
  return models;
}

/**
 * How a classifier's output reads: `"probabilities"` when its last layer ends in a softmax,
 * else `"logits"`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { outputKind } from "nn/live/format.ts";
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], activation: "softmax" })] });
 * console.log(outputKind(m)); // probabilities
 * ```
 */
export function outputKind(model: tf.LayersModel): OutputKind {
  const last = model.layers[model.layers.length - 1];
  const config = last?.getConfig() as { activation?: unknown } | undefined;
  return config?.activation === "softmax" ? "probabilities" : "logits";
}
