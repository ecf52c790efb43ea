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
import { pointText, type SweepPoint } from "./sweep.ts";

/** Version of this runner, written into reports. */
export const RUNNER_VERSION = "1.0.0";
/** Mime type of a claim. */
export const CLAIM_MIME = "application/vnd.neural-notebooks.claim+json";
/** Mime type of a backend report. */
export const BACKEND_MIME = "application/vnd.neural-notebooks.backend+json";
/** The mime type of a model the notebook published (`nn.publishModel`). */
export const MODEL_MIME = "application/vnd.neural-notebooks.model+json";

/** A model a notebook published, as the report lists it. */
export interface PublishedModelRecord {
  /** Its name: the folder `<out>/<notebook>.models/<name>/`. */
  name: string;
  /** The live panel it drives (sentiment, seq2seq, generate, digits). */
  demo: string;
  /** Per network: label, parameters and bytes of float32 weights. */
  networks: { label: string; params: number; weightBytes: number }[];
  /** The code cell (0-based among all cells) that published it. */
  cell: number;
}

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
  /** The profile it ran with, injected or the parameters cell's default (absent: none). */
  profile?: string;
  /** Warnings (kernel guessed, no parameters cell, …). */
  warnings: string[];
  /** Kernel restarts after timeouts or deaths. */
  restarts: number;
  /** The sweep point of this run (`--seeds`, `--grid`), when the run was a sweep. */
  sweep?: SweepPoint;
  /** 0-based index of this run in the whole (unsharded) job list: sorts shards back in order. */
  job?: number;
  /** Models it published for the site's live panels (absent: none). */
  models?: PublishedModelRecord[];
}

/** How a claim fared over the runs of one notebook: every seed, some, or none. */
export type Verdict = "robust" | "fragile" | "fails";

/** One claim over the runs of a notebook that differ only in their seed. */
export interface ClaimAggregate {
  /** The notebook. */
  notebook: string;
  /** The swept parameters other than `seed` that these runs share (empty: none). */
  group: SweepPoint;
  /** Claim id. */
  id: string;
  /** The rule in words, from the first run that stated it. */
  ruleText?: string;
  /** The rule as given, from the first run that stated it. */
  rule: unknown;
  /** The statement, from the first run that stated it. */
  statement?: string;
  /** Runs of this notebook in the group. */
  runs: number;
  /** Runs in which the claim was stated and held. */
  passes: number;
  /** Runs that did not state it (the notebook stopped before it). */
  missing: number;
  /** Each run's value, with its seed (null without one), in run order. */
  values: { seed: number | null; value: unknown; pass: boolean }[];
  /** Statistics of the numeric values (null when fewer than one numeric value). */
  stats: {
    n: number;
    median: number;
    min: number;
    max: number;
    mean: number;
    /** Sample standard deviation (0 for one value). */
    sd: number;
    /** 95 % t-interval of the mean over the runs, [low, high] (null for one value). */
    ci95: [number, number] | null;
  } | null;
  /** robust: holds in every run; fragile: in some; fails: in none. */
  verdict: Verdict;
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
  /** Each claim over the runs of its notebook, when some notebook ran more than once. */
  aggregate?: ClaimAggregate[];
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
 * The models a notebook published (`nn.publishModel`), from its outputs.
 *
 * @example
 * ```ts
 * import { extractModels } from "./report.ts";
 * console.log(extractModels({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] })); // []
 * ```
 */
export function extractModels(nb: Notebook): PublishedModelRecord[] {
  return outputsWith(nb, MODEL_MIME).map(({ cell, value }) => {
    const v = value as {
      name?: unknown;
      demo?: { demo?: unknown };
      networks?: { label?: unknown; params?: unknown; weightBytes?: unknown }[];
    };
    return {
      name: String(v.name ?? ""),
      demo: String(v.demo?.demo ?? ""),
      networks: (Array.isArray(v.networks) ? v.networks : []).map((n) => ({
        label: String(n.label ?? ""),
        params: Number(n.params ?? 0),
        weightBytes: Number(n.weightBytes ?? 0),
      })),
      cell,
    };
  });
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

/** Two-sided 95 % quantiles of Student's t (0.975 quantile) for 1–30, 40, 60 and 120 df. */
const T975: [number, number][] = [
  [1, 12.7062],
  [2, 4.3027],
  [3, 3.1824],
  [4, 2.7764],
  [5, 2.5706],
  [6, 2.4469],
  [7, 2.3646],
  [8, 2.306],
  [9, 2.2622],
  [10, 2.2281],
  [11, 2.201],
  [12, 2.1788],
  [13, 2.1604],
  [14, 2.1448],
  [15, 2.1314],
  [16, 2.1199],
  [17, 2.1098],
  [18, 2.1009],
  [19, 2.093],
  [20, 2.086],
  [21, 2.0796],
  [22, 2.0739],
  [23, 2.0687],
  [24, 2.0639],
  [25, 2.0595],
  [26, 2.0555],
  [27, 2.0518],
  [28, 2.0484],
  [29, 2.0452],
  [30, 2.0423],
  [40, 2.0211],
  [60, 2.0003],
  [120, 1.9799],
];

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom (the half-width factor of
 * a 95 % interval): tabulated to 4 decimals, interpolated linearly in 1/df between table
 * rows and towards the normal 1.96 beyond 120.
 *
 * @example
 * ```ts
 * import { tQuantile975 } from "./report.ts";
 * console.log(tQuantile975(9)); // 2.2622
 * ```
 */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  const rows: [number, number][] = [...T975, [Infinity, 1.96]];
  for (let i = 0; i < rows.length; i++) {
    if (df === rows[i][0]) return rows[i][1];
    if (df < rows[i][0]) {
      const [d0, t0] = rows[i - 1];
      const [d1, t1] = rows[i];
      const x = (1 / df - 1 / d0) / (1 / d1 - 1 / d0);
      return t0 + x * (t1 - t0);
    }
  }
  return 1.96;
}

/**
 * Median, min, max, mean, sample sd and the 95 % t-interval of the mean (null for one value).
 *
 * @example
 * ```ts
 * import { describe } from "./report.ts";
 * console.log(describe([1, 2, 3, 4]).median); // 2.5
 * ```
 */
export function describe(values: number[]): NonNullable<ClaimAggregate["stats"]> {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const sd = n > 1 ? Math.sqrt(sorted.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? tQuantile975(n - 1) * sd / Math.sqrt(n) : NaN;
  return {
    n,
    median,
    min: sorted[0],
    max: sorted[n - 1],
    mean,
    sd,
    ci95: n > 1 ? [mean - half, mean + half] : null,
  };
}

function numeric(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return undefined;
}

/**
 * Each claim over the runs of its notebook that differ only in `seed` (runs sharing their
 * other swept parameters form a group): k of n holds, the values' statistics and a verdict.
 * Returns an empty list when no notebook ran more than once.
 *
 * @example
 * ```ts
 * import { aggregateClaims, type NotebookReport } from "./report.ts";
 * const run = (seed: number, value: number): NotebookReport => ({
 *   notebook: "a.ipynb", output: null, status: "ok", durationMs: 0,
 *   kernel: { name: "k", source: "built-in" }, cells: { total: 1, executed: 1, failed: 0 },
 *   slowestCells: [], backend: null, parameters: { seed }, warnings: [], restarts: 0,
 *   sweep: { seed }, claims: [{ id: "c", value, rule: { atLeast: 1 }, pass: value >= 1,
 *     backend: "cpu", cell: 0 }],
 * });
 * const [c] = aggregateClaims([run(0, 2), run(1, 0.5)]);
 * console.log(c.passes, c.runs, c.verdict); // 1 2 fragile
 * ```
 */
export function aggregateClaims(notebooks: NotebookReport[]): ClaimAggregate[] {
  const groups = new Map<string, { notebook: string; group: SweepPoint; runs: NotebookReport[] }>();
  for (const n of notebooks) {
    const { seed: _, ...group } = n.sweep ?? {};
    const key = JSON.stringify([n.notebook, group]);
    const g = groups.get(key) ?? { notebook: n.notebook, group, runs: [] };
    g.runs.push(n);
    groups.set(key, g);
  }
  if (![...groups.values()].some((g) => g.runs.length > 1)) return [];
  const out: ClaimAggregate[] = [];
  for (const g of groups.values()) {
    const ids: string[] = [];
    for (const r of g.runs) for (const c of r.claims) if (!ids.includes(c.id)) ids.push(c.id);
    for (const id of ids) {
      const values: ClaimAggregate["values"] = [];
      let first: Claim | undefined;
      for (const r of g.runs) {
        const c = r.claims.find((c) => c.id === id);
        if (!c) continue;
        first ??= c;
        const seed = typeof r.sweep?.seed === "number" ? r.sweep.seed : null;
        values.push({ seed, value: c.value, pass: c.pass });
      }
      const passes = values.filter((v) => v.pass).length;
      const nums = values.map((v) => numeric(v.value)).filter((v): v is number => v !== undefined);
      out.push({
        notebook: g.notebook,
        group: g.group,
        id,
        ...(first?.ruleText !== undefined ? { ruleText: first.ruleText } : {}),
        rule: first?.rule ?? null,
        ...(first?.statement !== undefined ? { statement: first.statement } : {}),
        runs: g.runs.length,
        passes,
        missing: g.runs.length - values.length,
        values,
        stats: nums.length > 0 ? describe(nums) : null,
        verdict: passes === g.runs.length ? "robust" : passes > 0 ? "fragile" : "fails",
      });
    }
  }
  return out;
}

/**
 * Sorts run entries the way every report lists them: by notebook, then by job order.
 *
 * @example
 * ```ts
 * import { sortRuns } from "./report.ts";
 * console.log(sortRuns([]).length); // 0
 * ```
 */
export function sortRuns(notebooks: NotebookReport[]): NotebookReport[] {
  return [...notebooks].sort((a, b) =>
    a.notebook.localeCompare(b.notebook) || (a.job ?? 0) - (b.job ?? 0)
  );
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
  const notebooks = sortRuns(reports.flatMap((r) => r.notebooks));
  const aggregate = aggregateClaims(notebooks);
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
    ...(aggregate.length > 0 ? { aggregate } : {}),
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

/**
 * A number for reading: 4 significant digits (`0.1667`, `1.235e-7`), integers as they are.
 *
 * @example
 * ```ts
 * import { readableNumber } from "./report.ts";
 * console.log(readableNumber(1 / 6), readableNumber(120)); // 0.1667 120
 * ```
 */
export function readableNumber(value: number): string {
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 1000) return String(Number(value.toFixed(1)));
  return String(Number(value.toPrecision(4)));
}

/**
 * A rule in words with its long numbers rounded for reading: `< 0.16666666666666666` reads
 * `< 0.1667` (the exact value stays in the JSON report's `rule` and `ruleText`).
 *
 * @example
 * ```ts
 * import { readableRule } from "./report.ts";
 * console.log(readableRule("< 0.16666666666666666")); // "< 0.1667"
 * console.log(readableRule("≥ 0.9 × baseline")); // "≥ 0.9 × baseline"
 * ```
 */
export function readableRule(text: string): string {
  return text.replace(
    /(?<![\w.])-?\d+\.\d{5,}(?:e[+-]?\d+)?(?![\w.])|(?<![\w.])-?\d\.\d+e[+-]?\d+(?![\w.])/gi,
    (m) => readableNumber(Number(m)),
  );
}

function ruleWords(c: { ruleText?: string; rule: unknown }): string {
  if (typeof c.ruleText === "string") return readableRule(c.ruleText);
  return readableRule(JSON.stringify(c.rule) ?? "");
}

function runLabel(n: NotebookReport): string {
  return n.sweep && Object.keys(n.sweep).length > 0
    ? `${n.notebook} (${pointText(n.sweep)})`
    : n.notebook;
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
 * The aggregate section of the Markdown report: per claim, k of n runs hold, median, min,
 * max, mean with its 95 % t-interval, and the verdict.
 *
 * @example
 * ```ts
 * import { renderAggregate } from "./report.ts";
 * console.log(renderAggregate([])[0]); // "## Claims across runs"
 * ```
 */
export function renderAggregate(aggregate: ClaimAggregate[]): string[] {
  const counts = { robust: 0, fragile: 0, fails: 0 };
  for (const a of aggregate) counts[a.verdict]++;
  const lines = [
    "## Claims across runs",
    "",
    `${aggregate.length} claim(s): ${counts.robust} robust (hold in every run), ` +
    `${counts.fragile} fragile (hold in some), ${counts.fails} fail (hold in none). ` +
    "Mean with its 95 % t-interval over the runs.",
    "",
    "| notebook | claim | holds | median | min | max | mean (95 % CI) | rule | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const a of aggregate) {
    const s = a.stats;
    const num = (v: number | undefined) => v === undefined ? "" : readableNumber(v);
    const mean = !s
      ? ""
      : s.ci95
      ? `${num(s.mean)} [${num(s.ci95[0])}, ${num(s.ci95[1])}]`
      : num(s.mean);
    const group = Object.keys(a.group).length > 0 ? ` (${pointText(a.group)})` : "";
    const verdict = a.verdict === "robust" ? "robust" : `**${a.verdict}**`;
    lines.push(
      `| ${cellText(a.notebook + group)} | ${cellText(a.id)} | ${a.passes}/${a.runs} | ` +
        `${num(s?.median)} | ${num(s?.min)} | ${num(s?.max)} | ${mean} | ` +
        `${cellText(ruleWords(a))} | ${verdict} |`,
    );
  }
  return lines;
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
    `${s.notebooks} ${report.aggregate ? "run(s)" : "notebook(s)"}: ${s.ok} ok, ` +
      `${s.failed} failed. ` +
      `Claims: ${s.claims.passed} of ${s.claims.total} hold. ` +
      `Started ${report.startedAt}, ${seconds(report.durationMs)}${shardText}.`,
    "",
    ...(report.options?.sandbox
      ? [
        "Ran in a sandbox (`--sandbox`): no network but loopback, the file system read-only " +
        "except the output folder and a private /tmp, nothing of $HOME.",
        "",
      ]
      : []),
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
      `| ${cellText(runLabel(n))} | ${n.status} | ${seconds(n.durationMs)} | ` +
        `${n.cells.executed}/${n.cells.total} | ${passed}/${n.claims.length} | ` +
        `${cellText(backendText(n.backend))} |`,
    );
  }
  if (report.aggregate && report.aggregate.length > 0) {
    lines.push("", ...renderAggregate(report.aggregate));
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
        `| ${cellText(runLabel(n))} | ${cellText(c.id)} | ${valueText(c.value)} | ` +
          `${cellText(ruleWords(c))} | ${c.pass ? "yes" : "**no**"} | ${
            cellText(backendText(c.backend))
          } |`,
      );
    }
  }
  const published = report.notebooks.filter((n) => n.models?.length);
  if (published.length > 0) {
    lines.push(
      "",
      "## Published models",
      "",
      "| notebook | model | demo | networks |",
      "| --- | --- | --- | --- |",
    );
    for (const n of published) {
      for (const m of n.models!) {
        const nets = m.networks.map((x) =>
          `${x.label}: ${x.params} parameters, ${(x.weightBytes / 1e6).toFixed(2)} MB`
        ).join("; ");
        lines.push(
          `| ${cellText(n.notebook)} | ${cellText(m.name)} | ${m.demo} | ${cellText(nets)} |`,
        );
      }
    }
  }
  const failures = report.notebooks.filter((n) => n.failure || n.status !== "ok");
  lines.push("", "## Failures", "");
  if (failures.length === 0) lines.push("None.");
  for (const n of failures) {
    if (n.failure) {
      lines.push(
        `- ${runLabel(n)}: ${n.status} in cell ${n.failure.index + 1}` +
          `${n.failure.id ? ` (id ${n.failure.id})` : ""}: ${n.failure.ename}: ` +
          cellText(n.failure.evalue),
      );
    } else if (n.status === "claims failed") {
      const failed = n.claims.filter((c) => !c.pass).map((c) => c.id).join(", ");
      lines.push(`- ${runLabel(n)}: claims failed: ${failed}`);
    } else lines.push(`- ${runLabel(n)}: ${n.status}`);
  }
  const warned = report.notebooks.filter((n) => n.warnings.length > 0);
  if (warned.length > 0) {
    lines.push("", "## Warnings", "");
    for (const n of warned) for (const w of n.warnings) lines.push(`- ${runLabel(n)}: ${w}`);
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
      `| ${cellText(runLabel(n))} | ${c.index + 1} | ${seconds(c.durationMs)} | ` +
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
