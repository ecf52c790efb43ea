/**
 * Jupyter display plumbing shared by charts, claims, progress and reports.
 *
 * One display rule, the ecosystem's: {@linkcode publish} (and everything built on it: `show`
 * for charts, `claim`, `showBackend`) displays an output at once, wherever it stands in a
 * cell, and returns nothing, so a cell never prints a raw object after it.
 * {@linkcode display} / {@linkcode updateDisplay} are the awaitable forms, with display ids
 * for outputs updated in place (live training). Outside Jupyter (`deno run`, `deno test`)
 * the same calls print the `text/plain` entry, so library code never needs to know where it
 * runs. (The kernel's other way, an object with a `Symbol.for("Jupyter.display")` method,
 * renders only as a cell's last expression and silently shows nothing anywhere else: the
 * library does not offer it.)
 *
 * @example
 * ```ts
 * import { publish } from "nn";
 * // a table in a notebook, its text in a terminal; shown here, and nothing printed after it
 * publish({ "text/plain": "loss 0.31", "text/html": "<table><tr><td>loss</td><td>0.31</td></tr></table>" });
 * ```
 * @module
 */

/** A Jupyter mimebundle: mime type → data (strings, or JSON objects for `+json` types). */
export type MimeBundle = Record<string, unknown>;

/** Minimal view of `Deno.jupyter` used here (it throws when read outside the kernel). */
interface JupyterApi {
  broadcast(
    msgType: string,
    content: Record<string, unknown>,
    extra?: { metadata?: Record<string, unknown> },
  ): Promise<void>;
}

let cachedApi: JupyterApi | null | undefined;

function jupyterApi(): JupyterApi | null {
  if (cachedApi !== undefined) return cachedApi;
  try {
    // Reading the property throws outside `deno jupyter`.
    cachedApi = (Deno as unknown as { jupyter: JupyterApi }).jupyter ?? null;
  } catch {
    cachedApi = null;
  }
  return cachedApi;
}

/**
 * Whether this code runs inside the Deno Jupyter kernel.
 *
 * @example
 * ```ts
 * import { inJupyter } from "nn";
 * console.log(inJupyter() ? "in a notebook" : "in a terminal");
 * ```
 */
export function inJupyter(): boolean {
  return jupyterApi() !== null;
}

/** Options for {@linkcode display}. */
export interface DisplayOptions {
  /** A display id, so that the output can later be replaced by {@linkcode updateDisplay}. */
  displayId?: string;
  /** Output metadata (per mime type or global). */
  metadata?: Record<string, unknown>;
}

/**
 * Publishes a mimebundle now (`display_data`); outside Jupyter prints its `text/plain`.
 *
 * @example
 * ```ts
 * import { display } from "nn";
 * await display({ "text/plain": "training started" });
 * ```
 */
export async function display(bundle: MimeBundle, options: DisplayOptions = {}): Promise<void> {
  const api = jupyterApi();
  if (!api) {
    const text = bundle["text/plain"];
    if (typeof text === "string" && text.length > 0) console.log(text);
    return;
  }
  await api.broadcast("display_data", {
    data: bundle,
    metadata: options.metadata ?? {},
    transient: options.displayId ? { display_id: options.displayId } : {},
  });
}

/**
 * Publishes a mimebundle at once and returns nothing, so that the call renders where it
 * stands in a cell, like plotly's `fig.show()`, and leaves nothing for the cell to print as
 * its value. Inside Jupyter the `display_data` message is sent before the call returns (the
 * kernel's broadcast op runs its send eagerly, so the output is filed under the running
 * cell, in call order); outside Jupyter the `text/plain` entry is printed. A failed send
 * is reported on stderr. {@linkcode show}, {@linkcode claim} and
 * {@linkcode showBackend} display through it.
 *
 * @example
 * ```ts
 * import { publish } from "nn";
 * publish({ "text/plain": "step 1 done", "text/html": "<b>step 1 done</b>" });
 * ```
 */
export function publish(bundle: MimeBundle, options: DisplayOptions = {}): void {
  display(bundle, options).catch((error) =>
    console.error(`could not display an output: ${(error as Error).message}`)
  );
}

/**
 * Replaces a display published with the same `displayId` (`update_display_data`).
 * Outside Jupyter this does nothing: terminals get progress on stderr instead.
 *
 * @example
 * ```ts
 * import { display, updateDisplay } from "nn";
 * await display({ "text/plain": "epoch 1" }, { displayId: "progress" });
 * await updateDisplay({ "text/plain": "epoch 2" }, "progress");
 * ```
 */
export async function updateDisplay(
  bundle: MimeBundle,
  displayId: string,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  const api = jupyterApi();
  if (!api) return;
  await api.broadcast("update_display_data", {
    data: bundle,
    metadata,
    transient: { display_id: displayId },
  });
}

/** Escapes text for safe inclusion in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const SESSION = crypto.randomUUID().slice(0, 8);
let counter = 0;

/**
 * A fresh id, unique within this process, for display ids and DOM ids.
 *
 * @example
 * ```ts
 * import { uniqueId } from "nn";
 * uniqueId("chart"); // e.g. "chart-1a2b3c-1"
 * ```
 */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${SESSION}-${counter}`;
}
