/**
 * Turning loaded data into tfjs tensors: one-hot labels, id matrices, MNIST images.
 * Each function returns new tensors that the caller disposes (or wraps in `tf.tidy`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { oneHot } from "nn/data/mod.ts";
 * await tf.setBackend("cpu");
 * const y = oneHot([2, 0], 3);
 * console.log(y.shape, await y.data()); // [2, 3] Float32Array [0, 0, 1, 1, 0, 0]
 * y.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { MnistData } from "./mnist.ts";

/**
 * A dataset's three parts as tensors: inputs `x…` (`[n, …]`) and one-hot labels `y…`
 * (`[n, classes]`) for training, validation and test.
 */
export interface SplitTensors {
  /** Training inputs. */
  xTrain: tf.Tensor2D;
  /** One-hot training labels. */
  yTrain: tf.Tensor2D;
  /** Validation inputs. */
  xVal: tf.Tensor2D;
  /** One-hot validation labels. */
  yVal: tf.Tensor2D;
  /** Test inputs. */
  xTest: tf.Tensor2D;
  /** One-hot test labels. */
  yTest: tf.Tensor2D;
}

/**
 * One-hot encoding of integer labels as a float32 `[n, numClasses]` tensor, the target
 * format of `categoricalCrossentropy`.
 *
 * @throws {RangeError} when a label is not an integer in 0 … numClasses−1
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { oneHot } from "nn/data/mod.ts";
 * await tf.setBackend("cpu");
 * const y = oneHot(new Int32Array([1]), 2);
 * console.log(await y.array()); // [[0, 1]]
 * y.dispose();
 * ```
 */
export function oneHot(labels: ArrayLike<number>, numClasses: number): tf.Tensor2D {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be an integer >= 1, got ${numClasses}.`);
  }
  const values = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new RangeError(
        `Label ${y} at index ${i} is not a class id in 0 … ${numClasses - 1}.`,
      );
    }
    values[i * numClasses + y] = 1;
  }
  return tf.tensor2d(values, [labels.length, numClasses], "float32");
}

/**
 * Labels 0/1 as a float32 `[n, 1]` tensor, the target of a one-unit sigmoid output
 * trained with `binaryCrossentropy`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { binaryLabelsTensor } from "nn/data/mod.ts";
 * await tf.setBackend("cpu");
 * const y = binaryLabelsTensor([0, 1, 1]);
 * console.log(y.shape); // [3, 1]
 * y.dispose();
 * ```
 */
export function binaryLabelsTensor(labels: ArrayLike<number>): tf.Tensor2D {
  const values = Float32Array.from(labels as ArrayLike<number>);
  return tf.tensor2d(values, [values.length, 1], "float32");
}

/**
 * Padded id rows (from `padSequences` or `encodeTexts`) as an int32 `[n, length]`
 * tensor, the input of an embedding layer.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { padSequences, sequencesToTensor } from "nn/data/mod.ts";
 * await tf.setBackend("cpu");
 * const x = sequencesToTensor(padSequences([[3, 4], [5]], { length: 3 }));
 * console.log(x.shape, x.dtype); // [2, 3] "int32"
 * x.dispose();
 * ```
 */
export function sequencesToTensor(rows: readonly Int32Array[]): tf.Tensor2D {
  const length = rows.length === 0 ? 0 : rows[0].length;
  const flat = new Int32Array(rows.length * length);
  rows.forEach((row, r) => {
    if (row.length !== length) {
      throw new RangeError(
        `Row ${r} has ${row.length} ids but row 0 has ${length}: pad them first (padSequences).`,
      );
    }
    flat.set(row, r * length);
  });
  return tf.tensor2d(flat, [rows.length, length], "int32");
}

/** MNIST as tensors: images `[n, ...imageShape]` and one-hot labels `[n, 10]`. */
export interface MnistTensors {
  /** Training images, float32 `[n, ...imageShape]`. */
  xTrain: tf.Tensor;
  /** Training labels, one-hot float32 `[n, 10]`. */
  yTrain: tf.Tensor2D;
  /** Test images. */
  xTest: tf.Tensor;
  /** Test labels, one-hot. */
  yTest: tf.Tensor2D;
}

/**
 * The arrays of `loadMnist` as float32 tensors: images shaped `[n, 784]` (or
 * `[n, 28, 28, 1]` when loaded with `flatten: false`) and one-hot labels `[n, 10]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { loadMnist, mnistTensors } from "nn/data/mod.ts";
 * await tf.setBackend("cpu");
 * const t = mnistTensors(await loadMnist({ trainSize: 100, testSize: 10, flatten: false }));
 * console.log(t.xTrain.shape, t.yTest.shape); // [100, 28, 28, 1] [10, 10]
 * tf.dispose([t.xTrain, t.yTrain, t.xTest, t.yTest]);
 * ```
 */
export function mnistTensors(data: MnistData): MnistTensors {
  const images = (x: Float32Array) => {
    const n = x.length / data.imageShape.reduce((a, b) => a * b, 1);
    return tf.tensor(x, [n, ...data.imageShape], "float32");
  };
  return {
    xTrain: images(data.xTrain),
    yTrain: oneHot(data.yTrain, data.numClasses),
    xTest: images(data.xTest),
    yTest: oneHot(data.yTest, data.numClasses),
  };
}
