/**
 * Reading the files under `data/` with their sha256 checked against `data/manifest.json`.
 *
 * The data folder is found relative to this module (`import.meta.url`), not the
 * current directory, so a notebook in any folder reads the same files.
 *
 * @example
 * ```ts
 * import { loadText } from "nn/data/mod.ts";
 * const text = await loadText("sentiment/yelp.json"); // throws DataFileError on a bad hash
 * console.log(text.length);
 * ```
 * @module
 */

import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One entry of `data/manifest.json`. */
export interface ManifestEntry {
  /** Lower-case hex sha256 of the file's bytes. */
  sha256: string;
  /** Size in bytes. */
  bytes: number;
  /** Where the file came from (package, version and path, or a URL). */
  source: string;
  /** SPDX licence identifier of the file's content, e.g. `CC-BY-4.0`. */
  licence: string;
}

/** The shape of `data/manifest.json`: file path (relative to `data/`, with `/`) to entry. */
export interface Manifest {
  /** One entry per file, keyed by its path relative to `data/`. */
  files: Record<string, ManifestEntry>;
}

/** Options shared by the data-file readers. */
export interface DataFileOptions {
  /**
   * The data folder (a path or a URL, with or without a trailing slash); defaults to
   * the repository's `data/` folder, found from this module's location. Tests point it
   * at a temporary folder.
   */
  dataDir?: string | URL;
}

/**
 * Thrown when a data file is missing, not listed in the manifest, or does not match
 * its recorded sha256. `actual` is the file's hash, or `"missing"`.
 *
 * @example
 * ```ts
 * import { DataFileError, readDataFile } from "nn/data/mod.ts";
 * try {
 *   await readDataFile("no/such/file.txt");
 * } catch (error) {
 *   console.log(error instanceof DataFileError); // true
 * }
 * ```
 */
export class DataFileError extends Error {
  /** The file's name relative to the data folder. */
  readonly file: string;
  /** The sha256 the manifest records, or `"unlisted"` when the manifest has no entry. */
  readonly expected: string;
  /** The sha256 of the bytes found, `"missing"` when there is no file, or `"unread"`. */
  readonly actual: string;

  /**
   * Makes the error; the data readers throw it, user code only catches it.
   *
   * @param file the file's name relative to the data folder
   * @param expected the recorded sha256
   * @param actual the found sha256 or `"missing"`
   * @param message the full message
   */
  constructor(file: string, expected: string, actual: string, message: string) {
    super(message);
    this.name = "DataFileError";
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The default data folder: `data/` at the repository root, found from this module.
 *
 * @example
 * ```ts
 * import { defaultDataDir } from "nn/data/mod.ts";
 * console.log(defaultDataDir().href.endsWith("/data/")); // true
 * ```
 */
export function defaultDataDir(): URL {
  return new URL("../../data/", import.meta.url);
}

function dirUrl(dataDir: string | URL | undefined): URL {
  if (dataDir === undefined) return defaultDataDir();
  let url: URL;
  if (dataDir instanceof URL) {
    url = new URL(dataDir.href);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dataDir)) {
    url = new URL(dataDir);
  } else {
    url = pathToFileURL(resolve(dataDir));
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

function displayPath(url: URL): string {
  return url.protocol === "file:" ? fileURLToPath(url) : url.href;
}

/** Reads bytes from a file: URL (Deno.readFile) or any other URL (fetch); null when absent. */
async function readUrl(url: URL): Promise<Uint8Array | null> {
  if (url.protocol === "file:") {
    try {
      return await Deno.readFile(url);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }
  const response = await fetch(url);
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`Cannot fetch ${url.href}: HTTP ${response.status} ${response.statusText}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * The sha256 of some bytes as lower-case hex, computed with WebCrypto.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "nn/data/mod.ts";
 * const hex = await sha256Hex(new TextEncoder().encode("abc"));
 * console.log(hex.startsWith("ba7816bf")); // true
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads and validates `manifest.json` of a data folder.
 *
 * @example
 * ```ts
 * import { readManifest } from "nn/data/mod.ts";
 * const manifest = await readManifest();
 * console.log(Object.keys(manifest.files).includes("sentiment/imdb.json")); // true
 * ```
 */
export async function readManifest(options: DataFileOptions = {}): Promise<Manifest> {
  const dir = dirUrl(options.dataDir);
  const url = new URL("manifest.json", dir);
  const bytes = await readUrl(url);
  if (bytes === null) {
    throw new Error(
      `No data manifest at ${displayPath(url)}: the data folder is incomplete. ` +
        `Restore it from git (git checkout -- data/) or pass the right dataDir.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(
      `The data manifest ${displayPath(url)} is not valid JSON (${(error as Error).message}): ` +
        `restore it from git (git checkout -- data/manifest.json).`,
    );
  }
  const files = (parsed as { files?: unknown })?.files;
  if (typeof files !== "object" || files === null) {
    throw new Error(
      `The data manifest ${displayPath(url)} has no "files" object: ` +
        `expected {"files": {"<name>": {"sha256", "bytes", "source", "licence"}}}.`,
    );
  }
  for (const [name, entry] of Object.entries(files as Record<string, unknown>)) {
    const e = entry as Partial<ManifestEntry>;
    if (typeof e?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      throw new Error(
        `The data manifest ${displayPath(url)} has no valid sha256 for "${name}": ` +
          `record the file's lower-case hex sha256 (sha256sum data/${name}).`,
      );
    }
  }
  return parsed as Manifest;
}

/**
 * Reads a file of the data folder and checks its sha256 against the manifest.
 *
 * @param name the file's path relative to the data folder, with `/`, e.g. `sentiment/imdb.json`
 * @throws {DataFileError} when the file is unlisted, missing, or its hash differs; the
 *   message names the file, the expected and actual hash, and what to do.
 *
 * @example
 * ```ts
 * import { readDataFile } from "nn/data/mod.ts";
 * const bytes = await readDataFile("sentiment/amazon.json");
 * console.log(bytes.length); // 77271
 * ```
 */
export async function readDataFile(
  name: string,
  options: DataFileOptions = {},
): Promise<Uint8Array> {
  const dir = dirUrl(options.dataDir);
  const manifest = await readManifest(options);
  const entry = Object.hasOwn(manifest.files, name) ? manifest.files[name] : undefined;
  const url = new URL(name.split("/").map(encodeURIComponent).join("/"), dir);
  const where = displayPath(url);
  if (entry === undefined) {
    throw new DataFileError(
      name,
      "unlisted",
      "unread",
      `Data file "${name}" is not listed in ${displayPath(new URL("manifest.json", dir))}. ` +
        `Known files: ${Object.keys(manifest.files).join(", ") || "(none)"}. ` +
        `To add a file, record its sha256, bytes, source and licence in the manifest ` +
        `and in data/README.md.`,
    );
  }
  const bytes = await readUrl(url);
  if (bytes === null) {
    throw new DataFileError(
      name,
      entry.sha256,
      "missing",
      `Data file "${name}" failed its sha256 check: expected ${entry.sha256}, actual missing ` +
        `(no file at ${where}). Restore it from git (git checkout -- data/${name}) or fetch it ` +
        `again from its source: ${entry.source}.`,
    );
  }
  const actual = await sha256Hex(bytes);
  if (actual !== entry.sha256) {
    throw new DataFileError(
      name,
      entry.sha256,
      actual,
      `Data file "${name}" failed its sha256 check: expected ${entry.sha256}, actual ${actual} ` +
        `(${bytes.length} bytes at ${where}, manifest says ${entry.bytes}). The file is ` +
        `corrupt or was changed: restore it from git (git checkout -- data/${name}) or fetch it ` +
        `again from its source (${entry.source}); if you changed it on purpose, update ` +
        `data/manifest.json and data/README.md with the new hash.`,
    );
  }
  return bytes;
}

/**
 * Reads a data file as UTF-8 text after checking its sha256.
 *
 * @example
 * ```ts
 * import { loadText } from "nn/data/mod.ts";
 * const text = await loadText("sentiment/yelp.json");
 * console.log(text.startsWith("[")); // true
 * ```
 */
export async function loadText(name: string, options: DataFileOptions = {}): Promise<string> {
  const bytes = await readDataFile(name, options);
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/**
 * Reads a data file as JSON after checking its sha256.
 *
 * @example
 * ```ts
 * import { loadJson } from "nn/data/mod.ts";
 * const rows = await loadJson<{ text: string; class: number | null }[]>("sentiment/yelp.json");
 * console.log(rows[0].text); // "Wow... Loved this place."
 * ```
 */
export async function loadJson<T = unknown>(
  name: string,
  options: DataFileOptions = {},
): Promise<T> {
  return JSON.parse(await loadText(name, options)) as T;
}
