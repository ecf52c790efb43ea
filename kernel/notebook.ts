/**
 * Jupyter notebook files (nbformat 4): read with one clear message per kind of broken
 * input, serialise the way Jupyter does (one-space indent, sorted keys, multi-line text
 * as lists of lines), and write atomically (temporary file, then rename).
 *
 * @example
 * ```ts
 * import { parseNotebook, serializeNotebook } from "./notebook.ts";
 * const nb = parseNotebook(JSON.stringify({
 *   nbformat: 4, nbformat_minor: 5,
 *   metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
 *   cells: [{ id: "a", cell_type: "code", metadata: {}, source: "1 + 1", outputs: [], execution_count: null }],
 * }), "example.ipynb");
 * console.log(nb.cells.length, serializeNotebook(nb).startsWith("{\n \"cells\"")); // 1 true
 * ```
 * @module
 */

import { basename, dirname, join } from "node:path";

/** Text as Jupyter stores it: a string or a list of lines. */
export type MultilineString = string | string[];

/** One output of a code cell (nbformat 4). */
export interface Output {
  /** `stream`, `display_data`, `execute_result` or `error`. */
  output_type: string;
  /** Stream name (`stdout`/`stderr`). */
  name?: string;
  /** Stream text. */
  text?: MultilineString;
  /** Mimebundle of a display or result. */
  data?: Record<string, unknown>;
  /** Output metadata. */
  metadata?: Record<string, unknown>;
  /** Execution count of an `execute_result`. */
  execution_count?: number | null;
  /** Error name. */
  ename?: string;
  /** Error message. */
  evalue?: string;
  /** Error traceback lines. */
  traceback?: string[];
  /** Anything else a writer put there. */
  [key: string]: unknown;
}

/** One notebook cell. */
export interface Cell {
  /** Cell id (nbformat 4.5). */
  id?: string;
  /** `code`, `markdown` or `raw`. */
  cell_type: string;
  /** Cell metadata (tags, execution timing, …). */
  metadata: Record<string, unknown>;
  /** Cell source. */
  source: MultilineString;
  /** Outputs (code cells). */
  outputs?: Output[];
  /** Execution count (code cells). */
  execution_count?: number | null;
  /** Anything else (attachments, …). */
  [key: string]: unknown;
}

/** A notebook (nbformat 4). */
export interface Notebook {
  /** Major format version, 4. */
  nbformat: number;
  /** Minor format version. */
  nbformat_minor: number;
  /** Notebook metadata (kernelspec, language_info, …). */
  metadata: Record<string, unknown> & {
    kernelspec?: { name?: string; display_name?: string; language?: string };
    language_info?: { name?: string };
  };
  /** The cells. */
  cells: Cell[];
}

/** Raised for input that is not a usable notebook; the message names the file and the fix. */
export class NotebookError extends Error {
  /** The file concerned. */
  readonly path: string;
  /** Creates a notebook error for `path`. */
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "NotebookError";
    this.path = path;
  }
}

/**
 * Joins a multi-line string stored as a list of lines.
 *
 * @example
 * ```ts
 * import { joinText } from "./notebook.ts";
 * console.log(joinText(["a\n", "b"])); // "a\nb"
 * ```
 */
export function joinText(text: MultilineString | undefined): string {
  if (text === undefined) return "";
  return Array.isArray(text) ? text.join("") : text;
}

/**
 * Splits text into lines that keep their line ends, like Python's `splitlines(True)`
 * on `\n` (what nbformat writes).
 *
 * @example
 * ```ts
 * import { splitLines } from "./notebook.ts";
 * console.log(splitLines("a\nb")); // ["a\n", "b"]
 * ```
 */
export function splitLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.length === 1 && lines[0] === "" ? [] : lines;
}

/**
 * Parses and checks notebook JSON; throws {@linkcode NotebookError} with one clear message.
 *
 * @example
 * ```ts
 * import { parseNotebook } from "./notebook.ts";
 * try {
 *   parseNotebook("not json", "broken.ipynb");
 * } catch (error) {
 *   console.log((error as Error).message.startsWith("broken.ipynb: not JSON")); // true
 * }
 * ```
 */
export function parseNotebook(text: string, path: string): Notebook {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new NotebookError(
      path,
      `not JSON (${(error as Error).message}); is it really a .ipynb file?`,
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new NotebookError(path, "not a Jupyter notebook (the JSON is not an object)");
  }
  const nb = json as Partial<Notebook>;
  if (nb.nbformat !== 4) {
    const found = nb.nbformat === undefined ? "no nbformat field" : `nbformat ${nb.nbformat}`;
    throw new NotebookError(
      path,
      `${found}; the runner reads nbformat 4 notebooks ` +
        "(convert with `jupyter nbconvert --to notebook --nbformat 4`)",
    );
  }
  if (!Array.isArray(nb.cells)) {
    throw new NotebookError(path, 'not a Jupyter notebook (no "cells" list)');
  }
  nb.cells.forEach((cell, i) => {
    if (
      cell === null || typeof cell !== "object" || typeof cell.cell_type !== "string" ||
      (typeof cell.source !== "string" && !Array.isArray(cell.source))
    ) {
      throw new NotebookError(path, `cell ${i + 1} has no cell_type or source`);
    }
    cell.metadata ??= {};
  });
  if (typeof nb.nbformat_minor !== "number") nb.nbformat_minor = 0;
  if (nb.metadata === null || typeof nb.metadata !== "object") nb.metadata = {};
  return nb as Notebook;
}

/**
 * Reads a notebook file; throws {@linkcode NotebookError} when it is unreadable or broken.
 *
 * @example
 * ```ts ignore
 * import { readNotebook } from "./notebook.ts";
 * const nb = await readNotebook("notebooks/01_dense.ipynb");
 * ```
 */
export async function readNotebook(path: string): Promise<Notebook> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Deno.errors.IsADirectory
      ? "is a directory, not a notebook"
      : (error as Error).message;
    throw new NotebookError(path, `cannot read the file (${reason})`);
  }
  return parseNotebook(text, path);
}

/**
 * Cell tags (`metadata.tags`), or an empty list.
 *
 * @example
 * ```ts
 * import { cellTags } from "./notebook.ts";
 * console.log(cellTags({ cell_type: "code", metadata: { tags: ["parameters"] }, source: "" })); // ["parameters"]
 * ```
 */
export function cellTags(cell: Cell): string[] {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === "string") : [];
}

/**
 * A fresh nbformat 4.5 cell id (8 hex digits of a UUID, like Jupyter's), not in `taken`.
 *
 * @example
 * ```ts
 * import { newCellId } from "./notebook.ts";
 * console.log(/^[0-9a-f]{8}$/.test(newCellId())); // true
 * ```
 */
export function newCellId(taken: Set<string> = new Set()): string {
  while (true) {
    const id = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
    if (!taken.has(id)) return id;
  }
}

/** Mime types whose string values nbformat keeps whole (JSON) rather than split into lines. */
function isJsonMime(mime: string): boolean {
  return mime === "application/json" || mime.endsWith("+json");
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

/** A copy of a cell with multi-line text split into lines, as nbformat writes it. */
function splitCell(cell: Cell): Cell {
  const out: Cell = { ...cell, source: splitLines(joinText(cell.source)) };
  if (Array.isArray(cell.outputs)) {
    out.outputs = cell.outputs.map((output) => {
      const copy: Output = { ...output };
      if (typeof output.text === "string" || Array.isArray(output.text)) {
        copy.text = splitLines(joinText(output.text));
      }
      if (output.data && typeof output.data === "object") {
        const data: Record<string, unknown> = {};
        for (const [mime, value] of Object.entries(output.data)) {
          data[mime] = !isJsonMime(mime) && typeof value === "string" ? splitLines(value) : value;
        }
        copy.data = data;
      }
      return copy;
    });
  }
  return out;
}

/**
 * Serialises a notebook like nbformat: sorted keys, one-space indent, text split into lines,
 * a final newline.
 *
 * @example
 * ```ts
 * import { serializeNotebook } from "./notebook.ts";
 * const text = serializeNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });
 * console.log(text); // {\n "cells": [],\n "metadata": {},\n "nbformat": 4,\n "nbformat_minor": 5\n}\n
 * ```
 */
export function serializeNotebook(nb: Notebook): string {
  const copy = { ...nb, cells: nb.cells.map(splitCell) };
  return JSON.stringify(sortKeys(copy), null, 1) + "\n";
}

/**
 * Writes text atomically: a temporary file in the same folder, then a rename, so that
 * readers never see a half-written file. Creates the folder if needed.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./notebook.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a/b.txt`, "hello");
 * console.log(await Deno.readTextFile(`${dir}/a/b.txt`)); // hello
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/**
 * Writes a notebook atomically (see {@linkcode writeFileAtomic}).
 *
 * @example
 * ```ts ignore
 * import { readNotebook, writeNotebook } from "./notebook.ts";
 * await writeNotebook("out/copy.ipynb", await readNotebook("notebooks/01_dense.ipynb"));
 * ```
 */
export async function writeNotebook(path: string, nb: Notebook): Promise<void> {
  await writeFileAtomic(path, serializeNotebook(nb));
}
