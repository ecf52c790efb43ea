/**
 * `--sandbox`: runs the runner and its kernels inside a [bubblewrap](https://github.com/containers/bubblewrap)
 * sandbox, for notebooks you did not write.
 *
 * Inside, a notebook sees:
 *
 * - no network but its own loopback (a network namespace of its own; the kernels talk to the
 *   runner over that loopback, which is why the runner moves into the sandbox with them);
 * - the file system read-only, except the run's output folder (`--out`) and a private,
 *   empty `/tmp`;
 * - nothing of `$HOME`, `/home`, `/root` or `/run` (where the sockets of ssh-agent, D-Bus or
 *   Docker live), except Deno's cache (`DENO_DIR`, read-only), and the project, the
 *   notebooks and the Deno executable when they live there;
 * - only its own processes (a PID namespace, which dies with the runner), no capabilities,
 *   and an environment reduced to {@linkcode sandboxEnv}'s list: no tokens or keys;
 * - the GPU device nodes (`/dev/dri`, `/dev/nvidia*`) when they exist, so WebGPU still works;
 * - the project's `deno.json` with `"nodeModulesDir": "manual"`: the Deno kernel in `auto`
 *   mode relinks `node_modules` whenever a notebook imports an npm package it had not
 *   imported before, which a read-only `node_modules` refuses; in `manual` mode it uses the
 *   packages as `deno install` left them (so run that first: there is no network inside).
 *
 * Signals sent to the outer runner (Ctrl-C, SIGTERM, SIGHUP) are passed to the runner
 * inside, which stops as usual and writes the partial notebooks and the report; the
 * sandbox's own processes are never signalled (bubblewrap dies on SIGTERM and would take
 * the sandbox with it).
 *
 * @example
 * ```ts
 * import { bwrapArgs } from "./sandbox.ts";
 * const args = bwrapArgs({
 *   readable: ["/work/project"],
 *   writable: ["/work/project/out"],
 *   hidden: ["/home/me"],
 *   cwd: "/work/project",
 * });
 * console.log(args.includes("--unshare-all"), args.includes("--die-with-parent")); // true true
 * ```
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "node:path";
import { trace } from "./interrupts.ts";

/** Set (to `1`) in the environment of the runner inside the sandbox. */
export const SANDBOXED_ENV = "NN_SANDBOXED";

/** Raised when `--sandbox` cannot work here; the message says why and what to do. */
export class SandboxError extends Error {
  /** Creates a sandbox error. */
  constructor(message: string) {
    super(message);
    this.name = "SandboxError";
  }
}

/** What the sandbox shows and hides, as absolute paths. */
export interface SandboxLayout {
  /** Shown read-only (the project, the notebooks, Deno's cache, the Deno executable). */
  readable: string[];
  /** Shown read-write (the output folder). Created first; must exist. */
  writable: string[];
  /** Hidden behind an empty read-only folder (`$HOME`, `/home`, `/root`, `/run`). */
  hidden: string[];
  /** Working directory inside. */
  cwd: string;
  /** Device nodes passed through (GPU). */
  devices?: string[];
  /** Files shown read-only in place of others: `[source outside, path inside]`. */
  replaced?: [string, string][];
}

/**
 * The bubblewrap arguments for a layout (before `--` and the command): the whole file system
 * read-only, `/proc` and `/dev` of the sandbox's own, a private `/tmp`, the hidden folders
 * replaced by empty read-only ones, then what is shown again on top, and every namespace
 * unshared (so no network but loopback), no capabilities, a PID namespace that dies with the
 * parent, and the command as its PID 1 (so that it, and nothing else, receives the signals
 * passed in).
 *
 * @example
 * ```ts
 * import { bwrapArgs } from "./sandbox.ts";
 * const args = bwrapArgs({ readable: [], writable: ["/tmp/out"], hidden: [], cwd: "/" });
 * console.log(args.join(" ").includes("--bind /tmp/out /tmp/out")); // true
 * ```
 */
export function bwrapArgs(layout: SandboxLayout): string[] {
  const args = [
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
  ];
  for (const device of layout.devices ?? []) args.push("--dev-bind-try", device, device);
  const hidden = unique(layout.hidden).filter((path) => path !== "/" && path !== "/tmp");
  for (const path of hidden) args.push("--tmpfs", path);
  for (const path of unique(layout.readable)) args.push("--ro-bind-try", path, path);
  for (const [source, path] of layout.replaced ?? []) args.push("--ro-bind", source, path);
  for (const path of unique(layout.writable)) args.push("--bind", path, path);
  // The hidden folders' tmpfs become read-only once the mount points in them are made.
  for (const path of hidden) args.push("--remount-ro", path);
  args.push(
    "--unshare-all",
    "--die-with-parent",
    "--cap-drop",
    "ALL",
    "--as-pid-1",
    "--chdir",
    layout.cwd,
    "--setenv",
    "TMPDIR",
    "/tmp",
  );
  return args;
}

function unique(paths: string[]): string[] {
  return [...new Set(paths.map((p) => resolve(p)))];
}

/** Environment variables that pass into the sandbox; everything else is dropped. */
const PASS_NAMES = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TERM",
  "NO_COLOR",
  "FORCE_COLOR",
  "COLUMNS",
  "DENO_DIR",
  "DENO_V8_FLAGS",
  "DENO_NO_UPDATE_CHECK",
  "DENO_NO_PROMPT",
  "JOB_COMPLETION_INDEX",
  "JOB_COMPLETIONS",
  "CI_NODE_INDEX",
  "CI_NODE_TOTAL",
]);
const PASS_PREFIXES = ["LC_", "NN_", "SLURM_", "VK_", "MESA_", "LIBGL_", "WGPU_", "__GLX_"];

/**
 * The environment a sandboxed run gets: locale, terminal, `PATH`/`HOME`, Deno's own settings
 * (never `DENO_AUTH_TOKENS`), this project's `NN_*` knobs, the job engines' shard variables,
 * and the GPU drivers' (`VK_*`, `MESA_*`, …). Tokens, keys and proxies stay outside.
 *
 * @example
 * ```ts
 * import { sandboxEnv } from "./sandbox.ts";
 * const env = sandboxEnv({ PATH: "/usr/bin", AWS_SECRET_ACCESS_KEY: "x", NN_BACKEND: "cpu" });
 * console.log(env); // { PATH: "/usr/bin", NN_BACKEND: "cpu" }
 * ```
 */
export function sandboxEnv(env: Record<string, string | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (PASS_NAMES.has(name) || PASS_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      kept[name] = value;
    }
  }
  return kept;
}

const INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: " +
  "dnf install bubblewrap; Arch: pacman -S bubblewrap) or run without --sandbox only " +
  "notebooks you trust";

/** Where `bwrap` is on `PATH`, or `null`. */
export function findBwrap(path = Deno.env.get("PATH") ?? ""): string | null {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const candidate = join(dir, "bwrap");
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* not here */ }
  }
  return null;
}

/**
 * Checks that bubblewrap is installed and can make the sandbox here (user namespaces may
 * be turned off); returns its path or throws {@linkcode SandboxError} saying what to do.
 *
 * @example
 * ```ts ignore
 * import { checkSandbox } from "./sandbox.ts";
 * console.log(await checkSandbox()); // "/usr/bin/bwrap"
 * ```
 */
export async function checkSandbox(): Promise<string> {
  if (Deno.build.os !== "linux") {
    throw new SandboxError(
      `--sandbox needs Linux (bubblewrap); this is ${Deno.build.os}: run notebooks you did ` +
        "not write in a Linux virtual machine or container",
    );
  }
  const bwrap = findBwrap();
  if (!bwrap) {
    throw new SandboxError(
      `--sandbox needs bubblewrap (bwrap), which is not installed: ${INSTALL_HINT}`,
    );
  }
  const probe = await new Deno.Command(bwrap, {
    args: [...bwrapArgs({ readable: [], writable: [], hidden: [], cwd: "/" }), "--", "true"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output().catch((error) => ({
    success: false,
    stderr: new TextEncoder().encode(String(error)),
  }));
  if (!probe.success) {
    const why = new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1) ?? "";
    throw new SandboxError(
      `--sandbox: bubblewrap (${bwrap}) cannot make a sandbox here (${why || "it failed"}): ` +
        "user namespaces may be turned off (sysctl kernel.unprivileged_userns_clone=1, or on " +
        "Ubuntu 24.04 an AppArmor profile for bwrap) or this container forbids them",
    );
  }
  return bwrap;
}

/** Deno's cache folder (`DENO_DIR`), as `deno info` reports it; `undefined` if unknown. */
export async function denoDir(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const dir = JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
    return typeof dir === "string" && dir !== "" ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The GPU device nodes on this machine (`/dev/dri`, `/dev/nvidia*`). */
function gpuDevices(): string[] {
  const found: string[] = [];
  try {
    for (const entry of Deno.readDirSync("/dev")) {
      if (entry.name === "dri" || entry.name.startsWith("nvidia")) found.push(`/dev/${entry.name}`);
    }
  } catch { /* no /dev listing */ }
  return found.sort();
}

/**
 * The project's `deno.json` as the sandbox shows it: `"nodeModulesDir": "manual"` instead of
 * `auto` (see the module doc). Returns the text to show, or `undefined` when the file needs
 * no change. Throws {@linkcode SandboxError} when `node_modules` is missing.
 *
 * @example
 * ```ts
 * import { sandboxConfig } from "./sandbox.ts";
 * const text = sandboxConfig('{ "nodeModulesDir": "auto", "imports": {} }', true);
 * console.log(JSON.parse(text!).nodeModulesDir); // "manual"
 * ```
 */
export function sandboxConfig(text: string, nodeModulesInstalled: boolean): string | undefined {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text);
  } catch {
    return undefined; // deno.jsonc or broken: shown as it is
  }
  const mode = config.nodeModulesDir;
  if (mode === undefined || mode === false || mode === "none") return undefined;
  if (!nodeModulesInstalled) {
    throw new SandboxError(
      "--sandbox: the npm packages are not installed (no node_modules/) and the sandbox has " +
        "no network: run `deno install` first",
    );
  }
  if (mode === "manual") return undefined;
  return JSON.stringify({ ...config, nodeModulesDir: "manual" }, null, 2) + "\n";
}

/** Options for {@linkcode runSandboxed}. */
export interface RunSandboxedOptions {
  /** The command to run inside (absolute executable path first). */
  command: string[];
  /** The project root (shown read-only). */
  project: string;
  /** Folders the command may write (created here first). */
  writable: string[];
  /** More paths to show read-only (notebooks, folders). */
  readable?: string[];
  /** The bwrap executable (from {@linkcode checkSandbox}). */
  bwrap: string;
  /** Environment to filter with {@linkcode sandboxEnv} (default: this process's). */
  env?: Record<string, string | undefined>;
}

/** The pid of the process that bubblewrap `parent` started (its only child), or undefined. */
async function childOf(parent: number, timeoutMs = 5_000): Promise<number | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const list = (await Deno.readTextFile(`/proc/${parent}/task/${parent}/children`)).trim();
      if (list) return Number(list.split(/\s+/)[0]);
    } catch {
      // No children file (kernel without CONFIG_PROC_CHILDREN): scan /proc.
      for (const entry of Deno.readDirSync("/proc")) {
        if (!/^\d+$/.test(entry.name)) continue;
        try {
          const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          if (ppid === parent) return Number(entry.name);
        } catch { /* gone */ }
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

/**
 * Runs `command` in the sandbox and returns its exit code; passes SIGINT, SIGTERM and SIGHUP
 * to it (and only to it) meanwhile.
 *
 * @example
 * ```ts ignore
 * import { checkSandbox, runSandboxed } from "./sandbox.ts";
 * const code = await runSandboxed({
 *   command: [Deno.execPath(), "run", "-A", "kernel/run.ts", "notebooks/x.ipynb"],
 *   project: Deno.cwd(),
 *   writable: [`${Deno.cwd()}/out`],
 *   bwrap: await checkSandbox(),
 * });
 * ```
 */
export async function runSandboxed(options: RunSandboxedOptions): Promise<number> {
  const env = options.env ?? Deno.env.toObject();
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : undefined;
  const cache = env.DENO_DIR ?? await denoDir();
  const executable = options.command[0];
  const writable = options.writable.map((p) => resolve(p));
  for (const dir of writable) await Deno.mkdir(dir, { recursive: true });
  const hidden = ["/home", "/root", "/run", ...(home ? [home] : [])].filter((p) => exists(p));
  const shown = [
    options.project,
    Deno.cwd(),
    ...(cache ? [cache] : []),
    isAbsolute(executable) ? dirname(executable) : executable,
    ...(options.readable ?? []),
  ].map((p) => resolve(p));
  // A folder that holds a hidden one (the home folder itself, say) would show it again.
  const readable = shown.filter((path) => {
    const covers = hidden.find((h) => h === path || h.startsWith(path === "/" ? "/" : `${path}/`));
    if (covers) {
      console.error(
        `warning: --sandbox does not show ${path}: it holds ${covers}, which the sandbox hides`,
      );
    }
    return !covers;
  });
  const replaced: [string, string][] = [];
  const configPath = join(options.project, "deno.json");
  const configText = await Deno.readTextFile(configPath).catch(() => undefined);
  const shownConfig = configText === undefined
    ? undefined
    : sandboxConfig(configText, exists(join(options.project, "node_modules")));
  const scratch = await Deno.makeTempDir({ prefix: "nn-sandbox-" });
  if (shownConfig !== undefined) {
    await Deno.writeTextFile(join(scratch, "deno.json"), shownConfig);
    replaced.push([join(scratch, "deno.json"), configPath]);
  }
  const layout: SandboxLayout = {
    readable,
    writable,
    hidden,
    cwd: Deno.cwd(),
    devices: gpuDevices(),
    replaced,
  };
  const args = [...bwrapArgs(layout), "--", ...options.command];
  trace(`sandbox: ${options.bwrap} ${args.join(" ")}`);
  const child = new Deno.Command(options.bwrap, {
    args,
    clearEnv: true,
    env: {
      ...sandboxEnv(env),
      ...(cache ? { DENO_DIR: cache } : {}),
      [SANDBOXED_ENV]: "1",
    },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    // Its own session: signals to our process group (a terminal's Ctrl-C, timeout) do not
    // reach bubblewrap, which would die of them and take the sandbox with it.
    detached: true,
  }).spawn();
  const inner = childOf(child.pid);
  const forward = (name: Deno.Signal) => async () => {
    const pid = await inner;
    trace(`sandbox: passing ${name} to the runner inside (pid ${pid})`);
    if (pid === undefined) return;
    try {
      Deno.kill(pid, name);
    } catch { /* it has ended */ }
  };
  const removers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((name) => {
    const listener = forward(name);
    Deno.addSignalListener(name, listener);
    return () => Deno.removeSignalListener(name, listener);
  });
  try {
    const status = await child.status;
    return status.signal ? 128 + signalNumber(status.signal) : status.code;
  } finally {
    for (const remove of removers) remove();
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function signalNumber(name: string): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[name] ?? 0;
}
