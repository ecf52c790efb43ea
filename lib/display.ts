/**
 * Jupyter display plumbing shared by charts, claims, progress and reports.
 *
 * Inside the Deno kernel, objects with a `Symbol.for("Jupyter.display")` method are
 * rendered as a mimebundle when they are the last expression of a cell, and
 * {@linkcode display} / {@linkcode updateDisplay} publish on iopub directly. Outside
 * Jupyter (`deno run`, `deno test`) the same calls print the `text/plain` entry, so
 * library code never needs to know where it runs.
 *
 * @example
 * ```ts
 * import { DISPLAY_SYMBOL, displayable, inJupyter } from "nn";
 * const bundle = { "text/plain": "hello", "text/html": "<b>hello</b>" };
 * const shown = displayable(bundle);
 * if (!inJupyter()) console.log(shown[DISPLAY_SYMBOL]()["text/plain"]);
 * ```
 * @module
 */

/** A Jupyter mimebundle: mime type → data (strings, or JSON objects for `+json` types). */
export type MimeBundle = Record<string, unknown>;

/** The symbol the Deno kernel looks for to render an object as a mimebundle. */
export const DISPLAY_SYMBOL: unique symbol = Symbol.for("Jupyter.display") as never;

/** An object the Deno kernel renders as a rich output. */
export interface Displayable {
  /** Returns the mimebundle to show. */
  [DISPLAY_SYMBOL](): MimeBundle;
}

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

/**
 * Wraps a mimebundle so that the kernel renders it when it is a cell's last value.
 *
 * @example
 * ```ts
 * import { displayable } from "nn";
 * displayable({ "text/plain": "42", "text/html": "<b>42</b>" });
 * ```
 */
export function displayable(bundle: MimeBundle): Displayable {
  return {
    [DISPLAY_SYMBOL]: () => bundle,
    toString: () => String(bundle["text/plain"] ?? ""),
  } as Displayable;
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
