/**
 * Shared helpers for the runner tests: paths, the CLI as a subprocess, building
 * notebooks in memory, and validation with Debian's python3-nbformat.
 *
 * @module
 */

import { fileURLToPath as fromFileUrl } from "node:url";
import { joinText, type Notebook, type Output } from "../../kernel/notebook.ts";
import type { RunReport } from "../../kernel/report.ts";

/** The project root (where deno.json is). */
export const ROOT: string = fromFileUrl(new URL("../../", import.meta.url));
/** The fixture notebooks. */
export const FIXTURES: string = fromFileUrl(new URL("../fixtures/notebooks/", import.meta.url));

/** Result of running the CLI. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A kernel/run.ts ARGS` from the project root (`env` added to NO_COLOR=1). */
export async function runCli(
  args: string[],
  cwd = ROOT,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}kernel/run.ts`, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** A notebook (nbformat 4.5, project kernelspec) with one code cell per source. */
export function notebookOf(sources: (string | { source: string; tags: string[] })[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: "neural-notebooks",
        display_name: "Neural Notebooks (Deno)",
        language: "typescript",
      },
    },
    cells: sources.map((s, i) => ({
      id: `cell-${i + 1}`,
      cell_type: "code",
      metadata: typeof s === "string" ? {} : { tags: s.tags },
      source: typeof s === "string" ? s : s.source,
      outputs: [],
      execution_count: null,
    })),
  };
}

/** The concatenated text of a cell's stream outputs named `name`. */
export function streamText(outputs: Output[] | undefined, name: "stdout" | "stderr"): string {
  return (outputs ?? [])
    .filter((o) => o.output_type === "stream" && o.name === name)
    .map((o) => joinText(o.text))
    .join("");
}

/** A text mime value of an output, joined. */
export function mimeText(output: Output | undefined, mime: string): string {
  const value = output?.data?.[mime];
  return typeof value === "string" || Array.isArray(value) ? joinText(value as string[]) : "";
}

const PYTHON = "/usr/bin/python3";

async function probeNbformat(): Promise<boolean> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import nbformat"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Whether Debian's python3-nbformat is importable by /usr/bin/python3. */
export const nbformatAvailable: boolean = await probeNbformat();
if (!nbformatAvailable) {
  console.log(
    "python3-nbformat is not installed: nbformat validation of executed notebooks is skipped " +
      "(apt-get install python3-nbformat; .ci/run installs it)",
  );
}

/** Validates notebook files with nbformat.validate; returns the error text, or "" when all are valid. */
export async function nbformatErrors(...paths: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import nbformat,sys\nfor p in sys.argv[1:]: nbformat.validate(nbformat.read(p, as_version=4))",
      ...paths,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.success ? "" : new TextDecoder().decode(out.stderr).slice(-2000);
}

/** A report with what differs between two equal runs (times, output folders) taken out. */
export function comparable(report: RunReport, outDir: string): unknown {
  return {
    notebooks: report.notebooks.map((n) => ({
      ...n,
      durationMs: 0,
      // Which cells are slowest depends on timing: keep only which cells ran.
      slowestCells: n.slowestCells.map((c) => c.index).sort(),
      output: n.output && n.output.slice(outDir.length),
    })),
    summary: report.summary,
    aggregate: report.aggregate,
    interrupted: report.interrupted,
  };
}
