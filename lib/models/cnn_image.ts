/**
 * Small image models: a convolutional neural network (卷积神经网络) and a residual network
 * (残差网络) built from residual blocks with skip connections (He, Zhang, Ren & Sun 2016,
 * *Deep Residual Learning for Image Recognition*, CVPR). Both are tfjs functional models
 * made of stock layers only, so they serialise (`model.toJSON()`, `save`) as any other.
 * They end in a Dense layer of `classes` logits (no softmax): train them with
 * `tf.losses.softmaxCrossEntropy`.
 *
 * A residual block computes y = ReLU(F(x) + s(x)) where F is two 3 × 3 convolutions with a
 * ReLU between them and s is the identity — or, where the block changes the number of
 * channels or strides, a 1 × 1 convolution (He et al.'s projection shortcut, option B).
 * Batch normalisation is left out at these depths.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { residualCnn } from "nn/models/cnn_image.ts";
 * await tf.setBackend("cpu");
 * const m = residualCnn({ inputShape: [28, 28, 1], stages: [8, 16], classes: 10, seed: 0 });
 * console.log(m.outputs[0].shape); // [null, 10]
 * m.dispose();
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random.ts";

/** Options of {@linkcode residualBlock}. */
export interface ResidualBlockOptions {
  /** Output channels of both convolutions (and of the block). */
  filters: number;
  /** Stride of the first convolution (default 1; 2 halves height and width). */
  stride?: number;
  /** Layer-name prefix (default "res"). */
  name?: string;
  /** Seeded generator for the initial weights. */
  rng: Rng;
}

/**
 * Adds a residual block to a functional model: y = ReLU(F(x) + s(x)), F = conv 3×3 →
 * ReLU → conv 3×3, s = identity or a 1×1 projection when channels or size change.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { residualBlock } from "nn/models/cnn_image.ts";
 * import { rng } from "nn";
 * await tf.setBackend("cpu");
 * const x = tf.input({ shape: [8, 8, 4] });
 * const y = residualBlock(x, { filters: 4, rng: rng(0) });
 * console.log(y.shape); // [null, 8, 8, 4]
 * ```
 */
export function residualBlock(
  x: tf.SymbolicTensor,
  options: ResidualBlockOptions,
): tf.SymbolicTensor {
  const { filters, stride = 1, name = "res", rng } = options;
  const channels = x.shape[x.shape.length - 1];
  const conv = (
    suffix: string,
    kernelSize: number,
    strides: number,
    activation: "relu" | "linear",
  ) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: "same",
      activation,
      kernelInitializer: rng.initializer("heNormal"),
      name: `${name}_${suffix}`,
    });
  const h = conv("conv1", 3, stride, "relu").apply(x) as tf.SymbolicTensor; // [B, H/s, W/s, filters]
  const f = conv("conv2", 3, 1, "linear").apply(h) as tf.SymbolicTensor; //   F(x), same shape
  const shortcut = stride === 1 && channels === filters
    ? x // identity: s(x) = x
    : conv("project", 1, stride, "linear").apply(x) as tf.SymbolicTensor; // 1×1 projection
  const sum = tf.layers.add({ name: `${name}_add` }).apply([f, shortcut]) as tf.SymbolicTensor; // F(x) + s(x)
  return tf.layers.activation({ activation: "relu", name: `${name}_relu` }).apply(
    sum,
  ) as tf.SymbolicTensor;
}

/** Options of {@linkcode imageCnn}. */
export interface ImageCnnOptions {
  /** One image's shape `[height, width, channels]`. */
  inputShape: [number, number, number];
  /** Filters of each conv 3×3 → ReLU → max-pool 2×2 stage, input side first. */
  filters: readonly number[];
  /** Number of classes (logits). */
  classes: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/**
 * A plain CNN: for each entry of `filters` a 3×3 convolution ("same" padding, ReLU) and a
 * 2×2 max-pool, then flatten and a Dense layer of logits. The first convolution is named
 * `conv1` (its filters are what the network learned to look for first).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { imageCnn } from "nn/models/cnn_image.ts";
 * await tf.setBackend("cpu");
 * const m = imageCnn({ inputShape: [28, 28, 1], filters: [8, 16], classes: 10 });
 * console.log(m.countParams()); // 80 + 1168 + 7850 = 9098
 * m.dispose();
 * ```
 */
export function imageCnn(options: ImageCnnOptions): tf.LayersModel {
  const { inputShape, filters, classes, seed = 0 } = options;
  const rng = new Rng(seed).fork("imageCnn");
  const input = tf.input({ shape: inputShape, name: "image" }); // [B, H, W, C]
  let x = input;
  filters.forEach((f, i) => {
    x = convPool(x, f, i + 1, rng); // [B, H/2^(i+1), W/2^(i+1), f]
  });
  return tf.model({ inputs: input, outputs: logitsHead(x, classes, rng), name: "cnn" });
}

/** Options of {@linkcode residualCnn}. */
export interface ResidualCnnOptions {
  /** One image's shape `[height, width, channels]`. */
  inputShape: [number, number, number];
  /**
   * Channels of each stage: the first is the stem convolution's (3×3, ReLU, then 2×2
   * max-pool) and a residual block; each later stage is one residual block with stride 2.
   */
  stages: readonly number[];
  /** Number of classes (logits). */
  classes: number;
  /** Seed of the initial weights (default 0). */
  seed?: number;
}

/**
 * A small residual CNN: stem conv 3×3 (named `conv1`) → max-pool 2×2 → a residual block
 * per stage (stride 2 from the second) → flatten → Dense logits.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { residualCnn } from "nn/models/cnn_image.ts";
 * await tf.setBackend("cpu");
 * const m = residualCnn({ inputShape: [28, 28, 1], stages: [8, 16], classes: 10 });
 * const topology = m.toJSON(null, false) as tf.io.ModelJSON["modelTopology"];
 * const again = await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON);
 * console.log(again.countParams() === m.countParams()); // true
 * ```
 */
export function residualCnn(options: ResidualCnnOptions): tf.LayersModel {
  const { inputShape, stages, classes, seed = 0 } = options;
  if (stages.length < 1) throw new RangeError("residualCnn: give at least one stage.");
  const rng = new Rng(seed).fork("residualCnn");
  const input = tf.input({ shape: inputShape, name: "image" }); // [B, H, W, C]
  let x = convPool(input, stages[0], 1, rng); // the stem: [B, H/2, W/2, c0]
  stages.forEach((c, i) => {
    x = residualBlock(x, { filters: c, stride: i === 0 ? 1 : 2, name: `res${i + 1}`, rng }); // [B, H/2^(i+1), W/2^(i+1), c]
  });
  return tf.model({ inputs: input, outputs: logitsHead(x, classes, rng), name: "resnet" });
}

/** conv 3×3 ("same", ReLU, named `conv<n>`) → max-pool 2×2 (`pool<n>`): [B, H, W, C] → [B, H/2, W/2, filters]. */
function convPool(x: tf.SymbolicTensor, filters: number, n: number, rng: Rng): tf.SymbolicTensor {
  const conv = tf.layers.conv2d({
    filters,
    kernelSize: 3,
    padding: "same",
    activation: "relu",
    kernelInitializer: rng.initializer("heNormal"),
    name: `conv${n}`,
  }).apply(x) as tf.SymbolicTensor; // [B, H, W, filters]
  return tf.layers.maxPooling2d({ poolSize: 2, name: `pool${n}` }).apply(conv) as tf.SymbolicTensor;
}

/** flatten → Dense of `classes` logits (no softmax): [B, …] → [B, classes]. */
function logitsHead(x: tf.SymbolicTensor, classes: number, rng: Rng): tf.SymbolicTensor {
  const flat = tf.layers.flatten({ name: "flatten" }).apply(x) as tf.SymbolicTensor;
  return tf.layers.dense({
    units: classes,
    kernelInitializer: rng.initializer("glorotUniform"),
    name: "logits",
  }).apply(flat) as tf.SymbolicTensor;
}

/**
 * Parameters of a 2-D convolution: k_h · k_w · c_in · c_out weights + c_out biases.
 *
 * @example
 * ```ts
 * import { conv2dParameters } from "nn/models/cnn_image.ts";
 * console.log(conv2dParameters({ kernel: 3, inputs: 1, filters: 8 })); // 80
 * ```
 */
export function conv2dParameters(
  options: { kernel: number; inputs: number; filters: number },
): number {
  const { kernel, inputs, filters } = options;
  return kernel * kernel * inputs * filters + filters;
}
