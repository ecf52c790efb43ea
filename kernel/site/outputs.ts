/**
 * Notebook outputs to static HTML.
 *
 * One representation per output, the richest the site can show safely, in this order:
 * Plotly figure (drawn from its JSON by the page script with the shipped plotly.js; the
 * output's own `text/html`, which may inline plotly.js, is never copied), claim, backend
 * report, `text/html`, `text/markdown`, SVG, PNG/JPEG/GIF/WebP, LaTeX (typeset by KaTeX),
 * JSON, `text/plain`.
 * Streams and tracebacks keep their ANSI colours (ansi_up, which also escapes them).
 *
 * Trust: for notebooks this project executed, `text/html` is inserted as it is (less any
 * inlined plotly.js bundle) and SVG inline. For other notebooks, HTML and markdown are
 * sanitised (sanitize.ts) and SVG is shown as an image (scripts in an `<img>` never run).
 * `application/javascript` outputs are never run, trusted or not: pages are static.
 * Plotly figures are drawn for both: a figure is data; plotly.js escapes its text. Images
 * in an untrusted figure's layout that would load a URL are dropped.
 *
 * @example
 * ```ts
 * import { renderOutput } from "./outputs.ts";
 * const html = renderOutput(
 *   { output_type: "stream", name: "stdout", text: "\x1b[31mred\x1b[0m\n" },
 *   { trusted: false },
 * );
 * console.log(html.includes(`<span style="color:rgb(187,0,0)">red</span>`)); // true
 * ```
 * @module
 */

import { Buffer } from "node:buffer";
import { AnsiUp } from "ansi_up";
import { joinText, type MultilineString, type Output } from "../notebook.ts";
import { anchorId, escapeHtml, scriptJson } from "./html.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderTex, splitDelimiters } from "./math.ts";
import { sanitize } from "./sanitize.ts";
import { BACKEND_MIME, CLAIM_MIME, formatValue, PLOTLY_MIME } from "./summary.ts";
import { readableRule } from "../report.ts";
import { type LivePanel, MODEL_MIME } from "./live.ts";

/** How outputs of one notebook are rendered. */
export interface OutputContext {
  /** Whether this project executed the notebook (see the module doc). */
  trusted: boolean;
  /** Anchors already used on the page (claim ids), to keep element ids unique. */
  anchors?: Set<string>;
  /** The page's live panels by model name (see live.ts); absent: none were prepared. */
  live?: Map<string, LivePanel>;
}

const IMAGE_MIMES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function text(value: unknown): string {
  if (typeof value === "string" || Array.isArray(value)) return joinText(value as MultilineString);
  return "";
}

/**
 * Converts text with ANSI escape codes to HTML (escaped, colours as inline styles).
 *
 * @example
 * ```ts
 * import { ansiToHtml } from "./outputs.ts";
 * console.log(ansiToHtml("\x1b[1mbold\x1b[0m <x>")); // <span style="font-weight:bold">bold</span> &lt;x&gt;
 * ```
 */
export function ansiToHtml(value: string): string {
  const converter = new AnsiUp();
  converter.use_classes = false;
  return converter.ansi_to_html(value);
}

/**
 * Removes `<script>` elements that inline the plotly.js bundle (the first chart of a kernel
 * session carries one, and so does the loader before a live chart): pages load the shipped
 * file instead.
 *
 * @example
 * ```ts
 * import { stripInlinedPlotly } from "./outputs.ts";
 * console.log(stripInlinedPlotly("<p>a</p><script>/** plotly.js v3.7.0 *\/ big()</script>")); // <p>a</p>
 * ```
 */
export function stripInlinedPlotly(html: string): string {
  if (!html.includes("plotly.js v")) return html;
  return html.replace(
    /<script\b[^>]*>([\s\S]*?)<\/script\s*>/gi,
    (whole, body: string) => /plotly\.js v\d/.test(body.slice(0, 400)) ? "" : whole,
  );
}

function safeFigure(figure: Record<string, unknown>, trusted: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { data: Array.isArray(figure.data) ? figure.data : [] };
  const layout = isRecord(figure.layout) ? { ...figure.layout } : {};
  if (!trusted && Array.isArray(layout.images)) {
    layout.images = layout.images.filter((image) =>
      isRecord(image) && typeof image.source === "string" && image.source.startsWith("data:image/")
    );
  }
  out.layout = layout;
  if (trusted && Array.isArray(figure.frames)) out.frames = figure.frames;
  return out;
}

function chart(figure: Record<string, unknown>, caption: string, trusted: boolean): string {
  const json = scriptJson(safeFigure(figure, trusted));
  return `<figure class="nn-chart"><script type="application/json" class="nn-figure">${json}` +
    `</script><div class="nn-plot"></div>` +
    (caption ? `<figcaption>${escapeHtml(caption)}</figcaption>` : "") + `</figure>`;
}

function uniqueAnchor(base: string, anchors: Set<string> | undefined): string {
  if (!anchors) return base;
  let id = base;
  for (let n = 2; anchors.has(id); n++) id = `${base}-${n}`;
  anchors.add(id);
  return id;
}

function claim(record: Record<string, unknown>, ctx: OutputContext): string {
  const id = String(record.id ?? "");
  const pass = record.pass === true;
  const rule = isRecord(record.rule) ? record.rule : {};
  const ruleText = typeof record.ruleText === "string" ? record.ruleText : JSON.stringify(rule);
  const anchor = uniqueAnchor(anchorId("claim", id), ctx.anchors);
  return `<div class="nn-claim ${pass ? "pass" : "fail"}" id="${anchor}">` +
    `<span class="nn-badge ${pass ? "ok" : "fail"}">${pass ? "PASS" : "FAIL"}</span> ` +
    `<code>${escapeHtml(id)}</code>: ${escapeHtml(formatValue(record.value))} ` +
    `<span class="nn-rule">${escapeHtml(readableRule(ruleText))}</span>` +
    (typeof record.statement === "string" ? ` — ${escapeHtml(record.statement)}` : "") +
    (typeof rule.because === "string" ? ` <em>(${escapeHtml(rule.because)})</em>` : "") +
    ` <small>[${escapeHtml(String(record.backend ?? "unknown"))}]</small></div>`;
}

function backend(report: Record<string, unknown>): string {
  const versions = isRecord(report.versions) ? report.versions : {};
  const adapter = isRecord(report.adapter)
    ? `${report.adapter.description ?? "unknown"}${
      report.adapter.fallback ? " (software fallback)" : ""
    }`
    : "none";
  const rows: Array<[string, unknown]> = [
    ["backend", report.backend],
    [
      "chosen by",
      report.source && report.reason ? `${report.source}: ${report.reason}` : undefined,
    ],
    ["WebGPU adapter", adapter],
    ["tfjs", versions.tfjs],
    ["Deno", versions.deno ? `${versions.deno} (V8 ${versions.v8 ?? "?"})` : undefined],
    ["TypeScript", versions.typescript],
  ];
  return `<table class="nn-backend">${
    rows.filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => `<tr><th>${k}</th><td>${escapeHtml(String(v))}</td></tr>`).join("")
  }</table>`;
}

function bytesText(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

/** A published model: its live panel (filled in by `live/nn-live.js`), or why there is none. */
function livePanel(record: Record<string, unknown>, ctx: OutputContext): string {
  const name = String(record.name ?? "");
  const title = escapeHtml(String(record.title ?? name));
  if (!ctx.trusted) {
    return `<div class="nn-live-note">A model (<code>${escapeHtml(name)}</code>) was published ` +
      `here; live panels run only for notebooks this project executed.</div>`;
  }
  const panel = ctx.live?.get(name);
  if (!panel || panel.error || !panel.meta) {
    const why = panel?.error ?? "the site build prepared no live model for this page";
    return `<div class="nn-live nn-live-broken"><div class="nn-live-head"><strong>Live: ${title}` +
      `</strong></div><p class="nn-live-status" role="alert">The model “${escapeHtml(name)}” ` +
      `cannot run here: ${escapeHtml(why)}.</p></div>`;
  }
  const meta = panel.meta;
  const sizes = meta.networks.map((n) =>
    `${escapeHtml(n.label)}: ${n.params.toLocaleString("en-US")} parameters, ` +
    `${bytesText(n.weightBytes)} of float32 weights` +
    (n.zeros >= 0.01 * n.params ? ` (${((100 * n.zeros) / n.params).toFixed(1)} % zeros)` : "")
  );
  return `<div class="nn-live" data-model="${escapeHtml(panel.key)}" ` +
    `data-src="${escapeHtml(panel.src)}" data-demo="${escapeHtml(meta.demo.demo)}">` +
    `<div class="nn-live-head"><strong>Live: ${title}</strong>` +
    (meta.description ? ` <span>${escapeHtml(meta.description)}</span>` : "") + `</div>` +
    `<p class="nn-live-size">${sizes.join(" · ")}; ${bytesText(panel.bytes)} on this page ` +
    `(<code>${escapeHtml(panel.src)}</code>, weights gzip + base64)</p>` +
    `<p class="nn-live-backend"></p>` +
    `<p class="nn-live-status">This panel runs the trained model in your browser: it needs ` +
    `JavaScript.</p></div>`;
}

function sizeAttributes(metadata: unknown, mime: string): string {
  const meta = isRecord(metadata) && isRecord(metadata[mime]) ? metadata[mime] : {};
  return ["width", "height"]
    .filter((k) => typeof meta[k] === "number" && Number.isFinite(meta[k]))
    .map((k) => ` ${k}="${meta[k]}"`).join("");
}

function plain(value: string): string {
  return `<pre class="nn-text">${ansiToHtml(value)}</pre>`;
}

/**
 * Renders a mimebundle (the `data` of a display or result) as HTML.
 *
 * @example
 * ```ts
 * import { renderBundle } from "./outputs.ts";
 * console.log(renderBundle({ "text/html": "<b onclick='x()'>hi</b>" }, {}, { trusted: false }));
 * // <div class="nn-html untrusted"><b>hi</b></div>
 * ```
 */
export function renderBundle(
  data: Record<string, unknown>,
  metadata: unknown,
  ctx: OutputContext,
): string {
  const plainText = text(data["text/plain"]);
  if (isRecord(data[MODEL_MIME])) {
    return livePanel(data[MODEL_MIME] as Record<string, unknown>, ctx);
  }
  if (isRecord(data[PLOTLY_MIME])) {
    return chart(data[PLOTLY_MIME] as Record<string, unknown>, plainText, ctx.trusted);
  }
  if (isRecord(data[CLAIM_MIME])) return claim(data[CLAIM_MIME] as Record<string, unknown>, ctx);
  if (isRecord(data[BACKEND_MIME])) return backend(data[BACKEND_MIME] as Record<string, unknown>);
  if ("text/html" in data) {
    const source = text(data["text/html"]);
    if (ctx.trusted) {
      const html = stripInlinedPlotly(source);
      // A plotly.js loader output has nothing left to show.
      if (html.trim() === "") return "";
      return `<div class="nn-html">${html}</div>`;
    }
    const html = sanitize(source);
    if (html.trim() !== "") return `<div class="nn-html untrusted">${html}</div>`;
  }
  if ("text/markdown" in data) {
    const html = renderMarkdown(text(data["text/markdown"]), { sanitize: !ctx.trusted });
    return `<div class="nn-markdown">${html}</div>`;
  }
  if ("image/svg+xml" in data) {
    const svg = text(data["image/svg+xml"]);
    if (ctx.trusted) return `<div class="nn-svg">${svg}</div>`;
    const url = `data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}`;
    return `<div class="nn-svg"><img alt="SVG image" src="${url}"${
      sizeAttributes(metadata, "image/svg+xml")
    }></div>`;
  }
  for (const mime of IMAGE_MIMES) {
    const value = data[mime];
    if (typeof value !== "string" && !Array.isArray(value)) continue;
    const base64 = text(value).replace(/\s/g, "");
    if (!/^[A-Za-z0-9+/=]*$/.test(base64)) continue;
    return `<div class="nn-image"><img alt="${escapeHtml(plainText || mime)}" ` +
      `src="data:${mime};base64,${base64}"${sizeAttributes(metadata, mime)}></div>`;
  }
  if ("text/latex" in data) {
    // KaTeX builds its HTML from the TeX alone (no \href, \url or HTML extensions), so this
    // is safe for third-party notebooks too.
    const { tex, display } = splitDelimiters(text(data["text/latex"]));
    return `<div class="math ${display ? "display" : "inline"}">${
      renderTex(tex, { display })
    }</div>`;
  }
  if ("application/json" in data) {
    return `<pre class="nn-json">${
      escapeHtml(JSON.stringify(data["application/json"], null, 2) ?? "")
    }</pre>`;
  }
  if ("text/plain" in data) return plain(plainText);
  const kinds = Object.keys(data).join(", ") || "empty";
  return `<div class="nn-unsupported">(output of type ${escapeHtml(kinds)} not shown: ` +
    `${"application/javascript" in data ? "pages run no output scripts" : "no static form"})</div>`;
}

/**
 * Renders one output of a code cell as HTML.
 *
 * @example
 * ```ts
 * import { renderOutput } from "./outputs.ts";
 * console.log(renderOutput({ output_type: "error", ename: "Error", evalue: "boom", traceback: [] },
 *   { trusted: true }).includes("Error: boom")); // true
 * ```
 */
export function renderOutput(output: Output, ctx: OutputContext): string {
  const wrap = (body: string, prompt = "") =>
    body === "" ? "" : `<div class="nn-output"><div class="nn-prompt">${prompt}</div>` +
      `<div class="nn-output-body">${body}</div></div>`;
  switch (output.output_type) {
    case "stream": {
      const name = output.name === "stderr" ? "stderr" : "stdout";
      return wrap(`<pre class="nn-stream nn-${name}">${ansiToHtml(text(output.text))}</pre>`);
    }
    case "error": {
      const traceback = Array.isArray(output.traceback) ? output.traceback.map(String) : [];
      const title = `${output.ename ?? "Error"}: ${output.evalue ?? ""}`;
      return wrap(
        `<div class="nn-error" role="alert"><div class="nn-error-title">${escapeHtml(title)}` +
          `</div>${traceback.length ? `<pre>${ansiToHtml(traceback.join("\n"))}</pre>` : ""}</div>`,
      );
    }
    case "display_data":
    case "execute_result": {
      const data = isRecord(output.data) ? output.data : {};
      const prompt = output.output_type === "execute_result" &&
          typeof output.execution_count === "number"
        ? `Out[${output.execution_count}]:`
        : "";
      return wrap(renderBundle(data, output.metadata, ctx), prompt);
    }
    default:
      return wrap(
        `<div class="nn-unsupported">(unknown output type ${
          escapeHtml(String(output.output_type))
        })</div>`,
      );
  }
}
