/**
 * Helpers of the JupyterLab 4 browser suite: the Lab built by `lab_build.ts`, served by
 * Debian's jupyter-server and jupyterlab-server (`lab/lab_server.py`) with this project's
 * kernelspec from the workspace's Jupyter data dir, and a headless Chromium page that
 * drives the Lab application through its own API (`window.jupyterapp`: commands, the
 * notebook tracker, the session context, the output areas).
 *
 * Two configurations: without a Plotly renderer (JupyterLab as `pip install jupyterlab`
 * gives it), and with jupyterlab-plotly's renderer, which the server enables or disables
 * the way `jupyter labextension enable|disable` does (`labconfig/page_config.json` in the
 * Jupyter config dir).
 *
 * @example
 * ```ts ignore
 * import { createWorkspace } from "./helpers.ts";
 * import { checkLabTools, startLabServer } from "./lab_helpers.ts";
 * const tools = await checkLabTools();
 * if (tools.ok) {
 *   const ws = await createWorkspace();
 *   const server = await startLabServer(ws, { plotly: false });
 *   await server.stop();
 *   await ws.cleanup();
 * }
 * ```
 * @module
 */

import { join } from "node:path";
import type { Page } from "playwright-core";
import { KERNEL_NAME } from "../../kernel/kernelspec.ts";
import {
  CHROMIUM,
  freePort,
  launchServer,
  type NotebookServer,
  type PageRunOptions,
  type Workspace,
} from "./helpers.ts";
import { LAB_BUILD, LAB_SOURCES, labBuildState } from "./lab_build.ts";

/** The plugin id of jupyterlab-plotly's renderer (its mime extension). */
export const PLOTLY_RENDERER_PLUGIN = "@jupyterlab/plotly-extension:factory";

const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the Lab suite needs, and what is missing. */
export interface LabTools {
  /** Chromium, a Python with jupyter-server and jupyterlab-server, and the Lab build. */
  ok: boolean;
  /** The Python that has both server packages. */
  python?: string;
  /** e.g. "jupyter-server 1.23.3, jupyterlab-server 2.16.5". */
  serverVersions?: string;
  /** What is missing, when something is. */
  reason?: string;
}

/**
 * Looks for Chromium, a Python with Debian's `jupyter-server` and `jupyterlab-server`
 * (tries /usr/bin/python3, then `python3` on the PATH) and a current Lab build.
 */
export async function checkLabTools(): Promise<LabTools> {
  const missing: string[] = [];
  const chromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
  if (!chromium) missing.push(`Chromium at ${CHROMIUM} (apt-get install chromium)`);
  let python: string | undefined;
  let serverVersions: string | undefined;
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(candidate, {
        args: [
          "-c",
          "import jupyter_server, jupyterlab_server; " +
          "print(jupyter_server.__version__, jupyterlab_server.__version__)",
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (out.success) {
        const [server, lab] = decoder.decode(out.stdout).trim().split(" ");
        python = candidate;
        serverVersions = `jupyter-server ${server}, jupyterlab-server ${lab}`;
        break;
      }
    } catch { /* no such interpreter */ }
  }
  if (!python) {
    missing.push(
      "a Python with jupyter-server and jupyterlab-server " +
        "(apt-get install jupyter-server python3-jupyterlab-server)",
    );
  }
  const build = await labBuildState();
  if (!build.ok) missing.push(build.reason!);
  return {
    ok: missing.length === 0,
    python,
    serverVersions,
    reason: missing.length ? `missing ${missing.join(" and ")}` : undefined,
  };
}

/** Options for {@linkcode startLabServer}. */
export interface LabServerOptions {
  /** Enable jupyterlab-plotly's renderer (otherwise it is disabled). */
  plotly: boolean;
  /** The Python with the server packages (from {@linkcode checkLabTools}). */
  python?: string;
  /** How long to wait for the server (default 60 s). */
  startupTimeoutMs?: number;
}

/**
 * Starts the Lab server on 127.0.0.1 (free port, random token) serving the workspace's
 * notebook copies, with its settings and workspaces in the workspace's temp folder.
 */
export async function startLabServer(
  ws: Workspace,
  options: LabServerOptions,
): Promise<NotebookServer> {
  const token = crypto.randomUUID().replaceAll("-", "");
  const port = freePort();
  const state = join(ws.temp, options.plotly ? "lab-plotly" : "lab");
  // No "Would you like to get notified about Jupyter news?" toast over the screenshots.
  await Deno.mkdir(join(state, "application_settings"), { recursive: true });
  await Deno.writeTextFile(
    join(state, "application_settings", "overrides.json"),
    JSON.stringify({ "@jupyterlab/apputils-extension:notification": { fetchNews: "false" } }),
  );
  const labconfig = join(ws.configDir, "labconfig");
  await Deno.mkdir(labconfig, { recursive: true });
  await Deno.writeTextFile(
    join(labconfig, "page_config.json"),
    JSON.stringify({ disabledExtensions: { [PLOTLY_RENDERER_PLUGIN]: !options.plotly } }),
  );
  return await launchServer(ws, {
    name: "JupyterLab server",
    command: options.python ?? "/usr/bin/python3",
    args: [
      join(LAB_SOURCES, "lab_server.py"),
      `--LabNN.app_dir=${LAB_BUILD}`,
      `--LabNN.state_dir=${state}`,
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.token=${token}`,
      "--ServerApp.open_browser=False",
      `--ServerApp.root_dir=${ws.root}`,
      "--ServerApp.terminals_enabled=False",
      `--MappingKernelManager.default_kernel_name=${KERNEL_NAME}`,
      // CI containers run as root; the server still listens on 127.0.0.1 only.
      ...(Deno.uid() === 0 ? ["--allow-root"] : []),
    ],
    port,
    token,
    startupTimeoutMs: options.startupTimeoutMs,
  });
}

/**
 * Opens JupyterLab in the page with a fresh layout (`?reset`: no tabs restored from an
 * earlier page) and waits until the application has started. Returns the seconds it took.
 */
export async function openLab(page: Page, server: NotebookServer): Promise<number> {
  const t0 = performance.now();
  await page.goto(`${server.url}/lab?reset&token=${server.token}`, {
    waitUntil: "domcontentloaded",
  });
  await page.waitForFunction(
    () => {
      // deno-lint-ignore no-explicit-any
      const w = globalThis as any;
      const failed = w.document.body?.getAttribute("data-nn-lab-error");
      if (failed) throw new Error(`JupyterLab did not start: ${failed}`);
      return w.jupyterapp !== undefined;
    },
    null,
    { timeout: 120_000 },
  );
  // deno-lint-ignore no-explicit-any
  await page.evaluate(() => (globalThis as any).jupyterapp.restored);
  return (performance.now() - t0) / 1000;
}

/** Seconds {@linkcode openNotebook} took. */
export interface OpenTimes {
  /** Until the notebook's model was loaded and its cells created (`context.ready`). */
  model: number;
  /** Until the kernel answered (includes starting it). */
  kernel: number;
}

/**
 * Opens a notebook of the server's root in Lab's notebook editor, activates it and makes
 * sure its session runs this project's kernel (changing the kernel when the notebook
 * asks for another).
 */
export async function openNotebook(page: Page, path: string): Promise<OpenTimes> {
  const t0 = performance.now();
  const model = await page.evaluate(async ([p, kernelName]) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    const app = w.jupyterapp;
    const start = performance.now();
    const panel = await app.commands.execute("docmanager:open", { path: p, factory: "Notebook" });
    await panel.context.ready;
    const loaded = (performance.now() - start) / 1000;
    await panel.sessionContext.ready;
    app.shell.activateById(panel.id);
    if (panel.sessionContext.session?.kernel?.name !== kernelName) {
      await panel.sessionContext.changeKernel({ name: kernelName });
    }
    await panel.sessionContext.session.kernel.info;
    w.__nnPanels ??= {};
    w.__nnPanels[p] = panel;
    return loaded;
  }, [path, KERNEL_NAME] as const);
  return { model, kernel: (performance.now() - t0) / 1000 };
}

/** Counters the page keeps while cells run (see {@linkcode runAllInLab}). */
export interface LabRunStats {
  /** `update_display_data` messages the page received. */
  updates: number;
  /** text/plain of every update received, in order. */
  updateTexts: string[];
  /** Output messages the front end dropped: their request was already finished. */
  unsolicited: string[];
  /** Every `display_data` the page received: "parent · display id · text/plain". */
  displays: string[];
  /** Kernel deaths and restarts seen. */
  kernelEvents: string[];
  /** Set when a request never reported "idle" although every cell had answered. */
  stalled: string | null;
  /** Seconds from "run all" to the end of the settle window. */
  seconds: number;
}

/**
 * Installs the page's counters on the notebook's kernel connection: iopub messages,
 * updates in place, requests still busy, kernel restarts, and output messages that Lab
 * drops because the request they belong to has finished (Lab routes outputs, and
 * updates of a display id, only to requests whose reply and "idle" it has not yet both
 * received).
 */
async function instrument(page: Page, path: string): Promise<void> {
  await page.evaluate((p) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    const panel = w.__nnPanels[p];
    const kernel = panel.sessionContext.session.kernel;
    w.__nnRun = {
      updates: 0,
      updateTexts: [] as string[],
      unsolicited: [] as string[],
      displays: [] as string[],
      kernelEvents: [] as string[],
      pending: [] as string[],
      messages: [] as string[],
      changes: 0,
    };
    if (kernel.__nnInstrumented) return;
    kernel.__nnInstrumented = true;
    const OUTPUTS = new Set([
      "stream",
      "display_data",
      "update_display_data",
      "execute_result",
      "error",
      "clear_output",
    ]);
    const requests = new Map<string, { busy: boolean; idle: boolean; type: string }>();
    const handle = kernel._handleMessage.bind(kernel);
    // deno-lint-ignore no-explicit-any
    kernel._handleMessage = (msg: any) => {
      const r = w.__nnRun;
      const type = msg.header?.msg_type;
      const parent = String(msg.parent_header?.msg_id ?? "");
      r.messages.push(`${msg.channel}:${type}:${parent.slice(0, 8)}`);
      if (r.messages.length > 16) r.messages.shift();
      if (msg.channel === "iopub") {
        r.changes++;
        if (OUTPUTS.has(type)) {
          const displayId = msg.content?.transient?.display_id;
          const owners = type === "update_display_data" && displayId
            ? (kernel._displayIdToParentIds.get(displayId) ?? [])
            : [parent];
          // deno-lint-ignore no-explicit-any
          if (!owners.some((id: any) => kernel._futures?.has(id))) {
            r.unsolicited.push(
              `${type} (parent ${parent.slice(0, 8)}): ` +
                String(msg.content?.data?.["text/plain"] ?? msg.content?.text ?? "").slice(0, 120),
            );
          }
        }
        if (type === "display_data") {
          r.displays.push(
            `${parent.slice(0, 8)} · ${msg.content?.transient?.display_id ?? "-"} · ` +
              String(msg.content?.data?.["text/plain"] ?? "").slice(0, 60),
          );
        }
        if (type === "update_display_data") {
          r.updates++;
          r.updateTexts.push(String(msg.content?.data?.["text/plain"] ?? ""));
        }
        if (type === "status") {
          const req = requests.get(parent) ??
            {
              busy: false,
              idle: false,
              type: `${msg.parent_header?.msg_type}:${parent.slice(0, 8)}`,
            };
          requests.set(parent, req);
          if (msg.content?.execution_state === "busy") req.busy = true;
          if (msg.content?.execution_state === "idle") req.idle = true;
          r.pending = [...requests.values()].filter((x) => x.busy && !x.idle).map((x) => x.type);
        }
      }
      const handled = handle(msg);
      // Freeze frame (see freezeMidTraining): hold the next messages once an update shows
      // a training past its first epoch, until the test has taken its picture.
      const f = w.__nnFreeze;
      if (
        f && !f.text && type === "update_display_data" &&
        /: \d{1,2}% · epoch ([2-9]|\d\d)\//.test(String(msg.content?.data?.["text/plain"]))
      ) {
        f.text = String(msg.content.data["text/plain"]);
        const held = new Promise<void>((resolve) => f.release = resolve);
        return Promise.resolve(handled).then(() => held);
      }
      return handled;
    };
    // deno-lint-ignore no-explicit-any
    panel.sessionContext.statusChanged.connect((_: unknown, status: any) => {
      if (status === "dead" || status === "restarting" || status === "autorestarting") {
        w.__nnRun.kernelEvents.push(status);
      }
    });
  }, path);
}

/** Options for {@linkcode runAllInLab} and {@linkcode waitUntilLabQuiet}. */
export interface LabRunOptions extends PageRunOptions {
  /**
   * Called on every poll while cells run (about four times a second), for example to
   * take a screenshot of a live display mid-training.
   */
  onPoll?: () => Promise<void>;
}

/**
 * Runs every cell of an open notebook with Lab's "Run All Cells" command
 * (`notebook:run-all-cells`) and waits until no cell is running, every request reported
 * "idle" and no iopub message arrived for the settle window.
 */
export async function runAllInLab(
  page: Page,
  path: string,
  options: LabRunOptions = {},
): Promise<LabRunStats> {
  await instrument(page, path);
  await page.evaluate((p) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    w.jupyterapp.shell.activateById(w.__nnPanels[p].id);
    // Not awaited: the command's promise settles only when every cell has run.
    void w.jupyterapp.commands.execute("notebook:run-all-cells");
  }, path);
  return await waitUntilLabQuiet(page, path, options);
}

/**
 * Resets the page's counters (installing them on the notebook's kernel the first time),
 * before cells are run another way, e.g. with Shift+Enter; then call
 * {@linkcode waitUntilLabQuiet}.
 */
export async function instrumentNotebook(page: Page, path: string): Promise<void> {
  await instrument(page, path);
}

/**
 * Arms a freeze frame for the next run: when the page receives the first update of a
 * live training display past its first epoch, it applies that update and then holds the
 * kernel's next messages (Lab handles them one after another) until
 * {@linkcode releaseFreeze}, so that a screenshot shows the display mid-training however
 * short the training is. The kernel keeps running; the held messages are handled in order
 * afterwards.
 */
export async function freezeMidTraining(page: Page): Promise<void> {
  await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    (globalThis as any).__nnFreeze = { text: "", release: null };
  });
}

/** The text/plain of the frozen update, or "" while none is frozen. */
export function frozenDisplay(page: Page): Promise<string> {
  return page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const f = (globalThis as any).__nnFreeze;
    return f?.release ? String(f.text) : "";
  });
}

/** Lets the page handle the held messages (and disarms the freeze frame). */
export async function releaseFreeze(page: Page): Promise<void> {
  await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    const f = w.__nnFreeze;
    w.__nnFreeze = null;
    f?.release?.();
  });
}

/**
 * Waits until the cells the page ran are done: no code cell is running, every request
 * reported "idle" and no iopub message arrived for the settle window. Counters add up
 * since {@linkcode instrumentNotebook} (or {@linkcode runAllInLab}) reset them.
 */
export async function waitUntilLabQuiet(
  page: Page,
  path: string,
  options: LabRunOptions = {},
): Promise<LabRunStats> {
  const timeout = options.timeoutMs ?? 600_000;
  const settleMs = options.settleMs ?? 3_000;
  const stallMs = options.stallMs ?? 30_000;
  const t0 = performance.now();
  const deadline = Date.now() + timeout;
  let quietSince = 0;
  let lastChanges = -1;
  let stalled: string | null = null;
  while (true) {
    const state = await page.evaluate((p) => {
      // deno-lint-ignore no-explicit-any
      const w = globalThis as any;
      const s = w.__nnRun;
      // deno-lint-ignore no-explicit-any
      const cells = w.__nnPanels[p].content.widgets as any[];
      const running = cells.filter((c) =>
        c.model.type === "code" && c.model.executionState === "running"
      ).length;
      return {
        running,
        idle: s.pending.length === 0,
        changes: s.changes as number,
        dead: s.kernelEvents.length as number,
        pending: (s.pending as string[]).join(", "),
        messages: (s.messages as string[]).join(" "),
      };
    }, path);
    if (state.dead > 0) break;
    if (state.running > 0 || state.changes !== lastChanges) quietSince = Date.now();
    lastChanges = state.changes;
    const quiet = Date.now() - quietSince;
    // Not done before the kernel said anything (for 30 s): the run may not have started.
    const started = state.changes > 0 || performance.now() - t0 > 30_000;
    if (started && state.running === 0 && quiet >= settleMs) {
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
    await options.onPoll?.();
    await sleep(250);
  }
  const stats = await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const s = (globalThis as any).__nnRun;
    return {
      updates: s.updates as number,
      updateTexts: s.updateTexts as string[],
      unsolicited: s.unsolicited as string[],
      displays: s.displays as string[],
      kernelEvents: s.kernelEvents as string[],
    };
  });
  const seconds = (performance.now() - t0) / 1000 - (stalled ? stallMs : settleMs) / 1000;
  return { ...stats, stalled, seconds };
}

/** One output as Lab's model holds it, and how Lab shows it. */
export interface LabOutput {
  /** nbformat output_type. */
  type: string;
  /** Mime types in the output's data. */
  mimes: string[];
  /** text/plain of the output (or the stream text, or "ename: evalue"). */
  text: string;
  /** The mime type Lab's renderer shows (its rendermime's choice), "" for streams. */
  renderer: string;
  /** Whether Lab treats the output as trusted. */
  trusted: boolean;
}

/** A chart output and whether Lab drew it. */
export interface LabChart {
  cell: string;
  /** Index of the output in its cell. */
  output: number;
  /** The chart's text/plain. */
  title: string;
  /** Drawn by Plotly: an SVG with as many traces as the figure has. */
  rendered: boolean;
  /** Shown as a PNG image instead (jupyterlab-plotly shows a saved PNG until hovered). */
  image: boolean;
  /** Why not rendered, when not. */
  reason?: string;
  /** Part of a live training display. */
  progress: boolean;
  /** The mime type Lab rendered it with. */
  renderer: string;
}

/** A live training display. */
export interface LabProgress {
  cell: string;
  output: number;
  /** The status in the output's text/plain, e.g. "XOR: 100% · done: 6 epochs in 0.5 s". */
  finalText: string;
  /** The progress bar's text as the page shows it, or null when Lab does not show the HTML. */
  barText: string | null;
  /** The chart in it was drawn. */
  chartRendered: boolean;
}

/** A claim output and whether it shows. */
export interface LabClaim {
  cell: string;
  id: string;
  pass: boolean;
  /** A visible `.nn-claim` element with the same verdict is in the output. */
  rendered: boolean;
}

/** What a notebook shows in Lab. */
export interface LabReport {
  /** Code cells: id, execution count and outputs. */
  cells: Array<{ id: string; count: number | null; outputs: LabOutput[] }>;
  /** Error outputs as "cell: ename: evalue". */
  errors: string[];
  charts: LabChart[];
  progress: LabProgress[];
  claims: LabClaim[];
  /** Cells whose output widgets do not match their outputs one to one. */
  mismatched: string[];
  /** Outputs whose HTML Lab sanitised because they are untrusted and had scripts. */
  sanitized: number;
}

/**
 * Reads what Lab shows for an open notebook: every code cell's outputs from its model and
 * for chart, progress and claim outputs whether their widget renders them. A chart counts
 * as rendered when its output widget holds a `.js-plotly-plot` with an SVG drawn by Plotly
 * and as many traces as the figure (`application/vnd.plotly.v1+json`); an invalid figure
 * never counts. Whichever renderer Lab chose (the HTML fallback or a Plotly renderer), the
 * check is the same.
 */
export function inspectLabNotebook(page: Page, path: string): Promise<LabReport> {
  return page.evaluate((p) => {
    const PLOTLY = "application/vnd.plotly.v1+json";
    const CLAIM = "application/vnd.neural-notebooks.claim+json";
    // deno-lint-ignore no-explicit-any
    const panel = (globalThis as any).__nnPanels[p];
    const report = {
      cells: [] as Array<{ id: string; count: number | null; outputs: unknown[] }>,
      errors: [] as string[],
      charts: [] as unknown[],
      progress: [] as unknown[],
      claims: [] as unknown[],
      mismatched: [] as string[],
      sanitized: 0,
    };
    // deno-lint-ignore no-explicit-any
    const cells = (panel.content.widgets as any[]).filter((c) => c.model.type === "code");
    cells.forEach((cell, ci) => {
      const id = String(cell.model.id ?? `code-${ci}`);
      // deno-lint-ignore no-explicit-any
      const models = [] as any[];
      for (let i = 0; i < cell.model.outputs.length; i++) models.push(cell.model.outputs.get(i));
      // deno-lint-ignore no-explicit-any
      const children = cell.outputArea.widgets as any[];
      if (children.length !== models.length) {
        report.mismatched.push(`${id}: ${models.length} outputs, ${children.length} widgets`);
      }
      const count = typeof cell.model.executionCount === "number"
        ? cell.model.executionCount
        : null;
      // deno-lint-ignore no-explicit-any
      const rendererOf = (child: any) => {
        // deno-lint-ignore no-explicit-any
        const inner = (child?.widgets ?? [child]) as any[];
        const r = inner.filter((x) => x && ("renderModel" in x || x.mimeType)).pop();
        return r;
      };
      const summary = models.map((m, oi) => {
        const o = m.toJSON();
        const data = o.data ?? {};
        const text = o.output_type === "stream"
          ? String(o.text ?? "")
          : o.output_type === "error"
          ? `${o.ename}: ${o.evalue}`
          : String(data["text/plain"] ?? "");
        const r = children.length === models.length ? rendererOf(children[oi]) : undefined;
        return {
          type: o.output_type,
          mimes: Object.keys(data),
          text,
          renderer: String(r?.mimeType ?? r?._mimeType ?? ""),
          trusted: m.trusted === true,
        };
      });
      report.cells.push({ id, count, outputs: summary });
      models.forEach((m, oi) => {
        const o = m.toJSON();
        const el = children.length === models.length ? children[oi].node : undefined;
        if (o.output_type === "error") report.errors.push(`${id}: ${o.ename}: ${o.evalue}`);
        const data = o.data ?? {};
        const html = String(data["text/html"] ?? "");
        const renderer = summary[oi].renderer;
        if (!m.trusted && /<script/i.test(html) && renderer === "text/html") report.sanitized++;
        const isProgress = /class="nn-progress"/.test(html);
        let chartRendered = false;
        if (data[PLOTLY] !== undefined) {
          const figure = data[PLOTLY];
          let reason: string | undefined;
          let image = false;
          if (!figure || typeof figure !== "object" || !Array.isArray(figure.data)) {
            reason = "invalid figure: `data` is not a list of traces";
          } else if (!el) {
            reason = "no output widget for it";
          } else {
            // deno-lint-ignore no-explicit-any
            const plots = [...el.querySelectorAll(".js-plotly-plot")] as any[];
            // The drawn figure must be this output's figure: as many traces, each with as
            // many points, and the same title (a renderer that keeps an older figure of a
            // display updated in place fails here).
            const size = (t: Record<string, unknown> | undefined) =>
              ["x", "y", "z"].map((k) => (t?.[k] as unknown[] | undefined)?.length ?? -1).join();
            const titleOf = (l: Record<string, unknown> | undefined) => {
              const t = l?.title as string | { text?: string } | undefined;
              return typeof t === "string" ? t : t?.text ?? "";
            };
            // deno-lint-ignore no-explicit-any
            const drawn = plots.filter((pl: any) =>
              pl.querySelector("svg.main-svg") && Array.isArray(pl.data) &&
              pl.data.length === figure.data.length &&
              // deno-lint-ignore no-explicit-any
              figure.data.every((t: any, i: number) => size(t) === size(pl.data[i])) &&
              titleOf(pl.layout) === titleOf(figure.layout)
            );
            const img = el.querySelector("img.plot-img");
            image = !!img && img.style.display !== "none" && !!img.getAttribute("src");
            if (plots.length === 0) {
              reason = image ? "shown as a PNG image" : "no .js-plotly-plot in the output";
            } else if (drawn.length === 0) {
              reason = `Plotly drew another figure: "${titleOf(plots[0].layout)}" with ` +
                `${plots[0].data?.length ?? "no"} traces, the output's figure is ` +
                `"${titleOf(figure.layout)}" with ${figure.data.length}`;
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
            image,
            ...(reason ? { reason } : {}),
            progress: isProgress,
            renderer,
          });
        }
        if (isProgress) {
          const bar = el?.querySelector(".nn-progress");
          report.progress.push({
            cell: id,
            output: oi,
            finalText: String(data["text/plain"] ?? ""),
            barText: bar ? (bar.textContent ?? "").trim() : null,
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
            // The verdict as the reader sees it (Lab's sanitiser drops data-* attributes of
            // untrusted outputs, so the text is checked, not data-pass).
            rendered: !!shown && shown.offsetHeight > 0 &&
              (shown.textContent ?? "").trim().startsWith(rec.pass === true ? "PASS" : "FAIL"),
          });
        }
      });
    });
    return report as unknown as LabReport;
  }, path);
}

/**
 * Scrolls the notebook from top to bottom a screen at a time, as a reader does, so that
 * Lab renders every cell (it renders cells out of view lazily), then back to the top.
 */
export async function scrollThrough(page: Page, path: string, pauseMs = 100): Promise<void> {
  const steps = await page.evaluate((p) => {
    // deno-lint-ignore no-explicit-any
    const panel = (globalThis as any).__nnPanels[p];
    const scroller = panel.content.node.querySelector(".jp-WindowedPanel-outer") ??
      panel.content.node;
    return Math.ceil(scroller.scrollHeight / Math.max(1, scroller.clientHeight));
  }, path);
  for (let i = 0; i <= steps + 1; i++) {
    const more = await page.evaluate(([p, step]) => {
      // deno-lint-ignore no-explicit-any
      const panel = (globalThis as any).__nnPanels[p];
      const scroller = panel.content.node.querySelector(".jp-WindowedPanel-outer") ??
        panel.content.node;
      scroller.scrollTop = step * scroller.clientHeight;
      return scroller.scrollTop + scroller.clientHeight < scroller.scrollHeight;
    }, [path, i] as const);
    await sleep(pauseMs);
    if (!more) break;
  }
}

/** Options for {@linkcode inspectWhenDrawn}. */
export interface DrawnOptions {
  /** Give up after this long (default 60 s) and return the last report. */
  ms?: number;
  /** What to wait for (default: every chart drawn and every claim shown). */
  ready?: (report: LabReport) => boolean;
  /**
   * Hover every chart shown as a PNG image on each try (jupyterlab-plotly draws the
   * interactive chart when the mouse enters it), as a reader does.
   */
  hover?: boolean;
}

/**
 * Scrolls through the notebook (see {@linkcode scrollThrough}), then reads it until
 * `ready` holds or the time is up (charts draw asynchronously: plotly.js unpacks itself,
 * a renderer loads its chunk), and returns the last report.
 */
export async function inspectWhenDrawn(
  page: Page,
  path: string,
  options: DrawnOptions = {},
): Promise<LabReport> {
  const ready = options.ready ??
    ((r: LabReport) => r.charts.every((c) => c.rendered) && r.claims.every((c) => c.rendered));
  const deadline = Date.now() + (options.ms ?? 60_000);
  await scrollThrough(page, path);
  if (options.hover) await hoverChartImages(page, path);
  let report = await inspectLabNotebook(page, path);
  while (!ready(report) && Date.now() < deadline) {
    await sleep(500);
    if (options.hover) await hoverChartImages(page, path);
    report = await inspectLabNotebook(page, path);
  }
  return report;
}

/**
 * Hovers every chart that jupyterlab-plotly shows as its saved PNG image: the renderer
 * draws the interactive chart when the mouse enters the image.
 */
export async function hoverChartImages(page: Page, path: string): Promise<number> {
  return await page.evaluate((p) => {
    // deno-lint-ignore no-explicit-any
    const panel = (globalThis as any).__nnPanels[p];
    let n = 0;
    for (const img of panel.node.querySelectorAll("img.plot-img")) {
      // deno-lint-ignore no-explicit-any
      const w = globalThis as any;
      if (img.style.display === "none") continue;
      img.dispatchEvent(new w.MouseEvent("mouseenter"));
      n++;
    }
    return n;
  }, path);
}

/** Saves the open notebook (File ▸ Save) and waits until it is no longer dirty. */
export async function saveNotebook(page: Page, path: string): Promise<number> {
  const t0 = performance.now();
  await page.evaluate(async (p) => {
    // deno-lint-ignore no-explicit-any
    const panel = (globalThis as any).__nnPanels[p];
    await panel.context.save();
    if (panel.context.model.dirty) throw new Error(`${p} is still dirty after saving`);
  }, path);
  return (performance.now() - t0) / 1000;
}

/** Closes the notebook's tab (its kernel keeps running, as in Lab). */
export async function closeNotebook(page: Page, path: string): Promise<void> {
  await page.evaluate(async (p) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    const panel = w.__nnPanels[p];
    // Saved already: discard nothing a reader would lose, and ask no question.
    panel.context.model.dirty = false;
    panel.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    delete w.__nnPanels[p];
  }, path);
}

/**
 * Lab's "Trust Notebook" command (`notebook:trust`) on an open notebook, answering its
 * dialog with "Trust". Returns the dialog's title.
 */
export async function trustNotebook(page: Page, path: string): Promise<string> {
  await page.evaluate((p) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    w.jupyterapp.shell.activateById(w.__nnPanels[p].id);
    void w.jupyterapp.commands.execute("notebook:trust");
  }, path);
  const dialog = page.locator(".jp-Dialog").filter({ hasText: /trust/i });
  await dialog.waitFor({ timeout: 30_000 });
  const title = (await dialog.locator(".jp-Dialog-header").textContent() ?? "").trim();
  await dialog.locator(".jp-Dialog-button.jp-mod-accept").click();
  await dialog.waitFor({ state: "detached", timeout: 30_000 });
  return title;
}

/** How Lab's rendermime registry ranks the mime types of a bundle. */
export interface MimeRanks {
  /** Every mime type with a renderer, in Lab's order of preference. */
  order: string[];
  /** The mime type Lab renders for a trusted output of the bundle. */
  trusted: string;
  /** The mime type Lab renders for an untrusted output (only "safe" renderers). */
  untrusted: string;
}

/** Asks the open notebook's rendermime registry how it ranks `mimes`. */
export function mimeRanks(page: Page, path: string, mimes: string[]): Promise<MimeRanks> {
  return page.evaluate(([p, ms]) => {
    // deno-lint-ignore no-explicit-any
    const rendermime = (globalThis as any).__nnPanels[p].content.rendermime;
    const bundle = Object.fromEntries(ms.map((m) => [m, m.endsWith("json") ? {} : ""]));
    return {
      order: [...rendermime.mimeTypes] as string[],
      trusted: String(rendermime.preferredMimeType(bundle, "any") ?? ""),
      untrusted: String(rendermime.preferredMimeType(bundle, "ensure") ?? ""),
    };
  }, [path, mimes] as const);
}

/**
 * Saves PNGs of the whole notebook: Lab scrolls the notebook inside its panel, so the
 * window is made as tall as the notebook (at most `maxHeight` pixels) for the shot; a
 * longer notebook is shot in parts, `file` then `<file>-2.png`, `-3` … Returns the files.
 */
export async function screenshotNotebook(
  page: Page,
  path: string,
  file: string,
  maxHeight = 16_000,
): Promise<string[]> {
  const viewport = page.viewportSize() ?? { width: 1200, height: 900 };
  const scroll = (top: number) =>
    page.evaluate(([p, t]) => {
      // deno-lint-ignore no-explicit-any
      const panel = (globalThis as any).__nnPanels[p];
      const scroller = panel.content.node.querySelector(".jp-WindowedPanel-outer") ??
        panel.content.node;
      scroller.scrollTop = t;
      // The notebook ends with its last cell: Lab lets the view scroll past the end, and
      // that blank space counts in scrollHeight.
      const cells = panel.content.widgets;
      const last = cells[cells.length - 1]?.node;
      const bottom = last
        ? last.getBoundingClientRect().bottom - scroller.getBoundingClientRect().top +
          scroller.scrollTop
        : scroller.scrollHeight;
      return {
        top: scroller.scrollTop,
        view: scroller.clientHeight,
        offset: scroller.getBoundingClientRect().top,
        total: Math.ceil(Math.min(bottom + 24, scroller.scrollHeight)),
        // deno-lint-ignore no-explicit-any
        chrome: (globalThis as any).innerHeight - scroller.clientHeight,
      };
    }, [path, top] as const);
  const first = await scroll(0);
  await page.setViewportSize({
    width: viewport.width,
    height: Math.min(first.total + first.chrome, maxHeight),
  });
  // Lab lays the cells out again (cells out of view had estimated heights), Plotly's
  // responsive charts resize: wait, and once more after a second layout pass.
  await sleep(1_500);
  await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    w.dispatchEvent(new w.Event("resize"));
  });
  await sleep(1_500);
  const { view } = await scroll(0);
  const files: string[] = [];
  for (let part = 0;; part++) {
    const at = await scroll(part * view);
    if (part > 0) await sleep(1_000);
    const name = part === 0 ? file : file.replace(/\.png$/, `-${part + 1}.png`);
    // A later part ends where the notebook ends.
    const height = Math.min(at.offset + at.total - at.top, at.offset + at.view);
    await page.screenshot(
      part === 0 ? { path: name } : {
        path: name,
        clip: { x: 0, y: 0, width: viewport.width, height: Math.max(1, height) },
      },
    );
    files.push(name);
    if (at.top + at.view >= at.total - 1 || at.top < part * view - 1 || part >= 9) break;
  }
  await page.setViewportSize(viewport);
  return files;
}

/**
 * Saves a PNG of one code cell (index among the notebook's code cells), or of one of its
 * outputs, as the page shows it now: scrolled into view, then a clip of the window, so
 * that a display that keeps changing (live training) is caught mid-way.
 */
export async function screenshotCell(
  page: Page,
  path: string,
  codeCell: number,
  file: string,
  output?: number,
): Promise<void> {
  // Lab renders only the cells near its viewport (windowing): let Lab scroll to the cell
  // first, so that it is laid out when measured (scrollIntoView alone left the outputs of
  // long notebooks outside the page: "Clipped area is either empty").
  await page.evaluate(async ([p, c]) => {
    // deno-lint-ignore no-explicit-any
    const panel = (globalThis as any).__nnPanels[p];
    // deno-lint-ignore no-explicit-any
    const cells = (panel.content.widgets as any[]).filter((x) => x.model.type === "code");
    await panel.content.scrollToCell?.(cells[c], "center");
  }, [path, codeCell] as const);
  const handle = await page.evaluateHandle(([p, c, o]) => {
    // deno-lint-ignore no-explicit-any
    const panel = (globalThis as any).__nnPanels[p];
    // deno-lint-ignore no-explicit-any
    const cells = (panel.content.widgets as any[]).filter((x) => x.model.type === "code");
    return o >= 0 ? cells[c].outputArea.widgets[o].node : cells[c].node;
  }, [path, codeCell, output ?? -1] as const);
  try {
    // deno-lint-ignore no-explicit-any
    await handle.evaluate((el: any) => el.scrollIntoView({ block: "center" }));
    await sleep(300);
    // boundingBox(), unlike an element screenshot, does not wait for the element to stop
    // changing, which a live display does only when training ends.
    const box = await handle.asElement()!.boundingBox();
    if (!box) throw new Error(`cell ${codeCell} of ${path} is not shown`);
    const view = page.viewportSize() ?? { width: 1200, height: 900 };
    const y = Math.max(0, box.y);
    await page.screenshot({
      path: file,
      clip: {
        x: Math.max(0, box.x),
        y,
        width: Math.min(box.width, view.width),
        height: Math.max(1, Math.min(box.y + box.height, view.height) - y),
      },
    });
  } finally {
    await handle.dispose();
  }
}

/**
 * Opens a second view of an open notebook (right-click on its tab ▸ "New View for
 * Notebook", `docmanager:clone`), split to the right; the view is reachable as
 * `${path}#view2` in the other helpers.
 */
export async function openSecondView(page: Page, path: string): Promise<string> {
  const key = `${path}#view2`;
  await page.evaluate(async ([p, k]) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    const app = w.jupyterapp;
    const panel = w.__nnPanels[p];
    app.shell.activateById(panel.id);
    await app.commands.execute("docmanager:clone");
    // deno-lint-ignore no-explicit-any
    const views = [...app.shell.widgets("main")].filter((x: any) =>
      x !== panel && x.context?.path === panel.context.path
    );
    if (views.length !== 1) throw new Error(`${views.length} new views of ${p}`);
    w.__nnPanels[k] = views[0];
  }, [path, key] as const);
  return key;
}

/**
 * Runs one code cell (index among the notebook's code cells) with Lab's "Run Selected
 * Cell" (`notebook:run-cell`) and waits until the notebook is quiet again.
 */
export async function runCodeCell(
  page: Page,
  path: string,
  codeCell: number,
  options: LabRunOptions = {},
): Promise<LabRunStats> {
  await instrument(page, path);
  await page.evaluate(([p, c]) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    const panel = w.__nnPanels[p];
    // deno-lint-ignore no-explicit-any
    const cells = panel.content.widgets as any[];
    const code = cells.filter((x) => x.model.type === "code");
    w.jupyterapp.shell.activateById(panel.id);
    panel.content.activeCellIndex = cells.indexOf(code[c]);
    void w.jupyterapp.commands.execute("notebook:run-cell");
  }, [path, codeCell] as const);
  return await waitUntilLabQuiet(page, path, options);
}

/** Edit ▸ Clear Outputs of All Cells (`notebook:clear-all-cell-outputs`). */
export async function clearAllOutputs(page: Page, path: string): Promise<void> {
  await page.evaluate(async (p) => {
    // deno-lint-ignore no-explicit-any
    const w = globalThis as any;
    w.jupyterapp.shell.activateById(w.__nnPanels[p].id);
    await w.jupyterapp.commands.execute("notebook:clear-all-cell-outputs");
  }, path);
}
