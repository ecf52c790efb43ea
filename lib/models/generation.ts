/**
 * Generation (生成) from an encoder–decoder built by `encoderDecoder`: greedy decoding
 * (贪心解码) and beam search (束搜索), with or without a key/value cache (KV 缓存).
 *
 * The encoder runs once per source. Without a cache, each new token re-runs the decoder
 * over the whole prefix (step t costs O(t) positions); with the cache, each decoder
 * block keeps the keys and values of the positions already generated, and a step runs
 * the new position only, attending over the cached keys (the cross-attention's keys and
 * values of the memory are computed once). Both paths apply the same layers of the
 * model, found by name; the decoder pass without a cache gives the model's own
 * `predict` output, and the cached steps give the same numbers (tests check both).
 *
 * Nothing is read synchronously: chosen tokens come back through `await data()`, so
 * generation runs on webgpu as well as wasm and cpu.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * import { greedyDecode, seq2seqParts } from "nn/models/generation.ts";
 * const model = encoderDecoder({ sourceVocabSize: 20, targetVocabSize: 8, sourceLength: 6, targetLength: 5, dModel: 16, numHeads: 2 });
 * const parts = seq2seqParts(model);
 * const source = tf.tensor2d([[3, 4, 5, 0, 0, 0]], [1, 6], "int32");
 * const tokens = await greedyDecode(parts, source, { startId: 1, steps: 4 });
 * console.log(tokens[0].length); // 4
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { CrossAttention, KeysValues } from "../layers/cross_attention.ts";
import { LayerNorm } from "../layers/layer_norm.ts";

/** The layers of one decoder block. */
interface DecoderLayers {
  norm1: tf.layers.Layer;
  self: CrossAttention;
  norm2: tf.layers.Layer;
  cross: CrossAttention;
  norm3: tf.layers.Layer;
  ff1: tf.layers.Layer;
  ff2: tf.layers.Layer;
}

/** The encoder's output for a batch of sources. */
export interface Encoded {
  /** `[B, S, D]`. */
  memory: tf.Tensor3D;
  /** `[B, S]`, 1 for a token, 0 for padding. */
  mask: tf.Tensor2D;
  /** Each decoder block's cross-attention keys and values of the memory. */
  crossKv: KeysValues[];
}

/** A decoder's key/value cache: per block, the keys and values of the past positions. */
export interface KvCache {
  /** Per block, `[B, H, t, D/H]` keys and values. */
  self: KeysValues[];
  /** Positions already in the cache. */
  length: number;
}

/** Named access to the parts of an encoder–decoder, for step-by-step decoding. */
export interface Seq2SeqParts {
  /** The whole model. */
  model: tf.LayersModel;
  /** Number of decoder blocks. */
  numLayers: number;
  /** Longest target sequence (the decoder's position table). */
  maxTargetLength: number;
  /** Runs the encoder once. */
  encode(source: tf.Tensor): Encoded;
  /**
   * The decoder over a whole prefix `[B, T]` (no cache): probabilities `[B, T, V]`, and,
   * with `crossWeightsOf: i`, block i's cross-attention weights `[B, H, T, S]`.
   */
  decode(
    prefix: tf.Tensor,
    encoded: Encoded,
    options?: { crossWeightsOf?: number },
  ): { probs: tf.Tensor3D; crossWeights?: tf.Tensor4D };
  /** An empty cache. */
  emptyCache(): KvCache;
  /**
   * One cached step: the tokens `[B, 1]` at position `cache.length` → probabilities
   * `[B, V]` and the cache grown by one position (the old cache is disposed).
   */
  step(tokens: tf.Tensor, encoded: Encoded, cache: KvCache): { probs: tf.Tensor2D; cache: KvCache };
}

function layer<T extends tf.layers.Layer = tf.layers.Layer>(m: tf.LayersModel, name: string): T {
  try {
    return m.getLayer(name) as T;
  } catch {
    throw new Error(
      `seq2seqParts: the model has no layer "${name}"; build it with encoderDecoder() ` +
        `(nn/models/encoder_decoder.ts), or load one that was.`,
    );
  }
}

/** Disposes a cache's tensors. */
export function disposeCache(cache: KvCache): void {
  for (const kv of cache.self) tf.dispose([kv.k, kv.v]);
}

/** Disposes an encoded batch. */
export function disposeEncoded(encoded: Encoded): void {
  tf.dispose([encoded.memory, encoded.mask]);
  for (const kv of encoded.crossKv) tf.dispose([kv.k, kv.v]);
}

/**
 * Finds the encoder, the decoder blocks and the output layer of a model built by
 * `encoderDecoder` (or loaded from one) by their names.
 *
 * @example
 * ```ts
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * import { seq2seqParts } from "nn/models/generation.ts";
 * const parts = seq2seqParts(encoderDecoder({ sourceVocabSize: 9, targetVocabSize: 7, sourceLength: 4, targetLength: 3, dModel: 8, numHeads: 2 }));
 * console.log(parts.numLayers); // 2
 * ```
 */
export function seq2seqParts(model: tf.LayersModel): Seq2SeqParts {
  const encoderModel = tf.model({
    inputs: model.inputs[0],
    outputs: [
      layer(model, "encoder_final_norm").output as tf.SymbolicTensor,
      layer(model, "encoder_mask").output as tf.SymbolicTensor,
    ],
  });
  const blocks: DecoderLayers[] = [];
  for (let i = 1; model.layers.some((l) => l.name === `decoder${i}_self_attention`); i++) {
    const n = `decoder${i}`;
    blocks.push({
      norm1: layer(model, `${n}_norm1`),
      self: layer<CrossAttention>(model, `${n}_self_attention`),
      norm2: layer(model, `${n}_norm2`),
      cross: layer<CrossAttention>(model, `${n}_cross_attention`),
      norm3: layer(model, `${n}_norm3`),
      ff1: layer(model, `${n}_ff1`),
      ff2: layer(model, `${n}_ff2`),
    });
  }
  const embedding = layer(model, "decoder_embedding");
  const positions = layer(model, "decoder_positions");
  const finalNorm = layer(model, "decoder_final_norm");
  const nextToken = layer(model, "next_token");
  const maxTargetLength = (positions.getConfig() as { maxLength: number }).maxLength;
  const apply = (l: tf.layers.Layer, x: tf.Tensor) => l.apply(x) as tf.Tensor;
  /**
   * `[x + r, LN(x + r)]` through a block's Add & Norm layer (`returnSum`), or through a
   * plain layer norm after an add (a model saved before the blocks kept their sums).
   */
  const addNorm = (l: tf.layers.Layer, x: tf.Tensor, r: tf.Tensor): [tf.Tensor, tf.Tensor] => {
    if (l instanceof LayerNorm && l.returnSum) return l.apply([x, r]) as [tf.Tensor, tf.Tensor];
    const sum = tf.add(x, r);
    return [sum, apply(l, sum)];
  };

  /**
   * Cross-attention and feed-forward sub-layers after the self-attention residual `x`
   * (`n2` = its layer norm).
   */
  function crossAndFeedForward(
    b: DecoderLayers,
    x: tf.Tensor,
    n2: tf.Tensor,
    kv: KeysValues,
    mask: tf.Tensor,
  ) {
    const cross = b.cross.outputProjection(b.cross.attend(b.cross.queries(n2), kv, mask, false));
    const [x2, n3] = addNorm(b.norm3, x, cross);
    return tf.add(x2, apply(b.ff2, apply(b.ff1, n3)));
  }

  return {
    model,
    numLayers: blocks.length,
    maxTargetLength,
    encode(source) {
      const [memory, mask] = encoderModel.predict(source) as [tf.Tensor3D, tf.Tensor2D];
      const crossKv = blocks.map((b) => b.cross.keysValues(memory));
      return { memory, mask, crossKv };
    },
    decode(prefix, encoded, options = {}) {
      let crossWeights: tf.Tensor4D | undefined;
      const probs = tf.tidy(() => {
        let x = apply(positions, apply(embedding, prefix)); // [B, T, D]
        blocks.forEach((b, i) => {
          const n1 = apply(b.norm1, x);
          const q = b.self.queries(n1);
          const y = b.self.attend(q, b.self.keysValues(n1), null, true);
          const [x1, n2] = addNorm(b.norm2, x, b.self.outputProjection(y));
          if (options.crossWeightsOf === i) {
            const qc = b.cross.queries(n2);
            crossWeights = tf.keep(b.cross.scores(qc, encoded.crossKv[i].k, encoded.mask, false));
          }
          x = crossAndFeedForward(b, x1, n2, encoded.crossKv[i], encoded.mask);
        });
        return apply(nextToken, apply(finalNorm, x)) as tf.Tensor3D;
      });
      return { probs, crossWeights };
    },
    emptyCache() {
      return { self: [], length: 0 };
    },
    step(tokens, encoded, cache) {
      const t = cache.length;
      if (t >= maxTargetLength) {
        throw new RangeError(
          `generation: position ${t} is past the decoder's ${maxTargetLength} positions.`,
        );
      }
      const [probs, ...kvs] = tf.tidy(() => {
        const table = positions.getWeights()[0]; // [maxLength, D]
        let x = tf.add(apply(embedding, tokens), tf.slice(table, [t, 0], [1, -1])); // [B, 1, D]
        const grown: tf.Tensor[] = [];
        blocks.forEach((b, i) => {
          const n1 = apply(b.norm1, x);
          const fresh = b.self.keysValues(n1); // [B, H, 1, hd]
          const past = cache.self[i];
          const kv = past
            ? {
              k: tf.concat([past.k, fresh.k], 2) as tf.Tensor4D,
              v: tf.concat([past.v, fresh.v], 2) as tf.Tensor4D,
            }
            : fresh;
          grown.push(kv.k, kv.v);
          const [x1, n2] = addNorm(
            b.norm2,
            x,
            b.self.outputProjection(b.self.attend(b.self.queries(n1), kv, null, true)),
          );
          x = crossAndFeedForward(b, x1, n2, encoded.crossKv[i], encoded.mask);
        });
        const p = tf.squeeze(apply(nextToken, apply(finalNorm, x)), [1]); // [B, V]
        return [p, ...grown];
      });
      disposeCache(cache);
      const self: KeysValues[] = [];
      for (let i = 0; i < kvs.length; i += 2) {
        self.push({ k: kvs[i] as tf.Tensor4D, v: kvs[i + 1] as tf.Tensor4D });
      }
      return { probs: probs as tf.Tensor2D, cache: { self, length: t + 1 } };
    },
  };
}

/** Options of {@linkcode greedyDecode}. */
export interface GreedyOptions {
  /** The start token fed first. */
  startId: number;
  /** Tokens to generate. */
  steps: number;
  /** Use the key/value cache. Default true. */
  cache?: boolean;
}

/**
 * Greedy decoding: at every step the most probable next token. Returns the generated
 * tokens (without the start token), one array per source row.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * import { greedyDecode, seq2seqParts } from "nn/models/generation.ts";
 * const parts = seq2seqParts(encoderDecoder({ sourceVocabSize: 9, targetVocabSize: 7, sourceLength: 4, targetLength: 4, dModel: 8, numHeads: 2 }));
 * const src = tf.tensor2d([[2, 3, 0, 0]], [1, 4], "int32");
 * const [a, b] = [await greedyDecode(parts, src, { startId: 1, steps: 3 }), await greedyDecode(parts, src, { startId: 1, steps: 3, cache: false })];
 * console.log(JSON.stringify(a) === JSON.stringify(b)); // true
 * ```
 */
export async function greedyDecode(
  parts: Seq2SeqParts,
  source: tf.Tensor,
  options: GreedyOptions,
): Promise<number[][]> {
  const batch = source.shape[0];
  const encoded = parts.encode(source);
  const out: number[][] = Array.from({ length: batch }, () => []);
  let cache = parts.emptyCache();
  let tokens = tf.fill([batch, 1], options.startId, "int32") as tf.Tensor2D;
  let prefix = tokens.clone();
  try {
    for (let s = 0; s < options.steps; s++) {
      let probs: tf.Tensor2D;
      if (options.cache ?? true) {
        const r = parts.step(tokens, encoded, cache);
        probs = r.probs;
        cache = r.cache;
      } else {
        const { probs: all } = parts.decode(prefix, encoded);
        probs = tf.tidy(() => tf.squeeze(tf.slice(all, [0, s, 0], [-1, 1, -1]), [1]));
        all.dispose();
      }
      const next = tf.tidy(() => tf.reshape(tf.cast(tf.argMax(probs, -1), "int32"), [batch, 1]));
      probs.dispose();
      const ids = await next.data();
      ids.forEach((id, i) => out[i].push(id));
      tokens.dispose();
      tokens = next as tf.Tensor2D;
      const grown = tf.concat([prefix, tokens], 1) as tf.Tensor2D;
      prefix.dispose();
      prefix = grown;
    }
  } finally {
    tf.dispose([tokens, prefix]);
    disposeCache(cache);
    disposeEncoded(encoded);
  }
  return out;
}

/** Options of {@linkcode beamSearch}. */
export interface BeamSearchOptions {
  /** The start token fed first. */
  startId: number;
  /** Tokens to generate. */
  steps: number;
  /** Beams kept per source. Default 4. */
  beamWidth?: number;
  /** A token that ends a hypothesis: it keeps its score and grows no further. */
  endId?: number;
}

/** The best hypothesis of each source and its log-probability. */
export interface BeamResult {
  /** Generated tokens (no start token), one array per source. */
  tokens: number[][];
  /** Sum of the log-probabilities of the chosen tokens. */
  logProbs: number[];
}

/**
 * Beam search with the key/value cache: keeps the `beamWidth` most probable prefixes of
 * each source (by summed log-probability), growing each by every token and keeping the
 * best; the caches follow their beams (gathered by parent at every step). With
 * `beamWidth: 1` it is greedy decoding. Hypotheses are ranked by the raw sum, with no
 * length penalty: that is exact when every hypothesis runs all `steps` (no `endId`); with
 * an `endId`, a hypothesis that ended early keeps its score and competes with longer ones,
 * whose every extra token adds a negative log-probability, so short outputs are favoured.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * import { beamSearch, seq2seqParts } from "nn/models/generation.ts";
 * const parts = seq2seqParts(encoderDecoder({ sourceVocabSize: 9, targetVocabSize: 7, sourceLength: 4, targetLength: 4, dModel: 8, numHeads: 2 }));
 * const r = await beamSearch(parts, tf.tensor2d([[2, 3, 0, 0]], [1, 4], "int32"), { startId: 1, steps: 3, beamWidth: 3 });
 * console.log(r.tokens[0].length); // 3
 * ```
 */
export async function beamSearch(
  parts: Seq2SeqParts,
  source: tf.Tensor,
  options: BeamSearchOptions,
): Promise<BeamResult> {
  const n = source.shape[0];
  const k = options.beamWidth ?? 4;
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`beamSearch: beamWidth must be a whole number ≥ 1, got ${k}.`);
  }
  // every source repeated k times: row i·k + j is beam j of source i
  const rowsIdx = tf.tensor1d(Array.from({ length: n * k }, (_, r) => Math.floor(r / k)), "int32");
  const tiled = tf.gather(source, rowsIdx);
  rowsIdx.dispose();
  const encoded = parts.encode(tiled);
  tiled.dispose();
  let cache = parts.emptyCache();
  const seqs: number[][] = Array.from({ length: n * k }, () => []);
  // only beam 0 is live at first, so the k beams do not start as k copies
  let scores = Array.from({ length: n * k }, (_, r) => (r % k === 0 ? 0 : -Infinity));
  let done = new Array(n * k).fill(false);
  let tokens = tf.fill([n * k, 1], options.startId, "int32") as tf.Tensor2D;
  try {
    for (let s = 0; s < options.steps; s++) {
      const r = parts.step(tokens, encoded, cache);
      cache = r.cache;
      const logp = tf.tidy(() => tf.log(tf.add(r.probs, 1e-30)));
      r.probs.dispose();
      const lp = await logp.data();
      logp.dispose();
      const v = lp.length / (n * k);
      const parents: number[] = [];
      const chosen: number[] = [];
      const nextScores: number[] = [];
      const nextDone: boolean[] = [];
      const nextSeqs: number[][] = [];
      for (let i = 0; i < n; i++) {
        const cands: { parent: number; token: number; score: number; done: boolean }[] = [];
        for (let j = 0; j < k; j++) {
          const row = i * k + j;
          if (scores[row] === -Infinity) continue;
          if (done[row]) {
            cands.push({ parent: row, token: options.endId!, score: scores[row], done: true });
            continue;
          }
          for (let t = 0; t < v; t++) {
            cands.push({
              parent: row,
              token: t,
              score: scores[row] + lp[row * v + t],
              done: t === options.endId,
            });
          }
        }
        cands.sort((a, b) => b.score - a.score);
        for (let j = 0; j < k; j++) {
          const c = cands[j];
          if (c) {
            parents.push(c.parent);
            chosen.push(c.token);
            nextScores.push(c.score);
            nextDone.push(c.done);
            nextSeqs.push([...seqs[c.parent], c.token]);
          } else { // fewer candidates than beams (first steps with a tiny vocabulary)
            parents.push(i * k);
            chosen.push(0);
            nextScores.push(-Infinity);
            nextDone.push(true);
            nextSeqs.push([...seqs[i * k], 0]);
          }
        }
      }
      const parentIdx = tf.tensor1d(parents, "int32");
      const reordered = cache.self.map((kv) => ({
        k: tf.gather(kv.k, parentIdx) as tf.Tensor4D,
        v: tf.gather(kv.v, parentIdx) as tf.Tensor4D,
      }));
      parentIdx.dispose();
      disposeCache(cache);
      cache = { self: reordered, length: cache.length };
      tokens.dispose();
      tokens = tf.tensor2d(chosen, [n * k, 1], "int32");
      scores = nextScores;
      done = nextDone;
      seqs.splice(0, seqs.length, ...nextSeqs);
    }
  } finally {
    tokens.dispose();
    disposeCache(cache);
    disposeEncoded(encoded);
  }
  const best: number[][] = [];
  const logProbs: number[] = [];
  for (let i = 0; i < n; i++) {
    let b = i * k;
    for (let j = 1; j < k; j++) if (scores[i * k + j] > scores[b]) b = i * k + j;
    best.push(seqs[b]);
    logProbs.push(scores[b]);
  }
  return { tokens: best, logProbs };
}

/** What {@linkcode timeGeneration} measures. */
export interface GenerationTiming {
  /** Tokens generated per source. */
  steps: number;
  /** Whether the key/value cache was used. */
  cache: boolean;
  /** Wall seconds (encoder included). */
  seconds: number;
  /** Generated tokens (all rows) per second. */
  tokensPerSecond: number;
}

/** Options of {@linkcode timeGeneration}. */
export interface TimingOptions extends GreedyOptions {
  /**
   * Timed runs; the fastest counts (the least disturbed by other work on the machine:
   * on a shared CPU a single run can be several times slower than the same code's best).
   * Default 1.
   */
  repeats?: number;
}

/**
 * Times greedy decoding of `steps` tokens for every row of `source`, with or without
 * the cache, after one untimed warm-up run of the same decoding: the fastest of
 * `repeats` timed runs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * import { seq2seqParts, timeGeneration } from "nn/models/generation.ts";
 * const parts = seq2seqParts(encoderDecoder({ sourceVocabSize: 9, targetVocabSize: 7, sourceLength: 4, targetLength: 8, dModel: 8, numHeads: 2 }));
 * const t = await timeGeneration(parts, tf.ones([2, 4], "int32"), { startId: 1, steps: 6, cache: true, repeats: 2 });
 * console.log(t.tokensPerSecond > 0); // true
 * ```
 */
export async function timeGeneration(
  parts: Seq2SeqParts,
  source: tf.Tensor,
  options: TimingOptions,
): Promise<GenerationTiming> {
  const repeats = options.repeats ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new RangeError(`timeGeneration: repeats must be a whole number ≥ 1, got ${repeats}.`);
  }
  // warm-up: the same run untimed (the first runs of a code path are several times
  // slower while the JavaScript engine and the backend warm up)
  await greedyDecode(parts, source, options);
  let seconds = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await greedyDecode(parts, source, options);
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  return {
    steps: options.steps,
    cache: options.cache ?? true,
    seconds,
    tokensPerSecond: (source.shape[0] * options.steps) / seconds,
  };
}

/**
 * Greedy decoding of any `[source, prefix] → probabilities [B, T, V]` model through its
 * `predict` (no cache: the whole model runs again for every token). For models without
 * the named layers of `seq2seqParts`, e.g. an LSTM encoder–decoder with attention.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { encoderDecoder } from "nn/models/encoder_decoder.ts";
 * import { greedyDecodeModel } from "nn/models/generation.ts";
 * const m = encoderDecoder({ sourceVocabSize: 9, targetVocabSize: 7, sourceLength: 4, targetLength: 4, dModel: 8, numHeads: 2 });
 * const out = await greedyDecodeModel(m, tf.ones([2, 4], "int32"), { startId: 1, steps: 3 });
 * console.log(out.length, out[0].length); // 2 3
 * ```
 */
export async function greedyDecodeModel(
  model: tf.LayersModel,
  source: tf.Tensor,
  options: Omit<GreedyOptions, "cache">,
): Promise<number[][]> {
  const batch = source.shape[0];
  const out: number[][] = Array.from({ length: batch }, () => []);
  let prefix = tf.fill([batch, 1], options.startId, "int32") as tf.Tensor2D;
  try {
    for (let s = 0; s < options.steps; s++) {
      const next = tf.tidy(() => {
        const probs = model.predict([source, prefix]) as tf.Tensor3D;
        const last = tf.slice(probs, [0, s, 0], [-1, 1, -1]); // [B, 1, V]
        return tf.cast(tf.argMax(last, -1), "int32"); // [B, 1]
      });
      const ids = await next.data();
      ids.forEach((id, i) => out[i].push(id));
      const grown = tf.concat([prefix, next], 1) as tf.Tensor2D;
      next.dispose();
      prefix.dispose();
      prefix = grown;
    }
  } finally {
    prefix.dispose();
  }
  return out;
}
