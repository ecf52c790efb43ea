/**
 * `deno task run`: executes Deno notebooks headless and writes the executed notebooks and a
 * report (`report.json`, `report.md`) to `out/`. See `--help` for the flags.
 *
 * Exit codes: 0 when every notebook ran without error and all its claims hold; 1 when a
 * notebook failed (error, timeout, dead kernel, failed claim) or the report could not be
 * written to the output folder; 2 for bad usage or input that is not a runnable notebook
 * (nothing is written then); 130 when a signal interrupted the run (the partial notebooks
 * and the report are written).
 *
 * @example
 * ```ts ignore
 * import { main } from "./run.ts";
 * const code = await main(["--profile", "smoke", "notebooks/01_dense.ipynb"]);
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_SETTLE_MS, executeNotebook, type ExecutionEvent } from "./executor.ts";
import { KernelLookupError, type ResolvedKernel, resolveKernel } from "./kernel_lookup.ts";
import { handleInterrupts, type Interrupts, trace } from "./interrupts.ts";
import { KernelManager, KernelStartError } from "./kernel_manager.ts";
import {
  type Notebook,
  NotebookError,
  readNotebook,
  writeFileAtomic,
  writeNotebook,
} from "./notebook.ts";
import {
  injectParameters,
  parameterDefaults,
  ParameterError,
  type ParameterValue,
  parseParameterArg,
} from "./parameters.ts";
import {
  aggregateClaims,
  extractBackend,
  extractClaims,
  extractModels,
  isFailure,
  localVersions,
  mergeReports,
  type NotebookReport,
  type NotebookStatus,
  renderMarkdown,
  RUNNER_VERSION,
  type RunReport,
  slowestCells,
  sortRuns,
  summarize,
} from "./report.ts";
import { checkSandbox, runSandboxed, SANDBOXED_ENV, SandboxError } from "./sandbox.ts";
import { modelsDirFor } from "./site/live.ts";
import { parseShard, type Shard, ShardError } from "./shard.ts";
import {
  expandSweep,
  type GridAxis,
  parseGrid,
  parseSeeds,
  pointLabel,
  pointText,
  type SweepPoint,
} from "./sweep.ts";

const HELP = `Run Deno notebooks headless and report on them.

Usage:
  deno task run [options] [NOTEBOOK_OR_FOLDER ...]
  deno task run --seeds 0-9 [--grid NAME=V1,V2 ...] [options] [NOTEBOOK_OR_FOLDER ...]
  deno task run --merge [--out DIR] REPORT_JSON ...

With no notebook, runs every notebook in notebooks/. A folder means the .ipynb files in it.
Executed notebooks and report.json/report.md go to --out (default out/); the source
notebooks are never modified. Models a notebook publishes (nn.publishModel) go to
<out>/<notebook>.models/ (the kernel's NN_PUBLISH_DIR), emptied before each run.

Options:
  -p, --parameter NAME=VALUE  set a parameter (repeatable); VALUE is JSON when it parses as
                              JSON (20, 1e-3, true, "20", [1,2]), else a string; a list is
                              one list-valued parameter, never a sweep
      --seeds LIST            run each notebook once per seed (parameter seed): 0-9, 0,3,5,
                              0-2,7; executed copies go to DIR/seed-S/
      --grid NAME=V1,V2,...   also sweep NAME over these values (repeatable; each value read
                              like a -p value; NAME=[JSON list] for values holding commas);
                              the runs are the cartesian product with --seeds, copies in
                              DIR/NAME-V_seed-S/
      --profile smoke|full    shorthand for -p profile=smoke|full
      --out DIR               where to write executed notebooks and the report (default out)
      --timeout SECONDS       per-cell timeout (default 600; 0 = none): the cell gets an error
                              output and the notebook stops, or goes on in a restarted kernel
                              with --allow-errors
      --allow-errors          keep running a notebook after a failing cell (it still fails);
                              cells tagged raises-exception may fail without stopping the run
      --jobs N                runs in parallel, one kernel each (default 1); each
                              (notebook, sweep point) pair is one run
      --shard I/N             run only shard I of N (1-based, round robin over the runs in
                              sorted path order)
      --shard auto            take I and N from the job engine: NN_SHARD_INDEX (1-based) and
                              NN_SHARD_COUNT, a Kubernetes Indexed Job (JOB_COMPLETION_INDEX,
                              JOB_COMPLETIONS set in the manifest), a Slurm array
                              (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or GitLab CI
                              (CI_NODE_INDEX, CI_NODE_TOTAL); --out defaults to out/shard-I
      --merge                 merge shard reports (the arguments are report.json files) into
                              the report one unsharded run gives, aggregates included
      --settle MS             quiet time on iopub before a cell counts as done (default ${DEFAULT_SETTLE_MS})
      --startup-timeout SECONDS  give up starting a kernel after this long (default 60)
      --sandbox               run this runner and its kernels in a bubblewrap sandbox: no
                              network but loopback, the file system read-only except --out
                              and a private /tmp, nothing of $HOME but Deno's cache. Use it
                              for every notebook you did not write (needs bwrap: exit 2
                              without it, never a run without the sandbox)
  -q, --quiet                 no per-cell progress lines
  -h, --help                  show this help
      --version               print the runner version

With more than one run of a notebook, the report adds "Claims across runs": for each claim
k of n runs hold, median, min, max, mean with its 95 % t-interval, and a verdict (robust:
every run, fragile: some, fails: none).

Ctrl-C, SIGTERM or SIGHUP stops the run and writes the partial notebooks and the report
(exit 130); signals that arrive together (within 1 s, e.g. timeout and deno task both passing
one on) count as one; another one after that kills the kernels at once, and the notebooks and
the report are still written: only SIGKILL loses them. NN_RUN_TRACE=1 prints each step of the
exit path on stderr.

Exit codes: 0 all notebooks ran and their claims hold, 1 a notebook failed (or the report
could not be written to --out), 2 bad usage or input (nothing written), 130 interrupted.
`;

/** Raised for bad command-line usage or unusable input: exit code 2. */
export class UsageError extends Error {
  /** Creates a usage error; each line of the message is printed. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parsed command-line options. */
export interface RunOptions {
  /** Notebook or folder paths (empty: notebooks/). */
  paths: string[];
  /** Output directory. */
  outDir: string;
  /** Parameters to inject. */
  parameters: Record<string, ParameterValue>;
  /** Seeds to sweep (`--seeds`), or empty. */
  seeds: number[];
  /** Other parameters to sweep (`--grid`), or empty. */
  grid: GridAxis[];
  /** Per-cell timeout in ms (0: none). */
  timeoutMs: number;
  /** Continue after failing cells. */
  allowErrors: boolean;
  /** Parallel kernels. */
  jobs: number;
  /** Shard to run, 1-based (`source` says where `--shard auto` found it). */
  shard?: Shard;
  /** Merge mode. */
  merge: boolean;
  /** Settle window in ms. */
  settleMs: number;
  /** Kernel startup timeout in ms. */
  startupTimeoutMs: number;
  /** No per-cell progress. */
  quiet: boolean;
  /** Print help. */
  help: boolean;
  /** Print the version. */
  version: boolean;
  /** Run the kernels in a bubblewrap sandbox (`--sandbox`). */
  sandbox: boolean;
  /** Set when this process already runs inside the sandbox. */
  sandboxed: boolean;
}

function positiveNumber(flag: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) {
    throw new UsageError(`${flag} ${text}: expected a number${min > 0 ? ` ≥ ${min}` : " ≥ 0"}`);
  }
  return n;
}

/**
 * Parses the command line; throws {@linkcode UsageError}. `env` is where `--shard auto`
 * looks (default: this process's environment).
 *
 * @example
 * ```ts
 * import { parseRunArgs } from "./run.ts";
 * const options = parseRunArgs(["-p", "epochs=2", "--shard", "1/3", "--seeds", "0-2", "a.ipynb"]);
 * console.log(options.parameters.epochs, options.shard, options.seeds); // 2 { index: 1, count: 3 } [0, 1, 2]
 * ```
 */
export function parseRunArgs(
  args: string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): RunOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        parameter: { type: "string", short: "p", multiple: true },
        seeds: { type: "string" },
        grid: { type: "string", multiple: true },
        profile: { type: "string" },
        out: { type: "string" },
        timeout: { type: "string" },
        "allow-errors": { type: "boolean" },
        jobs: { type: "string" },
        shard: { type: "string" },
        merge: { type: "boolean" },
        settle: { type: "string" },
        "startup-timeout": { type: "string" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
        sandbox: { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nRun with --help for the options.`);
  }
  const v = parsed.values;
  const parameters: Record<string, ParameterValue> = {};
  if (v.profile !== undefined) {
    if (v.profile !== "smoke" && v.profile !== "full") {
      throw new UsageError(`--profile ${v.profile}: expected smoke or full`);
    }
    parameters.profile = v.profile;
  }
  for (const arg of v.parameter ?? []) {
    try {
      const [name, value] = parseParameterArg(arg);
      if (name === "profile" && v.profile !== undefined && value !== v.profile) {
        throw new UsageError(`-p ${arg} contradicts --profile ${v.profile}`);
      }
      parameters[name] = value;
    } catch (error) {
      if (error instanceof ParameterError) throw new UsageError(error.message);
      throw error;
    }
  }
  let seeds: number[] = [];
  const grid: GridAxis[] = [];
  try {
    if (v.seeds !== undefined) seeds = parseSeeds(v.seeds);
    for (const arg of v.grid ?? []) grid.push(parseGrid(arg));
  } catch (error) {
    if (error instanceof ParameterError) throw new UsageError(error.message);
    throw error;
  }
  if (seeds.length > 0 && "seed" in parameters) {
    throw new UsageError(`--seeds ${v.seeds} contradicts -p seed=${parameters.seed}: give one`);
  }
  for (const [i, axis] of grid.entries()) {
    if (axis.name in parameters) {
      throw new UsageError(
        `--grid ${axis.name}=… contradicts -p ${axis.name}=${
          JSON.stringify(parameters[axis.name])
        }: give one`,
      );
    }
    if (grid.findIndex((a) => a.name === axis.name) !== i) {
      throw new UsageError(`--grid ${axis.name} is given twice: list all its values in one --grid`);
    }
  }
  let shard: RunOptions["shard"];
  if (v.shard !== undefined) {
    try {
      shard = parseShard(v.shard, env);
    } catch (error) {
      if (error instanceof ShardError) throw new UsageError(error.message);
      throw error;
    }
  }
  if (v.merge && (seeds.length > 0 || grid.length > 0 || shard || v.sandbox)) {
    throw new UsageError(
      "--merge takes report.json files only: drop --seeds, --grid, --shard and --sandbox",
    );
  }
  return {
    paths: parsed.positionals,
    outDir: v.out ?? (shard?.source ? join("out", `shard-${shard.index}`) : "out"),
    parameters,
    seeds,
    grid,
    timeoutMs: positiveNumber("--timeout", v.timeout, 600) * 1000,
    allowErrors: v["allow-errors"] ?? false,
    jobs: Math.floor(positiveNumber("--jobs", v.jobs, 1, 1)),
    shard,
    merge: v.merge ?? false,
    settleMs: positiveNumber("--settle", v.settle, DEFAULT_SETTLE_MS),
    startupTimeoutMs: positiveNumber("--startup-timeout", v["startup-timeout"], 60, 1) * 1000,
    quiet: v.quiet ?? false,
    help: v.help ?? false,
    version: v.version ?? false,
    sandbox: v.sandbox ?? false,
    sandboxed: env[SANDBOXED_ENV] === "1",
  };
}

/**
 * Expands paths: a folder means its `.ipynb` files (recursively, skipping checkpoints and
 * hidden folders); files are kept as given. Sorted, duplicates removed.
 *
 * @example
 * ```ts ignore
 * import { collectNotebooks } from "./run.ts";
 * console.log(await collectNotebooks(["notebooks"]));
 * ```
 */
export async function collectNotebooks(paths: string[]): Promise<string[]> {
  const found = new Set<string>();
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ipynb")) found.add(path);
    }
  };
  for (const path of paths) {
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.stat(path);
    } catch {
      found.add(path); // reported as unreadable when read
      continue;
    }
    if (info.isDirectory) await walk(path);
    else found.add(path);
  }
  return [...found].sort();
}

/**
 * The runs of shard `index` of `count` (1-based): round robin over the sorted list (of
 * notebooks, or of (notebook, sweep point) runs), so every run is in exactly one shard
 * and the split never depends on the machine.
 *
 * @example
 * ```ts
 * import { selectShard } from "./run.ts";
 * console.log(selectShard(["a", "b", "c", "d", "e"], { index: 2, count: 2 })); // ["b", "d"]
 * ```
 */
export function selectShard<T>(items: T[], shard?: { index: number; count: number }): T[] {
  if (!shard) return items;
  return items.filter((_, i) => i % shard.count === shard.index - 1);
}

async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One run: a notebook at one sweep point (none without a sweep). */
export interface Job {
  /** The notebook. */
  path: string;
  /** The sweep point, absent without a sweep. */
  point?: SweepPoint;
  /** 0-based index in the whole job list. */
  job: number;
}

/**
 * Every run of a sweep: each notebook (in the given order) at each point, or once each
 * when there are no points.
 *
 * @example
 * ```ts
 * import { listJobs } from "./run.ts";
 * console.log(listJobs(["a.ipynb"], [{ seed: 0 }, { seed: 1 }]).length); // 2
 * ```
 */
export function listJobs(paths: string[], points: SweepPoint[]): Job[] {
  if (points.length === 0) return paths.map((path, job) => ({ path, job }));
  return paths.flatMap((path, i) =>
    points.map((point, j) => ({ path, point, job: i * points.length + j }))
  );
}

/** A run checked and ready to go. */
interface Plan {
  path: string;
  /** The sweep point, when sweeping. */
  point?: SweepPoint;
  /** Index in the whole job list. */
  job: number;
  /** Every parameter injected: -p values and the point. */
  parameters: Record<string, ParameterValue>;
  /** sha256 (hex) of the source file's bytes, recorded so that builds can reuse the copy. */
  sourceSha256: string;
  /** The profile the run uses: injected, else the parameters cell's default (absent: none). */
  profile?: string;
  nb: Notebook;
  kernel: ResolvedKernel;
  output: string;
  warnings: string[];
}

/** Reads, checks and prepares every run; throws {@linkcode UsageError} listing all problems. */
async function plan(jobs: Job[], options: RunOptions): Promise<Plan[]> {
  const problems: string[] = [];
  const plans: Plan[] = [];
  const outputs = new Map<string, string>();
  const read = new Map<string, { nb: Notebook; sourceSha256: string; kernel: ResolvedKernel }>();
  const failed = new Set<string>();
  for (const { path, point, job } of jobs) {
    if (failed.has(path)) continue;
    try {
      let source = read.get(path);
      if (!source) {
        const nb = await readNotebook(path);
        const sourceSha256 = await sha256File(path);
        let kernel: ResolvedKernel;
        try {
          kernel = await resolveKernel(nb.metadata);
        } catch (error) {
          if (error instanceof KernelLookupError) throw new NotebookError(path, error.message);
          throw error;
        }
        source = { nb, sourceSha256, kernel };
        read.set(path, source);
      }
      const { sourceSha256, kernel } = source;
      const nb = structuredClone(source.nb);
      const output = point
        ? join(options.outDir, pointLabel(point), basename(path))
        : join(options.outDir, basename(path));
      const other = outputs.get(output);
      if (other !== undefined) {
        throw new NotebookError(
          path,
          other === path
            ? `two sweep points (${pointText(point ?? {})} and another) would both be written ` +
              `to ${output}; give --grid values that differ in letters and digits`
            : `has the same file name as ${other}; both would be written to ${output} ` +
              "(run them separately with different --out folders)",
        );
      }
      if (resolve(output) === resolve(path)) {
        throw new NotebookError(
          path,
          `--out ${options.outDir} would overwrite the source notebook; choose another folder`,
        );
      }
      outputs.set(output, path);
      const warnings = kernel.warning ? [kernel.warning] : [];
      const parameters = { ...options.parameters, ...point };
      const profile = parameters.profile ?? parameterDefaults(nb).profile;
      const injection = injectParameters(nb, parameters);
      if (injection) warnings.push(...injection.warnings);
      plans.push({
        path,
        ...(point ? { point } : {}),
        job,
        parameters,
        sourceSha256,
        ...(typeof profile === "string" ? { profile } : {}),
        nb,
        kernel,
        output,
        warnings,
      });
    } catch (error) {
      if (error instanceof NotebookError) {
        problems.push(error.message);
        failed.add(path);
      } else throw error;
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  return plans;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Errors that a notebook reaching outside the sandbox gets. */
const SANDBOX_ERRORS = new RegExp(
  [
    "fetch failed",
    "error sending request",
    "dns error",
    "os error (2|13|30|101|111)\\b",
    "Read-only file system",
    "Connection refused",
    "Network is unreachable",
    "No such file or directory",
    "Permission denied",
  ].join("|"),
  "i",
);

/**
 * Adds a line to the traceback of each error output that the sandbox may have caused,
 * saying what the sandbox allows (the errors themselves, such as `TypeError: fetch failed`,
 * do not say).
 */
function noteSandbox(nb: Notebook, outDir: string): void {
  const note = "note: this notebook ran in a sandbox (--sandbox): no network but loopback, " +
    `the file system read-only except ${outDir} and /tmp, nothing of $HOME but Deno's ` +
    "cache; an error like this one is what a notebook that reaches outside the sandbox gets";
  for (const cell of nb.cells) {
    for (const output of cell.outputs ?? []) {
      if (output.output_type !== "error") continue;
      const text = [output.ename, output.evalue, ...(output.traceback ?? [])].join("\n");
      if (!SANDBOX_ERRORS.test(text)) continue;
      output.traceback = [...(output.traceback ?? []), note];
    }
  }
}

/** The report of a run that has not started yet. */
function newReport(p: Plan): NotebookReport {
  return {
    notebook: p.path,
    output: null,
    status: "ok",
    durationMs: 0,
    kernel: { name: p.kernel.spec.name, source: p.kernel.spec.source },
    cells: {
      total: p.nb.cells.filter((c) => c.cell_type === "code").length,
      executed: 0,
      failed: 0,
    },
    slowestCells: [],
    claims: [],
    backend: null,
    parameters: p.parameters,
    ...(p.profile ? { profile: p.profile } : {}),
    warnings: p.warnings,
    restarts: 0,
    ...(p.point ? { sweep: p.point } : {}),
    job: p.job,
  };
}

/** Runs one notebook start to finish; never throws for notebook failures. */
async function runNotebook(
  p: Plan,
  options: RunOptions,
  label: string,
  kernels: Map<string, { implementation: string; version: string; language: string }>,
  signal: AbortSignal,
): Promise<NotebookReport> {
  const started = Date.now();
  const log = (line: string) => console.error(line);
  const name = p.point ? `${p.path} (${pointText(p.point)})` : p.path;
  const short = p.point ? `${basename(p.path)} (${pointText(p.point)})` : basename(p.path);
  log(`▶ ${label} ${name} (kernel ${p.kernel.spec.name})`);
  for (const w of p.warnings) log(`  warning: ${w}`);
  const report = newReport(p);
  let kernel: KernelManager | undefined;
  let status: NotebookStatus = "ok";
  try {
    // Models the notebook publishes (nn.publishModel) go next to its executed copy; the
    // folder is emptied first, so that the site never shows a model of an earlier run.
    const modelsDir = resolve(modelsDirFor(p.output));
    await Deno.remove(modelsDir, { recursive: true }).catch(() => {});
    kernel = await KernelManager.start({
      spec: p.kernel.spec,
      cwd: dirname(resolve(p.path)),
      startupTimeoutMs: options.startupTimeoutMs,
      signal,
      env: { NN_PUBLISH_DIR: modelsDir },
    });
    const info = kernel.info as Record<string, unknown>;
    const languageInfo = (info.language_info ?? {}) as Record<string, unknown>;
    report.kernel.implementation = String(info.implementation ?? "");
    report.kernel.version = String(info.implementation_version ?? "");
    const k = {
      implementation: String(info.implementation ?? "unknown"),
      version: String(info.implementation_version ?? ""),
      language: `${languageInfo.name ?? "?"} ${languageInfo.version ?? ""}`.trim(),
    };
    kernels.set(JSON.stringify(k), k);
    const onEvent = (event: ExecutionEvent) => {
      if (options.quiet || event.type !== "cell-end") return;
      const r = event.record;
      log(
        `  ${short} cell ${event.ordinal + 1}/${event.total} ${r.status} ` +
          `${formatSeconds(r.durationMs)} (elapsed ${formatSeconds(Date.now() - started)})`,
      );
    };
    const result = await executeNotebook(p.nb, kernel, {
      timeoutMs: options.timeoutMs,
      allowErrors: options.allowErrors,
      settleMs: options.settleMs,
      onEvent,
      signal,
    });
    report.cells.executed = result.cells.filter((c) => c.status !== "not run").length;
    report.cells.failed = result.cells.filter((c) =>
      c.status !== "ok" && c.status !== "not run" && !(c.status === "error" && c.expectsError)
    ).length;
    report.slowestCells = slowestCells(result.cells);
    report.failure = result.failure;
    report.restarts = result.restarts;
    status = result.status;
  } catch (error) {
    if (signal.aborted) {
      status = "interrupted";
      report.failure = {
        index: -1,
        ename: "RunInterrupted",
        evalue: kernel
          ? `the run was interrupted (${String(signal.reason)}): ${(error as Error).message}`
          : `the run was interrupted (${String(signal.reason)}) while the kernel was starting`,
      };
    } else {
      status = error instanceof KernelStartError ? "kernel failed to start" : "error";
      report.failure = {
        index: -1,
        ename: (error as Error).name,
        evalue: (error as Error).message,
      };
    }
  } finally {
    if (kernel) {
      try {
        if (status !== "ok" || signal.aborted) await kernel.shutdown(0);
        else await kernel.shutdown();
      } catch (error) {
        report.warnings.push(`could not stop the kernel cleanly: ${(error as Error).message}`);
      }
    }
  }
  trace(`${name}: ${status}; writing ${p.output}`);
  if (options.sandboxed) noteSandbox(p.nb, options.outDir);
  report.claims = extractClaims(p.nb);
  report.backend = extractBackend(p.nb);
  const models = extractModels(p.nb);
  if (models.length > 0) report.models = models;
  if (status === "ok" && report.claims.some((c) => !c.pass)) status = "claims failed";
  report.status = status;
  report.durationMs = Date.now() - started;
  p.nb.metadata["neural-notebooks"] = {
    run: {
      runner: RUNNER_VERSION,
      status,
      parameters: p.parameters,
      ...(p.profile ? { profile: p.profile } : {}),
      started: new Date(started).toISOString(),
      duration_s: Math.round(report.durationMs) / 1000,
      source_sha256: p.sourceSha256,
    },
  };
  try {
    await writeNotebook(p.output, p.nb);
    report.output = p.output;
  } catch (error) {
    const message = `could not write ${p.output}: ${(error as Error).message}` +
      `${diskHint(error)}`;
    report.warnings.push(message);
    log(`  error: ${message}`);
    if (status === "ok") report.status = "error";
  }
  const mark = isFailure(report.status) ? "✘" : "✔";
  const where = report.failure && report.failure.index >= 0
    ? ` at cell ${report.failure.index + 1}: ${report.failure.ename}: ${report.failure.evalue}`
    : report.failure
    ? `: ${report.failure.evalue}`
    : "";
  log(`${mark} ${name} ${report.status} in ${formatSeconds(report.durationMs)}${where}`);
  return report;
}

/**
 * The final table printed on stdout.
 *
 * @example
 * ```ts
 * import { renderTable } from "./run.ts";
 * import { mergeReports } from "./report.ts";
 * console.log(renderTable(mergeReports([])).includes("notebooks ok")); // true
 * ```
 */
export function renderTable(report: RunReport): string {
  const rows = report.notebooks.map((n) => [
    n.sweep && Object.keys(n.sweep).length > 0
      ? `${n.notebook} (${pointText(n.sweep)})`
      : n.notebook,
    n.status,
    formatSeconds(n.durationMs),
    `${n.cells.executed}/${n.cells.total}`,
    `${n.claims.filter((c) => c.pass).length}/${n.claims.length}`,
  ]);
  const header = ["notebook", "status", "time", "cells", "claims"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const s = report.summary;
  const verdicts = report.aggregate
    ? (["robust", "fragile", "fails"] as const).map((v) =>
      `${report.aggregate!.filter((a) => a.verdict === v).length} ${v}`
    ).join(", ")
    : "";
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `${s.ok}/${s.notebooks} ${report.aggregate ? "runs" : "notebooks"} ok; ` +
    `claims ${s.claims.passed}/${s.claims.total} hold.`,
    ...(verdicts ? [`Claims across runs: ${verdicts}.`] : []),
  ].join("\n");
}

async function writeReport(report: RunReport, outDir: string): Promise<void> {
  await writeFileAtomic(join(outDir, "report.json"), JSON.stringify(report, null, 2) + "\n");
  await writeFileAtomic(join(outDir, "report.md"), renderMarkdown(report));
}

/** What to do about a failed write, for the errors a full or read-only disk gives. */
function diskHint(error: unknown): string {
  const message = (error as Error)?.message ?? "";
  if (/os error 28|no space left/i.test(message)) {
    return " (the disk is full: free some space or give --out a folder on another disk)";
  }
  if (/os error 30|read-only file system|permission denied|os error 13/i.test(message)) {
    return " (the folder is not writable: give --out a folder you can write to)";
  }
  return "";
}

/**
 * Writes the report to `outDir`, or when that fails (disk full, folder gone) to a fresh
 * folder in the system's temporary folder, saying where (not in a sandbox, whose /tmp
 * vanishes with it); returns the folder written, or `undefined` when nothing could be
 * written (each failure printed).
 */
async function writeReportSomewhere(
  report: RunReport,
  outDir: string,
  { sandboxed = false } = {},
): Promise<string | undefined> {
  trace("writing the report");
  try {
    await writeReport(report, outDir);
    trace("report written");
    return outDir;
  } catch (error) {
    console.error(
      `error: could not write the report to ${outDir}: ${(error as Error).message}` +
        diskHint(error),
    );
  }
  if (sandboxed) {
    console.error("the sandbox can write nowhere else: the table below is all that is left of it");
    return undefined;
  }
  try {
    const fallback = await Deno.makeTempDir({ prefix: "nn-report-" });
    await writeReport(report, fallback);
    console.error(`the report was written to ${fallback} instead`);
    return fallback;
  } catch (error) {
    console.error(
      `error: could not write the report anywhere (${(error as Error).message}); ` +
        "the table below is all that is left of it",
    );
    return undefined;
  }
}

/** Makes sure `outDir` can take files before anything runs; throws {@linkcode UsageError}. */
async function checkWritable(outDir: string): Promise<void> {
  const probe = join(outDir, `.nn-write-probe-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.mkdir(outDir, { recursive: true });
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (error) {
    await Deno.remove(probe).catch(() => {});
    throw new UsageError(
      `--out ${outDir}: cannot write there (${(error as Error).message})` +
        `${diskHint(error) || ": give --out a folder you can write to"}; nothing was run`,
    );
  }
}

async function readReport(path: string): Promise<RunReport> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new UsageError(`${path}: cannot read a report (${(error as Error).message})`);
  }
  const r = json as Partial<RunReport>;
  if (r.format !== 1 || !Array.isArray(r.notebooks)) {
    throw new UsageError(`${path}: not a report.json written by deno task run`);
  }
  return r as RunReport;
}

/**
 * Checks that shard reports fit together before a merge: no run in two of them (the same
 * shard given twice, or overlapping shardings) — a usage error; shards of an I/N split that
 * are absent are only reported, since a merge of the shards that finished is still useful.
 */
function checkShards(reports: RunReport[], paths: string[]): void {
  const seen = new Map<string, number>();
  const overlaps = new Map<string, string[]>();
  reports.forEach((r, i) => {
    for (const n of r.notebooks) {
      const key = JSON.stringify([n.notebook, n.sweep ?? null]);
      const other = seen.get(key);
      if (other !== undefined && other !== i) {
        const pair = `${paths[other]} and ${paths[i]}`;
        overlaps.set(pair, [
          ...overlaps.get(pair) ?? [],
          n.sweep ? `${n.notebook} (${pointText(n.sweep)})` : n.notebook,
        ]);
      }
      seen.set(key, i);
    }
  });
  if (overlaps.size > 0) {
    throw new UsageError(
      [...overlaps].map(([pair, runs]) =>
        `${pair} both hold ${runs.length} run(s), e.g. ${runs[0]}: give each shard's report once`
      ).join("\n"),
    );
  }
  const counts = new Set(reports.flatMap((r) => r.shards.map((s) => s.count)));
  if (counts.size === 1) {
    const [count] = counts;
    const have = new Set(reports.flatMap((r) => r.shards.map((s) => s.index)));
    const absent = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !have.has(i));
    if (absent.length > 0) {
      console.error(
        `warning: merging ${have.size} of ${count} shards; absent: ` +
          absent.map((i) => `${i}/${count}`).join(", "),
      );
    }
  }
}

/**
 * Runs every planned notebook (the part of {@linkcode main} that signals may interrupt) and
 * writes the report whatever happens to the kernels; returns the exit code.
 */
async function runAll(options: RunOptions, interrupts: Interrupts): Promise<number> {
  let paths = options.paths;
  if (paths.length === 0) {
    try {
      await Deno.stat("notebooks");
    } catch {
      throw new UsageError(
        "no notebooks/ folder here: run from the project root or name the notebooks to run",
      );
    }
    paths = ["notebooks"];
  }
  const all = await collectNotebooks(paths);
  if (all.length === 0) throw new UsageError(`no .ipynb files in ${paths.join(", ")}`);
  const points = expandSweep({ seeds: options.seeds, grid: options.grid });
  const labels = new Map<string, SweepPoint>();
  for (const point of points) {
    const label = pointLabel(point);
    const other = labels.get(label);
    if (other) {
      throw new UsageError(
        `the sweep points ${pointText(other)} and ${pointText(point)} would share the ` +
          `folder ${label}: give --grid values that differ in letters and digits`,
      );
    }
    labels.set(label, point);
  }
  const jobs = listJobs(all, points);
  const selected = selectShard(jobs, options.shard);
  const plans = await plan(selected, options);
  await checkWritable(options.outDir);
  const started = Date.now();
  const shardText = options.shard
    ? ` (shard ${options.shard.index}/${options.shard.count} of ${jobs.length}` +
      `${options.shard.source ? `, from ${options.shard.source}` : ""})`
    : "";
  const what = points.length > 0
    ? `${plans.length} run(s) of ${new Set(plans.map((p) => p.path)).size} notebook(s) ` +
      `at ${points.length} sweep point(s)`
    : `${plans.length} notebook(s)`;
  const sandboxText = options.sandboxed ? ", in a sandbox" : "";
  console.error(`running ${what}${shardText}, ${options.jobs} at a time${sandboxText}`);
  const kernels = new Map<
    string,
    { implementation: string; version: string; language: string }
  >();
  const reports: NotebookReport[] = new Array(plans.length);
  let next = 0;
  const signal = interrupts.signal;
  const worker = async () => {
    while (next < plans.length && !signal.aborted) {
      const i = next++;
      try {
        reports[i] = await runNotebook(
          plans[i],
          options,
          `[${i + 1}/${plans.length}]`,
          kernels,
          signal,
        );
      } catch (error) {
        // A bug, not a notebook failure: still reported, and the other runs go on.
        reports[i] = newReport(plans[i]);
        reports[i].status = "error";
        reports[i].failure = {
          index: -1,
          ename: (error as Error).name ?? "Error",
          evalue: `the runner failed on this notebook: ${(error as Error).message ?? error}`,
        };
        console.error(`✘ ${plans[i].path}: ${reports[i].failure!.evalue}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.jobs, plans.length) }, worker));
  trace("every run has ended");
  const skipped = plans.filter((_, i) => reports[i] === undefined)
    .map((p) => p.point ? `${p.path} (${pointText(p.point)})` : p.path);
  if (skipped.length > 0) console.error(`not run (interrupted): ${skipped.join(", ")}`);
  const notebooks = sortRuns(reports.filter((r) => r !== undefined));
  const aggregate = aggregateClaims(notebooks);
  const report: RunReport = {
    format: 1,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    shards: options.shard ? [{ index: options.shard.index, count: options.shard.count }] : [],
    options: {
      parameters: options.parameters,
      ...(points.length > 0
        ? { sweep: { seeds: options.seeds, grid: options.grid, runs: jobs.length } }
        : {}),
      timeoutS: options.timeoutMs / 1000,
      allowErrors: options.allowErrors,
      jobs: options.jobs,
      settleMs: options.settleMs,
      paths: paths.map((p) => relative(Deno.cwd(), resolve(p)) || "."),
      ...(options.sandboxed ? { sandbox: true } : {}),
    },
    versions: { ...localVersions(), kernels: [...kernels.values()] },
    notebooks,
    summary: summarize(notebooks),
    ...(aggregate.length > 0 ? { aggregate } : {}),
  };
  if (signal.aborted) report.interrupted = { signal: String(signal.reason), notRun: skipped };
  const written = await writeReportSomewhere(report, options.outDir, {
    sandboxed: options.sandboxed,
  });
  console.log(renderTable(report));
  if (written) console.error(`report: ${join(written, "report.md")}`);
  if (signal.aborted) return 130;
  return report.summary.failed > 0 || written !== options.outDir ? 1 : 0;
}

/**
 * `--sandbox`: runs this same command, less `--sandbox`, inside bubblewrap (see
 * sandbox.ts), with the output folder writable; returns its exit code, or 2 when there can
 * be no sandbox here (never a silent run without one).
 */
async function runInSandbox(args: string[], options: RunOptions): Promise<number> {
  try {
    const bwrap = await checkSandbox();
    await checkWritable(options.outDir);
    const runner = fileURLToPath(import.meta.url);
    return await runSandboxed({
      command: [Deno.execPath(), "run", "-A", runner, ...args.filter((a) => a !== "--sandbox")],
      project: fileURLToPath(new URL("..", import.meta.url)),
      writable: [options.outDir],
      readable: options.paths,
      bwrap,
    });
  } catch (error) {
    if (error instanceof SandboxError) throw new UsageError(`${error.message}; nothing was run`);
    throw error;
  }
}

/**
 * Runs the CLI with `args` and returns the exit code (0 ok, 1 a notebook failed, 2 usage).
 *
 * @example
 * ```ts ignore
 * import { main } from "./run.ts";
 * Deno.exit(await main(Deno.args));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  try {
    const options = parseRunArgs(args);
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    if (options.version) {
      console.log(`neural-notebooks runner ${RUNNER_VERSION} (deno ${Deno.version.deno})`);
      return 0;
    }
    if (options.merge) {
      if (options.paths.length === 0) throw new UsageError("--merge needs report.json files");
      const reports = [];
      for (const path of options.paths) reports.push(await readReport(path));
      checkShards(reports, options.paths);
      const merged = mergeReports(reports);
      await writeReport(merged, options.outDir);
      console.log(renderTable(merged));
      console.error(`report: ${join(options.outDir, "report.md")}`);
      return merged.summary.failed > 0 ? 1 : 0;
    }
    if (options.sandbox && !options.sandboxed) return await runInSandbox(args, options);
    const interrupts = handleInterrupts();
    try {
      return await runAll(options, interrupts);
    } finally {
      interrupts.dispose();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      for (const line of error.message.split("\n")) console.error(`error: ${line}`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
