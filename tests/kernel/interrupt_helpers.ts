/**
 * Helpers for the interruption tests: interrupt a real run in one of the ways a reviewer or a
 * job engine does, load the CPU while it runs, and check what it left behind (the partial
 * notebook, the report, no process, the source untouched).
 *
 * @module
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import type { RunReport } from "../../kernel/report.ts";
import { readNotebook } from "../../kernel/notebook.ts";
import { ROOT } from "./helpers.ts";

/** The ways a run gets interrupted. */
export const INTERRUPT_MODES = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP, terminal gone",
  "timeout",
  "timeout + deno task",
  "second signal after the burst",
  "late duplicate in the burst",
  "signal storm",
] as const;

/** One of {@linkcode INTERRUPT_MODES}. */
export type InterruptMode = typeof INTERRUPT_MODES[number];

/** What an interrupted run gave. */
export interface InterruptResult {
  /** Exit code of the process the test started (the runner, `timeout` or `deno task`). */
  code: number;
  /** Its stderr (up to the interruption only, when the mode closes it). */
  stderr: string;
  /** The marker in the runner's environment, which every process it started inherits. */
  mark: string;
  /** The signals sent, with the delays, in words. */
  actions: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Which `timeout` is on PATH (GNU coreutils), or null. */
export async function hasTimeout(): Promise<boolean> {
  try {
    const out = await new Deno.Command("timeout", { args: ["--version"], stdout: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * Runs `notebook` with `deno task run` semantics and interrupts it `delayMs` after the runner
 * says "running", in the given `mode`; resolves when the started process has ended.
 */
export async function interruptRun(options: {
  mode: InterruptMode;
  delayMs: number;
  notebook: string;
  out: string;
  /** For "second signal after the burst": the pause between the two (default 1 500). */
  secondAfterMs?: number;
  /** More runner arguments. */
  args?: string[];
  /** More environment. */
  env?: Record<string, string>;
}): Promise<InterruptResult> {
  const { mode, notebook, out } = options;
  const mark = crypto.randomUUID();
  const runnerArgs = ["--out", out, ...(options.args ?? []), notebook];
  const direct = [Deno.execPath(), "run", "-A", "kernel/run.ts", ...runnerArgs];
  const viaTask = ["deno", "task", "run", ...runnerArgs];
  const argv = mode === "timeout"
    ? ["timeout", "600", ...direct]
    : mode === "timeout + deno task"
    ? ["timeout", "600", ...viaTask]
    : direct;
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: {
      NO_COLOR: "1",
      NN_TEST_MARK: mark,
      PATH: `${join(Deno.execPath(), "..")}:${Deno.env.get("PATH")}`,
      ...options.env,
    },
  }).spawn();
  const actions: string[] = [];
  let stderr = "";
  let closed = false;
  const reader = child.stderr.getReader();
  const decoder = new TextDecoder();
  let started!: () => void;
  const running = new Promise<void>((resolve) => started = resolve);
  const reading = (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += decoder.decode(value, { stream: true });
        if (/^running /m.test(stderr)) started();
      }
    } catch { /* cancelled: the terminal is gone */ }
    started(); // the runner ended before it ran anything: nothing to wait for
  })();
  const send = (signal: Deno.Signal, why = "") => {
    try {
      child.kill(signal);
      actions.push(`${signal}${why}`);
    } catch {
      actions.push(`${signal}${why} (already ended)`);
    }
  };
  await running;
  await sleep(options.delayMs);
  actions.push(`after ${options.delayMs} ms:`);
  switch (mode) {
    case "SIGINT":
    case "SIGTERM":
      send(mode);
      break;
    case "SIGHUP, terminal gone":
      // A closed terminal: stderr goes nowhere any more, then SIGHUP.
      closed = true;
      await reader.cancel().catch(() => {});
      send("SIGHUP");
      break;
    case "timeout":
    case "timeout + deno task":
      // SIGTERM to timeout does what its expiry does: the command, then its process group.
      send("SIGTERM", " to timeout");
      break;
    case "second signal after the burst": {
      send("SIGTERM");
      const pause = options.secondAfterMs ?? 1_500;
      await sleep(pause);
      send("SIGINT", ` ${pause} ms later`);
      break;
    }
    case "signal storm": {
      // SIGTERM every 10 ms until the runner ends: one lands in every step of its exit path.
      send("SIGTERM");
      let sent = 1;
      const exited = child.status.then(() => true);
      while (!await Promise.race([exited, sleep(10).then(() => false)])) {
        try {
          child.kill("SIGTERM");
          sent++;
        } catch {
          break;
        }
      }
      actions.push(`then SIGTERM every 10 ms until it ended (${sent} in all)`);
      break;
    }
    case "late duplicate in the burst": {
      send("SIGTERM");
      const pause = Math.floor(Math.random() * 900);
      await sleep(pause);
      send("SIGTERM", ` again ${pause} ms later`);
      break;
    }
  }
  const { code } = await child.status;
  if (!closed) await reading;
  return { code, stderr, mark, actions };
}

/** The processes (pid and command line) whose environment holds `NN_TEST_MARK=mark`. */
export function markedProcesses(mark: string): string[] {
  const found: string[] = [];
  const needle = new TextEncoder().encode(`NN_TEST_MARK=${mark}`);
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const environ = Deno.readFileSync(`/proc/${entry.name}/environ`);
      if (!includes(environ, needle)) continue;
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // a zombie: dead
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      found.push(`${entry.name}: ${cmdline.trim()}`);
    } catch { /* gone, or not ours to read */ }
  }
  return found;
}

function includes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Waits up to `ms` for every process marked `mark` to end; returns those left. */
export async function leftovers(mark: string, ms = 5_000): Promise<string[]> {
  const until = Date.now() + ms;
  let left = markedProcesses(mark);
  while (left.length > 0 && Date.now() < until) {
    await sleep(100);
    left = markedProcesses(mark);
  }
  return left;
}

/** Kills the processes marked `mark` (cleanup after a failed check). */
export function killMarked(mark: string): void {
  for (const line of markedProcesses(mark)) {
    try {
      Deno.kill(Number(line.split(":")[0]), "SIGKILL");
    } catch { /* gone */ }
  }
}

/** CPU hogs: `count` busy shells, until `stop()`. */
export function cpuLoad(count: number): { stop: () => Promise<void> } {
  const hogs = Array.from({ length: count }, () =>
    new Deno.Command("sh", {
      args: ["-c", "while :; do :; done"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
  return {
    stop: async () => {
      for (const hog of hogs) {
        try {
          hog.kill("SIGKILL");
        } catch { /* gone */ }
      }
      await Promise.all(hogs.map((hog) => hog.status));
    },
  };
}

/** The number of CPUs (for the load). */
export function cpuCount(): number {
  return navigator.hardwareConcurrency || 2;
}

/**
 * Checks what an interrupted run of `source` into `out` left: exit code 130, `report.json`
 * and `report.md` naming the interruption, the partial executed notebook (status
 * `interrupted`), no process of the run alive, the source unchanged.
 */
export async function assertInterrupted(
  result: InterruptResult,
  { out, source, sourceBytes }: { out: string; source: string; sourceBytes: Uint8Array },
): Promise<RunReport> {
  const context = `${result.actions.join(" ")}\n--- stderr ---\n${result.stderr}`;
  const left = await leftovers(result.mark);
  if (left.length > 0) killMarked(result.mark);
  let report: RunReport;
  try {
    report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
  } catch (error) {
    assert.fail(`no report.json (${(error as Error).message}): ${context}`);
  }
  assert.ok(report.interrupted, `the report says interrupted: ${context}`);
  assert.ok(report.notebooks.length === 1, `the run is in the report: ${context}`);
  assert.match(report.interrupted.signal, /^SIG(INT|TERM|HUP)$/);
  assert.match(await Deno.readTextFile(join(out, "report.md")), /Interrupted by SIG/);
  assert.equal(report.notebooks[0].status, "interrupted", context);
  const nb = await readNotebook(join(out, basename(source)));
  const run = (nb.metadata["neural-notebooks"] as { run: { status: string } }).run;
  assert.equal(run.status, "interrupted");
  assert.deepEqual(await Deno.readFile(source), sourceBytes, "the source notebook is unchanged");
  assert.equal(result.code, 130, `exit code: ${context}`);
  assert.deepEqual(left, [], `processes left running: ${context}`);
  return report;
}
