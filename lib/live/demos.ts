/**
 * What the live panels compute, as plain functions of a model and an input: the same code
 * runs in the browser (bundled into the site's `live/nn-live.js`) and in Deno (the tests
 * compare the two on the same input).
 *
 * - {@linkcode predictSentiment}: a sentence's class probabilities and each word's
 *   contribution (occlusion: the probability with the sentence minus the probability without
 *   that word);
 * - {@linkcode translate}: greedy or beam decoding of a character sequence-to-sequence model
 *   with its key/value cache, the output's step probabilities and the last decoder block's
 *   cross-attention;
 * - {@linkcode sampleChars}: text sampled from a character language model, as `nn.sampleText`
 *   draws it (same seed, same text);
 * - {@linkcode digitPixels} and {@linkcode classifyDigit}: a drawing reduced to a 28 × 28
 *   MNIST-style image (20 × 20 box, centred by mass) and each network's probabilities.
 *
 * Nothing is read synchronously (`await data()` only), so every function runs on webgpu.
 *
 * @example
 * ```ts
 * import { digitPixels } from "nn/live/demos.ts";
 * const ink = new Float32Array(100 * 100);
 * for (let y = 20; y < 80; y++) ink[y * 100 + 50] = 1; // a vertical stroke
 * const pixels = digitPixels(ink, 100, 100);
 * console.log(pixels.length, pixels.some((v) => v > 0)); // 784 true
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { padSequences } from "../data/padding.ts";
import { wordTokenize } from "../data/tokenize.ts";
import { rng } from "../random.ts";
import {
  beamSearch,
  disposeEncoded,
  greedyDecode,
  type Seq2SeqParts,
} from "../models/generation.ts";
import type {
  CharCodecMeta,
  GenerateMeta,
  OutputKind,
  SentimentMeta,
  Seq2SeqMeta,
  TargetCodecMeta,
} from "./format.ts";

async function probabilitiesOf(
  model: tf.LayersModel,
  x: tf.Tensor,
  output: OutputKind,
): Promise<number[][]> {
  const p = tf.tidy(() => {
    const y = model.predict(x) as tf.Tensor2D;
    return output === "logits" ? tf.softmax(y) : y;
  });
  const rows = await p.array() as number[][];
  p.dispose();
  return rows;
}

/** What {@linkcode predictSentiment} returns. */
export interface SentimentResult {
  /** The sentence's tokens. */
  words: string[];
  /** Whether each token is in the vocabulary (else it reads as `<oov>`). */
  known: boolean[];
  /** Whether each token is inside the model's window (`length` ids). */
  seen: boolean[];
  /** The ids fed to the model. */
  ids: number[];
  /** Probability of every label. */
  probabilities: number[];
  /** Probability of the label `meta.positive`. */
  probability: number;
  /** Per token: `probability` minus the same probability with that token left out. */
  contributions: number[];
}

/**
 * A sentence through a word-level classifier, with each word's contribution by occlusion:
 * the sentence and, in the same batch, each version with one word left out.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { predictSentiment } from "nn/live/demos.ts";
 * const model = tf.sequential({ layers: [
 *   tf.layers.embedding({ inputDim: 4, outputDim: 2, inputLength: 3 }),
 *   tf.layers.flatten(), tf.layers.dense({ units: 2 }),
 * ] });
 * const meta = { demo: "sentiment" as const, labels: ["neg", "pos"], positive: 1, inputs: {
 *   tokens: ["<pad>", "<oov>", "good", "bad"], length: 3, padding: "post" as const,
 *   truncating: "post" as const, tokenizer: { type: "word" as const, lowercase: true, punctuation: true } } };
 * const r = await predictSentiment(model, meta, "Good, not bad", "logits");
 * console.log(r.words, r.contributions.length); // [ "good", ",", "not", "bad" ] 4
 * ```
 */
export async function predictSentiment(
  model: tf.LayersModel,
  meta: SentimentMeta,
  text: string,
  output: OutputKind,
): Promise<SentimentResult> {
  const { tokens, length, padding, truncating, tokenizer } = meta.inputs;
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const words = wordTokenize(text, tokenizer);
  const wordIds = words.map((w) => ids.get(w) ?? 1);
  const variants = [wordIds, ...wordIds.map((_, i) => wordIds.filter((_, j) => j !== i))];
  const rows = padSequences(variants, { length, padding, truncating });
  const x = tf.tensor2d(rows.flatMap((r) => Array.from(r)), [rows.length, length], "int32");
  const probs = await probabilitiesOf(model, x, output);
  x.dispose();
  const k = meta.positive;
  const n = words.length;
  const keepFrom = truncating === "pre" ? Math.max(0, n - length) : 0;
  return {
    words,
    known: words.map((w) => ids.has(w)),
    seen: words.map((_, i) => i >= keepFrom && i < keepFrom + length),
    ids: Array.from(rows[0]),
    probabilities: probs[0],
    probability: probs[0][k],
    contributions: words.map((_, i) => probs[0][k] - probs[i + 1][k]),
  };
}

/** Ids of `text` in a character alphabet, padded to `codec.length`; throws on an unknown character. */
export function encodeChars(text: string, codec: CharCodecMeta): number[] {
  const chars = [...text];
  if (chars.length > codec.length) {
    throw new RangeError(`"${text}" is longer than the model's ${codec.length} characters.`);
  }
  const alphabet = [...codec.chars];
  const ids = chars.map((c) => {
    const i = alphabet.indexOf(c);
    if (i < 0) {
      throw new RangeError(`"${c}" is not one of the model's characters: ${codec.chars.trim()}`);
    }
    return i + codec.offset;
  });
  while (ids.length < codec.length) ids.push(codec.pad);
  return ids;
}

/** The text of target ids, up to the end id (an id outside the alphabet reads "·"). */
export function decodeChars(ids: ArrayLike<number>, codec: TargetCodecMeta): string {
  const alphabet = [...codec.chars];
  let s = "";
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === codec.end) break;
    s += alphabet[ids[i] - codec.offset] ?? "·";
  }
  return s;
}

/** What {@linkcode translate} returns. */
export interface TranslateResult {
  /** The generated ids (no start id). */
  tokens: number[];
  /** Their text. */
  output: string;
  /** How they were chosen. */
  method: "greedy" | "beam";
  /** Beam search: the summed log-probability of the best hypothesis. */
  logProb?: number;
  /** Per output step, the distribution over target ids given the tokens before it. */
  probs: number[][];
  /** Last decoder block's cross-attention, mean of heads: output step × source position. */
  attention: number[][];
  /** The source characters (the attention's columns). */
  source: string[];
}

/**
 * Decodes one source string with an `nn.encoderDecoder` model (greedy, or beam search with
 * `beamWidth` > 1, both with the key/value cache), then runs the decoder once over the
 * chosen output for its step probabilities and its last block's cross-attention.
 *
 * @example
 * ```ts ignore
 * const r = await translate(nn.seq2seqParts(model), meta, "March 3, 2001", { beamWidth: 4 });
 * console.log(r.output); // "2001-03-03" once trained
 * ```
 */
export async function translate(
  parts: Seq2SeqParts,
  meta: Seq2SeqMeta,
  text: string,
  options: { beamWidth?: number } = {},
): Promise<TranslateResult> {
  const { source: sourceCodec, target } = meta.inputs;
  const steps = target.length;
  const width = options.beamWidth ?? 1;
  const src = tf.tensor2d([encodeChars(text, sourceCodec)], [1, sourceCodec.length], "int32");
  try {
    let tokens: number[];
    let logProb: number | undefined;
    if (width > 1) {
      const r = await beamSearch(parts, src, {
        startId: target.start,
        steps,
        beamWidth: width,
        endId: target.end,
      });
      tokens = r.tokens[0];
      logProb = r.logProbs[0];
    } else {
      tokens = (await greedyDecode(parts, src, { startId: target.start, steps }))[0];
    }
    const prefix = tf.tensor2d(
      [[target.start, ...tokens.slice(0, steps - 1)]],
      [1, steps],
      "int32",
    );
    const encoded = parts.encode(src);
    const { probs, crossWeights } = parts.decode(prefix, encoded, {
      crossWeightsOf: parts.numLayers - 1,
    });
    const mean = tf.mean(crossWeights!, 1); // [1, T, S]
    const [p, w] = await Promise.all([probs.array(), mean.array()]) as [
      number[][][],
      number[][][],
    ];
    tf.dispose([prefix, probs, crossWeights!, mean]);
    disposeEncoded(encoded);
    const chars = [...text];
    return {
      tokens,
      output: decodeChars(tokens, target),
      method: width > 1 ? "beam" : "greedy",
      ...(logProb !== undefined ? { logProb } : {}),
      probs: p[0],
      attention: w[0].map((row) => row.slice(0, chars.length)),
      source: chars,
    };
  } finally {
    src.dispose();
  }
}

/** Options of {@linkcode sampleChars}. */
export interface SampleCharsOptions {
  /** Text to start from (characters outside the alphabet are an error). */
  prompt: string;
  /** Characters to add. */
  length: number;
  /** Softmax temperature. */
  temperature: number;
  /** Seed of the draws. */
  seed: number;
  /** Called with the sampled characters so far after each one (to show them as they come). */
  onProgress?: (sampled: string) => void;
}

/** What {@linkcode sampleChars} returns. */
export interface SampleCharsResult {
  /** The prompt followed by the sampled characters. */
  text: string;
  /** The sampled characters alone. */
  sampled: string;
  /** The distribution the first character was drawn from (after the temperature). */
  firstProbs: number[];
}

/**
 * Samples from a character language model exactly as `nn.sampleText` does (the last
 * `context` ids fed, softmax(logits / temperature), one seeded draw per character), and
 * also returns the first step's distribution.
 *
 * @example
 * ```ts ignore
 * const r = await sampleChars(model, meta, { prompt: "Call me ", length: 40, temperature: 0.8, seed: 0 });
 * console.log(r.text.startsWith("Call me ")); // true
 * ```
 */
export async function sampleChars(
  model: tf.LayersModel,
  meta: GenerateMeta,
  options: SampleCharsOptions,
): Promise<SampleCharsResult> {
  const { chars, context } = meta.inputs;
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Array.from(options.prompt, (c) => {
    const id = index.get(c);
    if (id === undefined) throw new RangeError(`"${c}" is not in the model's alphabet.`);
    return id;
  });
  if (ids.length === 0) throw new RangeError("Give a prompt of at least one character.");
  const r = rng(options.seed);
  let firstProbs: number[] = [];
  const start = ids.length;
  for (let n = 0; n < options.length; n++) {
    const window = ids.slice(-context);
    const probs = tf.tidy(() => {
      const logits = model.predict(tf.tensor2d([window], [1, window.length], "int32")) as tf.Tensor;
      const last = tf.squeeze(tf.slice(logits, [0, window.length - 1, 0], [1, 1, -1]));
      return tf.softmax(tf.div(last, options.temperature));
    });
    const p = await probs.data();
    probs.dispose();
    if (n === 0) firstProbs = Array.from(p);
    let u = r.next();
    let k = 0;
    for (; k < p.length - 1; k++) {
      u -= p[k];
      if (u < 0) break;
    }
    ids.push(k);
    options.onProgress?.(ids.slice(start).map((i) => chars[i]).join(""));
  }
  const text = ids.map((i) => chars[i]).join("");
  return { text, sampled: ids.slice(start).map((i) => chars[i]).join(""), firstProbs };
}

/** Options of {@linkcode digitPixels}. */
export interface DigitPixelsOptions {
  /** Output side in pixels. Default 28 (MNIST). */
  size?: number;
  /** Side of the box the drawing is scaled into. Default 20 (MNIST). */
  box?: number;
  /** Ink below this (0–1) counts as paper when finding the drawing's bounds. Default 0.05. */
  threshold?: number;
}

/**
 * A drawing (`ink`: `width × height` values in 0–1, row by row) as MNIST prepares its
 * digits: the inked part scaled, aspect kept, into a 20 × 20 box (each output pixel the
 * mean of the drawing over its area) and placed in a 28 × 28 image so that its centre of
 * mass is the centre. An empty drawing gives zeros.
 *
 * @example
 * ```ts
 * import { digitPixels } from "nn/live/demos.ts";
 * const ink = new Float32Array(4 * 4).fill(1);
 * const pixels = digitPixels(ink, 4, 4);
 * console.log(pixels[14 * 28 + 14], pixels[0]); // 1 0
 * ```
 */
export function digitPixels(
  ink: ArrayLike<number>,
  width: number,
  height: number,
  options: DigitPixelsOptions = {},
): Float32Array {
  const size = options.size ?? 28;
  const box = options.box ?? 20;
  const threshold = options.threshold ?? 0.05;
  const out = new Float32Array(size * size);
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return out;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = box / Math.max(bw, bh); // output pixels per drawing pixel
  const w = Math.max(1, Math.round(bw * scale));
  const h = Math.max(1, Math.round(bh * scale));
  // area average: each small pixel covers [x/scale, (x+1)/scale) of the drawing
  const small = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy0 = y0 + y / scale;
    const sy1 = Math.min(y0 + bh, y0 + (y + 1) / scale);
    for (let x = 0; x < w; x++) {
      const sx0 = x0 + x / scale;
      const sx1 = Math.min(x0 + bw, x0 + (x + 1) / scale);
      let sum = 0;
      let area = 0;
      for (let sy = Math.floor(sy0); sy < Math.ceil(sy1); sy++) {
        const fy = Math.min(sy + 1, sy1) - Math.max(sy, sy0);
        if (fy <= 0) continue;
        for (let sx = Math.floor(sx0); sx < Math.ceil(sx1); sx++) {
          const fx = Math.min(sx + 1, sx1) - Math.max(sx, sx0);
          if (fx <= 0) continue;
          sum += fx * fy * Math.min(1, Math.max(0, ink[sy * width + sx]));
          area += fx * fy;
        }
      }
      small[y * w + x] = area > 0 ? sum / area : 0;
    }
  }
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = small[y * w + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const left = Math.round(size / 2 - (mass > 0 ? mx / mass : w / 2));
  const top = Math.round(size / 2 - (mass > 0 ? my / mass : h / 2));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const tx = left + x;
      const ty = top + y;
      if (tx >= 0 && tx < size && ty >= 0 && ty < size) out[ty * size + tx] = small[y * w + x];
    }
  }
  return out;
}

/**
 * Each network's class probabilities for one image (`pixels`, flattened, ink 1).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { classifyDigit } from "nn/live/demos.ts";
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [784], activation: "softmax" })] });
 * const [p] = await classifyDigit([{ model: m, output: "probabilities" }], new Float32Array(784));
 * console.log(p.length, Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-5); // 10 true
 * ```
 */
export async function classifyDigit(
  networks: { model: tf.LayersModel; output: OutputKind }[],
  pixels: ArrayLike<number>,
  options: { flatten?: boolean; width?: number; height?: number } = {},
): Promise<number[][]> {
  const out: number[][] = [];
  for (const { model, output } of networks) {
    const x = options.flatten === false
      ? tf.tensor4d(Array.from(pixels), [1, options.height ?? 28, options.width ?? 28, 1])
      : tf.tensor2d(Array.from(pixels), [1, pixels.length]);
    out.push((await probabilitiesOf(model, x, output))[0]);
    x.dispose();
  }
  return out;
}
