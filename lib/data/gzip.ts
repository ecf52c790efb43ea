/**
 * gzip decompression with the Web `DecompressionStream` (no dependency), for the
 * compressed files under `data/`.
 *
 * @example
 * ```ts
 * import { gunzip } from "nn/data/mod.ts";
 * const packed = new Uint8Array(
 *   await new Response(new Blob(["hello"]).stream().pipeThrough(new CompressionStream("gzip")))
 *     .arrayBuffer(),
 * );
 * console.log(new TextDecoder().decode(await gunzip(packed))); // "hello"
 * ```
 * @module
 */

/**
 * The decompressed bytes of a gzip stream.
 *
 * @param bytes the gzip file's bytes
 * @param name shown in the error when the bytes are not gzip
 * @throws {Error} when the bytes are not a valid gzip stream
 */
export async function gunzip(bytes: Uint8Array, name = "the data"): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw new Error(
      `Cannot decompress ${name}: not a valid gzip stream (${(error as Error).message}).`,
    );
  }
}
