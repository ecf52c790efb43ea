/**
 * What the site says about an executed notebook, read from the notebook itself (claims,
 * backend report, charts, errors and cell timings travel in its outputs and metadata):
 * title, status, duration, backend, claims with the cell that makes each, and chart count.
 *
 * @example
 * ```ts
 * import { summarize } from "./summary.ts";
 * const s = summarize({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
 *   { cell_type: "markdown", metadata: {}, source: "# Dense networks\n" },
 * ] }, { fallbackTitle: "01_dense" });
 * console.log(s.title, s.status, s.claims.length); // Dense networks ok 0
 * ```
 * @module
 */

import { type Cell, cellTags, joinText, type Notebook, type Output } from "../notebook.ts";

/** Mime type of a Plotly figure. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";
/** Mime type of a claim (see lib/claims.ts). */
export const CLAIM_MIME = "application/vnd.neural-notebooks.claim+json";
/** Mime type of a backend report (see lib/backend.ts). */
export const BACKEND_MIME = "application/vnd.neural-notebooks.backend+json";

/** A claim as found in an output, with where it is made. */
export interface ClaimEntry {
  /** Claim id (unique within a notebook). */
  id: string;
  /** The measured value. */
  value: unknown;
  /** The rule as given. */
  rule: unknown;
  /** The rule in words. */
  ruleText: string;
  /** Whether the value satisfies the rule. */
  pass: boolean;
  /** Backend the value was measured on. */
  backend: string;
  /** The statement in words, if any. */
  statement?: string;
  /** Index of the cell that makes the claim. */
  cellIndex: number;
  /** Id of that cell, when it has one. */
  cellId?: string;
}

/** One error output. */
export interface ErrorEntry {
  /** Index of the cell. */
  cellIndex: number;
  /** Id of the cell. */
  cellId?: string;
  /** Error name. */
  ename: string;
  /** Error message. */
  evalue: string;
  /** Whether the cell is tagged `raises-exception` (the error is expected). */
  expected: boolean;
}

/** The status shown for a notebook: `ok`, `error`, `claims failed` or the runner's word. */
export type NotebookStatus = string;

/** What {@linkcode summarize} returns. */
export interface NotebookSummary {
  /** The first `# heading` of the first markdown cell, or the fallback title. */
  title: string;
  /**
   * `ok`, `error` (an error output outside `raises-exception` cells), `claims failed`, or a
   * status the runner recorded (`timeout`, `kernel died`, …), as the runner words them.
   */
  status: NotebookStatus;
  /** From the first cell's start to the last cell's reply, in ms (null without timings). */
  durationMs: number | null;
  /** Per code cell index: its duration in ms, when timed. */
  cellDurations: Map<number, number>;
  /** Backend from the backend report output, else from the claims, else null. */
  backend: string | null;
  /** The backend report (the JSON of the first backend output), if any. */
  backendReport: Record<string, unknown> | null;
  /** Claims in output order. */
  claims: ClaimEntry[];
  /** Error outputs in order. */
  errors: ErrorEntry[];
  /** Number of outputs carrying a Plotly figure. */
  charts: number;
}

/** Options for {@linkcode summarize}. */
export interface SummarizeOptions {
  /** Title when the notebook has no `# heading` (e.g. the file name). */
  fallbackTitle: string;
  /** A status the runner reported for this execution; wins over the derived one when worse. */
  runnerStatus?: string;
  /** A duration the runner reported (ms); wins over the one from cell timings. */
  runnerDurationMs?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The title of a notebook: the first `#` heading of its first markdown cell that has one. */
export function notebookTitle(nb: Notebook, fallback: string): string {
  for (const cell of nb.cells) {
    if (cell.cell_type !== "markdown") continue;
    const match = /^\s{0,3}#\s+(.+?)\s*#*\s*$/m.exec(joinText(cell.source));
    if (match) return match[1].replace(/[*_`]/g, "");
  }
  return fallback;
}

function time(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

/** A cell's [start, end] in epoch ms from the runner's/nbclient's `metadata.execution`. */
export function cellTiming(cell: Cell): [number, number] | undefined {
  const execution = cell.metadata?.execution;
  if (!isRecord(execution)) return undefined;
  const start = time(execution["iopub.status.busy"]) ?? time(execution["iopub.execute_input"]);
  const end = time(execution["shell.execute_reply"]) ?? time(execution["iopub.status.idle"]);
  const idle = time(execution["iopub.status.idle"]);
  if (start === undefined || end === undefined) return undefined;
  return [start, Math.max(end, idle ?? end)];
}

function asClaim(value: unknown, cellIndex: number, cellId?: string): ClaimEntry | undefined {
  if (!isRecord(value) || typeof value.id !== "string") return undefined;
  return {
    id: value.id,
    value: value.value,
    rule: value.rule,
    ruleText: typeof value.ruleText === "string" ? value.ruleText : JSON.stringify(value.rule),
    pass: value.pass === true,
    backend: typeof value.backend === "string" ? value.backend : "unknown",
    ...(typeof value.statement === "string" ? { statement: value.statement } : {}),
    cellIndex,
    ...(cellId ? { cellId } : {}),
  };
}

/**
 * What the project's runner recorded in an executed notebook
 * (`metadata["neural-notebooks"].run`): its status and duration.
 *
 * @example
 * ```ts
 * import { runnerRecord } from "./summary.ts";
 * console.log(runnerRecord({ nbformat: 4, nbformat_minor: 5, cells: [], metadata: {
 *   "neural-notebooks": { run: { status: "timeout", duration_s: 12.5 } } } }));
 * // { status: "timeout", durationMs: 12500 }
 * ```
 */
export function runnerRecord(nb: Notebook): { status?: string; durationMs?: number } {
  const meta = nb.metadata["neural-notebooks"];
  const run = isRecord(meta) && isRecord(meta.run) ? meta.run : {};
  return {
    ...(typeof run.status === "string" ? { status: run.status } : {}),
    ...(typeof run.duration_s === "number" && Number.isFinite(run.duration_s)
      ? { durationMs: Math.round(run.duration_s * 1000) }
      : {}),
  };
}

/** Outputs of a cell (code cells only; tolerant of broken notebooks). */
export function outputsOf(cell: Cell): Output[] {
  return cell.cell_type === "code" && Array.isArray(cell.outputs)
    ? cell.outputs.filter(isRecord) as Output[]
    : [];
}

/**
 * Summarises an executed notebook (see the module doc).
 *
 * @example
 * ```ts
 * import { summarize } from "./summary.ts";
 * const s = summarize({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{
 *   cell_type: "code", metadata: {}, source: "x", execution_count: 1,
 *   outputs: [{ output_type: "error", ename: "Error", evalue: "boom", traceback: [] }],
 * }] }, { fallbackTitle: "t" });
 * console.log(s.status, s.errors[0].evalue); // error boom
 * ```
 */
export function summarize(nb: Notebook, options: SummarizeOptions): NotebookSummary {
  const claims: ClaimEntry[] = [];
  const errors: ErrorEntry[] = [];
  const cellDurations = new Map<number, number>();
  let backendReport: Record<string, unknown> | null = null;
  let charts = 0;
  let first: number | undefined, last: number | undefined;

  nb.cells.forEach((cell, cellIndex) => {
    const cellId = typeof cell.id === "string" ? cell.id : undefined;
    const timing = cell.cell_type === "code" ? cellTiming(cell) : undefined;
    if (timing) {
      cellDurations.set(cellIndex, Math.max(0, timing[1] - timing[0]));
      first = Math.min(first ?? timing[0], timing[0]);
      last = Math.max(last ?? timing[1], timing[1]);
    }
    for (const output of outputsOf(cell)) {
      if (output.output_type === "error") {
        errors.push({
          cellIndex,
          ...(cellId ? { cellId } : {}),
          ename: String(output.ename ?? "Error"),
          evalue: String(output.evalue ?? ""),
          expected: cellTags(cell).includes("raises-exception"),
        });
        continue;
      }
      const data = isRecord(output.data) ? output.data : undefined;
      if (!data) continue;
      if (isRecord(data[PLOTLY_MIME])) charts++;
      const claim = asClaim(data[CLAIM_MIME], cellIndex, cellId);
      if (claim) claims.push(claim);
      if (backendReport === null && isRecord(data[BACKEND_MIME])) {
        backendReport = data[BACKEND_MIME] as Record<string, unknown>;
      }
    }
  });

  const reportBackend = (backendReport as Record<string, unknown> | null)?.backend;
  const backend = typeof reportBackend === "string"
    ? reportBackend
    : claims.find((c) => c.backend !== "unknown")?.backend ?? null;
  let status: NotebookStatus = errors.some((e) => !e.expected)
    ? "error"
    : claims.some((c) => !c.pass)
    ? "claims failed"
    : "ok";
  if (options.runnerStatus && options.runnerStatus !== "ok") status = options.runnerStatus;
  const durationMs = options.runnerDurationMs ??
    (first !== undefined && last !== undefined ? last - first : null);
  return {
    title: notebookTitle(nb, options.fallbackTitle),
    status,
    durationMs,
    cellDurations,
    backend,
    backendReport,
    claims,
    errors,
    charts,
  };
}

/**
 * Formats a duration for people: `850 ms`, `4.2 s`, `3 min 5 s`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./summary.ts";
 * console.log(formatDuration(4210), formatDuration(185000)); // 4.2 s 3 min 5 s
 * ```
 */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/**
 * Formats a claim value like the library does (4 significant digits for fractions).
 *
 * @example
 * ```ts
 * import { formatValue } from "./summary.ts";
 * console.log(formatValue(0.962345), formatValue(true)); // 0.9623 true
 * ```
 */
export function formatValue(value: unknown): string {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1000 ? value.toFixed(1) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === "string" || typeof value === "boolean") return String(value);
  return JSON.stringify(value) ?? String(value);
}
