/**
 * Reading tensors on every backend, and one clear error where a synchronous read cannot work.
 *
 * tfjs's webgpu backend reads GPU memory synchronously (`dataSync`, `arraySync`, `print`,
 * `toString`, `bufferSync`) by drawing the buffer into an `OffscreenCanvas` and reading it
 * back through a 2-D context. Deno's `OffscreenCanvas` has a `webgpu` context but no `2d`
 * one, so there such a read failed deep inside tfjs with
 * `TypeError: Cannot read properties of null (reading 'clearRect')` — on every GPU, not only
 * on a software adapter. Importing the library replaces that failure with a
 * {@linkcode SyncReadError} naming the asynchronous call to use instead; reads that work
 * (values already on the CPU, strings) are left alone, and so is every runtime whose
 * `OffscreenCanvas` has a 2-D context (a browser).
 *
 * {@linkcode print} is the asynchronous form of tfjs's `print` method: it downloads the values with
 * `await tensor.data()` (tfjs keeps them on the CPU afterwards) and prints tfjs's own
 * formatting, on every backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { print, setupBackend } from "nn";
 * await setupBackend({ backend: "cpu" });
 * await print(tf.tensor1d([1, 2, 3])); // Tensor\n    [1, 2, 3]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";

/** Raised by a synchronous read of a tensor that lives in GPU memory, where it cannot work. */
export class SyncReadError extends Error {
  constructor(what: string) {
    super(
      `A synchronous read (dataSync(), arraySync(), print(), toString() or bufferSync()) of a ` +
        `${what} tensor cannot work here: tfjs reads GPU memory synchronously through an ` +
        `OffscreenCanvas 2-D context, which Deno does not have. Read it asynchronously: ` +
        "`await tensor.data()`, `await tensor.array()`, `await tensor.buffer()` or " +
        "`await nn.print(tensor)`.",
    );
    this.name = "SyncReadError";
  }
}

interface TensorDataLike {
  values?: unknown;
  dtype?: string;
}
interface BackendLike {
  tensorMap: { get(dataId: object): TensorDataLike | undefined };
  readSync(dataId: object): unknown;
}

/** Whether tfjs's synchronous GPU read can work: an `OffscreenCanvas` with a 2-D context. */
function canvasCanReadBack(): boolean {
  const Canvas = (globalThis as { OffscreenCanvas?: new (w: number, h: number) => unknown })
    .OffscreenCanvas;
  if (typeof Canvas !== "function") return false;
  try {
    const canvas = new Canvas(1, 1) as { getContext(kind: string): unknown };
    return canvas.getContext("2d") != null;
  } catch {
    return false;
  }
}

const GUARDED = Symbol.for("neural-notebooks.syncReadGuard");

/**
 * Makes a synchronous read of a GPU-resident tensor on the webgpu backend throw
 * {@linkcode SyncReadError} instead of failing inside tfjs. Does nothing where an
 * `OffscreenCanvas` with a 2-D context exists (the read works there) or when already installed. Returns
 * whether the guard is in place. Importing the library calls it.
 *
 * @example
 * ```ts
 * import { guardSyncReads } from "nn";
 * console.log(guardSyncReads()); // true under Deno
 * ```
 */
export function guardSyncReads(): boolean {
  if (canvasCanReadBack()) return false;
  const proto = WebGPUBackend.prototype as unknown as BackendLike & { [GUARDED]?: true };
  if (proto[GUARDED]) return true;
  const readSync = proto.readSync;
  proto.readSync = function (this: BackendLike, dataId: object) {
    const data = this.tensorMap.get(dataId);
    // on the CPU already (or a string tensor, kept on the CPU): tfjs's own read works
    const onCpu = data === undefined || data.values != null || data.dtype === "string";
    if (!onCpu && data.dtype !== "complex64") throw new SyncReadError("WebGPU");
    return readSync.call(this, dataId);
  };
  Object.defineProperty(proto, GUARDED, { value: true });
  return true;
}

guardSyncReads();

/**
 * Prints a tensor as tfjs's `print` method does, on every backend: the values are read with
 * `await tensor.data()` first, so nothing is read synchronously from GPU memory.
 *
 * @param x the tensor to print
 * @param options `verbose` adds dtype, rank and shape (as `tensor.print(true)`); `log` is the
 * function that prints (default `console.log`)
 * @returns the printed text
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { print } from "nn";
 * const text = await print(tf.tensor2d([[1, 2], [3, 4]]), { verbose: true });
 * console.log(text.includes("shape: [2,2]")); // true
 * ```
 */
export async function print(
  x: tf.Tensor,
  options: { verbose?: boolean; log?: (text: string) => void } = {},
): Promise<string> {
  await x.data(); // tfjs keeps the downloaded values on the CPU: toString then reads those
  const text = x.toString(options.verbose ?? false);
  (options.log ?? console.log)(text);
  return text;
}
