/**
 * The reviewer's report of a run: per notebook status, duration, slowest cells, every
 * claim found in the outputs, the backend report and versions, as JSON
 * (`report.json`) and Markdown (`report.md`). Shard reports merge into one.
 *
 * Claims are outputs carrying `application/vnd.neural-notebooks.claim+json`
 * (`{id, value, rule, pass, backend}`); the backend report is an output carrying
 * `application/vnd.neural-notebooks.backend+json`.
 *
 * @example
 * ```ts
 * import { mergeReports, renderMarkdown, type RunReport } from "./report.ts";
 * const empty: RunReport = mergeReports([]);
 * console.log(renderMarkdown(empty).startsWith("# Notebook run report")); // true
 * ```
 * @module
 */

import type { CellRecord } from "./executor.ts";
import { joinText, type Notebook } from "./notebook.ts";

/** Version of this runner, written into reports. */
export const RUNNER_VERSION = "1.0.0";
/** Mime type of a claim. */
export const CLAIM_MIME = "application/vnd.neural-notebooks.claim+json";
/** Mime type of a backend report. */
export const BACKEND_MIME = "application/vnd.neural-notebooks.backend+json";

/** A claim as the library emits it, plus where it was found. */
export interface Claim {
  /** Claim id, unique within its notebook. */
  id: string;
  /** The measured value. */
  value: unknown;
  /** The rule it was checked against, e.g. `{ atLeast: 0.9 }`. */
  rule: unknown;
  /** The rule in words, e.g. `≥ 0.9`, when the claim says it. */
  ruleText?: string;
  /** The statement in words, when the claim has one. */
  statement?: string;
  /** Whether the value satisfies the rule. */
  pass: boolean;
  /** Backend the experiment ran on. */
  backend: unknown;
  /** 0-based index of the cell that stated it. */
  cell: number;
}

/** Status of one notebook. */
export type NotebookStatus =
  | "ok"
  | "claims failed"
  | "error"
  | "timeout"
  | "kernel died"
  | "interrupted"
  | "kernel failed to start";

/** One cell in the "slowest cells" list. */
export interface SlowCell {
  /** 0-based cell index. */
  index: number;
  /** Cell id. */
  id?: string;
  /** Duration in ms. */
  durationMs: number;
  /** First line of its source. */
  firstLine: string;
}

/** The report of one notebook. */
export interface NotebookReport {
  /** The input notebook path, as given. */
  notebook: string;
  /** The executed notebook path, or null when none was written. */
  output: string | null;
  /** Outcome. */
  status: NotebookStatus;
  /** Wall time in ms, kernel start to last output. */
  durationMs: number;
  /** The kernel that ran it. */
  kernel: { name: string; source: string; implementation?: string; version?: string };
  /** Code cell counts. */
  cells: { total: number; executed: number; failed: number };
  /** The slowest cells, slowest first (at most 5). */
  slowestCells: SlowCell[];
  /** The first failure: cell, error name and message. */
  failure?: { index: number; id?: string; ename: string; evalue: string };
  /** Every claim, in notebook order. */
  claims: Claim[];
  /** The last backend report in the outputs, or null. */
  backend: unknown;
  /** Parameters injected (including `profile`). */
  parameters: Record<string, unknown>;
  /** Warnings (kernel guessed, no parameters cell, …). */
  warnings: string[];
  /** Kernel restarts after timeouts or deaths. */
  restarts: number;
}

/** Versions of the things that produced the results. */
export interface Versions {
  /** This runner. */
  runner: string;
  /** Deno running the runner. */
  deno: string;
  /** V8 of that Deno. */
  v8: string;
  /** TypeScript of that Deno. */
  typescript: string;
  /** Each distinct kernel seen: implementation, version and language_info. */
  kernels: { implementation: string; version: string; language: string }[];
}

/** A whole run (or a merge of shard runs). */
export interface RunReport {
  /** Report format version. */
  format: 1;
  /** When the run started (ISO). */
  startedAt: string;
  /** When it finished (ISO). */
  finishedAt: string;
  /** Wall time in ms (for a merge: the sum of the shards' wall times). */
  durationMs: number;
  /** The shard this run was (`{index, count}`, 1-based), or the shards merged. */
  shards: { index: number; count: number }[];
  /** Options the run used. */
  options: Record<string, unknown>;
  /** Versions. */
  versions: Versions;
  /** One entry per notebook, sorted by path. */
  notebooks: NotebookReport[];
  /** Set when Ctrl-C / SIGTERM stopped the run: the signal and the notebooks never started. */
  interrupted?: { signal: string; notRun: string[] };
  /** Totals. */
  summary: {
    notebooks: number;
    ok: number;
    failed: number;
    claims: { total: number; passed: number; failed: number };
  };
}

function outputsWith(nb: Notebook, mime: string): { cell: number; value: unknown }[] {
  const found: { cell: number; value: unknown }[] = [];
  nb.cells.forEach((cell, index) => {
    for (const output of cell.outputs ?? []) {
      const data = output.data;
      if (data && mime in data) {
        let value = data[mime];
        if (typeof value === "string" || Array.isArray(value)) {
          try {
            value = JSON.parse(joinText(value as string | string[]));
          } catch { /* keep as is */ }
        }
        found.push({ cell: index, value });
      }
    }
  });
  return found;
}

/**
 * Every claim in a notebook's outputs, in order.
 *
 * @example
 * ```ts
 * import { extractClaims } from "./report.ts";
 * const claim = { id: "acc", value: 0.97, rule: { atLeast: 0.9 }, pass: true, backend: "cpu" };
 * const nb = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{
 *   cell_type: "code", metadata: {}, source: "",
 *   outputs: [{ output_type: "display_data", data: { "application/vnd.neural-notebooks.claim+json": claim } }],
 * }] };
 * console.log(extractClaims(nb)[0].pass); // true
 * ```
 */
export function extractClaims(nb: Notebook): Claim[] {
  return outputsWith(nb, CLAIM_MIME).map(({ cell, value }) => {
    const v = (value ?? {}) as Record<string, unknown>;
    return {
      id: String(v.id ?? ""),
      value: v.value,
      rule: v.rule,
      ...(typeof v.ruleText === "string" ? { ruleText: v.ruleText } : {}),
      ...(typeof v.statement === "string" ? { statement: v.statement } : {}),
      pass: v.pass === true,
      backend: v.backend ?? null,
      cell,
    };
  });
}

/**
 * The last backend report in a notebook's outputs, or null.
 *
 * @example
 * ```ts
 * import { extractBackend } from "./report.ts";
 * console.log(extractBackend({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] })); // null
 * ```
 */
export function extractBackend(nb: Notebook): unknown {
  return outputsWith(nb, BACKEND_MIME).at(-1)?.value ?? null;
}

/**
 * The `count` slowest executed cells, slowest first.
 *
 * @example
 * ```ts
 * import { slowestCells } from "./report.ts";
 * console.log(slowestCells([], 5)); // []
 * ```
 */
export function slowestCells(records: CellRecord[], count = 5): SlowCell[] {
  return records
    .filter((r) => r.status !== "not run")
    .sort((a, b) => b.durationMs - a.durationMs)
    .slice(0, count)
    .map((r) => ({ index: r.index, id: r.id, durationMs: r.durationMs, firstLine: r.firstLine }));
}

/**
 * Versions of this process (the kernel list is filled by the caller).
 *
 * @example
 * ```ts
 * import { localVersions } from "./report.ts";
 * console.log(localVersions().deno === Deno.version.deno); // true
 * ```
 */
export function localVersions(): Versions {
  return {
    runner: RUNNER_VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    kernels: [],
  };
}

/**
 * Whether a notebook status counts as a failure (non-zero exit code).
 *
 * @example
 * ```ts
 * import { isFailure } from "./report.ts";
 * console.log(isFailure("ok"), isFailure("claims failed")); // false true
 * ```
 */
export function isFailure(status: NotebookStatus): boolean {
  return status !== "ok";
}

/**
 * Recomputes the summary from the notebook entries.
 *
 * @example
 * ```ts
 * import { summarize } from "./report.ts";
 * console.log(summarize([]).notebooks); // 0
 * ```
 */
export function summarize(notebooks: NotebookReport[]): RunReport["summary"] {
  const claims = notebooks.flatMap((n) => n.claims);
  return {
    notebooks: notebooks.length,
    ok: notebooks.filter((n) => !isFailure(n.status)).length,
    failed: notebooks.filter((n) => isFailure(n.status)).length,
    claims: {
      total: claims.length,
      passed: claims.filter((c) => c.pass).length,
      failed: claims.filter((c) => !c.pass).length,
    },
  };
}

/**
 * Merges shard reports into one: notebooks sorted by path, summary recomputed, kernels
 * deduplicated, durations summed.
 *
 * @example
 * ```ts
 * import { mergeReports } from "./report.ts";
 * console.log(mergeReports([]).summary.notebooks); // 0
 * ```
 */
export function mergeReports(reports: RunReport[]): RunReport {
  const notebooks = reports.flatMap((r) => r.notebooks)
    .sort((a, b) => a.notebook.localeCompare(b.notebook));
  const versions = reports[0]?.versions ?? localVersions();
  const kernels = new Map<string, Versions["kernels"][number]>();
  for (const r of reports) {
    for (const k of r.versions.kernels) kernels.set(JSON.stringify(k), k);
  }
  const starts = reports.map((r) => r.startedAt).sort();
  const ends = reports.map((r) => r.finishedAt).sort();
  const now = new Date().toISOString();
  const stopped = reports.filter((r) => r.interrupted);
  return {
    format: 1,
    startedAt: starts[0] ?? now,
    finishedAt: ends.at(-1) ?? now,
    durationMs: reports.reduce((sum, r) => sum + r.durationMs, 0),
    shards: reports.flatMap((r) => r.shards)
      .sort((a, b) => a.count - b.count || a.index - b.index),
    options: reports[0]?.options ?? {},
    versions: { ...versions, kernels: [...kernels.values()] },
    notebooks,
    ...(stopped.length > 0
      ? {
        interrupted: {
          signal: [...new Set(stopped.map((r) => r.interrupted!.signal))].join(", "),
          notRun: stopped.flatMap((r) => r.interrupted!.notRun).sort(),
        },
      }
      : {}),
    summary: summarize(notebooks),
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function cellText(text: unknown): string {
  const s = typeof text === "string" ? text : JSON.stringify(text) ?? "";
  return s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function valueText(value: unknown): string {
  return typeof value === "number" && !Number.isInteger(value)
    ? String(Number(value.toPrecision(6)))
    : cellText(value);
}

function backendText(backend: unknown): string {
  if (backend === null || backend === undefined) return "";
  if (typeof backend === "string") return backend;
  const b = backend as Record<string, unknown>;
  const name = String(b.backend ?? "?");
  const adapter = b.adapter as { description?: string; fallback?: boolean } | null | undefined;
  if (name !== "webgpu" || !adapter) return name;
  return `${name} (${adapter.description ?? "adapter"}${adapter.fallback ? ", software" : ""})`;
}

/**
 * The report as Markdown: summary, notebook table, claims, failures, slowest cells, versions.
 *
 * @example
 * ```ts
 * import { mergeReports, renderMarkdown } from "./report.ts";
 * console.log(renderMarkdown(mergeReports([])).includes("## Claims")); // true
 * ```
 */
export function renderMarkdown(report: RunReport): string {
  const s = report.summary;
  const lines: string[] = ["# Notebook run report", ""];
  const shardText = report.shards.length === 1
    ? `, shard ${report.shards[0].index}/${report.shards[0].count}`
    : report.shards.length > 1
    ? `, ${report.shards.length} shards merged`
    : "";
  lines.push(
    `${s.notebooks} notebook(s): ${s.ok} ok, ${s.failed} failed. ` +
      `Claims: ${s.claims.passed} of ${s.claims.total} hold. ` +
      `Started ${report.startedAt}, ${seconds(report.durationMs)}${shardText}.`,
    "",
    ...(report.interrupted
      ? [
        `Interrupted by ${report.interrupted.signal}; not run: ` +
        (report.interrupted.notRun.map((p) => `\`${p}\``).join(", ") || "none") + ".",
        "",
      ]
      : []),
    "| notebook | status | duration | cells | claims | backend |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  for (const n of report.notebooks) {
    const passed = n.claims.filter((c) => c.pass).length;
    lines.push(
      `| ${cellText(n.notebook)} | ${n.status} | ${seconds(n.durationMs)} | ` +
        `${n.cells.executed}/${n.cells.total} | ${passed}/${n.claims.length} | ` +
        `${cellText(backendText(n.backend))} |`,
    );
  }
  lines.push("", "## Claims", "");
  const claims = report.notebooks.flatMap((n) => n.claims.map((c) => ({ n, c })));
  if (claims.length === 0) lines.push("No claims were stated.");
  else {
    lines.push(
      "| notebook | claim | value | rule | holds | backend |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const { n, c } of claims) {
      lines.push(
        `| ${cellText(n.notebook)} | ${cellText(c.id)} | ${valueText(c.value)} | ` +
          `${cellText(c.ruleText ?? c.rule)} | ${c.pass ? "yes" : "**no**"} | ${
            cellText(backendText(c.backend))
          } |`,
      );
    }
  }
  const failures = report.notebooks.filter((n) => n.failure || n.status !== "ok");
  lines.push("", "## Failures", "");
  if (failures.length === 0) lines.push("None.");
  for (const n of failures) {
    if (n.failure) {
      lines.push(
        `- ${n.notebook}: ${n.status} in cell ${n.failure.index + 1}` +
          `${n.failure.id ? ` (id ${n.failure.id})` : ""}: ${n.failure.ename}: ` +
          cellText(n.failure.evalue),
      );
    } else if (n.status === "claims failed") {
      const failed = n.claims.filter((c) => !c.pass).map((c) => c.id).join(", ");
      lines.push(`- ${n.notebook}: claims failed: ${failed}`);
    } else lines.push(`- ${n.notebook}: ${n.status}`);
  }
  const warned = report.notebooks.filter((n) => n.warnings.length > 0);
  if (warned.length > 0) {
    lines.push("", "## Warnings", "");
    for (const n of warned) for (const w of n.warnings) lines.push(`- ${n.notebook}: ${w}`);
  }
  lines.push(
    "",
    "## Slowest cells",
    "",
    "| notebook | cell | duration | source |",
    "| --- | --- | --- | --- |",
  );
  const slow = report.notebooks
    .flatMap((n) => n.slowestCells.map((c) => ({ n, c })))
    .sort((a, b) => b.c.durationMs - a.c.durationMs)
    .slice(0, 10);
  for (const { n, c } of slow) {
    lines.push(
      `| ${cellText(n.notebook)} | ${c.index + 1} | ${seconds(c.durationMs)} | ` +
        `\`${cellText(c.firstLine.slice(0, 60)).replace(/`/g, "'")}\` |`,
    );
  }
  const v = report.versions;
  lines.push(
    "",
    "## Versions",
    "",
    `- runner ${v.runner}, deno ${v.deno}, v8 ${v.v8}, typescript ${v.typescript}`,
  );
  for (const k of v.kernels) {
    lines.push(`- kernel: ${k.implementation} ${k.version} (${k.language})`);
  }
  const backends = new Set(
    report.notebooks.map((n) => n.backend).filter((b) => b !== null).map((b) => JSON.stringify(b)),
  );
  for (const b of backends) lines.push(`- backend: \`${b}\``);
  return lines.join("\n") + "\n";
}
