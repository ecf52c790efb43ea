/**
 * Starts, watches, restarts and stops a kernel process: writes a connection file,
 * spawns the kernelspec's command in the notebook's folder, connects a
 * {@linkcode KernelClient}, performs the `kernel_info` handshake (which also proves that
 * the iopub subscription is live), pings the heartbeat, and reports the kernel's death
 * (process exit or heartbeat silence). No process is left behind: {@linkcode
 * KernelManager.shutdown} asks politely, then terminates, then kills.
 *
 * On Linux the kernel runs in a process group of its own, started through util-linux's
 * `setpriv --pdeathsig KILL`: a terminal's Ctrl-C or GNU `timeout`'s signal to the runner's
 * process group reaches the runner alone (which then stops the kernel itself, so a graceful
 * stop is not raced by the kernel's own death), stopping a kernel kills its whole group
 * (processes a cell started die with it), and a runner killed outright (SIGKILL, out of
 * memory) takes its kernels with it. Without `setpriv` the kernel stays in the runner's
 * group, as before.
 *
 * @example
 * ```ts ignore
 * import { KernelManager } from "./kernel_manager.ts";
 * import { BUILT_IN_KERNELS } from "./kernel_lookup.ts";
 * const kernel = await KernelManager.start({
 *   spec: { ...BUILT_IN_KERNELS.deno, source: "built-in" },
 *   cwd: "notebooks",
 * });
 * console.log(kernel.info.implementation); // "Deno kernel"
 * await kernel.shutdown();
 * ```
 * @module
 */

import { type Channel, type IopubEvent, KernelClient, RequestError } from "./client.ts";
import {
  connectionPorts,
  createConnectionInfo,
  releasePorts,
  writeConnectionFile,
} from "./connection.ts";
import type { KernelSpec } from "./kernel_lookup.ts";
import type { JupyterMessage } from "./messaging.ts";

/** Why a kernel stopped answering. */
export interface KernelDeath {
  /** `exit`: the process ended; `heartbeat`: it stopped echoing heartbeats. */
  reason: "exit" | "heartbeat";
  /** Exit code, when the process ended. */
  code?: number | null;
  /** Terminating signal, when there was one. */
  signal?: string | null;
  /** A one-line description. */
  message: string;
  /** The last lines the kernel wrote to stderr. */
  stderrTail: string;
}

/** Options for {@linkcode KernelManager.start}. */
export interface KernelManagerOptions {
  /** What to run. */
  spec: KernelSpec;
  /** Working directory of the kernel (the notebook's folder, so it finds deno.json). */
  cwd: string;
  /** Give up starting after this many ms. Default 60 000. */
  startupTimeoutMs?: number;
  /** Declare the kernel dead after this long without a heartbeat echo. Default 10 000; 0 disables. */
  heartbeatTimeoutMs?: number;
  /** Time between heartbeat pings. Default 1 000. */
  heartbeatIntervalMs?: number;
  /** Extra environment for the kernel, on top of the kernelspec's. */
  env?: Record<string, string>;
  /** Aborting it during startup kills the kernel and makes `start` throw at once. */
  signal?: AbortSignal;
}

/**
 * What most likely ended a kernel, in words, from its exit signal and last stderr lines; ""
 * when nothing specific is known.
 *
 * @example
 * ```ts
 * import { deathCause } from "./kernel_manager.ts";
 * const death = { signal: "SIGKILL", stderrTail: "" };
 * console.log(deathCause(death).startsWith("SIGKILL comes from outside")); // true
 * ```
 */
export function deathCause(death: Pick<KernelDeath, "signal" | "stderrTail">): string {
  if (/out of memory|reached heap limit|allocation failed/i.test(death.stderrTail)) {
    return "it ran out of memory (the V8 heap reached its limit). Use smaller sizes or the " +
      "smoke profile, or give it more with DENO_V8_FLAGS=--max-old-space-size=MB";
  }
  switch (death.signal) {
    case "SIGKILL":
      return "SIGKILL comes from outside the kernel: the system's out-of-memory killer " +
        "(see dmesg), a job engine's time or memory limit, or a kill -9";
    case "SIGTERM":
    case "SIGINT":
    case "SIGHUP":
    case "SIGQUIT":
      return `${death.signal} was sent to the kernel from outside the runner`;
    case "SIGSEGV":
    case "SIGBUS":
    case "SIGILL":
    case "SIGABRT":
    case "SIGTRAP":
      return `the kernel crashed (${death.signal}); its last stderr lines follow, if any`;
  }
  return "";
}

/** Raised when a kernel cannot be started. */
export class KernelStartError extends Error {
  /** Creates a start error with a message saying what went wrong. */
  constructor(message: string) {
    super(message);
    this.name = "KernelStartError";
  }
}

const STDERR_TAIL_BYTES = 8 * 1024;
const BANNER = /^.*"deno jupyter" is unstable and might change in the future\.\s*$/gm;

/** Kernel stderr without the unstable banner and ANSI colours. */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "").replace(BANNER, "").trim();
}

/** A live kernel process, and whether it leads a process group of its own. */
interface LiveKernel {
  child: Deno.ChildProcess;
  group: boolean;
}

/** Every live kernel process of this runner, killed on exit so that none is left behind. */
const live = new Set<LiveKernel>();
let exitHookInstalled = false;

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  globalThis.addEventListener("unload", () => killAll());
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    try {
      Deno.addSignalListener(signal, () => {
        if (signalsHandledElsewhere > 0) return;
        killAll();
        Deno.exit(EXIT_CODES[signal]);
      });
    } catch { /* signals unsupported here (Windows SIGTERM) */ }
  }
}

/** Sends SIGKILL to a kernel, and to its whole process group when it leads one. */
function killKernel({ child, group }: LiveKernel): void {
  if (group) {
    try {
      Deno.kill(-child.pid, "SIGKILL");
      return;
    } catch { /* the group is gone already: fall back to the process */ }
  }
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
}

let setprivPath: string | null | undefined;

/** util-linux's setpriv, when this is Linux and it is installed (looked up once). */
function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (Deno.build.os !== "linux") return null;
  for (const path of ["/usr/bin/setpriv", "/bin/setpriv"]) {
    try {
      if (Deno.statSync(path).isFile) return setprivPath = path;
    } catch { /* not there */ }
  }
  return null;
}

let signalsHandledElsewhere = 0;

/**
 * Tells the exit hook that the caller handles SIGINT/SIGTERM itself (the runner stops
 * gracefully and writes partial notebooks) until the returned function is called. Kernels
 * are still killed on exit.
 *
 * @example
 * ```ts
 * import { deferSignals } from "./kernel_manager.ts";
 * const restore = deferSignals();
 * restore();
 * ```
 */
export function deferSignals(): () => void {
  signalsHandledElsewhere++;
  let restored = false;
  return () => {
    if (!restored) signalsHandledElsewhere--;
    restored = true;
  };
}

/**
 * Kills every kernel this process started and has not stopped yet (also done on exit,
 * SIGINT and SIGTERM).
 *
 * @example
 * ```ts
 * import { killAll } from "./kernel_manager.ts";
 * killAll();
 * ```
 */
export function killAll(): void {
  for (const kernel of live) killKernel(kernel);
  live.clear();
}

/**
 * One running kernel process and its connection. Survives restarts (same object, new process).
 *
 * @example
 * ```ts ignore
 * import { KernelManager } from "./kernel_manager.ts";
 * import { BUILT_IN_KERNELS } from "./kernel_lookup.ts";
 * const kernel = await KernelManager.start({
 *   spec: { ...BUILT_IN_KERNELS["neural-notebooks"], source: "built-in" },
 *   cwd: ".",
 * });
 * kernel.onDeath((death) => console.error(death.message));
 * await kernel.restart();
 * await kernel.shutdown();
 * ```
 */
export class KernelManager {
  /** The kernelspec it runs. */
  readonly spec: KernelSpec;
  /** The latest `kernel_info_reply` content. */
  info: Record<string, unknown> = {};
  /** How many times it was restarted. */
  restarts = 0;

  #options: KernelManagerOptions;
  #child!: Deno.ChildProcess;
  #live!: LiveKernel;
  #client!: KernelClient;
  #connectionFile = "";
  #ports: number[] = [];
  #stderrTail = "";
  #stderrBytes = 0;
  #death: KernelDeath | undefined;
  #deathListeners = new Set<(death: KernelDeath) => void>();
  #iopubListeners = new Set<(event: IopubEvent) => void>();
  #unsubscribe: (() => void) | undefined;
  #stopping = false;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #generation = 0;

  private constructor(options: KernelManagerOptions) {
    this.#options = options;
    this.spec = options.spec;
  }

  /** Spawns the kernel and completes the handshake; throws {@linkcode KernelStartError}. */
  static async start(options: KernelManagerOptions): Promise<KernelManager> {
    installExitHook();
    const manager = new KernelManager(options);
    // A kernel that exits during startup most likely lost a port to another process
    // between our probe and its bind: try again with fresh ports.
    for (let attempt = 1;; attempt++) {
      if (options.signal?.aborted) {
        throw new KernelStartError(
          `the run was interrupted (${String(options.signal.reason)}) while kernel ` +
            `"${options.spec.name}" was starting`,
        );
      }
      try {
        await manager.#launch();
        return manager;
      } catch (error) {
        if (options.signal?.aborted) continue; // reported above
        if (attempt >= 3 || !/exited during startup/.test((error as Error).message)) throw error;
      }
    }
  }

  /** The current client (replaced on restart). */
  get client(): KernelClient {
    return this.#client;
  }

  /** Set once the current process has died unexpectedly; cleared by a restart. */
  get death(): KernelDeath | undefined {
    return this.#death;
  }

  /** The process id of the current kernel process. */
  get pid(): number {
    return this.#child.pid;
  }

  /** What the kernel wrote to stderr lately (the Deno "unstable" banner removed). */
  get stderrTail(): string {
    return plain(this.#stderrTail);
  }

  /** How many characters the current process has written to stderr so far. */
  get stderrMark(): number {
    return this.#stderrBytes;
  }

  /** What the current process wrote to stderr after `mark` (as far as the tail keeps it). */
  stderrSince(mark: number): string {
    const count = this.#stderrBytes - mark;
    if (count <= 0) return "";
    return plain(this.#stderrTail.slice(-count));
  }

  /** Adds a listener for iopub messages that survives restarts; returns a remover. */
  onIopub(listener: (event: IopubEvent) => void): () => void {
    this.#iopubListeners.add(listener);
    return () => this.#iopubListeners.delete(listener);
  }

  /** Adds a listener called once per unexpected death; returns a remover. */
  onDeath(listener: (death: KernelDeath) => void): () => void {
    this.#deathListeners.add(listener);
    return () => this.#deathListeners.delete(listener);
  }

  /** Sends a message on shell or control; the promise resolves with the reply. */
  send(channel: Channel, message: JupyterMessage<unknown>): Promise<JupyterMessage> {
    return this.#client.send(channel, message);
  }

  async #launch(): Promise<void> {
    const { spec, cwd } = this.#options;
    const generation = ++this.#generation;
    this.#death = undefined;
    this.#stderrTail = "";
    this.#stderrBytes = 0;
    const info = await createConnectionInfo({ kernelName: spec.name });
    this.#ports = connectionPorts(info);
    this.#connectionFile = await writeConnectionFile(info);
    const argv = spec.argv.map((arg) => arg.replaceAll("{connection_file}", this.#connectionFile));
    const command = argv[0] === "deno" ? Deno.execPath() : argv[0];
    // Its own process group, and SIGKILL when the runner dies (see the module doc).
    const wrapper = setpriv();
    try {
      this.#child = new Deno.Command(wrapper ?? command, {
        args: wrapper ? ["--pdeathsig", "KILL", "--", command, ...argv.slice(1)] : argv.slice(1),
        cwd,
        env: { ...spec.env, ...this.#options.env },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: wrapper !== null,
      }).spawn();
    } catch (error) {
      await this.#cleanupFiles();
      throw new KernelStartError(
        `could not start kernel "${spec.name}" (${argv.join(" ")}) in ${cwd}: ` +
          `${(error as Error).message}`,
      );
    }
    const child = this.#child;
    const entry: LiveKernel = { child, group: wrapper !== null };
    this.#live = entry;
    live.add(entry);
    this.#drain(child.stdout);
    this.#drain(child.stderr);
    let exited: Deno.CommandStatus | undefined;
    child.status.then((status) => {
      exited = status;
      live.delete(entry);
      // Whatever the kernel started dies with it.
      if (entry.group) killKernel(entry);
      if (generation === this.#generation && !this.#stopping) {
        const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
        this.#die({
          reason: "exit",
          code: status.code,
          signal: status.signal,
          message: `the kernel process ended (${how})`,
          stderrTail: "",
        });
      }
    });
    const timeoutMs = this.#options.startupTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const signal = this.#options.signal;
    const onAbort = () => killKernel(entry);
    signal?.addEventListener("abort", onAbort, { once: true });
    const exitReason = () =>
      signal?.aborted
        ? `the run was interrupted (${String(signal.reason)}) while the kernel was starting`
        : exited
        ? `kernel "${spec.name}" exited during startup (code ${exited.code}): ` +
          (this.stderrTail || "no message on stderr")
        : undefined;
    try {
      this.#client = await KernelClient.connect(info, {
        connectTimeoutMs: timeoutMs,
        abortReason: exitReason,
      });
      this.#unsubscribe = this.#client.onIopub((event) => {
        for (const listener of this.#iopubListeners) listener(event);
      });
      await this.#handshake(deadline, exitReason);
    } catch (error) {
      await this.#kill();
      throw new KernelStartError(
        `could not start kernel "${spec.name}" (${argv.join(" ")}) in ${cwd}: ` +
          `${(error as Error).message}`,
      );
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    this.#startHeartbeat(generation);
  }

  /** kernel_info until a reply comes AND iopub has delivered a message (subscription live). */
  async #handshake(deadline: number, exitReason: () => string | undefined): Promise<void> {
    let iopubSeen = false;
    const stop = this.#client.onIopub(() => iopubSeen = true);
    try {
      while (true) {
        const reason = exitReason();
        if (reason) throw new RequestError(reason);
        const left = deadline - Date.now();
        if (left <= 0) throw new RequestError("no kernel_info_reply before the startup timeout");
        try {
          const reply = await this.#client.request("shell", "kernel_info_request", {}, {
            timeoutMs: Math.min(2_000, left),
          });
          this.info = reply.content;
          const until = Date.now() + 500;
          while (!iopubSeen && Date.now() < until) await sleep(10);
          if (iopubSeen) return;
        } catch (error) {
          if (!(error instanceof RequestError)) throw error;
        }
      }
    } finally {
      stop();
    }
  }

  #startHeartbeat(generation: number): void {
    const timeoutMs = this.#options.heartbeatTimeoutMs ?? 10_000;
    if (timeoutMs <= 0) return;
    const interval = this.#options.heartbeatIntervalMs ?? 1_000;
    let lastEcho = Date.now();
    let inFlight = false;
    this.#heartbeatTimer = setInterval(async () => {
      if (generation !== this.#generation || this.#death || this.#stopping || inFlight) return;
      inFlight = true;
      const ok = await this.#client.ping(interval);
      inFlight = false;
      if (generation !== this.#generation || this.#death || this.#stopping) return;
      if (ok) lastEcho = Date.now();
      else if (Date.now() - lastEcho > timeoutMs) {
        this.#die({
          reason: "heartbeat",
          message: `the kernel stopped answering heartbeats for ${Math.round(timeoutMs / 1000)} s`,
          stderrTail: "",
        });
      }
    }, interval);
  }

  #die(death: KernelDeath): void {
    if (this.#death) return;
    // Give the stderr readers a moment; the tail is read when the death is reported.
    this.#death = death;
    setTimeout(() => {
      death.stderrTail = this.stderrTail;
      const why = deathCause(death);
      if (why) death.message += `: ${why}`;
      for (const listener of this.#deathListeners) listener(death);
    }, 50);
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        this.#stderrBytes += text.length;
        this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL_BYTES);
      }
    } catch { /* process killed */ }
  }

  async #kill(): Promise<void> {
    clearInterval(this.#heartbeatTimer);
    this.#unsubscribe?.();
    this.#client?.close();
    killKernel(this.#live);
    await this.#child.status;
    await this.#cleanupFiles();
  }

  async #cleanupFiles(): Promise<void> {
    releasePorts(this.#ports);
    this.#ports = [];
    if (this.#connectionFile) {
      await Deno.remove(this.#connectionFile).catch(() => {});
      this.#connectionFile = "";
    }
  }

  /** Kills the current process (no questions asked) and starts a fresh one. */
  async restart(): Promise<void> {
    this.#stopping = true;
    this.#generation++;
    await this.#kill();
    this.#stopping = false;
    this.restarts++;
    await this.#launch();
  }

  /**
   * Stops the kernel: `shutdown_request` on control, then SIGTERM after `graceMs`
   * (default 2 000), then SIGKILL. Safe to call twice.
   */
  async shutdown(graceMs = 2_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#generation++;
    clearInterval(this.#heartbeatTimer);
    const child = this.#child;
    let exited = false;
    const status = child.status.then(() => exited = true);
    if (!this.#death && !this.#client.isClosed) {
      await this.#client.request("control", "shutdown_request", { restart: false }, {
        timeoutMs: graceMs,
      }).catch(() => {});
      await Promise.race([status, sleep(graceMs)]);
    }
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await Promise.race([status, sleep(1_000)]);
    }
    await this.#kill();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
