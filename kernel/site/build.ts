/**
 * `deno task build`: executes the notebooks with the project's runner — only those whose
 * executed copy in `out/` is missing or stale, decided by content hash (see manifest.ts) —
 * and writes the static site (see export.ts) to `site/`.
 *
 * ```
 * deno task build                       # notebooks/ → out/ → site/
 * deno task build notebooks/01_dense.ipynb --profile smoke
 * deno task build --no-execute          # only what is already in out/
 * deno task build --untrusted elsewhere/*.ipynb          # add third-party notebooks
 * deno task build --sandbox             # execute in a bubblewrap sandbox (untrusted sources)
 * deno task build --no-execute --out out/sweep/seed-0 --report out/sweep/report.json
 *                                       # pages of seed 0, claims across every seed
 * ```
 *
 * When the runner's report (`--report`, default `<out>/report.json`) holds claims aggregated
 * over a sweep's runs (`deno task run --seeds 0-9`), the index shows them: per claim the
 * verdict and a strip chart of its values across runs, next to the single-run claims table.
 *
 * Exit code 0 when every notebook ran without error, 1 when one failed or could not be
 * executed (the site is still written, with its status), 2 on bad arguments.
 *
 * @example
 * ```ts ignore
 * import { build } from "./build.ts";
 * const result = await build({ sources: ["notebooks"], outDir: "out", siteDir: "site" });
 * console.log(result.notebooks.map((n) => `${n.page}: ${n.summary.status}`));
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { basename, extname, join, relative, resolve } from "node:path";
import { findNotebooks } from "../clean.ts";
import { checkSandbox, SandboxError } from "../sandbox.ts";
import { readNotebook } from "../notebook.ts";
import { parameterDefaults } from "../parameters.ts";
import { exportSite } from "./export.ts";
import {
  copyState,
  fileSha256,
  type Manifest,
  readManifest,
  sha256Hex,
  writeManifest,
} from "./manifest.ts";
import type { SiteNotebook } from "./pages.ts";
import type { ClaimAggregate } from "../report.ts";
import { runnerRecord, summarize } from "./summary.ts";
import { modelsDirFor } from "./live.ts";

/** What the runner is asked to do: execute `sources` into `outDir`. */
export interface RunRequest {
  /** Source notebooks to execute. */
  sources: string[];
  /** Folder for the executed copies (`<outDir>/<file name>`). */
  outDir: string;
  /** `smoke` or `full`; absent: the runner's default. */
  profile?: string;
  /** Parallel kernels. */
  jobs?: number;
  /** Run the notebooks in the runner's bubblewrap sandbox (`--sandbox`). */
  sandbox?: boolean;
}

/** Per-notebook facts a runner reports (all optional). */
export interface RunReport {
  /** By source or executed file name (base name). */
  notebooks: Map<string, { status?: string; durationMs?: number }>;
}

/** Executes notebooks; resolves when done (a non-zero exit is not an error here). */
export type Runner = (request: RunRequest) => Promise<{ code: number; report?: RunReport }>;

/** Options for {@linkcode build}. */
export interface BuildOptions {
  /** Source notebooks or folders of them. Default `["notebooks"]`. */
  sources?: string[];
  /** Executed copies folder. Default `out`. */
  outDir?: string;
  /** Site folder. Default `site`. */
  siteDir?: string;
  /** Use only what is in `outDir`; never run anything. */
  noExecute?: boolean;
  /** Run every notebook, fresh or not. */
  force?: boolean;
  /**
   * Profile passed to the runner and part of freshness. Default: each notebook's own (the
   * `profile` of its parameters cell; the project's notebooks default to `full`).
   */
  profile?: string;
  /** Parallel kernels for the runner. */
  jobs?: number;
  /** Execute in the runner's bubblewrap sandbox (see kernel/sandbox.ts). */
  sandbox?: boolean;
  /** Executed notebooks from elsewhere, or folders of them, shown as third-party (sanitised). */
  untrusted?: string[];
  /** Site title. */
  siteTitle?: string;
  /** A runner report whose `aggregate` the index shows (default `<outDir>/report.json`, if any). */
  report?: string;
  /** The runner (default: `kernel/run.ts` in a subprocess). */
  runner?: Runner;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** One notebook of a build. */
export interface BuiltNotebook extends SiteNotebook {
  /** The executed notebook read. */
  executedPath: string;
  /** Whether this build ran it. */
  executed: boolean;
}

/** What {@linkcode build} did. */
export interface BuildResult {
  /** Notebooks on the site, in order (sources, then third-party). */
  notebooks: BuiltNotebook[];
  /** Sources that have no executed copy (the runner failed, or `noExecute`). */
  missing: string[];
  /** Sources the runner was asked to execute. */
  ran: string[];
  /** The site folder (absolute). */
  siteDir: string;
  /** Milliseconds spent rendering and writing the site (not executing). */
  renderMs: number;
}

const RUNNER = new URL("../run.ts", import.meta.url);

function readRunReport(json: unknown): RunReport {
  const notebooks = new Map<string, { status?: string; durationMs?: number }>();
  const list = Array.isArray(json)
    ? json
    : json && typeof json === "object" && Array.isArray((json as { notebooks?: unknown }).notebooks)
    ? (json as { notebooks: unknown[] }).notebooks
    : [];
  for (const item of list) {
    if (!item || typeof item !== "object") continue;
    const r = item as Record<string, unknown>;
    const duration = [r.durationMs, r.duration_ms, r.wallMs].find((v) => typeof v === "number") as
      | number
      | undefined;
    const status = typeof r.status === "string" ? r.status : undefined;
    for (const key of [r.path, r.source, r.notebook, r.input, r.output, r.executed]) {
      if (typeof key === "string") notebooks.set(basename(key), { status, durationMs: duration });
    }
  }
  return { notebooks };
}

/**
 * The default runner: `deno run -A kernel/run.ts --out DIR [--profile P] [--jobs N] SOURCES`,
 * its progress shown as it goes, then its `report.json` read for statuses and durations.
 */
export const subprocessRunner: Runner = async (request) => {
  try {
    await Deno.stat(RUNNER);
  } catch {
    throw new Error(
      `the runner ${RUNNER.pathname} is missing, so nothing can be executed: ` +
        "use --no-execute to build from the executed copies already in --out.",
    );
  }
  const args = ["run", "-A", RUNNER.pathname, "--out", request.outDir];
  if (request.profile) args.push("--profile", request.profile);
  if (request.jobs) args.push("--jobs", String(request.jobs));
  if (request.sandbox) args.push("--sandbox");
  args.push(...request.sources);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const { code } = await child.status;
  let report: RunReport | undefined;
  try {
    report = readRunReport(
      JSON.parse(await Deno.readTextFile(join(request.outDir, "report.json"))),
    );
  } catch {
    report = undefined;
  }
  return { code, report };
};

/** The claims aggregated over a sweep in a runner report; [] when it has none. */
async function readAggregate(
  path: string,
  { required }: { required: boolean },
): Promise<ClaimAggregate[]> {
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (!required) return [];
    throw new Error(`--report ${path}: cannot read a runner report (${(error as Error).message})`);
  }
  const aggregate = (json as { aggregate?: unknown })?.aggregate;
  if (Array.isArray(aggregate)) return aggregate as ClaimAggregate[];
  if (required) {
    throw new Error(
      `--report ${path} has no claims across runs: it is not the report of a sweep ` +
        "(deno task run --seeds 0-9 writes one)",
    );
  }
  return [];
}

function pageNames(stems: string[]): string[] {
  const taken = new Set(["index"]);
  return stems.map((stem) => {
    const clean = stem.replace(/[^A-Za-z0-9_.-]+/g, "-") || "notebook";
    let name = clean;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${clean}-${n}`;
    taken.add(name.toLowerCase());
    return `${name}.html`;
  });
}

/** The `profile` default of a source notebook's parameters cell, if it has one. */
function defaultProfile(bytes: Uint8Array): string | undefined {
  try {
    const profile = parameterDefaults(JSON.parse(new TextDecoder().decode(bytes))).profile;
    return typeof profile === "string" ? profile : undefined;
  } catch {
    return undefined; // not a notebook: reported when it is read
  }
}

/**
 * Executes what is stale and writes the site (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { build } from "./build.ts";
 * await build({ noExecute: true, siteDir: "public" });
 * ```
 */
export async function build(options: BuildOptions = {}): Promise<BuildResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const outDir = options.outDir ?? "out";
  const siteDir = options.siteDir ?? "site";
  const sources = await findNotebooks(options.sources ?? ["notebooks"]);
  const manifest: Manifest = await readManifest(outDir);

  const names = new Map<string, string>();
  for (const source of sources) {
    const name = basename(source);
    if (names.has(name)) {
      throw new Error(
        `${source} and ${names.get(name)} have the same file name: their executed copies ` +
          `would both be ${join(outDir, name)}. Rename one.`,
      );
    }
    names.set(name, source);
  }

  // 1. Which executed copies are fresh? (made from this source, with the profile asked for:
  // --profile, else the notebook's own default)
  const plan = await Promise.all(sources.map(async (source) => {
    const bytes = await Deno.readFile(source);
    const sourceSha256 = await sha256Hex(bytes);
    const name = basename(source);
    const profile = options.profile ?? defaultProfile(bytes);
    const state = await copyState({ manifest, outDir, name, sourceSha256, profile });
    return { source, name, sourceSha256, profile, state };
  }));
  const stale = plan.filter((p) => options.force || !p.state.fresh);

  // 2. Run the stale ones.
  const ran: string[] = [];
  const executedNow = new Set<string>();
  if (stale.length && !options.noExecute) {
    const runner = options.runner ?? subprocessRunner;
    log(
      `build: executing ${stale.length} of ${plan.length} notebook${
        plan.length === 1 ? "" : "s"
      } ` +
        `(${plan.length - stale.length} fresh in ${outDir}/)`,
    );
    const before = new Map(
      await Promise.all(
        stale.map(async (p) => [p.name, await fileSha256(join(outDir, p.name))] as const),
      ),
    );
    const startedAt = new Date().toISOString();
    await Deno.mkdir(outDir, { recursive: true });
    const { code, report } = await runner({
      sources: stale.map((p) => p.source),
      outDir,
      profile: options.profile,
      jobs: options.jobs,
      ...(options.sandbox ? { sandbox: true } : {}),
    });
    ran.push(...stale.map((p) => p.source));
    for (const p of stale) {
      const executedSha256 = await fileSha256(join(outDir, p.name));
      if (executedSha256 === undefined || executedSha256 === before.get(p.name)) {
        log(`build: the runner (exit code ${code}) wrote no executed copy of ${p.source}`);
        continue;
      }
      const facts = report?.notebooks.get(p.name);
      manifest.notebooks[p.name] = {
        source: p.source,
        sourceSha256: p.sourceSha256,
        executedSha256,
        ...(p.profile ? { profile: p.profile } : {}),
        executedAt: startedAt,
        ...(facts?.status ? { status: facts.status } : {}),
        ...(facts?.durationMs !== undefined ? { durationMs: facts.durationMs } : {}),
      };
      p.state = {
        exists: true,
        fresh: true,
        trusted: true,
        executedSha256,
        entry: manifest.notebooks[p.name],
      };
      executedNow.add(p.name);
    }
    await writeManifest(outDir, manifest);
  } else if (stale.length) {
    log(
      `build: --no-execute: ${stale.length} notebook(s) have no fresh executed copy in ${outDir}/`,
    );
  }

  // 3. Read the executed copies and render.
  const t0 = performance.now();
  const missing: string[] = [];
  const found: Array<Omit<BuiltNotebook, "page"> & { stem: string }> = [];
  for (const p of plan) {
    const executedPath = join(outDir, p.name);
    if (!p.state.exists) {
      missing.push(p.source);
      continue;
    }
    const notebook = await readNotebook(executedPath);
    const entry = p.state.entry;
    // What the runner says counts only for copies it made (trusted).
    const record = p.state.trusted ? runnerRecord(notebook) : {};
    const summary = summarize(notebook, {
      fallbackTitle: basename(p.source, extname(p.source)),
      runnerStatus: entry?.status ?? record.status,
      runnerDurationMs: entry?.durationMs ?? record.durationMs,
    });
    found.push({
      stem: basename(p.name, extname(p.name)),
      executedPath,
      executed: executedNow.has(p.name),
      notebook,
      summary,
      trusted: p.state.trusted,
      source: relative(Deno.cwd(), resolve(p.source)) || p.source,
      sourceSha256: p.sourceSha256,
      stale: !p.state.fresh,
      ...(entry?.executedAt ? { executedAt: entry.executedAt } : {}),
      ...(p.state.trusted ? { modelsDir: modelsDirFor(executedPath) } : {}),
    });
  }
  for (const path of await findNotebooks(options.untrusted ?? [])) {
    const notebook = await readNotebook(path);
    found.push({
      stem: basename(path, extname(path)),
      executedPath: path,
      executed: false,
      notebook,
      summary: summarize(notebook, { fallbackTitle: basename(path, extname(path)) }),
      trusted: false,
      source: relative(Deno.cwd(), resolve(path)) || path,
      sourceSha256: await sha256Hex(await Deno.readFile(path)),
    });
  }
  const aggregate = await readAggregate(options.report ?? join(outDir, "report.json"), {
    required: options.report !== undefined,
  });
  const pages = pageNames(found.map((f) => f.stem));
  const notebooks: BuiltNotebook[] = found.map(({ stem: _, ...rest }, i) => ({
    ...rest,
    page: pages[i],
  }));
  const written = await exportSite(notebooks, {
    siteDir,
    ...(aggregate.length > 0 ? { aggregate } : {}),
    ...(options.siteTitle ? { siteTitle: options.siteTitle } : {}),
  });
  const renderMs = performance.now() - t0;
  return { notebooks, missing, ran, siteDir: written.siteDir, renderMs };
}

/**
 * Rewrites `--untrusted A B C` (a shell glob such as `out/*.ipynb`, expanded) into
 * `--untrusted A --untrusted B --untrusted C`: every argument after `--untrusted` up to the
 * next option is a third-party path.
 *
 * @example
 * ```ts
 * import { untrustedLists } from "./build.ts";
 * console.log(untrustedLists(["notebooks", "--untrusted", "a.ipynb", "b.ipynb", "--force"]));
 * // ["notebooks", "--untrusted", "a.ipynb", "--untrusted", "b.ipynb", "--force"]
 * ```
 */
export function untrustedLists(args: string[]): string[] {
  const out: string[] = [];
  let inList = false;
  for (const [i, arg] of args.entries()) {
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (arg.startsWith("-")) {
      inList = arg === "--untrusted";
      // "--untrusted=A" names one path and opens a list too
      if (arg.startsWith("--untrusted=")) inList = true;
      out.push(arg);
      continue;
    }
    if (inList && out.at(-1) !== "--untrusted") out.push("--untrusted");
    out.push(arg);
  }
  return out;
}

const USAGE = `Usage: deno task build [options] [NOTEBOOK|FOLDER ...]

Executes the notebooks (default: notebooks/) with the project's runner when their executed
copy is missing or stale (decided by content hash), then writes the static site.

  --out DIR          executed copies (default: out)
  --site DIR         site folder, replaced whole (default: site)
  --no-execute       run nothing: use only the executed copies already in --out
  --force            run every notebook even if its copy is fresh
  --profile NAME     smoke or full, passed to the runner (default: each notebook's own, full
                     for the project's notebooks)
  --jobs N           parallel kernels for the runner
  --sandbox          execute in the runner's bubblewrap sandbox (no network, read-only file
                     system but --out, no $HOME): for notebooks you did not write
  --untrusted PATH…  executed notebooks from elsewhere, or folders of them, shown sanitised:
                     every path after --untrusted up to the next option (out/*.ipynb works)
  --title TEXT       site title (default: Neural Notebooks)
  --report FILE      a sweep's report.json (deno task run --seeds ...): the index shows its
                     claims across runs (default: <out>/report.json when it has them)
  --help             show this help`;

/**
 * The command line; returns the exit code (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { main } from "./build.ts";
 * Deno.exit(await main(["--no-execute"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: untrustedLists(args),
      allowPositionals: true,
      options: {
        out: { type: "string" },
        site: { type: "string" },
        "no-execute": { type: "boolean" },
        force: { type: "boolean" },
        profile: { type: "string" },
        jobs: { type: "string" },
        sandbox: { type: "boolean" },
        untrusted: { type: "string", multiple: true },
        title: { type: "string" },
        report: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const jobs = v.jobs === undefined ? undefined : Number(v.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs > 0)) {
    console.error(`--jobs must be a positive whole number, not "${v.jobs}".`);
    return 2;
  }
  if (v["no-execute"] && v.force) {
    console.error("--no-execute and --force contradict each other: give one.");
    return 2;
  }
  if (v.sandbox && !v["no-execute"]) {
    try {
      await checkSandbox();
    } catch (error) {
      if (!(error instanceof SandboxError)) throw error;
      console.error(`${error.message}; nothing was built.`);
      return 2;
    }
  }
  const started = performance.now();
  let result: BuildResult;
  try {
    result = await build({
      sources: parsed.positionals.length ? parsed.positionals : undefined,
      outDir: v.out,
      siteDir: v.site,
      noExecute: v["no-execute"],
      force: v.force,
      profile: v.profile,
      jobs,
      sandbox: v.sandbox,
      untrusted: v.untrusted,
      siteTitle: v.title,
      report: v.report,
    });
  } catch (error) {
    console.error(`build failed: ${(error as Error).message}`);
    return 2;
  }
  const failed = result.notebooks.filter((n) => n.trusted && n.summary.status !== "ok");
  for (const n of result.notebooks) {
    const s = n.summary;
    const claims = s.claims.length
      ? `, ${s.claims.filter((c) => c.pass).length}/${s.claims.length} claims pass`
      : "";
    console.log(
      `${n.page}: ${s.status}${n.stale ? " (stale)" : ""}${n.trusted ? "" : " (third-party)"}` +
        `${claims}`,
    );
  }
  for (const source of result.missing) console.log(`missing: ${source} has no executed copy`);
  const foreignErrors = result.notebooks.filter((n) => !n.trusted && n.summary.status !== "ok");
  if (foreignErrors.length) {
    console.log(
      `${foreignErrors.length} third-party notebook(s) hold errors or failed claims ` +
        `(${foreignErrors.map((n) => n.page).join(", ")}): shown as such, not counted in the ` +
        "exit code.",
    );
  }
  console.log(
    `site: ${relative(Deno.cwd(), result.siteDir) || "."}/index.html ` +
      `(${result.notebooks.length} page${result.notebooks.length === 1 ? "" : "s"}, ` +
      `rendered in ${(result.renderMs / 1000).toFixed(1)} s, ` +
      `total ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  if (failed.length || result.missing.length) {
    console.log(
      `${failed.length + result.missing.length} notebook(s) failed or were not executed; ` +
        "the site shows their status.",
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
