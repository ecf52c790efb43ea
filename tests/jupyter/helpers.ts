/**
 * Helpers of the Jupyter front-end suite: a private classic Notebook server with this
 * project's kernelspec, a headless Chromium page that runs a notebook through the
 * Notebook's own JavaScript API, a checker of what the page rendered, `jupyter nbconvert
 * --execute`, and a sweep for processes left behind.
 *
 * Everything runs from temporary folders: the Jupyter data, config and runtime dirs and
 * Chromium's profile live under one folder in the system temp dir, and the notebooks
 * are copied under `out/jupyter-<random>/` inside the project, where the Deno kernel
 * finds the project's deno.json (imports map with the `nn` alias) from the notebook's
 * folder. {@linkcode Workspace.cleanup} removes both.
 *
 * @example
 * ```ts ignore
 * import { checkTools, createWorkspace, startNotebookServer } from "./helpers.ts";
 * const tools = await checkTools();
 * if (tools.ok) {
 *   const ws = await createWorkspace();
 *   const server = await startNotebookServer(ws);
 *   console.log(server.url);
 *   await server.stop();
 *   await ws.cleanup();
 * }
 * ```
 * @module
 */

import { basename, join } from "node:path";
import type { Page } from "playwright-core";
import { installKernelspec, KERNEL_NAME } from "../../kernel/kernelspec.ts";

/** The project's root folder. */
export const PROJECT_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** Chromium, from Debian's `chromium` package unless `CHROMIUM_PATH` says otherwise. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
/** Chromium flags for a headless run on a CI machine. */
export const CHROMIUM_ARGS: string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const decoder = new TextDecoder();

async function output(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return {
      ok: out.success,
      text: (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim(),
    };
  } catch (error) {
    return { ok: false, text: (error as Error).message };
  }
}

/** Which tools are here; `reason` says what is missing and how to install it. */
export interface Tools {
  /** Classic Notebook and Chromium are both present. */
  ok: boolean;
  /** `jupyter nbconvert` is present. */
  nbconvert: boolean;
  /** Classic Notebook's version, e.g. "6.4.12". */
  notebookVersion?: string;
  /** What is missing, when something is. */
  reason?: string;
}

/**
 * Looks for classic Jupyter Notebook 6.x, `jupyter nbconvert` and Chromium.
 *
 * @example
 * ```ts ignore
 * const tools = await checkTools();
 * if (!tools.ok) console.log(tools.reason);
 * ```
 */
export async function checkTools(): Promise<Tools> {
  const missing: string[] = [];
  const nb = await output("jupyter", ["notebook", "--version"]);
  const version = nb.ok ? nb.text.split("\n").at(-1)!.trim() : undefined;
  if (!version) missing.push("classic Jupyter Notebook (apt-get install jupyter-notebook)");
  else if (!/^6\./.test(version)) {
    missing.push(
      `classic Jupyter Notebook 6.x (found ${version}; apt-get install jupyter-notebook)`,
    );
  }
  const chromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
  if (!chromium) missing.push(`Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const nbconvert = (await output("jupyter", ["nbconvert", "--version"])).ok;
  return {
    ok: missing.length === 0,
    nbconvert,
    notebookVersion: version,
    reason: missing.length ? `missing ${missing.join(" and ")}` : undefined,
  };
}

/** Temporary folders of one suite run. */
export interface Workspace {
  /** Unique temp folder holding the Jupyter dirs and Chromium's profile. */
  temp: string;
  /** Unique folder under out/ with the notebook copies (inside the project tree). */
  root: string;
  /** Jupyter data dir with this project's kernelspec in `kernels/`. */
  dataDir: string;
  /** Jupyter config dir with this run's config file. */
  configDir: string;
  /** Jupyter runtime dir (connection files). */
  runtimeDir: string;
  /** Chromium's fresh user data dir. */
  profileDir: string;
  /** Environment for `jupyter` commands: only the temporary user dirs. */
  env: Record<string, string>;
  /** Removes both folders. */
  cleanup(): Promise<void>;
}

/**
 * Makes the temporary folders and installs the project's kernelspec into the temporary
 * Jupyter data dir.
 */
export async function createWorkspace(): Promise<Workspace> {
  const temp = await Deno.makeTempDir({ prefix: "nn-jupyter-" });
  await Deno.mkdir(join(PROJECT_ROOT, "out"), { recursive: true });
  const root = await Deno.makeTempDir({ dir: join(PROJECT_ROOT, "out"), prefix: "jupyter-" });
  const dataDir = join(temp, "data");
  const configDir = join(temp, "config");
  const runtimeDir = join(temp, "runtime");
  const profileDir = join(temp, "chromium");
  for (const dir of [dataDir, configDir, runtimeDir, profileDir]) await Deno.mkdir(dir);
  await installKernelspec({ dataDir });
  return {
    temp,
    root,
    dataDir,
    configDir,
    runtimeDir,
    profileDir,
    env: {
      JUPYTER_DATA_DIR: dataDir,
      JUPYTER_CONFIG_DIR: configDir,
      JUPYTER_RUNTIME_DIR: runtimeDir,
      JUPYTER_PLATFORM_DIRS: "1",
      PYTHONUNBUFFERED: "1",
    },
    async cleanup() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
      await Deno.remove(temp, { recursive: true }).catch(() => {});
    },
  };
}

type Cell = { cell_type: string; source: string | string[]; metadata?: Record<string, unknown> };

/**
 * Switches a notebook to the smoke profile: in the cell tagged `parameters`, any
 * `profile = "full"` becomes `profile = "smoke"`. Returns whether the cell now says smoke.
 */
export function smokeProfile(notebook: { cells: Cell[] }): boolean {
  const cell = notebook.cells.find((c) =>
    c.cell_type === "code" &&
    ((c.metadata?.tags ?? []) as string[]).includes("parameters")
  );
  if (!cell) return false;
  const text = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
  const smoke = text.replace(/\bprofile(\s*=\s*)(["'])full\2/g, 'profile$1"smoke"');
  cell.source = smoke.split(/(?<=\n)/);
  return /\bprofile\s*=\s*["']smoke["']/.test(smoke);
}

/**
 * Copies a notebook into `dir` (under the workspace's root), switched to the smoke
 * profile. Returns the copy's path relative to the workspace root.
 */
export async function copyNotebook(ws: Workspace, source: string, dir: string): Promise<string> {
  const notebook = JSON.parse(await Deno.readTextFile(source));
  if (!smokeProfile(notebook)) {
    throw new Error(`${source}: no \`profile = "full"|"smoke"\` in a cell tagged "parameters".`);
  }
  await Deno.mkdir(join(ws.root, dir), { recursive: true });
  const rel = `${dir}/${basename(source)}`;
  await Deno.writeTextFile(join(ws.root, rel), JSON.stringify(notebook, null, 1) + "\n");
  return rel;
}

/** The .ipynb files of a folder, sorted, as absolute paths. */
export async function listNotebooks(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".ipynb")) found.push(join(dir, entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort();
}

/** A running classic Notebook server. */
export interface NotebookServer {
  /** Base URL, e.g. http://127.0.0.1:8123. */
  url: string;
  /** The random token. */
  token: string;
  /** PID of `jupyter notebook` (leader of its own process group). */
  pid: number;
  /** The server's log so far (stdout and stderr). */
  log(): string;
  /** Calls the REST API with the token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Shuts every kernel down, then the server and its process group. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (free when asked; the server binds it soon after). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts Debian's classic Notebook on 127.0.0.1 (free port, random token, config from
 * the workspace's config dir), serving the workspace's notebook copies, and waits
 * until `/api` answers.
 */
export async function startNotebookServer(
  ws: Workspace,
  options: { startupTimeoutMs?: number } = {},
): Promise<NotebookServer> {
  const token = crypto.randomUUID().replaceAll("-", "");
  const port = freePort();
  await Deno.writeTextFile(
    join(ws.configDir, "jupyter_notebook_config.json"),
    JSON.stringify(
      {
        NotebookApp: {
          ip: "127.0.0.1",
          port,
          port_retries: 0,
          token,
          open_browser: false,
          notebook_dir: ws.root,
          // no server extensions and no terminals: only what the test uses
          nbserver_extensions: {},
          terminals_enabled: false,
        },
        MappingKernelManager: { default_kernel_name: KERNEL_NAME },
      },
      null,
      2,
    ),
  );
  return await launchServer(ws, {
    name: "jupyter notebook",
    command: "jupyter",
    args: [
      "notebook",
      "--no-browser",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--port-retries=0",
      `--NotebookApp.token=${token}`,
      `--notebook-dir=${ws.root}`,
      // CI containers run as root; the server still listens on 127.0.0.1 only.
      ...(Deno.uid() === 0 ? ["--allow-root"] : []),
    ],
    port,
    token,
    startupTimeoutMs: options.startupTimeoutMs,
  });
}

/** What {@linkcode launchServer} starts. */
export interface LaunchOptions {
  /** Name for messages, e.g. "jupyter notebook". */
  name: string;
  /** The program. */
  command: string;
  /** Its arguments: they must make it listen on 127.0.0.1:`port` with `token`. */
  args: string[];
  port: number;
  token: string;
  /** How long to wait for `/api` to answer (default 60 s). */
  startupTimeoutMs?: number;
}

/**
 * Starts a Jupyter server process in the workspace's root with the workspace's
 * environment, in its own process group, and waits until `/api` answers. The returned
 * handle's `stop()` shuts every kernel down, then the whole process group.
 */
export async function launchServer(ws: Workspace, options: LaunchOptions): Promise<NotebookServer> {
  const { name, port, token } = options;
  const child = new Deno.Command(options.command, {
    args: options.args,
    cwd: ws.root,
    env: ws.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true, // its own process group, so that stop() can signal all of it
  }).spawn();
  let log = "";
  const pump = (stream: ReadableStream<Uint8Array<ArrayBuffer>>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (log += chunk) }),
    ).catch(() => {});
  const pumps = [pump(child.stdout), pump(child.stderr)];
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const url = `http://127.0.0.1:${port}`;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: { Authorization: `token ${token}`, ...(init.headers ?? {}) },
    });

  const stop = async () => {
    if (!exited) {
      try {
        const kernels = await (await api("/api/kernels")).json() as Array<{ id: string }>;
        for (const k of kernels) {
          await (await api(`/api/kernels/${k.id}`, { method: "DELETE" })).body?.cancel();
        }
      } catch { /* the server is gone already */ }
      try {
        Deno.kill(-child.pid, "SIGTERM");
      } catch { /* gone */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([
        status.then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 15_000)),
      ]);
      clearTimeout(timer);
      if (!done) {
        try {
          Deno.kill(-child.pid, "SIGKILL");
        } catch { /* gone */ }
        await status;
      }
    }
    await Promise.all(pumps);
  };

  const deadline = Date.now() + (options.startupTimeoutMs ?? 60_000);
  while (true) {
    if (exited) {
      await Promise.all(pumps);
      throw new Error(`${name} exited during startup:\n${log}`);
    }
    try {
      const res = await fetch(`${url}/api`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not answer on ${url}/api in time:\n${log}`);
    }
    await sleep(200);
  }
  return { url, token, pid: child.pid, log: () => log, api, stop };
}

/**
 * PIDs of processes whose command line contains one of `needles` (Linux /proc); the
 * calling process is left out.
 */
export async function processesMatching(
  needles: string[],
): Promise<Array<{ pid: number; cmd: string }>> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    let cmd: string;
    try {
      cmd = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).replaceAll("\0", " ").trim();
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      if (/\) Z /.test(stat)) continue; // a zombie holds no resources
    } catch {
      continue;
    }
    if (cmd && needles.some((n) => cmd.includes(n))) found.push({ pid, cmd });
  }
  return found;
}

/** One output as the classic Notebook holds it, plus what its element shows. */
export interface PageOutput {
  /** nbformat output_type. */
  type: string;
  /** Mime types in the output's data. */
  mimes: string[];
  /** text/plain of the output (or the stream text, or "ename: evalue"). */
  text: string;
}

/** A chart output and whether the page drew it. */
export interface ChartCheck {
  cell: string;
  /** Index of the output in its cell. */
  output: number;
  /** The chart's text/plain. */
  title: string;
  /** Drawn by Plotly with as many traces as the figure has. */
  rendered: boolean;
  /** Why not, when not. */
  reason?: string;
  /** Part of a live training display. */
  progress: boolean;
}

/** A live training display after the run. */
export interface ProgressCheck {
  cell: string;
  output: number;
  /** The displayed status line at the end, e.g. "100% · done: 6 epochs in 0.5 s · …". */
  finalText: string;
  /** The chart inside it was drawn. */
  chartRendered: boolean;
}

/** A claim output and whether it rendered. */
export interface ClaimCheck {
  cell: string;
  id: string;
  pass: boolean;
  /** A `.nn-claim` element with the same verdict is in the output's element. */
  rendered: boolean;
}

/** What a notebook page shows after its run. */
export interface PageReport {
  /** Code cells: id, execution count and outputs. */
  cells: Array<{ id: string; count: number | null; outputs: PageOutput[] }>;
  /** Error outputs as "cell: ename: evalue". */
  errors: string[];
  charts: ChartCheck[];
  progress: ProgressCheck[];
  claims: ClaimCheck[];
  /** Cells whose output elements do not match their outputs one to one. */
  mismatched: string[];
}

/** Counters the page keeps while the notebook runs. */
export interface RunStats {
  /** `update_display_data` messages applied in place (`output_updated.OutputArea`). */
  updates: number;
  /** text/plain of every applied update, in order. */
  updateTexts: string[];
  /** Outputs the front end received after it had closed their request (dropped). */
  unsolicited: string[];
  /** Kernel deaths and restarts seen. */
  kernelEvents: string[];
  /**
   * Every `display_data` the page received, in order: "cell N · display id · text/plain"
   * (N the index of the cell whose request is the message's parent, "?" for none).
   */
  displays: string[];
  /**
   * Set when every cell had its reply but some request never reported "idle" to the
   * page within the stall window: its iopub messages stopped reaching the page. Says
   * which requests and the last messages the page got.
   */
  stalled: string | null;
  /** Seconds from "run all" to the end of the settle window. */
  seconds: number;
}

/** Options for {@linkcode runNotebookInPage}. */
export interface PageRunOptions {
  /** Give up after this long (default 600 s). */
  timeoutMs?: number;
  /** Quiet time after the last cell finished before the run counts as done (default 3 s). */
  settleMs?: number;
  /**
   * Quiet time after the last cell finished after which a request still waiting for its
   * "idle" counts as stalled rather than busy (default 30 s).
   */
  stallMs?: number;
}

/**
 * Opens a notebook of the server in the page, makes sure it runs on this project's
 * kernel (selecting it when the notebook asks for another), runs all cells with
 * `Jupyter.notebook.execute_all_cells()` and waits until no cell is running, the kernel
 * is idle and nothing has changed for a settle window.
 *
 * "Idle" is tracked per request (status messages by `parent_header.msg_id`), because the
 * Deno kernel may publish a request's status messages and outputs out of order.
 */
export async function runNotebookInPage(
  page: Page,
  server: NotebookServer,
  path: string,
  options: PageRunOptions = {},
): Promise<RunStats> {
  await page.goto(`${server.url}/notebooks/${path}?token=${server.token}`, {
    waitUntil: "domcontentloaded",
  });
  const kernelReady = () =>
    page.waitForFunction(
      () => {
        // deno-lint-ignore no-explicit-any
        const k = (globalThis as any).Jupyter?.notebook?.kernel;
        return k?.is_connected?.() && k.info_reply?.protocol_version !== undefined;
      },
      null,
      { timeout: 120_000 },
    );
  await kernelReady();
  const name = await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any
    (globalThis as any).Jupyter.notebook.kernel.name as string
  );
  if (name !== KERNEL_NAME) {
    await page.evaluate(
      // deno-lint-ignore no-explicit-any
      (k) => (globalThis as any).Jupyter.notebook.kernel_selector.set_kernel({ name: k }),
      KERNEL_NAME,
    );
    await page.waitForFunction(
      // deno-lint-ignore no-explicit-any
      (k) => (globalThis as any).Jupyter.notebook.kernel?.name === k,
      KERNEL_NAME,
      { timeout: 60_000 },
    );
    await kernelReady();
  }
  await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const J = (globalThis as any).Jupyter;
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    const s = w.__nnRun = {
      updates: 0,
      updateTexts: [] as string[],
      unsolicited: [] as string[],
      kernelEvents: [] as string[],
      state: "idle",
      pending: [] as string[],
      messages: [] as string[],
      displays: [] as string[],
      changes: 0,
    };
    // deno-lint-ignore no-explicit-any
    J.notebook.events.on("output_updated.OutputArea", (_e: unknown, d: any) => {
      s.updates++;
      s.changes++;
      s.updateTexts.push(String(d?.output?.data?.["text/plain"] ?? ""));
    });
    J.notebook.events.on("output_appended.OutputArea", () => void s.changes++);
    // deno-lint-ignore no-explicit-any
    J.notebook.events.on("received_unsolicited_message.Kernel", (_e: unknown, msg: any) => {
      s.unsolicited.push(
        `${msg?.header?.msg_type} (parent ${msg?.parent_header?.msg_id ?? "?"}): ` +
          String(msg?.content?.data?.["text/plain"] ?? msg?.content?.text ?? "").slice(0, 120),
      );
    });
    // Kernel status by request: the Deno kernel may publish a request's "idle" before
    // its "busy" or before its last outputs, so the last status seen is not the state.
    // The last messages the page got are kept for diagnostics.
    const kernel = J.notebook.kernel;
    const finish = kernel._finish_ws_message.bind(kernel);
    // deno-lint-ignore no-explicit-any
    kernel._finish_ws_message = (msg: any) => {
      if (msg.header?.msg_type === "display_data") {
        const parent = msg.parent_header?.msg_id;
        // deno-lint-ignore no-explicit-any
        const cell = J.notebook.get_cells().findIndex((c: any) => c.last_msg_id === parent);
        s.displays.push(
          `cell ${cell < 0 ? "?" : cell} · ${msg.content?.transient?.display_id ?? "-"} · ` +
            String(msg.content?.data?.["text/plain"] ?? "").slice(0, 60),
        );
      }
      s.messages.push(
        `${msg.channel}:${msg.header?.msg_type}:${String(msg.parent_header?.msg_id).slice(0, 8)}`,
      );
      if (s.messages.length > 16) s.messages.shift();
      return finish(msg);
    };
    const handleStatus = kernel._handle_status_message.bind(kernel);
    const requests = new Map<string, { busy: boolean; idle: boolean; type: string }>();
    // deno-lint-ignore no-explicit-any
    kernel.register_iopub_handler("status", (msg: any) => {
      const id = String(msg.parent_header?.msg_id ?? "");
      const r = requests.get(id) ??
        { busy: false, idle: false, type: `${msg.parent_header?.msg_type}:${id.slice(0, 8)}` };
      requests.set(id, r);
      const state = msg.content?.execution_state;
      if (state === "busy") r.busy = true;
      if (state === "idle") r.idle = true;
      s.pending = [...requests.values()].filter((x) => x.busy && !x.idle).map((x) => x.type);
      s.state = s.pending.length ? "busy" : "idle";
      s.changes++;
      return handleStatus(msg);
    });
    for (const e of ["kernel_dead", "kernel_restarting", "kernel_disconnected"]) {
      J.notebook.events.on(`${e}.Kernel`, () => void s.kernelEvents.push(e));
    }
    J.notebook.execute_all_cells();
  });
  return await waitUntilQuiet(page, path, options);
}

/**
 * Waits until the cells the page ran (after {@linkcode runNotebookInPage} set the page
 * up) are done: no cell is running, every request reported "idle" and nothing changed
 * for the settle window. Returns the page's counters, which add up since the notebook
 * was opened.
 */
export async function waitUntilQuiet(
  page: Page,
  path: string,
  options: PageRunOptions = {},
): Promise<RunStats> {
  const timeout = options.timeoutMs ?? 600_000;
  const settleMs = options.settleMs ?? 3_000;
  const stallMs = options.stallMs ?? 30_000;
  const t0 = performance.now();
  const deadline = Date.now() + timeout;
  let quietSince = 0;
  let lastChanges = -1;
  let stalled: string | null = null;
  while (true) {
    const state = await page.evaluate(() => {
      // deno-lint-ignore no-explicit-any
      const J = (globalThis as any).Jupyter;
      // deno-lint-ignore no-explicit-any
      const s = (globalThis as any).__nnRun;
      // deno-lint-ignore no-explicit-any
      const running = J.notebook.get_cells().filter((c: any) =>
        c.cell_type === "code" && c.input_prompt_number === "*"
      ).length;
      return {
        running,
        idle: s.state === "idle",
        changes: s.changes as number,
        dead: s.kernelEvents.length as number,
        pending: (s.pending as string[]).join(", "),
        messages: (s.messages as string[]).join(" "),
      };
    });
    if (state.dead > 0) break;
    if (state.running > 0 || state.changes !== lastChanges) quietSince = Date.now();
    lastChanges = state.changes;
    const quiet = Date.now() - quietSince;
    if (state.running === 0 && quiet >= settleMs) {
      if (state.idle) break;
      if (quiet >= stallMs) {
        stalled = `no "idle" for ${state.pending} after ${quiet / 1000} s with every cell ` +
          `answered; last messages the page got: ${state.messages}`;
        break;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${path}: still running after ${timeout / 1000} s (${state.running} cells running, ` +
          `waiting for ${state.pending || "nothing"}; last messages: ${state.messages}); ` +
          `raise NN_JUPYTER_TIMEOUT_S if the machine is slow.`,
      );
    }
    await sleep(250);
  }
  const stats = await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const s = (globalThis as any).__nnRun;
    return {
      updates: s.updates as number,
      updateTexts: s.updateTexts as string[],
      displays: s.displays as string[],
      unsolicited: s.unsolicited as string[],
      kernelEvents: s.kernelEvents as string[],
    };
  });
  const seconds = (performance.now() - t0) / 1000 - (stalled ? stallMs : settleMs) / 1000;
  return { ...stats, stalled, seconds };
}

/**
 * Reads what the page shows: every code cell's outputs from the Notebook's model, and
 * for chart, progress and claim outputs whether their element renders them. A chart
 * counts as rendered when its output element holds a `.js-plotly-plot` with an SVG
 * drawn by Plotly and as many traces as the figure (`application/vnd.plotly.v1+json`)
 * has; an invalid figure never counts.
 */
export function inspectNotebookPage(page: Page): Promise<PageReport> {
  return page.evaluate(() => {
    const PLOTLY = "application/vnd.plotly.v1+json";
    const CLAIM = "application/vnd.neural-notebooks.claim+json";
    // deno-lint-ignore no-explicit-any
    const J = (globalThis as any).Jupyter;
    const report = {
      cells: [] as Array<{ id: string; count: number | null; outputs: unknown[] }>,
      errors: [] as string[],
      charts: [] as unknown[],
      progress: [] as unknown[],
      claims: [] as unknown[],
      mismatched: [] as string[],
    };
    // deno-lint-ignore no-explicit-any
    const cells = J.notebook.get_cells().filter((c: any) => c.cell_type === "code");
    cells.forEach((cell: { [k: string]: unknown }, ci: number) => {
      // deno-lint-ignore no-explicit-any
      const c = cell as any;
      const id = String(c.metadata?.id ?? c.id ?? `code-${ci}`);
      // deno-lint-ignore no-explicit-any
      const outputs = c.output_area.outputs as any[];
      // deno-lint-ignore no-explicit-any
      const elements = [...c.output_area.element[0].children].filter((el: any) =>
        el.classList.contains("output_area")
        // deno-lint-ignore no-explicit-any
      ) as any[];
      if (elements.length !== outputs.length) {
        report.mismatched.push(`${id}: ${outputs.length} outputs, ${elements.length} elements`);
      }
      const count = typeof c.input_prompt_number === "number" ? c.input_prompt_number : null;
      const summary = outputs.map((o) => {
        const data = o.data ?? {};
        const text = o.output_type === "stream"
          ? String(o.text ?? "")
          : o.output_type === "error"
          ? `${o.ename}: ${o.evalue}`
          : String(data["text/plain"] ?? "");
        return { type: o.output_type, mimes: Object.keys(data), text };
      });
      report.cells.push({ id, count, outputs: summary });
      outputs.forEach((o, oi) => {
        const el = elements.length === outputs.length ? elements[oi] : undefined;
        if (o.output_type === "error") report.errors.push(`${id}: ${o.ename}: ${o.evalue}`);
        const data = o.data ?? {};
        const html = String(data["text/html"] ?? "");
        const isProgress = /class="nn-progress"/.test(html);
        let chartRendered = false;
        if (data[PLOTLY] !== undefined) {
          const figure = data[PLOTLY];
          let reason: string | undefined;
          if (!figure || typeof figure !== "object" || !Array.isArray(figure.data)) {
            reason = "invalid figure: `data` is not a list of traces";
          } else if (!el) {
            reason = "no output element for it";
          } else {
            // deno-lint-ignore no-explicit-any
            const plots = [...el.querySelectorAll(".js-plotly-plot")] as any[];
            // deno-lint-ignore no-explicit-any
            const drawn = plots.filter((p: any) =>
              p.querySelector("svg.main-svg") && Array.isArray(p.data) &&
              p.data.length === figure.data.length
            );
            if (plots.length === 0) reason = "no .js-plotly-plot in the output";
            else if (drawn.length === 0) {
              reason = `Plotly drew ${plots[0].data?.length ?? "no"} traces, the figure has ` +
                `${figure.data.length}`;
            }
          }
          chartRendered = reason === undefined;
          if (!chartRendered && el) {
            const note = el.querySelector(".nn-chart")?.textContent?.trim();
            if (note) reason += ` (the output says: ${note.slice(0, 120)})`;
          }
          report.charts.push({
            cell: id,
            output: oi,
            title: String(data["text/plain"] ?? ""),
            rendered: chartRendered,
            ...(reason ? { reason } : {}),
            progress: isProgress,
          });
        }
        if (isProgress) {
          report.progress.push({
            cell: id,
            output: oi,
            finalText: (el?.querySelector(".nn-progress")?.textContent ?? "").trim(),
            chartRendered,
          });
        }
        if (data[CLAIM] !== undefined) {
          const rec = data[CLAIM];
          const shown = el?.querySelector(".nn-claim");
          report.claims.push({
            cell: id,
            id: String(rec.id),
            pass: rec.pass === true,
            rendered: !!shown && shown.getAttribute("data-pass") === String(rec.pass === true) &&
              shown.offsetHeight > 0,
          });
        }
      });
    });
    return report as unknown as PageReport;
  });
}

/**
 * Lets the page's full length be screenshot (classic Notebook scrolls inside `#site`)
 * and saves a PNG.
 */
export async function screenshot(page: Page, path: string): Promise<void> {
  await page.addStyleTag({
    content: "html, body { height: auto !important; overflow: visible !important; }" +
      " #site { height: auto !important; overflow: visible !important; }",
  });
  await sleep(300);
  await page.screenshot({ path, fullPage: true });
}

/** Result of {@linkcode nbconvertExecute}. */
export interface NbconvertResult {
  /** nbconvert's exit code. */
  code: number;
  /** The executed notebook (when nbconvert wrote one). */
  notebook?: { cells: Array<{ cell_type: string; id?: string; outputs?: unknown[] }> };
  /** nbconvert's stderr (last 4000 characters). */
  log: string;
  seconds: number;
}

/**
 * Executes a notebook copy with `jupyter nbconvert --to notebook --execute` on this
 * project's kernelspec (from the workspace's data dir). The kernel starts in the
 * notebook's folder.
 */
export async function nbconvertExecute(
  ws: Workspace,
  rel: string,
  options: { timeoutS?: number } = {},
): Promise<NbconvertResult> {
  const input = join(ws.root, rel);
  const outDir = join(ws.root, "nbconvert");
  await Deno.mkdir(outDir, { recursive: true });
  const t0 = performance.now();
  const out = await new Deno.Command("jupyter", {
    args: [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
      `--ExecutePreprocessor.timeout=${options.timeoutS ?? 600}`,
      "--output-dir",
      outDir,
      "--output",
      basename(rel, ".ipynb"),
      input,
    ],
    cwd: ws.root,
    env: ws.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  const log = decoder.decode(out.stderr).slice(-4000);
  const notebook = await Deno.readTextFile(join(outDir, basename(rel)))
    .then((t) => JSON.parse(t), () => undefined);
  return { code: out.code, notebook, log, seconds };
}
