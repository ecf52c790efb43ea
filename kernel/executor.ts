/**
 * Executes a notebook's code cells on a {@linkcode KernelManager} and collects every output.
 *
 * The Deno kernel publishes `status: idle`, and sometimes the `execute_reply`, before a
 * cell's last outputs, and it tags stdout/stderr with whichever `execute_request` it saw
 * last. So outputs are filed by `parent_header.msg_id` (for the whole run, so that a
 * late output still lands in its own cell), and a cell counts as done only when its
 * reply and its idle status have both arrived AND iopub has then been quiet for a settle
 * window; only then is the next cell sent.
 *
 * Outputs follow Jupyter's rules: consecutive stream outputs of the same name merge
 * (`\r` overwrites the line, `\b` deletes a character), `clear_output` (with `wait`)
 * clears the cell, `display_data`/`execute_result` with a display id and
 * `update_display_data` replace every output carrying that id anywhere in the notebook;
 * display ids stay in memory and are not written (they are `transient`).
 *
 * @example
 * ```ts ignore
 * import { executeNotebook } from "./executor.ts";
 * import { KernelManager } from "./kernel_manager.ts";
 * const result = await executeNotebook(nb, kernel, { timeoutMs: 60_000 });
 * console.log(result.status, result.cells.length);
 * ```
 * @module
 */

import { CorruptMessageError, type IopubEvent } from "./client.ts";
import type { KernelManager } from "./kernel_manager.ts";
import { type Cell, cellTags, joinText, type Notebook, type Output } from "./notebook.ts";

/** What happened to one code cell. */
export type CellStatus = "ok" | "error" | "timeout" | "dead" | "interrupted" | "not run";

/** Status of a whole execution. */
export type ExecutionStatus = "ok" | "error" | "timeout" | "kernel died" | "interrupted";

/** One executed (or skipped) code cell. */
export interface CellRecord {
  /** Index in `notebook.cells` (0-based). */
  index: number;
  /** Cell id, when the notebook has ids. */
  id?: string;
  /** What happened. */
  status: CellStatus;
  /** From sending the request to the last event of the cell (reply, idle or output), in ms. */
  durationMs: number;
  /** The execution count the kernel gave. */
  executionCount: number | null;
  /** First non-empty line of the source, for reports. */
  firstLine: string;
  /** The error, for failed cells. */
  error?: { ename: string; evalue: string };
  /** Whether the cell is tagged `raises-exception` (an error there is expected). */
  expectsError: boolean;
}

/** Timing of outputs relative to the kernel's "done" signals, for tuning the settle window. */
export interface LatenessStats {
  /** Outputs that arrived after both idle and the reply. */
  afterDone: number;
  /** The largest delay of such an output after the later of idle and reply, in ms. */
  maxDelayMs: number;
  /** Outputs that arrived after their cell had been declared settled (still filed). */
  afterSettle: number;
}

/** The result of {@linkcode executeNotebook}. */
export interface ExecutionResult {
  /** `ok`, or the worst thing that happened. */
  status: ExecutionStatus;
  /** One record per code cell, in order. */
  cells: CellRecord[];
  /** The first failure (the cell that stopped the run, or the first error with `allowErrors`). */
  failure?: {
    index: number;
    id?: string;
    ename: string;
    evalue: string;
  };
  /** Wall time of the whole execution in ms. */
  durationMs: number;
  /** Kernel restarts (after timeouts or deaths). */
  restarts: number;
  /** How late outputs came. */
  lateness: LatenessStats;
}

/** Progress events. */
export type ExecutionEvent =
  | { type: "cell-start"; index: number; ordinal: number; total: number }
  | { type: "cell-end"; record: CellRecord; ordinal: number; total: number };

/** Options for {@linkcode executeNotebook}. */
export interface ExecuteOptions {
  /** Per-cell timeout in ms; 0 or undefined: none. */
  timeoutMs?: number;
  /**
   * Quiet time on iopub, after the cell's reply, idle status and flush markers, before the
   * cell counts as done and the next one is sent. Default {@linkcode DEFAULT_SETTLE_MS}.
   */
  settleMs?: number;
  /**
   * How long to wait for the flush markers when a cell broke `console` or
   * `Deno.jupyter.broadcast`; after that, a quiet settle window is enough. Default 3 000 ms.
   */
  flushTimeoutMs?: number;
  /** Send the flush barrier after each cell (see the module doc). Default true. */
  flush?: boolean;
  /** Keep executing after a failing cell (a restarted kernel after a timeout or death). */
  allowErrors?: boolean;
  /** Progress callback. */
  onEvent?: (event: ExecutionEvent) => void;
  /**
   * Stops the run when aborted (the runner aborts on Ctrl-C / SIGTERM): the running cell
   * gets a `RunInterrupted` error output, later cells are not run, and the result says
   * `interrupted`, so the caller can still write the partial notebook.
   */
  signal?: AbortSignal;
}

/** Default settle window in ms (see tests/kernel/stress_test.ts for the measurement). */
export const DEFAULT_SETTLE_MS = 100;

/**
 * Applies `\r` (line overwrite, as nbconvert does) and `\b` (delete previous character).
 *
 * @example
 * ```ts
 * import { normalizeStreamText } from "./executor.ts";
 * console.log(normalizeStreamText("10%\r100%\n")); // "100%\n"
 * ```
 */
export function normalizeStreamText(text: string): string {
  let out = text;
  if (out.includes("\r")) {
    // Linear time: per line, drop everything up to the last \r that has text after it.
    out = out.split("\n").map((line) => {
      const at = line.length >= 2 ? line.lastIndexOf("\r", line.length - 2) : -1;
      return at >= 0 ? line.slice(at + 1) : line;
    }).join("\n");
  }
  if (out.includes("\b")) {
    const chars: string[] = [];
    for (const ch of out) {
      if (ch === "\b") {
        if (chars.length > 0 && chars[chars.length - 1] !== "\n") chars.pop();
      } else chars.push(ch);
    }
    out = chars.join("");
  }
  return out;
}

/** The state of one executing cell. */
interface CellState {
  cell: Cell;
  outputs: Output[];
  sentAt: number;
  replyAt?: number;
  idleAt?: number;
  lastEventAt: number;
  reply?: Record<string, unknown>;
  clearPending: boolean;
  settled: boolean;
  /** Iopub messages filed to this cell that failed their signature check (lost). */
  corrupt: { bytes: number; msgType: string; reason: string }[];
}

/**
 * The flush barrier sent after a cell: a silent request whose markers travel the same
 * paths as the cell's outputs (the console channel and `Deno.jupyter.broadcast`). Once
 * they arrive, everything the cell printed before them has been published. Anything else
 * the kernel files under the barrier (it tags output with the latest request) is the
 * cell's late output and goes to the cell.
 */
interface Barrier {
  target: CellState;
  marker: string;
  replyAt?: number;
  idleAt?: number;
  seen: Set<"stdout" | "stderr" | "broadcast">;
}

function barrierCode(marker: string): string {
  const m = JSON.stringify(marker);
  return `console.log(${m}); console.error(${m}); ` +
    `await Deno.jupyter.broadcast("display_data", ` +
    `{ data: { "text/plain": ${m} }, metadata: {}, transient: {} });`;
}

function iso(event: IopubEvent): string {
  const date = event.message.header.date;
  return typeof date === "string" && date !== "" ? date : new Date(event.receivedAt).toISOString();
}

function firstLine(cell: Cell): string {
  return joinText(cell.source).split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const OUTPUT_TYPES = new Set([
  "stream",
  "display_data",
  "update_display_data",
  "execute_result",
  "error",
  "clear_output",
]);

/** Files iopub messages into cells and applies Jupyter's output rules. */
class OutputCollector {
  readonly cells = new Map<string, CellState>();
  readonly barriers = new Map<string, Barrier>();
  readonly displays = new Map<string, Output[]>();
  readonly displayIdOf = new WeakMap<Output, string>();
  readonly lateness: LatenessStats = { afterDone: 0, maxDelayMs: 0, afterSettle: 0 };

  /** The cell being executed (where a corrupt message that names no request goes). */
  current?: CellState;

  handle(event: IopubEvent): void {
    const parentId = event.message.parent_header.msg_id;
    if (event.corrupt) {
      const target = (parentId && (this.cells.get(parentId) ??
        this.barriers.get(parentId)?.target)) || this.current;
      target?.corrupt.push({
        bytes: event.corrupt.bytes,
        msgType: event.message.header.msg_type,
        reason: event.corrupt.reason,
      });
      if (target) target.lastEventAt = Math.max(target.lastEventAt, event.receivedAt);
      return;
    }
    if (!parentId) return;
    const state = this.cells.get(parentId);
    if (state) return this.#handleCell(state, event);
    const barrier = this.barriers.get(parentId);
    if (barrier) this.#handleBarrier(barrier, event);
  }

  #handleBarrier(barrier: Barrier, event: IopubEvent): void {
    const { message, receivedAt } = event;
    const content = message.content as Record<string, unknown>;
    switch (message.header.msg_type) {
      case "status":
        if (content.execution_state === "idle") barrier.idleAt = receivedAt;
        return;
      case "execute_input":
      case "error": // the barrier itself failed (console replaced?): the flush timeout covers it
        return;
      case "stream": {
        const text = String(content.text ?? "");
        if (!text.includes(barrier.marker)) break;
        barrier.seen.add(content.name === "stderr" ? "stderr" : "stdout");
        const rest = text.replaceAll(barrier.marker + "\n", "").replaceAll(barrier.marker, "");
        if (rest === "") return;
        return this.#handleCell(barrier.target, {
          receivedAt,
          message: { ...message, content: { ...content, text: rest } },
        });
      }
      case "display_data": {
        const data = content.data as Record<string, unknown> | undefined;
        if (data?.["text/plain"] === barrier.marker) {
          barrier.seen.add("broadcast");
          return;
        }
        break;
      }
    }
    this.#handleCell(barrier.target, event);
  }

  #handleCell(state: CellState, event: IopubEvent): void {
    const { message, receivedAt } = event;
    const content = message.content as Record<string, unknown>;
    const type = message.header.msg_type;
    const timing = (state.cell.metadata.execution ?? {}) as Record<string, string>;
    if (type === "status") {
      if (content.execution_state === "busy") timing["iopub.status.busy"] = iso(event);
      if (content.execution_state === "idle") {
        timing["iopub.status.idle"] = iso(event);
        state.idleAt = receivedAt;
        state.lastEventAt = Math.max(state.lastEventAt, receivedAt);
      }
      return;
    }
    if (type === "execute_input") {
      timing["iopub.execute_input"] = iso(event);
      if (typeof content.execution_count === "number") {
        state.cell.execution_count = content.execution_count;
      }
      return;
    }
    if (!OUTPUT_TYPES.has(type)) return;
    state.lastEventAt = Math.max(state.lastEventAt, receivedAt);
    if (state.replyAt !== undefined && state.idleAt !== undefined) {
      this.lateness.afterDone++;
      const delay = receivedAt - Math.max(state.replyAt, state.idleAt);
      this.lateness.maxDelayMs = Math.max(this.lateness.maxDelayMs, delay);
    }
    if (state.settled) this.lateness.afterSettle++;
    const transient = (content.transient ?? {}) as { display_id?: unknown };
    const displayId = typeof transient.display_id === "string" ? transient.display_id : undefined;
    const data = (content.data ?? {}) as Record<string, unknown>;
    const metadata = (content.metadata ?? {}) as Record<string, unknown>;
    switch (type) {
      case "stream":
        this.#add(state, {
          output_type: "stream",
          name: String(content.name ?? "stdout"),
          text: String(content.text ?? ""),
        });
        break;
      case "display_data":
      case "execute_result": {
        const output: Output = type === "execute_result"
          ? {
            output_type: "execute_result",
            execution_count: typeof content.execution_count === "number"
              ? content.execution_count
              : state.cell.execution_count ?? null,
            data,
            metadata,
          }
          : { output_type: "display_data", data, metadata };
        if (displayId) {
          this.#update(displayId, data, metadata);
          this.displayIdOf.set(output, displayId);
          this.displays.set(displayId, [...(this.displays.get(displayId) ?? []), output]);
        }
        this.#add(state, output);
        break;
      }
      case "update_display_data":
        if (displayId) this.#update(displayId, data, metadata);
        break;
      case "error":
        this.#add(state, {
          output_type: "error",
          ename: String(content.ename ?? "Error"),
          evalue: String(content.evalue ?? ""),
          traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
        });
        break;
      case "clear_output":
        if (content.wait === true) state.clearPending = true;
        else this.#clear(state);
        break;
    }
  }

  #update(displayId: string, data: Record<string, unknown>, metadata: Record<string, unknown>) {
    for (const output of this.displays.get(displayId) ?? []) {
      output.data = data;
      output.metadata = metadata;
    }
  }

  #clear(state: CellState): void {
    for (const output of state.outputs) {
      const id = this.displayIdOf.get(output);
      if (id) {
        const list = (this.displays.get(id) ?? []).filter((o) => o !== output);
        if (list.length > 0) this.displays.set(id, list);
        else this.displays.delete(id);
      }
    }
    state.outputs.length = 0;
    state.clearPending = false;
  }

  #add(state: CellState, output: Output): void {
    if (state.clearPending) this.#clear(state);
    const last = state.outputs.at(-1);
    if (
      output.output_type === "stream" && last?.output_type === "stream" &&
      last.name === output.name
    ) {
      last.text = normalizeStreamText(joinText(last.text) + joinText(output.text));
      return;
    }
    if (output.output_type === "stream") output.text = normalizeStreamText(joinText(output.text));
    state.outputs.push(output);
  }
}

/**
 * The error output for messages the kernel sent corrupt (they failed their HMAC check, so
 * their content cannot be trusted and is lost). Seen with the Deno 2.9.6 kernel on single
 * outputs of several MB under load; saying so beats a notebook that silently lacks them.
 */
function corruptOutput(lost: CellState["corrupt"]): Output {
  const size = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const what = lost.map((m) => `${m.msgType} (${size(m.bytes)})`).join(", ");
  const evalue = `the kernel sent ${lost.length} corrupt output message(s) for this cell ` +
    `(${what}); what they carried is lost`;
  return errorOutput("CorruptMessageError", evalue, [
    `CorruptMessageError: ${evalue}`,
    `Reason: ${lost[0].reason}.`,
    "Large single outputs are the usual cause: print or display less at once (a summary, a " +
    "sample, or several smaller outputs) and run the notebook again.",
  ]);
}

function errorOutput(ename: string, evalue: string, traceback: string[]): Output {
  return { output_type: "error", ename, evalue, traceback };
}

type Wait = "ok" | "timeout" | "dead" | "interrupted";

/**
 * How long a kernel killed by SIGTERM, SIGINT or SIGHUP waits for the run's own interruption
 * before its death counts as a death (signals sent to a whole process tree arrive together).
 */
const INTERRUPT_GRACE_MS = 1_000;

function killedBySignal(kernel: KernelManager): boolean {
  const signal = kernel.death?.signal;
  return signal === "SIGTERM" || signal === "SIGINT" || signal === "SIGHUP" ||
    signal === "SIGQUIT";
}

/**
 * Executes every code cell of `nb` in order on `kernel`, writing outputs, execution counts
 * and `metadata.execution` timestamps into the cells (the notebook object is modified).
 * A failing cell stops the run unless `allowErrors` is set or the cell is tagged
 * `raises-exception`; after a timeout or a kernel death the kernel is restarted when the
 * run continues. Never throws for cell failures: they are in the result.
 *
 * @example
 * ```ts ignore
 * import { executeNotebook } from "./executor.ts";
 * import { KernelManager } from "./kernel_manager.ts";
 * import { BUILT_IN_KERNELS } from "./kernel_lookup.ts";
 * import { readNotebook, writeNotebook } from "./notebook.ts";
 * const nb = await readNotebook("notebooks/01_dense_networks.ipynb");
 * const kernel = await KernelManager.start({
 *   spec: { ...BUILT_IN_KERNELS["neural-notebooks"], source: "built-in" },
 *   cwd: "notebooks",
 * });
 * const result = await executeNotebook(nb, kernel, { timeoutMs: 600_000 });
 * await kernel.shutdown();
 * await writeNotebook("out/01_dense_networks.ipynb", nb);
 * console.log(result.status);
 * ```
 */
export async function executeNotebook(
  nb: Notebook,
  kernel: KernelManager,
  options: ExecuteOptions = {},
): Promise<ExecutionResult> {
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const flushTimeoutMs = options.flushTimeoutMs ?? 3_000;
  const timeoutMs = options.timeoutMs ?? 0;
  const started = Date.now();
  const collector = new OutputCollector();
  const stopListening = kernel.onIopub((event) => collector.handle(event));
  const records: CellRecord[] = [];
  const codeCells = nb.cells
    .map((cell, index) => ({ cell, index }))
    .filter(({ cell }) => cell.cell_type === "code");
  const restartsBefore = kernel.restarts;
  let status: ExecutionStatus = "ok";
  let failure: ExecutionResult["failure"];
  let stopped = false;
  const rank: Record<ExecutionStatus, number> = {
    ok: 0,
    error: 1,
    timeout: 2,
    "kernel died": 3,
    interrupted: 4,
  };

  /** Polls until `done()` holds, the cell's timeout passes, or the kernel dies. */
  const waitFor = async (state: CellState, done: () => boolean): Promise<Wait> => {
    while (true) {
      if (options.signal?.aborted) return "interrupted";
      if (kernel.death) return "dead";
      if (timeoutMs > 0 && Date.now() - state.sentAt > timeoutMs) return "timeout";
      if (done()) return "ok";
      await sleep(10);
    }
  };
  const quietFor = (ms: number, ...times: (number | undefined)[]) =>
    Date.now() - Math.max(kernel.client.lastIopubAt, ...times.map((t) => t ?? 0)) >= ms;

  if (kernel.info.language_info) nb.metadata.language_info = kernel.info.language_info as never;

  try {
    for (const [ordinal, { cell, index }] of codeCells.entries()) {
      const record: CellRecord = {
        index,
        id: typeof cell.id === "string" ? cell.id : undefined,
        status: "not run",
        durationMs: 0,
        executionCount: null,
        firstLine: firstLine(cell),
        expectsError: cellTags(cell).includes("raises-exception"),
      };
      records.push(record);
      cell.outputs = [];
      cell.execution_count = null;
      delete cell.metadata.execution;
      const code = joinText(cell.source);
      if (!stopped && options.signal?.aborted) {
        // Interrupted between cells: this one and the rest are not run.
        stopped = true;
        status = "interrupted";
        failure ??= {
          index,
          id: record.id,
          ename: "RunInterrupted",
          evalue: `the run was interrupted (${String(options.signal.reason)}) before this ` +
            "cell started; it and later cells were not run",
        };
      }
      if (stopped || code.trim() === "") continue;

      options.onEvent?.({ type: "cell-start", index, ordinal, total: codeCells.length });
      const timing: Record<string, string> = {};
      cell.metadata.execution = timing;
      const message = kernel.client.session.message("execute_request", {
        code,
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: true,
      });
      const state: CellState = {
        cell,
        outputs: cell.outputs,
        sentAt: Date.now(),
        lastEventAt: Date.now(),
        clearPending: false,
        settled: false,
        corrupt: [],
      };
      collector.cells.set(message.header.msg_id, state);
      collector.current = state;
      const stderrMark = kernel.stderrMark;
      kernel.send("shell", message).then((reply) => {
        state.reply = reply.content;
        state.replyAt = Date.now();
        state.lastEventAt = Math.max(state.lastEventAt, state.replyAt);
        timing["shell.execute_reply"] = typeof reply.header.date === "string"
          ? reply.header.date
          : new Date(state.replyAt).toISOString();
        if (cell.execution_count == null && typeof reply.content.execution_count === "number") {
          cell.execution_count = reply.content.execution_count;
        }
      }, (error) => {
        // A corrupt reply: the cell fails with what is known (the error is reported below).
        // Any other rejection means the kernel went away; waitFor reports it.
        if (!(error instanceof CorruptMessageError)) return;
        state.replyAt = Date.now();
        state.reply = { status: "error", ename: "CorruptMessageError", evalue: error.message };
      });
      /** The idle status arrived, or may have been lost in a corrupt message. */
      const idleOrLost = (idleAt: number | undefined, after: number) =>
        idleAt !== undefined ||
        (state.corrupt.length > 0 && Date.now() - after >= flushTimeoutMs);

      // 1. The cell's own reply and idle status.
      let outcome = await waitFor(
        state,
        () => state.replyAt !== undefined && idleOrLost(state.idleAt, state.replyAt),
      );
      // 2. The flush barrier, then a quiet settle window.
      if (outcome === "ok" && options.flush === false) {
        outcome = await waitFor(state, () => quietFor(settleMs, state.replyAt, state.idleAt));
      } else if (outcome === "ok") {
        const barrier: Barrier = {
          target: state,
          marker: `\u2063nn-flush-${crypto.randomUUID()}\u2063`,
          seen: new Set(),
        };
        const request = kernel.client.session.message("execute_request", {
          code: barrierCode(barrier.marker),
          silent: true,
          store_history: false,
          user_expressions: {},
          allow_stdin: false,
          stop_on_error: false,
        });
        collector.barriers.set(request.header.msg_id, barrier);
        kernel.send("shell", request).then(() => barrier.replyAt = Date.now(), () => {});
        outcome = await waitFor(state, () => {
          if (barrier.replyAt === undefined) return false;
          if (!idleOrLost(barrier.idleAt, barrier.replyAt)) return false;
          const flushed = barrier.seen.size === 3 ||
            Date.now() - Math.max(barrier.replyAt, barrier.idleAt ?? 0) >= flushTimeoutMs;
          return flushed && quietFor(settleMs, barrier.replyAt, barrier.idleAt);
        });
      }
      state.settled = true;
      record.durationMs = Math.max(state.lastEventAt, state.sentAt) - state.sentAt;
      if (outcome === "dead" && options.signal && killedBySignal(kernel)) {
        // A job engine or a terminal signalled every process, the kernel as well as the
        // runner: when the runner's own signal follows, this is an interruption.
        const until = Date.now() + INTERRUPT_GRACE_MS;
        while (!options.signal.aborted && Date.now() < until) await sleep(10);
        if (options.signal.aborted) outcome = "interrupted";
      }

      if (state.corrupt.length > 0) cell.outputs.push(corruptOutput(state.corrupt));
      if (outcome === "ok") {
        const reply = state.reply ?? {};
        const failed = reply.status !== "ok";
        if (failed && !cell.outputs.some((o) => o.output_type === "error")) {
          const ename = typeof reply.ename === "string" && reply.ename !== ""
            ? reply.ename
            : reply.status === "aborted"
            ? "ExecutionAborted"
            : "KernelError";
          const evalue = typeof reply.evalue === "string" && reply.evalue !== ""
            ? reply.evalue
            : `the kernel replied "${String(reply.status ?? "no status")}" ` +
              "to this cell without an error output";
          const traceback = Array.isArray(reply.traceback) && reply.traceback.length > 0
            ? reply.traceback.map(String)
            : [
              `${ename}: ${evalue}`,
              "The kernel reported this error without an error output: typically a syntax " +
              "error, a module that failed to load, or an npm/lock resolution failure.",
            ];
          const stderr = kernel.stderrSince(stderrMark);
          if (stderr) traceback.push("kernel stderr:", ...stderr.split("\n").slice(-20));
          cell.outputs.push(errorOutput(ename, evalue, traceback));
        }
        const shown = cell.outputs.find((o) => o.output_type === "error");
        if (failed || shown) {
          record.status = "error";
          record.error = { ename: String(shown?.ename ?? ""), evalue: String(shown?.evalue ?? "") };
        } else record.status = "ok";
      } else if (outcome === "timeout") {
        const seconds = Math.round(timeoutMs / 100) / 10;
        const evalue = `the cell ran longer than the ${seconds} s timeout (--timeout); ` +
          `the kernel was ${options.allowErrors ? "restarted" : "stopped"}`;
        cell.outputs.push(errorOutput("CellTimeoutError", evalue, [`CellTimeoutError: ${evalue}`]));
        record.status = "timeout";
        record.error = { ename: "CellTimeoutError", evalue };
        record.durationMs = Date.now() - state.sentAt;
      } else if (outcome === "interrupted") {
        const evalue = `the run was interrupted (${String(options.signal?.reason ?? "aborted")}) ` +
          "while this cell was running; later cells were not run";
        cell.outputs.push(errorOutput("RunInterrupted", evalue, [`RunInterrupted: ${evalue}`]));
        record.status = "interrupted";
        record.error = { ename: "RunInterrupted", evalue };
        record.durationMs = Date.now() - state.sentAt;
      } else {
        await sleep(100); // let the last bytes the kernel sent before dying be read
        const death = kernel.death!;
        const stderr = death.stderrTail || kernel.stderrTail;
        const evalue = `the kernel died while running this cell: ${death.message}`;
        const traceback = [`DeadKernelError: ${evalue}`];
        if (stderr) traceback.push("kernel stderr:", ...stderr.split("\n").slice(-20));
        cell.outputs.push(errorOutput("DeadKernelError", evalue, traceback));
        record.status = "dead";
        record.error = { ename: "DeadKernelError", evalue };
        record.durationMs = Date.now() - state.sentAt;
      }
      record.executionCount = cell.execution_count ?? null;
      options.onEvent?.({ type: "cell-end", record, ordinal, total: codeCells.length });

      if (record.status !== "ok" && !(record.status === "error" && record.expectsError)) {
        const s: ExecutionStatus = record.status === "dead"
          ? "kernel died"
          : record.status === "interrupted"
          ? "interrupted"
          : record.status === "timeout"
          ? "timeout"
          : "error";
        if (rank[s] > rank[status]) status = s;
        failure ??= {
          index,
          id: record.id,
          ename: record.error?.ename ?? "",
          evalue: record.error?.evalue ?? "",
        };
        if (!options.allowErrors || record.status === "interrupted" || options.signal?.aborted) {
          stopped = true;
        } else if (record.status === "timeout" || record.status === "dead") {
          await kernel.restart();
        }
      }
    }
    // Late outputs of the last cell: iopub quiet for three settle windows (at most 5 s).
    const until = Date.now() + 5_000;
    while (
      !kernel.death && !options.signal?.aborted && Date.now() < until && !quietFor(3 * settleMs)
    ) await sleep(10);
  } finally {
    stopListening();
  }
  return {
    status,
    cells: records,
    failure,
    durationMs: Date.now() - started,
    restarts: kernel.restarts - restartsBefore,
    lateness: collector.lateness,
  };
}
