/**
 * MNIST as train / validation / test tensors (训练集 / 验证集 / 测试集) for the dense and
 * sparse notebooks, and nested training subsets of it.
 *
 * @example
 * ```ts
 * import { setupBackend } from "nn";
 * import { mnistSplits, trainingSubset } from "nn/data/mnist_splits.ts";
 * await setupBackend({ backend: "cpu" });
 * const data = await mnistSplits({ trainSize: 100, valSize: 50, testSize: 50, seed: 1 });
 * const small = trainingSubset(data, 30);
 * console.log(small.xTrain.shape, data.yVal.shape); // [30, 784] [50, 10]
 * small.dispose();
 * data.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { loadMnist, MNIST_CLASSES, MNIST_PIXELS } from "./mnist.ts";
import { oneHot, type SplitTensors } from "./tensors.ts";

/** Options for {@linkcode mnistSplits}. */
export interface MnistSplitsOptions {
  /** Training images. */
  trainSize: number;
  /** Validation images (taken from the same pool as training, never from test). */
  valSize: number;
  /** Test images. */
  testSize: number;
  /** Seed of the split. */
  seed: number;
}

/** Training and validation tensors: what a training run needs. */
export interface TrainValTensors {
  /** Training images `[n, 784]`. */
  xTrain: tf.Tensor;
  /** One-hot training labels `[n, 10]`. */
  yTrain: tf.Tensor;
  /** Validation images. */
  xVal: tf.Tensor;
  /** One-hot validation labels. */
  yVal: tf.Tensor;
}

/**
 * MNIST as float32 tensors in three disjoint parts: images `[n, 784]` (training images in a
 * seeded random order) and one-hot labels `[n, 10]`.
 */
export interface MnistSplits extends SplitTensors {
  /** Training pixels as a flat array (for statistics such as always-zero pixels). */
  trainPixels: Float32Array;
  /** Frees the six tensors. */
  dispose(): void;
}

/**
 * Loads the seeded MNIST subset of the `mnist` package (`loadMnist`) as train /
 * validation / test tensors. The first `trainSize` shuffled training images are
 * training, the next `valSize` validation, so subsets taken with
 * {@linkcode trainingSubset} are nested.
 */
export async function mnistSplits(options: MnistSplitsOptions): Promise<MnistSplits> {
  const { trainSize, valSize, testSize, seed } = options;
  const data = await loadMnist({ trainSize: trainSize + valSize, testSize, seed });
  const px = MNIST_PIXELS;
  const trainPixels = data.xTrain.subarray(0, trainSize * px);
  const tensors = {
    xTrain: tf.tensor2d(trainPixels, [trainSize, px]),
    yTrain: oneHot(data.yTrain.subarray(0, trainSize), MNIST_CLASSES),
    xVal: tf.tensor2d(data.xTrain.subarray(trainSize * px), [valSize, px]),
    yVal: oneHot(data.yTrain.subarray(trainSize), MNIST_CLASSES),
    xTest: tf.tensor2d(data.xTest, [testSize, px]),
    yTest: oneHot(data.yTest, MNIST_CLASSES),
  };
  return { ...tensors, trainPixels, dispose: () => tf.dispose(Object.values(tensors)) };
}

/**
 * The first `n` rows of a tensor, copied into a new tensor (dispose it).
 *
 * @throws {RangeError} unless 1 ≤ n ≤ rows
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { headRows } from "nn/data/mnist_splits.ts";
 * await tf.setBackend("cpu");
 * console.log(headRows(tf.zeros([5, 3]), 2).shape); // [2, 3]
 * ```
 */
export function headRows<T extends tf.Tensor>(x: T, n: number): T {
  if (!Number.isInteger(n) || n < 1 || n > x.shape[0]) {
    throw new RangeError(`headRows: n must be in 1 … ${x.shape[0]}, got ${n}.`);
  }
  return tf.slice(x, 0, n) as T;
}

/** A training subset with the whole validation set; `dispose` frees the subset only. */
export interface TrainingSubset extends TrainValTensors {
  /** Frees the subset's own tensors (not the validation set's). */
  dispose(): void;
}

/**
 * The first `n` training images of `data` (nested: a smaller subset is part of every
 * larger one) with the whole validation set.
 */
export function trainingSubset(data: TrainValTensors, n: number): TrainingSubset {
  const xTrain = headRows(data.xTrain, n);
  const yTrain = headRows(data.yTrain, n);
  return {
    xTrain,
    yTrain,
    xVal: data.xVal,
    yVal: data.yVal,
    dispose: () => tf.dispose([xTrain, yTrain]),
  };
}
