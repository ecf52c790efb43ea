/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28 × 28 greyscale pictures of ten kinds of
 * clothing, a harder drop-in for MNIST. A balanced subset ships in `data/fashion_mnist/`
 * (8 000 training images, 800 per class, from the official training file and 2 000 test
 * images, 200 per class, from the official test file; IDX format, gzip; MIT licence; see
 * data/README.md), each file sha256-checked on load.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from "nn/data/mod.ts";
 * const f = await loadFashionMnist({ trainSize: 1000, testSize: 200, seed: 0 });
 * console.log(f.xTrain.length / 784, f.yTest.length, f.classNames[0]); // 1000 200 "T-shirt/top"
 * ```
 * @module
 */

import { type DataFileOptions, readDataFile } from "./files.ts";
import { gunzip } from "./gzip.ts";
import type { MnistData } from "./mnist.ts";
import { allocate } from "./split.ts";
import { Rng } from "../random.ts";

/** The ten Fashion-MNIST classes, index = label (the data set's own names). */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** Images of each class shipped in the training and the test file. */
export const FASHION_MNIST_SHIPPED = { train: 800, test: 200 } as const;

/** Options for {@linkcode loadFashionMnist}. */
export interface LoadFashionMnistOptions extends DataFileOptions {
  /** Training images, at most 8 000 (default 8 000); each class gets a tenth (±1). */
  trainSize?: number;
  /** Test images from the official test file, at most 2 000 (default 2 000), balanced. */
  testSize?: number;
  /** Seed of which images are taken and of their order (default 0). */
  seed?: number;
  /** `true` (default): `imageShape` `[784]`; `false`: `[28, 28, 1]` for convolutions. */
  flatten?: boolean;
}

/** A Fashion-MNIST split: MNIST's layout (`mnistTensors` accepts it) plus class names. */
export interface FashionMnistData extends MnistData {
  /** Class names, index = label. */
  classNames: readonly string[];
}

/**
 * Parses an IDX file (LeCun's format: a big-endian magic number whose last byte is the
 * number of dimensions, the dimensions as big-endian uint32, then the values).
 *
 * @throws {Error} unless it holds unsigned bytes (type code 0x08) of the stated size
 * @example
 * ```ts
 * import { parseIdx } from "nn/data/mod.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
 * console.log(parseIdx(bytes)); // { dims: [2], values: Uint8Array(2) [7, 9] }
 * ```
 */
export function parseIdx(
  bytes: Uint8Array,
  name = "IDX data",
): { dims: number[]; values: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new Error(`${name} is not an IDX file of unsigned bytes (magic 0x0000 08 nn).`);
  }
  const rank = bytes[3];
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== offset + count) {
    throw new Error(
      `${name}: the header promises ${count} values but ${bytes.length - offset} follow.`,
    );
  }
  return { dims, values: bytes.subarray(offset) };
}

interface Part {
  images: Uint8Array;
  labels: Uint8Array;
}

const cache = new Map<string, Promise<{ train: Part; test: Part }>>();

async function readPart(prefix: string, options: DataFileOptions): Promise<Part> {
  const file = (kind: string) => `fashion_mnist/${prefix}-${kind}.gz`;
  const [images, labels] = await Promise.all(
    ["images-idx3-ubyte", "labels-idx1-ubyte"].map(async (kind) =>
      parseIdx(await gunzip(await readDataFile(file(kind), options), file(kind)), file(kind))
    ),
  );
  if (images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28) {
    throw new Error(`${file("images-idx3-ubyte")}: expected n × 28 × 28 images.`);
  }
  if (labels.dims[0] !== images.dims[0]) {
    throw new Error(
      `${file("labels-idx1-ubyte")}: ${labels.dims[0]} labels for ${images.dims[0]} images.`,
    );
  }
  return { images: images.values, labels: labels.values };
}

/**
 * The shipped files, decompressed and checked (sha256 on the gzip bytes), cached per data
 * folder: `train` and `test` with uint8 pixels and labels in file order.
 *
 * @example
 * ```ts
 * import { fashionMnistFiles } from "nn/data/mod.ts";
 * const { train, test } = await fashionMnistFiles();
 * console.log(train.labels.length, test.images.length / 784); // 8000 2000
 * ```
 */
export function fashionMnistFiles(
  options: DataFileOptions = {},
): Promise<{ train: Part; test: Part }> {
  const key = String(options.dataDir ?? "");
  let entry = cache.get(key);
  if (entry === undefined) {
    entry = Promise.all([readPart("train", options), readPart("test", options)])
      .then(([train, test]) => ({ train, test }));
    entry.catch(() => cache.delete(key));
    cache.set(key, entry);
  }
  return entry;
}

function take(part: Part, size: number, rng: Rng, name: string) {
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  part.labels.forEach((y, i) => byClass[y].push(i));
  const per = allocate(size, byClass.map(() => 0.1));
  const refs: number[] = [];
  byClass.forEach((idx, c) => {
    if (per[c] > idx.length) {
      throw new RangeError(`${name}: class ${c} has ${idx.length} images, ${per[c]} asked for.`);
    }
    const order = rng.fork(`class ${c}`).permutation(idx.length);
    for (let k = 0; k < per[c]; k++) refs.push(idx[order[k]]);
  });
  rng.fork("order").shuffle(refs);
  const x = new Float32Array(refs.length * 784);
  const y = new Int32Array(refs.length);
  refs.forEach((i, k) => {
    for (let p = 0; p < 784; p++) x[k * 784 + p] = part.images[i * 784 + p] / 255;
    y[k] = part.labels[i];
  });
  return { x, y, source: Int32Array.from(refs) };
}

/**
 * A seeded, class-balanced Fashion-MNIST split: training images from the shipped training
 * file, test images from the shipped test file (the data set's own split). Pixels in
 * [0, 1] (byte / 255). `Math.random` is not used.
 *
 * @throws {RangeError} for sizes beyond what is shipped
 * @example
 * ```ts
 * import { loadFashionMnist, mnistTensors } from "nn/data/mod.ts";
 * import * as tf from "@tensorflow/tfjs";
 * await tf.setBackend("cpu");
 * const f = await loadFashionMnist({ trainSize: 100, testSize: 20, flatten: false });
 * const t = mnistTensors(f);
 * console.log(t.xTrain.shape); // [100, 28, 28, 1]
 * tf.dispose(Object.values(t));
 * ```
 */
export async function loadFashionMnist(
  options: LoadFashionMnistOptions = {},
): Promise<FashionMnistData> {
  const { trainSize = 8000, testSize = 2000, seed = 0, flatten = true } = options;
  for (
    const [name, size, max] of [
      ["trainSize", trainSize, 10 * FASHION_MNIST_SHIPPED.train],
      ["testSize", testSize, 10 * FASHION_MNIST_SHIPPED.test],
    ] as const
  ) {
    if (!Number.isInteger(size) || size < 0 || size > max) {
      throw new RangeError(
        `${name} must be an integer in 0 … ${max} (the images shipped), got ${size}.`,
      );
    }
  }
  const files = await fashionMnistFiles(options);
  const root = new Rng(seed);
  const train = take(files.train, trainSize, root.fork("fashion train"), "training file");
  const test = take(files.test, testSize, root.fork("fashion test"), "test file");
  return {
    xTrain: train.x,
    yTrain: train.y,
    xTest: test.x,
    yTest: test.y,
    imageShape: flatten ? [784] : [28, 28, 1],
    numClasses: 10,
    available: new Array(10).fill(FASHION_MNIST_SHIPPED.train),
    trainSourceIndex: train.source,
    testSourceIndex: test.source,
    classNames: FASHION_MNIST_CLASSES,
  };
}
