/**
 * Notebook cleaner (`deno task clean`): strips what execution adds to a notebook, in place,
 * so that notebooks are committed without outputs and diffs show only what an author wrote
 * (like nbstripout). Idempotent: cleaning a clean notebook changes nothing.
 *
 * What goes:
 * - code cells: `outputs` (emptied) and `execution_count` (null);
 * - cells tagged `injected-parameters` (the runner's and papermill's injected cell);
 * - cell metadata written by front ends or runners: `execution` (nbclient/runner timings),
 *   `ExecuteTime`, `collapsed`, `scrolled`, `heading_collapsed`, `hidden`,
 *   `jupyter.outputs_hidden`, `papermill`, `neural-notebooks`;
 * - notebook metadata that changes with the machine or the run: `widgets`, `papermill`,
 *   `signature`, `vscode`, `colab`, `neural-notebooks` (the runner's record), and everything in
 *   `language_info` but its `name` (the kernel rewrites it on every run, with its version;
 *   the name stays because viewers such as GitHub's use it to pick the highlighter).
 *
 * What stays: sources, cell ids (a missing id is added in nbformat ≥ 4.5, where ids are
 * required), tags and all other cell metadata (`editable`, `jupyter.source_hidden`, …),
 * markdown attachments, `kernelspec`, `language_info.name` and any other notebook metadata.
 *
 * Files are written in Jupyter's own layout (sorted keys, one-space indent, text as lists of
 * lines), atomically, and only when something changed. `--check` writes nothing and exits 1
 * listing the notebooks that are not clean (what would change).
 *
 * @example
 * ```ts
 * import { cleanNotebook } from "./clean.ts";
 * const { notebook, changes } = cleanNotebook({
 *   nbformat: 4, nbformat_minor: 5, metadata: { widgets: {} },
 *   cells: [{ id: "a", cell_type: "code", metadata: { tags: ["parameters"] }, source: "1",
 *     outputs: [{ output_type: "stream", name: "stdout", text: "1\n" }], execution_count: 3 }],
 * });
 * console.log(notebook.cells[0].outputs, notebook.cells[0].metadata, changes.length > 0);
 * // [] { tags: ["parameters"] } true
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { join, relative } from "node:path";
import {
  type Cell,
  cellTags,
  newCellId,
  type Notebook,
  NotebookError,
  parseNotebook,
  serializeNotebook,
  writeFileAtomic,
} from "./notebook.ts";

/** Cell metadata keys removed by {@linkcode cleanNotebook}. */
export const VOLATILE_CELL_METADATA: readonly string[] = [
  "execution",
  "ExecuteTime",
  "collapsed",
  "scrolled",
  "heading_collapsed",
  "hidden",
  "papermill",
  "neural-notebooks",
];

/** Notebook metadata keys removed by {@linkcode cleanNotebook}. */
export const VOLATILE_NOTEBOOK_METADATA: readonly string[] = [
  "widgets",
  "papermill",
  "signature",
  "vscode",
  "colab",
  "neural-notebooks",
];

/** The result of {@linkcode cleanNotebook}. */
export interface CleanResult {
  /** The cleaned notebook (a new object; the input is not modified). */
  notebook: Notebook;
  /** What was removed or added, one short phrase each; empty when the notebook was clean. */
  changes: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Returns a cleaned copy of a notebook and the list of what changed (see the module doc for
 * the rules). Pure: reads and writes no files.
 *
 * @example
 * ```ts
 * import { cleanNotebook } from "./clean.ts";
 * const nb = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] };
 * console.log(cleanNotebook(nb).changes); // []
 * ```
 */
export function cleanNotebook(input: Notebook): CleanResult {
  const nb = structuredClone(input) as Notebook;
  const changes: string[] = [];
  let outputs = 0, counts = 0, injected = 0, ids = 0;
  const cellKeys = new Set<string>();

  const kept: Cell[] = [];
  for (const cell of nb.cells) {
    if (cellTags(cell).includes("injected-parameters")) {
      injected++;
      continue;
    }
    if (!isRecord(cell.metadata)) cell.metadata = {};
    if (cell.cell_type === "code") {
      if (!Array.isArray(cell.outputs) || cell.outputs.length > 0) {
        outputs += Array.isArray(cell.outputs) ? cell.outputs.length : 1;
        cell.outputs = [];
      }
      if (cell.execution_count !== null) {
        counts++;
        cell.execution_count = null;
      }
    }
    for (const key of VOLATILE_CELL_METADATA) {
      if (key in cell.metadata) {
        cellKeys.add(key);
        delete cell.metadata[key];
      }
    }
    const jupyter = cell.metadata.jupyter;
    if (isRecord(jupyter) && "outputs_hidden" in jupyter) {
      cellKeys.add("jupyter.outputs_hidden");
      delete jupyter.outputs_hidden;
      if (Object.keys(jupyter).length === 0) delete cell.metadata.jupyter;
    }
    kept.push(cell);
  }
  nb.cells = kept;

  if (nb.nbformat === 4 && nb.nbformat_minor >= 5) {
    const taken = new Set(
      kept.map((c) => c.id).filter((id): id is string => typeof id === "string"),
    );
    for (const cell of kept) {
      if (typeof cell.id !== "string" || cell.id === "") {
        cell.id = newCellId(taken);
        taken.add(cell.id);
        ids++;
      }
    }
  }

  const notebookKeys: string[] = [];
  for (const key of VOLATILE_NOTEBOOK_METADATA) {
    if (key in nb.metadata) {
      notebookKeys.push(key);
      delete (nb.metadata as Record<string, unknown>)[key];
    }
  }
  const info = nb.metadata.language_info as unknown;
  if (info !== undefined) {
    const name = isRecord(info) && typeof info.name === "string" ? info.name : undefined;
    if (!isRecord(info) || Object.keys(info).some((k) => k !== "name")) {
      notebookKeys.push(name === undefined ? "language_info" : "language_info (all but name)");
      if (name === undefined) delete nb.metadata.language_info;
      else nb.metadata.language_info = { name };
    }
  }

  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (outputs) changes.push(`${plural(outputs, "output")} removed`);
  if (counts) changes.push(`${plural(counts, "execution count")} reset`);
  if (injected) changes.push(`${plural(injected, "injected-parameters cell")} removed`);
  if (cellKeys.size) changes.push(`cell metadata ${[...cellKeys].join(", ")} removed`);
  if (notebookKeys.length) changes.push(`notebook metadata ${notebookKeys.join(", ")} removed`);
  if (ids) changes.push(`${plural(ids, "missing cell id")} added`);
  return { notebook: nb, changes };
}

/** What {@linkcode cleanFile} found for one file. */
export interface FileCleanResult {
  /** The notebook's path. */
  path: string;
  /** Whether the file on disk was not clean (and, unless checking, has been rewritten). */
  dirty: boolean;
  /** What changed (see {@linkcode CleanResult}); "layout" when only the JSON layout differs. */
  changes: string[];
}

/** Options for {@linkcode cleanFile}. */
export interface CleanFileOptions {
  /** Only report; write nothing. */
  check?: boolean;
}

/**
 * Cleans one notebook file in place (atomically, only if it changes). A file counts as clean
 * when it is byte for byte what cleaning would write, so Jupyter's layout is enforced too.
 *
 * @example
 * ```ts
 * import { cleanFile } from "./clean.ts";
 * const path = await Deno.makeTempFile({ suffix: ".ipynb" });
 * await Deno.writeTextFile(path, JSON.stringify({ nbformat: 4, nbformat_minor: 5,
 *   metadata: {}, cells: [{ id: "a", cell_type: "code", metadata: {}, source: "1",
 *   outputs: [], execution_count: 1 }] }));
 * console.log((await cleanFile(path)).changes); // ["1 execution count reset", "layout"]
 * console.log((await cleanFile(path)).dirty); // false
 * await Deno.remove(path);
 * ```
 */
export async function cleanFile(
  path: string,
  options: CleanFileOptions = {},
): Promise<FileCleanResult> {
  const text = await Deno.readTextFile(path);
  const { notebook, changes } = cleanNotebook(parseNotebook(text, path));
  const cleaned = serializeNotebook(notebook);
  const dirty = cleaned !== text;
  if (dirty && changes.length === 0) changes.push("layout");
  else if (dirty && serializeNotebook(parseNotebook(text, path)) !== text) changes.push("layout");
  if (dirty && !options.check) await writeFileAtomic(path, cleaned);
  return { path, dirty, changes };
}

/**
 * Expands files and folders into the notebooks they name: a folder gives its `*.ipynb` files
 * (recursively, skipping hidden folders such as `.ipynb_checkpoints`), sorted.
 *
 * @example
 * ```ts ignore
 * import { findNotebooks } from "./clean.ts";
 * console.log(await findNotebooks(["notebooks"]));
 * ```
 */
export async function findNotebooks(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string) {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".ipynb")) found.push(path);
    }
  }
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch {
      throw new NotebookError(path, "no such file or folder");
    }
    if (info.isDirectory) await walk(path);
    else found.push(path);
  }
  return [...new Set(found)].sort();
}

const USAGE = `Usage: deno task clean [--check] [PATH ...]

Removes outputs, execution counts and volatile metadata from notebooks, in place.
PATH is a notebook or a folder of notebooks (default: notebooks/).

  --check   write nothing; exit 1 and list the notebooks that are not clean
  --help    show this help`;

/**
 * The command line: `deno run -A kernel/clean.ts [--check] [PATH ...]`. Returns the exit
 * code: 0 when everything is (now) clean, 1 when `--check` found dirty notebooks, 2 on
 * bad input.
 *
 * @example
 * ```ts ignore
 * import { main } from "./clean.ts";
 * Deno.exit(await main(["--check", "notebooks"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { check: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const check = parsed.values.check ?? false;
  const targets = parsed.positionals.length ? parsed.positionals : ["notebooks"];
  let dirty = 0, failed = 0;
  let files: string[];
  try {
    files = await findNotebooks(targets);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  for (const path of files) {
    const shown = relative(Deno.cwd(), path) || path;
    try {
      const result = await cleanFile(path, { check });
      if (result.dirty) {
        dirty++;
        const verb = check ? "not clean" : "cleaned";
        console.log(`${verb}: ${shown} (${result.changes.join("; ")})`);
      }
    } catch (error) {
      failed++;
      console.error(error instanceof NotebookError ? error.message : `${shown}: ${error}`);
    }
  }
  const total = `${files.length} notebook${files.length === 1 ? "" : "s"}`;
  if (check && dirty) {
    console.log(`${dirty} of ${total} not clean: run \`deno task clean\` and commit the result.`);
  } else if (!failed) {
    console.log(
      check ? `${total} clean.` : `${total} checked, ${dirty} cleaned.`,
    );
  }
  if (failed) return 2;
  return check && dirty ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
