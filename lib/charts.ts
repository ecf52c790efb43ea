/**
 * Plotly figures as plain data, and {@linkcode show} to display them.
 *
 * Every builder is a pure function returning `{data, layout}`, so figures can be
 * tested, saved as JSON or changed before display. {@linkcode show} implements the
 * project's display contract: one mimebundle with the Plotly JSON (rendered natively
 * by VS Code, nteract and JupyterLab with the plotly extension), a self-contained
 * `text/html` fallback that draws with `window.Plotly` (plotly.js inlined once per
 * kernel session, before the first chart, so it works offline), and a one-line
 * `text/plain`.
 *
 * @example
 * ```ts
 * import { lineChart, show } from "nn";
 * const fig = lineChart({
 *   title: "Loss",
 *   x: [1, 2, 3],
 *   series: [{ name: "train", y: [0.9, 0.5, 0.3] }],
 *   xTitle: "epoch",
 * });
 * show(fig); // displayed at once, wherever it stands in the cell
 * ```
 * @module
 */

import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { display, escapeHtml, inJupyter, type MimeBundle, publish, uniqueId } from "./display.ts";
import { currentProfile } from "./profile.ts";

/** A Plotly trace (kept open: any Plotly attribute may be set). */
export type Trace = Record<string, unknown> & { type?: string; name?: string };

/** A Plotly figure: traces and layout, as Plotly's JSON schema defines them. */
export interface Figure {
  /** The traces. */
  data: Trace[];
  /** The layout (title, axes, size …). */
  layout: Record<string, unknown>;
}

/** The mime type Jupyter front ends use for Plotly figures. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

const BASE_LAYOUT = {
  template: undefined,
  margin: { l: 60, r: 20, t: 50, b: 50 },
  height: 380,
  font: { family: "system-ui, sans-serif", size: 13 },
  legend: { orientation: "h", y: -0.2 },
};

function layoutWith(title: string | undefined, extra: Record<string, unknown>) {
  const layout: Record<string, unknown> = { ...BASE_LAYOUT, ...extra };
  delete layout.template;
  if (title) layout.title = { text: title };
  return layout;
}

function axis(title?: string, log?: boolean): Record<string, unknown> {
  // automargin: room for long tick labels, so the axis title never sits on them
  const a: Record<string, unknown> = { automargin: true };
  if (title) a.title = { text: title };
  if (log) a.type = "log";
  return a;
}

function toArray(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => Number(v));
}

/** One named series of y values (for line and bar charts). */
export interface Series {
  /** Legend name. */
  name: string;
  /** The values, one per x. */
  y: ArrayLike<number>;
  /** Optional x values for this series only (default: the chart's x). */
  x?: ArrayLike<number | string>;
  /** "lines", "markers" or "lines+markers". */
  mode?: string;
  /** Dash style for lines, e.g. "dash". */
  dash?: string;
}

/** Options for {@linkcode lineChart}. */
export interface LineChartOptions {
  /** Chart title. */
  title?: string;
  /** Shared x values. */
  x?: ArrayLike<number | string>;
  /** One or more series. */
  series: Series[];
  /** x axis title. */
  xTitle?: string;
  /** y axis title. */
  yTitle?: string;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
}

/**
 * Lines (or markers) for one or more series over a shared x.
 *
 * @example
 * ```ts
 * import { lineChart } from "nn";
 * const fig = lineChart({ x: [1, 2], series: [{ name: "a", y: [3, 4] }] });
 * console.log(fig.data.length); // 1
 * ```
 */
export function lineChart(options: LineChartOptions): Figure {
  const data = options.series.map((s): Trace => {
    const y = toArray(s.y);
    const x = s.x ?? options.x ?? y.map((_, i) => i + 1);
    return {
      type: "scatter",
      mode: s.mode ?? "lines+markers",
      name: s.name,
      x: Array.from(x as ArrayLike<number | string>),
      y,
      ...(s.dash ? { line: { dash: s.dash } } : {}),
    };
  });
  return {
    data,
    layout: layoutWith(options.title, {
      xaxis: axis(options.xTitle, options.logX),
      yaxis: axis(options.yTitle, options.logY),
    }),
  };
}

/** Options for {@linkcode scatterChart}. */
export interface ScatterChartOptions {
  /** Chart title. */
  title?: string;
  /** Point groups, each with its own x and y. */
  groups: Array<{ name: string; x: ArrayLike<number>; y: ArrayLike<number>; text?: string[] }>;
  /** x axis title. */
  xTitle?: string;
  /** y axis title. */
  yTitle?: string;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
}

/**
 * Points, in one or more named groups.
 *
 * @example
 * ```ts
 * import { scatterChart } from "nn";
 * scatterChart({ groups: [{ name: "runs", x: [1, 2], y: [0.5, 0.7] }] });
 * ```
 */
export function scatterChart(options: ScatterChartOptions): Figure {
  return {
    data: options.groups.map((g) => ({
      type: "scatter",
      mode: "markers",
      name: g.name,
      x: toArray(g.x),
      y: toArray(g.y),
      ...(g.text ? { text: g.text } : {}),
    })),
    layout: layoutWith(options.title, {
      xaxis: axis(options.xTitle, options.logX),
      yaxis: axis(options.yTitle, options.logY),
    }),
  };
}

/** Options for {@linkcode barChart}. */
export interface BarChartOptions {
  /** Chart title. */
  title?: string;
  /** Category labels along the x axis. */
  categories: string[];
  /**
   * One or more series, one value per category; `error` (optional, one per category) draws
   * symmetric error bars of that half-width, e.g. 1.96 standard errors.
   */
  series: Array<{ name: string; y: ArrayLike<number>; error?: ArrayLike<number> }>;
  /** x axis title. */
  xTitle?: string;
  /** y axis title. */
  yTitle?: string;
  /** Logarithmic y axis. */
  logY?: boolean;
}

/**
 * Grouped bars, one group per category.
 *
 * @example
 * ```ts
 * import { barChart } from "nn";
 * barChart({ categories: ["dense", "sparse"], series: [{ name: "acc", y: [0.97, 0.96] }] });
 * // with error bars (half-widths, e.g. 1.96 standard errors)
 * barChart({ categories: ["a", "b"], series: [{ name: "acc", y: [0.9, 0.8], error: [0.02, 0.03] }] });
 * ```
 */
export function barChart(options: BarChartOptions): Figure {
  for (const s of options.series) {
    for (const [what, values] of [["values", s.y], ["error bars", s.error]] as const) {
      if (values && values.length !== options.categories.length) {
        throw new RangeError(
          `barChart: series "${s.name}" has ${values.length} ${what} for ` +
            `${options.categories.length} categories; give one per category.`,
        );
      }
    }
  }
  return {
    data: options.series.map((s) => ({
      type: "bar",
      name: s.name,
      x: options.categories,
      y: toArray(s.y),
      ...(s.error ? { error_y: { type: "data", array: toArray(s.error), visible: true } } : {}),
    })),
    layout: layoutWith(options.title, {
      barmode: "group",
      xaxis: axis(options.xTitle),
      yaxis: axis(options.yTitle, options.logY),
    }),
  };
}

/** Options for {@linkcode heatmap}. */
export interface HeatmapOptions {
  /** Chart title. */
  title?: string;
  /** Rows of values: `z[row][column]`. */
  z: ArrayLike<number>[];
  /** Column labels. */
  xLabels?: string[];
  /** Row labels. */
  yLabels?: string[];
  /** x axis title. */
  xTitle?: string;
  /** y axis title. */
  yTitle?: string;
  /** Plotly colour scale name. Default "Viridis". */
  colorscale?: string;
  /** Write each value in its cell (for small matrices such as confusion matrices). */
  annotate?: boolean;
  /** Draw row 0 at the top, as matrices are read. Default true. */
  matrixOrder?: boolean;
}

/**
 * A labelled heatmap (attention weights, confusion matrices, masks).
 *
 * @example
 * ```ts
 * import { heatmap } from "nn";
 * heatmap({ z: [[1, 0], [0, 1]], xLabels: ["a", "b"], yLabels: ["a", "b"], annotate: true });
 * ```
 */
export function heatmap(options: HeatmapOptions): Figure {
  const z = options.z.map((row) => toArray(row));
  const width = z[0]?.length ?? 0;
  if (z.some((row) => row.length !== width)) {
    throw new RangeError("heatmap: every row of z must have the same length.");
  }
  if (options.xLabels && options.xLabels.length !== width) {
    throw new RangeError(`heatmap: ${options.xLabels.length} x labels for ${width} columns.`);
  }
  if (options.yLabels && options.yLabels.length !== z.length) {
    throw new RangeError(`heatmap: ${options.yLabels.length} y labels for ${z.length} rows.`);
  }
  const trace: Trace = {
    type: "heatmap",
    z,
    colorscale: options.colorscale ?? "Viridis",
    ...(options.xLabels ? { x: options.xLabels } : {}),
    ...(options.yLabels ? { y: options.yLabels } : {}),
  };
  if (options.annotate) {
    trace.text = z.map((row) => row.map((v) => formatNumber(v)));
    trace.texttemplate = "%{text}";
  }
  const yaxis = axis(options.yTitle);
  if (options.matrixOrder ?? true) yaxis.autorange = "reversed";
  return {
    data: [trace],
    layout: layoutWith(options.title, { xaxis: axis(options.xTitle), yaxis }),
  };
}

/** Options for {@linkcode histogram}. */
export interface HistogramOptions {
  /** Chart title. */
  title?: string;
  /** One or more named samples, overlaid. */
  series: Array<{ name: string; values: ArrayLike<number> }>;
  /** Number of bins (Plotly's nbinsx). */
  bins?: number;
  /** x axis title. */
  xTitle?: string;
  /** Logarithmic counts. */
  logY?: boolean;
}

/**
 * Overlaid histograms (weight distributions before and after pruning …).
 *
 * @example
 * ```ts
 * import { histogram } from "nn";
 * histogram({ series: [{ name: "weights", values: [0.1, -0.2, 0.05] }], bins: 20 });
 * ```
 */
export function histogram(options: HistogramOptions): Figure {
  return {
    data: options.series.map((s) => ({
      type: "histogram",
      name: s.name,
      x: toArray(s.values),
      opacity: options.series.length > 1 ? 0.6 : 1,
      ...(options.bins ? { nbinsx: options.bins } : {}),
    })),
    layout: layoutWith(options.title, {
      barmode: "overlay",
      xaxis: axis(options.xTitle),
      yaxis: axis("count", options.logY),
    }),
  };
}

/** A training history: metric name → one value per epoch (as `train` and tfjs return). */
export type History = Record<string, ArrayLike<number>>;

/**
 * Loss (left) and the other metrics (right) per epoch, training solid and validation
 * dashed.
 *
 * @example
 * ```ts
 * import { trainingCurves } from "nn";
 * trainingCurves({ loss: [1, 0.5], val_loss: [1.1, 0.7], acc: [0.5, 0.8] });
 * ```
 */
export function trainingCurves(history: History, options: { title?: string } = {}): Figure {
  const names = Object.keys(history).filter((k) => history[k].length > 0);
  const data: Trace[] = [];
  const base = (k: string) => k.replace(/^val_/, "");
  const metrics = [...new Set(names.map(base))];
  const hasOther = metrics.some((m) => m !== "loss");
  for (const k of names) {
    const y = toArray(history[k]);
    const isLoss = base(k) === "loss";
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: k,
      x: y.map((_, i) => i + 1),
      y,
      xaxis: isLoss || !hasOther ? "x" : "x2",
      yaxis: isLoss || !hasOther ? "y" : "y2",
      line: { dash: k.startsWith("val_") ? "dash" : "solid" },
    });
  }
  // Epochs are whole numbers: ticks at 1, 2, 3 … (every k-th when there are many), never 1.2.
  const epochs = Math.max(1, ...names.map((k) => history[k].length));
  const epochAxis = {
    ...axis("epoch"),
    tickmode: "linear",
    tick0: 1,
    dtick: Math.max(1, Math.ceil(epochs / 10)),
  };
  const layout = hasOther
    ? layoutWith(options.title ?? "Training", {
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: epochAxis,
      yaxis: axis("loss"),
      xaxis2: epochAxis,
      yaxis2: axis(metrics.filter((m) => m !== "loss").join(", ")),
    })
    : layoutWith(options.title ?? "Training", { xaxis: epochAxis, yaxis: axis("loss") });
  return { data, layout };
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

/** A one-line description of a figure for terminals, diffs and `text/plain`. */
export function describeFigure(figure: Figure): string {
  const title = figureTitle(figure) ?? "untitled";
  const traces = figure.data.map((t) => `${t.type ?? "scatter"}${t.name ? ` "${t.name}"` : ""}`);
  return `Chart "${title}": ${figure.data.length} trace${figure.data.length === 1 ? "" : "s"}` +
    (traces.length ? ` (${traces.join(", ")})` : "");
}

/** Checks the shape of a figure; throws a clear error for what Plotly would reject. */
export function validateFigure(figure: unknown): asserts figure is Figure {
  const f = figure as Partial<Figure> | null;
  if (!f || typeof f !== "object") {
    throw new TypeError("A figure must be an object {data, layout}.");
  }
  if (!Array.isArray(f.data)) throw new TypeError("figure.data must be an array of traces.");
  if (!f.layout || typeof f.layout !== "object") {
    throw new TypeError("figure.layout must be an object (use {} for defaults).");
  }
  f.data.forEach((t, i) => {
    if (!t || typeof t !== "object") {
      throw new TypeError(`figure.data[${i}] is not a trace object.`);
    }
  });
}

let plotlySource: string | undefined;
let plotlyEmitted = false;

/**
 * The plotly.js bundle this library ships (from the pinned `plotly.js-dist-min`).
 *
 * @example
 * ```ts
 * import { plotlyJs } from "nn";
 * console.log(plotlyJs().length > 1_000_000); // true
 * ```
 */
export function plotlyJs(): string {
  if (plotlySource !== undefined) return plotlySource;
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve("plotly.js-dist-min");
  } catch (error) {
    throw new Error(
      `plotly.js-dist-min is not installed next to the library (${
        (error as Error).message
      }): run \`deno install\` in the project folder.`,
    );
  }
  plotlySource = Deno.readTextFileSync(path);
  return plotlySource;
}

/** The plotly.js version shipped. */
export function plotlyVersion(): string {
  return /plotly\.js v([\d.]+)/.exec(plotlyJs().slice(0, 200))?.[1] ?? "unknown";
}

/**
 * Forgets that plotly.js was emitted, so the next chart inlines it again (use after a
 * front end reload, or in tests).
 */
export function resetPlotlySession(): void {
  plotlyEmitted = false;
}

let plotlyGzipBase64: string | undefined;

/**
 * The `<script>` that loads plotly.js in a notebook page. The library travels
 * gzip-compressed and base64-encoded (4.85 MB → 1.96 MB) and is unpacked in the browser
 * with `DecompressionStream`: the Deno 2.9 kernel sometimes corrupts iopub messages
 * larger than about 3.75 MiB (Jupyter then drops them with "Invalid Signature" and the
 * page receives nothing more), and saved notebooks get smaller too. The code runs with
 * CommonJS/AMD names hidden (classic Notebook ships RequireJS) so that it sets
 * `window.Plotly`; it does nothing when plotly.js is already loaded.
 */
function plotlyScriptTag(): string {
  plotlyGzipBase64 ??= gzipSync(new TextEncoder().encode(plotlyJs()), { level: 9 })
    .toString("base64");
  return `<script type="text/javascript">/* plotly.js v${plotlyVersion()} (gzip) */(function(){` +
    `if(window.Plotly)return;var b=atob("${plotlyGzipBase64}"),u=new Uint8Array(b.length);` +
    `for(var i=0;i<b.length;i++)u[i]=b.charCodeAt(i);` +
    `new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream("gzip"))).text()` +
    `.then(function(src){(new Function("module","exports","define",src)).call(window);});` +
    `})();</script>`;
}

/**
 * The `<script>` that loads plotly.js into a notebook page, for an output that carries it
 * on purpose ({@linkcode showBackend}'s report does, see there); charts of this kernel
 * session then leave it out.
 *
 * @example
 * ```ts
 * import { plotlyLoaderHtml } from "nn";
 * console.log(plotlyLoaderHtml().startsWith("<script")); // true
 * ```
 */
export function plotlyLoaderHtml(): string {
  plotlyEmitted = true;
  return plotlyScriptTag();
}

/**
 * In Jupyter, publishes plotly.js as its own output unless a chart already carried it
 * in this kernel session. Used before displays that are later updated in place (live
 * training charts), so that the inlined library is not lost with the first update.
 *
 * @example
 * ```ts
 * import { ensurePlotly } from "nn";
 * await ensurePlotly();
 * ```
 */
export async function ensurePlotly(): Promise<void> {
  if (plotlyEmitted || !inJupyter()) return;
  await display({
    "text/html": plotlyScriptTag(),
    "text/plain": `plotly.js ${plotlyVersion()} loaded (inlined once per kernel session)`,
  });
  plotlyEmitted = true;
}

function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(
    /\u2028|\u2029/g,
    (c) => c === "\u2028" ? "\\u2028" : "\\u2029",
  );
}

/** The figure's title text, if it has one. */
function figureTitle(figure: Figure): string | undefined {
  const title = figure.layout.title;
  if (typeof title === "string") return title;
  return (title as { text?: string } | undefined)?.text;
}

/** A copy of the figure whose title ends with "(smoke)". */
function smokeTitled(figure: Figure): Figure {
  const title = figureTitle(figure);
  if (title?.split("<br>")[0].endsWith("(smoke)")) return figure;
  const old = typeof figure.layout.title === "object" ? figure.layout.title : {};
  // on the title's first line: after a `<br><sub>` subtitle it sat beside the subtitle,
  // in the title's font (seen in JupyterLab's mid-training screenshots)
  const text = !title
    ? "(smoke)"
    : title.includes("<br>")
    ? title.replace("<br>", " (smoke)<br>")
    : `${title} (smoke)`;
  return {
    ...figure,
    layout: { ...figure.layout, title: { ...old, text } },
  };
}

/** Options for {@linkcode chartBundle} and {@linkcode show}. */
export interface ShowOptions {
  /** Inline plotly.js into this bundle even if it was emitted before. */
  includePlotly?: boolean;
  /** CSS height of the HTML fallback (default: the layout height or 380px). */
  height?: number;
  /**
   * Why smoke sizes cannot make this figure meaningful (e.g. "the models are untrained
   * after 2 epochs"): in the smoke profile {@linkcode show} displays this note instead.
   */
  fullOnly?: string;
}

/**
 * Builds the display-contract mimebundle for a figure. Inlines plotly.js when it has
 * not been emitted in this process yet (or when asked). In the smoke profile the title
 * ends with "(smoke)".
 *
 * @example
 * ```ts
 * import { chartBundle, lineChart } from "nn";
 * const bundle = chartBundle(lineChart({ series: [{ name: "y", y: [1, 2] }] }));
 * console.log(Object.keys(bundle));
 * ```
 */
export function chartBundle(figure: Figure, options: ShowOptions = {}): MimeBundle {
  validateFigure(figure);
  if (currentProfile() === "smoke") figure = smokeTitled(figure);
  const id = uniqueId("nn-chart");
  const height = options.height ?? (figure.layout.height as number | undefined) ?? 380;
  const inline = options.includePlotly || !plotlyEmitted;
  let html = "";
  if (inline) {
    html += plotlyScriptTag() + "\n";
    plotlyEmitted = true;
  }
  // The script draws into the div just before it (`document.currentScript`'s sibling) where
  // the front end runs it in place, as JupyterLab does: a notebook open twice in Lab (a
  // second view, a copy) holds the same ids twice, and `getElementById` would draw the
  // second chart into the first. Classic Notebook runs scripts elsewhere (jQuery moves
  // them to <head>), so the id is the fallback.
  html += `<div id="${id}" class="nn-chart" style="width:100%;height:${height}px"></div>\n` +
    `<script type="text/javascript">(function(){var fig=${scriptSafeJson(figure)};` +
    `var id=${JSON.stringify(id)},s=document.currentScript,p=s&&s.previousElementSibling;` +
    `var tries=0;function draw(){var el=p&&p.id===id&&p.isConnected?p:` +
    `document.getElementById(id);` +
    `if(window.Plotly&&el){window.Plotly.newPlot(el,fig.data,fig.layout,{responsive:true});}` +
    `else if(tries++<600){setTimeout(draw,50);}else if(el){el.textContent=` +
    `"plotly.js is not in this page: trust the notebook, or run its setup cell ` +
    `(nn.showBackend) again.";}}` +
    `draw();})();</script>`;
  return {
    [PLOTLY_MIME]: figure,
    "text/html": html,
    "text/plain": describeFigure(figure),
  };
}

/** The mime type of the note shown instead of a figure the smoke profile cannot make meaningful. */
export const FIGURE_NOTE_MIME = "application/vnd.neural-notebooks.figure-note+json";

/**
 * Displays a figure at once, wherever the call stands in a cell — like plotly's
 * `fig.show()` — and returns nothing, so the cell prints no value after it. In Jupyter the
 * output is the display contract's mimebundle ({@linkcode chartBundle}); elsewhere the
 * one-line description is printed.
 *
 * In the smoke profile (see `useProfile`) the title says "(smoke)"; a figure given
 * `fullOnly: "why"` is replaced by a one-line note saying why smoke sizes cannot make it
 * meaningful, instead of showing noise.
 *
 * @example
 * ```ts
 * import { barChart, lineChart, show } from "nn";
 * show(lineChart({ title: "Loss", series: [{ name: "train", y: [0.9, 0.5, 0.3] }] }));
 * show(barChart({ categories: ["a"], series: [{ name: "n", y: [1] }] })); // both are shown
 * ```
 */
export function show(figure: Figure, options: ShowOptions = {}): void {
  validateFigure(figure);
  if (options.fullOnly && currentProfile() === "smoke") {
    publish(figureNote(figure, options.fullOnly));
    return;
  }
  publish(chartBundle(figure, options));
}

/** The note {@linkcode show} displays for a `fullOnly` figure in the smoke profile. */
function figureNote(figure: Figure, reason: string): MimeBundle {
  const title = figureTitle(figure) ?? "untitled";
  const text = `Chart "${title}" (smoke): not drawn in the smoke profile — ${reason}. ` +
    `Run with profile = "full" to see it.`;
  return {
    [FIGURE_NOTE_MIME]: { title, reason, profile: "smoke" },
    "text/html": `<div class="nn-figure-note" style="font-family:system-ui,sans-serif;` +
      `color:#57606a;border:1px dashed #d0d7de;padding:8px 12px">${escapeHtml(text)}</div>`,
    "text/plain": text,
  };
}
