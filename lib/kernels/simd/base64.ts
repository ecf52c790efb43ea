/**
 * Base64 of bytes and back (the standard alphabet, with padding), for the wasm module
 * embedded in `kernels_wasm.ts`. JSR's `@std/encoding` is out of reach here, and `atob`
 * works on binary strings, so these two wrap it.
 *
 * @example
 * ```ts
 * import { decodeBase64, encodeBase64 } from "nn/kernels/simd/base64.ts";
 * console.log(decodeBase64(encodeBase64(new Uint8Array([0, 97, 115, 109])))); // Uint8Array(4) [0, 97, 115, 109]
 * ```
 * @module
 */

/** Bytes to base64. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Base64 to bytes. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
