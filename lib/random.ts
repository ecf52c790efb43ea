/**
 * Seeded randomness: one seed drives initialisers, dropout, shuffles and splits.
 *
 * tfjs draws weights and dropout masks from its own seeded generator only when a
 * layer is given a `seed`, and `model.fit({shuffle: true})` shuffles with
 * `Math.random`. The library therefore derives every seed it hands to tfjs from one
 * {@linkcode Rng}, and shuffles batches itself (see `train`).
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counter, as in PractRand),
 * seeded through splitmix32 so that nearby seeds give unrelated streams.
 *
 * @example
 * ```ts
 * import { rng } from "nn";
 * const r = rng(0);
 * const order = r.permutation(5); // the same order for seed 0, every run
 * const init = r.initializer("glorotUniform"); // a seeded tfjs initializer
 * console.log(order, init.getClassName());
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** A tfjs weight initializer (what `tf.initializers.*` return). */
export type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashString(text: string): number {
  // FNV-1a, 32 bit.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Names of the seeded tfjs initializers {@linkcode Rng.initializer} can build. */
export type InitializerName =
  | "glorotUniform"
  | "glorotNormal"
  | "heUniform"
  | "heNormal"
  | "leCunUniform"
  | "leCunNormal"
  | "randomUniform"
  | "randomNormal"
  | "truncatedNormal"
  | "orthogonal";

/** A seeded pseudo-random generator (sfc32). Not for cryptography. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  /** The seed this generator was created with. */
  readonly seed: number;

  /**
   * Creates a generator; the same seed always gives the same stream.
   * @param seed any finite number (its 32-bit integer part is used)
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`Cannot seed a generator with ${seed}: pass a finite number, e.g. 0`);
    }
    this.seed = seed;
    const mix = splitmix32(Math.trunc(seed) >>> 0);
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.#step();
  }

  #step(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#step() / 4294967296;
  }

  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    if (!(maxExclusive >= 1)) {
      throw new RangeError(`int(max) needs max >= 1, got ${maxExclusive}`);
    }
    return Math.floor(this.next() * maxExclusive);
  }

  /** A standard normal sample (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A random permutation of 0 … n−1. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }

  /** A fresh 31-bit seed drawn from this stream (for tfjs layers and ops). */
  nextSeed(): number {
    return this.#step() >>> 1;
  }

  /**
   * An independent generator for a named purpose; the same label gives the same
   * stream regardless of how much this generator has been used.
   */
  fork(label: string): Rng {
    return new Rng((Math.trunc(this.seed) ^ hashString(label)) >>> 0);
  }

  /**
   * A seeded tfjs initializer, e.g. for `kernelInitializer`.
   * @param name the initializer's tfjs name
   * @param options extra options passed to tfjs (mean, stddev, minval, maxval, gain)
   */
  initializer(
    name: InitializerName,
    options: Record<string, number> = {},
  ): Initializer {
    const seed = this.nextSeed();
    const make = (tf.initializers as unknown as Record<
      string,
      (args: Record<string, number>) => Initializer
    >)[name];
    if (typeof make !== "function") {
      throw new Error(`Unknown initializer "${name}": use one of glorotUniform, heNormal, …`);
    }
    return make({ ...options, seed });
  }
}

/**
 * Creates a seeded generator.
 *
 * @example
 * ```ts
 * import { rng } from "nn";
 * const a = rng(42).next();
 * const b = rng(42).next();
 * console.log(a === b); // true
 * ```
 */
export function rng(seed: number): Rng {
  return new Rng(seed);
}
