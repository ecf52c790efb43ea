/**
 * Looking inside a trained model: its Dense kernels as plain arrays, the masks and CSR
 * storage of a pruned one, and weight pictures laid out for a heatmap or a histogram.
 * Everything reads tensors asynchronously and returns numbers.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { kernelMask, nonZeroParameters } from "nn/models/inspect.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2], kernelInitializer: "identity" })] });
 * console.log(await nonZeroParameters(m), (await kernelMask(m, 0)).mask); // 2 Uint8Array [1, 0, 0, 1]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random.ts";
import { csrBytesFor, csrFromDense, csrToDense, denseBytes } from "./sparse_csr.ts";

function denseLayer(model: tf.LayersModel, index: number): tf.layers.Layer {
  const dense = model.layers.filter((l) => l.getClassName() === "Dense");
  const layer = dense[index];
  if (!layer) {
    throw new RangeError(
      `No Dense layer ${index}: the model has ${dense.length} (0 … ${dense.length - 1}).`,
    );
  }
  return layer;
}

/**
 * The kernel of the model's `layerIndex`-th Dense layer, row-major `inputs × units`,
 * optionally without its zeros (for a histogram of what pruning kept).
 *
 * @throws {RangeError} when there is no such Dense layer
 */
export async function kernelValues(
  model: tf.LayersModel,
  layerIndex: number,
  options: { dropZeros?: boolean } = {},
): Promise<Float32Array> {
  const values = new Float32Array(await denseLayer(model, layerIndex).getWeights()[0].data());
  return options.dropZeros ? values.filter((v) => v !== 0) : values;
}

/**
 * The 0/1 mask of a Dense kernel as it is now (1 where the weight is not 0), row-major,
 * with the kernel's shape — the mask of a pruned model whose pruner is gone.
 */
export async function kernelMask(
  model: tf.LayersModel,
  layerIndex: number,
): Promise<{ mask: Uint8Array; shape: number[] }> {
  const values = await kernelValues(model, layerIndex);
  const shape = [...denseLayer(model, layerIndex).getWeights()[0].shape];
  return { mask: Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0)), shape };
}

/** Parameters (all weights, kernels and biases) that are not exactly 0. */
export async function nonZeroParameters(model: tf.LayersModel): Promise<number> {
  let count = 0;
  for (const w of model.getWeights()) {
    const values = await w.data();
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) count++;
  }
  return count;
}

/**
 * A row-major 0/1 mask as rows for a heatmap; `transpose` draws a kernel
 * (inputs × units) with one row per unit.
 *
 * @example
 * ```ts
 * import { maskRows } from "nn/models/inspect.ts";
 * console.log(maskRows(new Uint8Array([1, 0, 0, 1, 1, 1]), [2, 3], true)); // [[1, 0], [0, 1], [1, 1]]
 * ```
 */
export function maskRows(mask: Uint8Array, shape: number[], transpose = false): number[][] {
  const [rows, cols] = shape;
  if (mask.length !== rows * cols) {
    throw new RangeError(`maskRows: ${mask.length} entries for shape [${shape}].`);
  }
  return transpose
    ? Array.from(
      { length: cols },
      (_, c) => Array.from({ length: rows }, (_, r) => mask[r * cols + c]),
    )
    : Array.from({ length: rows }, (_, r) => Array.from(mask.subarray(r * cols, (r + 1) * cols)));
}

/**
 * Share of each input's outgoing weights a first-layer mask keeps, as a
 * `height × width` image (28 × 28 for MNIST): where the pruned network still looks.
 *
 * @example
 * ```ts
 * import { keptPerInput } from "nn/models/inspect.ts";
 * console.log(keptPerInput(new Uint8Array([1, 1, 0, 1]), [2, 2], 1, 2)); // [[1, 0.5]]
 * ```
 */
export function keptPerInput(
  mask: Uint8Array,
  shape: number[],
  height = 28,
  width = 28,
): number[][] {
  const [inputs, units] = shape;
  if (inputs !== height * width) {
    throw new RangeError(`keptPerInput: ${inputs} inputs are not a ${height} × ${width} image.`);
  }
  return Array.from({ length: height }, (_, r) =>
    Array.from({ length: width }, (_, c) => {
      const row = (r * width + c) * units;
      let kept = 0;
      for (let u = 0; u < units; u++) kept += mask[row + u];
      return kept / units;
    }));
}

/**
 * Indices of input features that are exactly 0 in every row of a flat row-major
 * matrix — for MNIST, the border pixels no training image ever inks.
 *
 * @example
 * ```ts
 * import { alwaysZeroFeatures } from "nn/models/inspect.ts";
 * console.log(alwaysZeroFeatures(new Float32Array([0, 1, 0, 0, 2, 0]), 3)); // [0, 2]
 * ```
 */
export function alwaysZeroFeatures(pixels: Float32Array, rowSize: number): number[] {
  const used = new Uint8Array(rowSize);
  for (let i = 0; i < pixels.length; i++) if (pixels[i] !== 0) used[i % rowSize] = 1;
  const out: number[] = [];
  used.forEach((u, j) => u || out.push(j));
  return out;
}

/**
 * The largest |value| in the given rows of a row-major matrix (0 for no rows).
 *
 * @example
 * ```ts
 * import { maxAbsInRows } from "nn/models/inspect.ts";
 * console.log(maxAbsInRows(new Float32Array([0, 0, -2, 1]), 2, [0])); // 0
 * ```
 */
export function maxAbsInRows(matrix: Float32Array, cols: number, rowIndices: number[]): number {
  let max = 0;
  for (const r of rowIndices) {
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(matrix[r * cols + c]));
  }
  return max;
}

/**
 * The `k` columns (units) of a row-major `rows × cols` matrix with the largest L2 norm,
 * largest first.
 *
 * @example
 * ```ts
 * import { strongestColumns } from "nn/models/inspect.ts";
 * console.log(strongestColumns(new Float32Array([0, 3, 1, 0]), 2, 2, 1)); // [1]
 * ```
 */
export function strongestColumns(
  matrix: Float32Array,
  rows: number,
  cols: number,
  k: number,
): number[] {
  const norms = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) norms[c] += matrix[r * cols + c] ** 2;
  }
  return Array.from({ length: cols }, (_, c) => c).sort((a, b) => norms[b] - norms[a] || a - b)
    .slice(0, k);
}

/**
 * Columns of a row-major `rows × cols` kernel as images: one `Float32Array` of `rows`
 * values per chosen column (hidden unit). For the first layer of an MNIST MLP each
 * image is a 28 × 28 picture of what that unit responds to.
 *
 * @example
 * ```ts
 * import { kernelColumns } from "nn/models/inspect.ts";
 * const k = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 rows × 2 columns
 * console.log(kernelColumns(k, 3, 2, [1])); // [Float32Array [2, 4, 6]]
 * ```
 */
export function kernelColumns(
  kernel: Float32Array,
  rows: number,
  cols: number,
  columns: number[],
): Float32Array[] {
  if (kernel.length !== rows * cols) {
    throw new RangeError(`kernelColumns: ${kernel.length} values for ${rows} × ${cols}.`);
  }
  return columns.map((c) => {
    if (!(c >= 0 && c < cols)) throw new RangeError(`Column ${c} is outside 0 … ${cols - 1}.`);
    const img = new Float32Array(rows);
    for (let r = 0; r < rows; r++) img[r] = kernel[r * cols + c];
    return img;
  });
}

/** Options for {@linkcode tileImages}. */
export interface TileOptions {
  /** Image height in pixels. Default 28. */
  height?: number;
  /** Image width in pixels. Default 28. */
  width?: number;
  /** Images per row of the grid. Default: ⌈√count⌉. */
  columns?: number;
  /** Blank pixels between images. Default 2. */
  gap?: number;
  /** Scale each image to its own max |value| (so faint units stay visible). Default true. */
  normalise?: boolean;
}

/**
 * Lays flat images out on a grid for one heatmap: rows of numbers, with `NaN` (drawn
 * blank by Plotly) in the gaps.
 *
 * @example
 * ```ts
 * import { tileImages } from "nn/models/inspect.ts";
 * const z = tileImages([new Float32Array(4), new Float32Array(4)], { height: 2, width: 2, gap: 1 });
 * console.log(z.length, z[0].length); // 2 5
 * ```
 */
export function tileImages(images: Float32Array[], options: TileOptions = {}): number[][] {
  const { height = 28, width = 28, gap = 2, normalise = true } = options;
  const count = images.length;
  if (count === 0) return [];
  const columns = options.columns ?? Math.ceil(Math.sqrt(count));
  const gridRows = Math.ceil(count / columns);
  const H = gridRows * height + (gridRows - 1) * gap;
  const W = columns * width + (columns - 1) * gap;
  const z = Array.from({ length: H }, () => new Array<number>(W).fill(NaN));
  images.forEach((img, k) => {
    if (img.length !== height * width) {
      throw new RangeError(
        `tileImages: image ${k} has ${img.length} values, not ${height}×${width}.`,
      );
    }
    const max = normalise ? img.reduce((m, v) => Math.max(m, Math.abs(v)), 0) : 0;
    const scale = max > 0 ? 1 / max : 1;
    const top = Math.floor(k / columns) * (height + gap);
    const left = (k % columns) * (width + gap);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) z[top + r][left + c] = img[r * width + c] * scale;
    }
  });
  return z;
}

/**
 * At most `max` values drawn without replacement by a seeded generator and rounded to 4
 * significant digits: enough for a histogram, small enough for a notebook output.
 *
 * @example
 * ```ts
 * import { sampleValues } from "nn/models/inspect.ts";
 * console.log(sampleValues(new Float32Array([0.123456, 2, 3]), 2, 0).length); // 2
 * ```
 */
export function sampleValues(values: ArrayLike<number>, max: number, seed: number): number[] {
  const order = new Rng(seed).fork("sample").permutation(values.length);
  const n = Math.min(max, values.length);
  return Array.from({ length: n }, (_, i) => Number(values[order[i]].toPrecision(4)));
}

/** Storage of one kernel, dense and as CSR. */
export interface KernelStorage {
  /** Layer name. */
  layer: string;
  /** Kernel shape. */
  shape: number[];
  /** Non-zero weights. */
  nnz: number;
  /** Bytes as a dense float32 array. */
  denseBytes: number;
  /** Bytes in CSR (float32 values, int32 indices). */
  csrBytes: number;
  /** Whether CSR → dense gives back the kernel exactly. */
  roundTrip: boolean;
}

/**
 * Each Dense kernel of a model stored dense and as CSR, with a check that the CSR form
 * expands back to the same kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { kernelStorage } from "nn/models/inspect.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
 * console.log((await kernelStorage(m))[0].denseBytes); // 48
 * ```
 */
export async function kernelStorage(model: tf.LayersModel): Promise<KernelStorage[]> {
  const rows: KernelStorage[] = [];
  const dense = model.layers.filter((l) => l.getClassName() === "Dense");
  for (let i = 0; i < dense.length; i++) {
    const values = await kernelValues(model, i);
    const [r, c] = dense[i].getWeights()[0].shape;
    const csr = csrFromDense(values, r, c);
    const back = csrToDense(csr);
    rows.push({
      layer: dense[i].name,
      shape: [r, c],
      nnz: csr.values.length,
      denseBytes: denseBytes(r, c),
      csrBytes: csrBytesFor(r, c, csr.values.length),
      roundTrip: back.every((v, j) => v === values[j]),
    });
  }
  return rows;
}
