/**
 * How the runner takes Ctrl-C (SIGINT), SIGTERM and SIGHUP: never as a reason to lose work.
 *
 * - The first signal asks for a graceful stop: the running cells get a `RunInterrupted` error,
 *   the kernels are shut down, and the partial notebooks and the report are written.
 * - Signals within {@linkcode SIGNAL_BURST_MS} of the first are the same request delivered
 *   again (GNU `timeout` signals the command and its process group, `deno task` passes its
 *   own copy on, a terminal's Ctrl-C reaches every process of the foreground group).
 * - A later signal (a deliberate second Ctrl-C, or a job engine's repeated SIGTERM) asks to
 *   stop now: every kernel is killed at once. The partial notebooks and the report are still
 *   written; only SIGKILL ends the runner without them.
 *
 * The listeners stay installed until {@linkcode Interrupts.dispose}, which the runner calls
 * only once the report is on disk: there is no moment between the first signal and the
 * report's last byte where a signal can end the process (the cause of reports lost under
 * load was a late duplicate SIGTERM arriving after the listener had been removed, which let
 * the kernel manager's exit hook end the process with code 143 before the report was
 * written).
 *
 * `NN_RUN_TRACE=1` in the environment prints each step of the exit path on stderr.
 *
 * @example
 * ```ts
 * import { handleInterrupts } from "./interrupts.ts";
 * const interrupts = handleInterrupts({ log: () => {} });
 * console.log(interrupts.signal.aborted); // false
 * interrupts.dispose();
 * ```
 * @module
 */

import { deferSignals, killAll } from "./kernel_manager.ts";

/** Signals this close to the first one are the same request (see the module doc). */
export const SIGNAL_BURST_MS = 1_000;

/** What a signal asks for; see {@linkcode interruptAction}. */
export type InterruptAction = "stop" | "same request" | "stop now";

/**
 * What a Ctrl-C, SIGTERM or SIGHUP at `now` (ms) means, given when the first one came (`null`:
 * none yet): `"stop"` (the first: stop gracefully and write the partial notebooks), `"same
 * request"` (within {@linkcode SIGNAL_BURST_MS} of the first: the same request delivered
 * again) or `"stop now"` (a later one: kill the kernels at once; the notebooks and the
 * report are still written).
 *
 * @example
 * ```ts
 * import { interruptAction } from "./interrupts.ts";
 * console.log(interruptAction(null, 5_000)); // "stop"
 * console.log(interruptAction(5_000, 5_004)); // "same request"
 * console.log(interruptAction(5_000, 7_000)); // "stop now"
 * ```
 */
export function interruptAction(firstAt: number | null, now: number): InterruptAction {
  if (firstAt === null) return "stop";
  return now - firstAt < SIGNAL_BURST_MS ? "same request" : "stop now";
}

const traceStart = Date.now();

/**
 * Prints one step of the runner's exit path on stderr when `NN_RUN_TRACE` is set (to
 * anything but `0`); does nothing otherwise. Never throws.
 *
 * @example
 * ```ts
 * import { trace } from "./interrupts.ts";
 * trace("writing the report"); // prints "trace +12ms writing the report" with NN_RUN_TRACE=1
 * ```
 */
export function trace(step: string): void {
  let on = false;
  try {
    const value = Deno.env.get("NN_RUN_TRACE");
    on = value !== undefined && value !== "" && value !== "0";
  } catch { /* no env permission: tracing stays off */ }
  if (!on) return;
  try {
    console.error(`trace +${Date.now() - traceStart}ms ${step}`);
  } catch { /* stderr gone */ }
}

/** The signals the runner takes on this platform. */
export function interruptSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"];
}

/** Options for {@linkcode handleInterrupts}. */
export interface InterruptOptions {
  /** Where the one-line notices go (default: stderr; errors writing are ignored). */
  log?: (line: string) => void;
  /** Signals to take (default {@linkcode interruptSignals}). */
  signals?: Deno.Signal[];
  /** Called on "stop now" (default: {@linkcode killAll}, which kills every kernel). */
  stopNow?: () => void;
}

/** The runner's signal state; see {@linkcode handleInterrupts}. */
export interface Interrupts {
  /** Aborted by the first signal; its `reason` is the signal's name. */
  readonly signal: AbortSignal;
  /** Whether a later signal asked to stop now (the kernels were killed). */
  readonly stoppedNow: boolean;
  /** Removes the listeners: call it only after the report is written. */
  dispose(): void;
}

/**
 * Takes over SIGINT, SIGTERM and SIGHUP (SIGINT and SIGBREAK on Windows) as the module doc
 * describes, until `dispose()`; also tells the kernel manager's exit hook to leave them alone.
 *
 * @example
 * ```ts
 * import { handleInterrupts } from "./interrupts.ts";
 * const interrupts = handleInterrupts({ log: () => {} });
 * try {
 *   // ... run, checking interrupts.signal.aborted, then write the report ...
 * } finally {
 *   interrupts.dispose();
 * }
 * ```
 */
export function handleInterrupts(options: InterruptOptions = {}): Interrupts {
  const log = options.log ?? ((line: string) => {
    try {
      console.error(line);
    } catch { /* stderr gone (a closed terminal after SIGHUP): keep going */ }
  });
  const stopNow = options.stopNow ?? killAll;
  const controller = new AbortController();
  let first: number | null = null;
  let stoppedNow = false;
  const restore = deferSignals();
  const handler = (name: Deno.Signal) => () => {
    const action = interruptAction(first, Date.now());
    trace(`${name}: ${action}`);
    if (action === "same request") return;
    if (action === "stop now") {
      if (!stoppedNow) {
        log(
          `${name} again: killing the kernels now; the partial notebooks and the report are ` +
            "still written (only SIGKILL exits without them)",
        );
      }
      stoppedNow = true;
      try {
        stopNow();
      } catch { /* best effort */ }
      return;
    }
    first = Date.now();
    const again = name === "SIGINT" ? "Ctrl-C" : name;
    log(
      `${name}: stopping; writing the partial notebooks and the report ` +
        `(another ${again} after ${SIGNAL_BURST_MS / 1000} s kills the kernels at once)`,
    );
    controller.abort(name);
  };
  const removers = (options.signals ?? interruptSignals()).flatMap((name) => {
    const listener = handler(name);
    try {
      Deno.addSignalListener(name, listener);
    } catch {
      return []; // not supported on this platform
    }
    return [() => Deno.removeSignalListener(name, listener)];
  });
  let disposed = false;
  return {
    signal: controller.signal,
    get stoppedNow() {
      return stoppedNow;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      trace("signal listeners removed");
      for (const remove of removers) remove();
      restore();
    },
  };
}
