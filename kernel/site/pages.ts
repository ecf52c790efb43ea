/**
 * The site's pages: one per notebook (cells with their outputs) and an index with every
 * notebook's title, status, duration and backend and the table of all claims, each linked
 * to the output that makes it.
 *
 * Every page references the same files beside it: `site.css`, `katex/katex.min.css` (with
 * its fonts), `plotly.min.js` and `site.js` (which draws the charts), by relative URLs, so the site works from `file://`
 * and from any static host, offline. Pages of notebooks this project did not execute carry
 * a Content-Security-Policy that allows only those files to run: even HTML that got past
 * the sanitiser could not run a script or load anything.
 *
 * @example
 * ```ts
 * import { notebookPage } from "./pages.ts";
 * import { summarize } from "./summary.ts";
 * const notebook = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
 *   { cell_type: "markdown", metadata: {}, source: "# Hello" },
 * ] };
 * const html = notebookPage({ page: "hello.html", notebook, trusted: true,
 *   summary: summarize(notebook, { fallbackTitle: "hello" }) });
 * console.log(html.includes("<h1>Hello</h1>")); // true
 * ```
 * @module
 */

import { cellTags, joinText, type Notebook } from "../notebook.ts";
import { highlight } from "./highlight.ts";
import { anchorId, escapeHtml, scriptJson } from "./html.ts";
import { type ClaimAggregate, readableNumber, readableRule } from "../report.ts";
import { pointText } from "../sweep.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderOutput } from "./outputs.ts";
import { LIVE_CSP, type LivePanel } from "./live.ts";
import { formatDuration, formatValue, type NotebookSummary, outputsOf } from "./summary.ts";

/** One notebook of the site. */
export interface SiteNotebook {
  /** File name of its page, e.g. `01_dense.html`. */
  page: string;
  /** The executed notebook. */
  notebook: Notebook;
  /** Its summary (see summary.ts). */
  summary: NotebookSummary;
  /** Whether this project executed it (see outputs.ts for what that changes). */
  trusted: boolean;
  /** Where its source is, for the page footer (e.g. `notebooks/01_dense.ipynb`). */
  source?: string;
  /** sha256 of the source notebook the outputs came from. */
  sourceSha256?: string;
  /** The source changed after this copy was executed. */
  stale?: boolean;
  /** When it was executed (ISO time), if known. */
  executedAt?: string;
  /**
   * The folder of the models it published (`nn.publishModel`): `<out>/<notebook>.models`,
   * where the runner pointed its kernel. Only trusted notebooks get live panels.
   */
  modelsDir?: string;
}

/** Options shared by the pages. */
export interface PageOptions {
  /** Site title (header and index). Default "Neural Notebooks". */
  siteTitle?: string;
  /** Claims over the runs of a sweep (`report.json`'s `aggregate`), shown on the index. */
  aggregate?: ClaimAggregate[];
}

/** The Content-Security-Policy of pages of notebooks this project did not execute. */
export const UNTRUSTED_CSP = "default-src 'none'; script-src 'self'; " +
  "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-src 'none'";

function layout(
  title: string,
  body: string,
  options: PageOptions & { csp?: boolean; live?: boolean },
): string {
  const site = options.siteTitle ?? "Neural Notebooks";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="neural-notebooks site">
${
    options.csp || options.live
      ? `<meta http-equiv="Content-Security-Policy" content="${
        options.csp ? UNTRUSTED_CSP : LIVE_CSP
      }">\n`
      : ""
  }<title>${escapeHtml(title === site ? site : `${title} · ${site}`)}</title>
<link rel="stylesheet" href="katex/katex.min.css">
<link rel="stylesheet" href="site.css">
<script src="plotly.min.js" defer></script>
<script src="site.js" defer></script>
${options.live ? '<script src="live/nn-live.js" defer></script>\n' : ""}</head>
<body>
<header class="nn-header"><a href="index.html">${escapeHtml(site)}</a></header>
<main>
${body}
</main>
</body>
</html>
`;
}

function statusBadge(status: string): string {
  const kind = status === "ok" ? "ok" : status === "stale" ? "warn" : "fail";
  return `<span class="nn-badge ${kind}">${escapeHtml(status)}</span>`;
}

function claimsCount(summary: NotebookSummary): string {
  const total = summary.claims.length;
  if (total === 0) return "no claims";
  const failed = summary.claims.filter((c) => !c.pass).length;
  return `${total} claim${total === 1 ? "" : "s"}, ` +
    (failed ? `<span class="nn-fail-text">${failed} failed</span>` : "all pass");
}

function notebookLanguage(nb: Notebook): string {
  return nb.metadata.kernelspec?.language ?? nb.metadata.language_info?.name ?? "typescript";
}

/**
 * The page of one notebook.
 *
 * @example
 * ```ts
 * import { notebookPage } from "./pages.ts";
 * import { summarize } from "./summary.ts";
 * const notebook = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] };
 * const html = notebookPage({ page: "x.html", notebook, trusted: false,
 *   summary: summarize(notebook, { fallbackTitle: "x" }) });
 * console.log(html.includes("Content-Security-Policy")); // true
 * ```
 */
export function notebookPage(
  entry: SiteNotebook,
  options: PageOptions & { live?: Map<string, LivePanel> } = {},
): string {
  const { notebook: nb, summary, trusted } = entry;
  const language = notebookLanguage(nb);
  const anchors = new Set<string>();
  const cellAnchors = new Set<string>();
  const cells: string[] = [];

  nb.cells.forEach((cell, index) => {
    const base = typeof cell.id === "string" && cell.id
      ? anchorId("cell", cell.id)
      : `cell-${index}`;
    let anchor = base;
    for (let n = 2; cellAnchors.has(anchor); n++) anchor = `${base}-${n}`;
    cellAnchors.add(anchor);
    const tags = cellTags(cell);
    const tagHtml = tags.length
      ? `<div class="nn-tags">${tags.map((t) => `<span>${escapeHtml(t)}</span>`).join("")}</div>`
      : "";
    const source = joinText(cell.source);
    if (cell.cell_type === "markdown") {
      const attachments = (cell.attachments ?? {}) as Record<string, Record<string, unknown>>;
      const html = renderMarkdown(source, {
        attachments,
        defaultLanguage: language,
        sanitize: !trusted,
      });
      cells.push(
        `<section class="nn-cell nn-markdown-cell" id="${anchor}">${tagHtml}` +
          `<div class="nn-markdown">${html}</div></section>`,
      );
      return;
    }
    if (cell.cell_type !== "code") {
      cells.push(
        `<section class="nn-cell nn-raw-cell" id="${anchor}">${tagHtml}` +
          `<pre class="nn-raw">${escapeHtml(source)}</pre></section>`,
      );
      return;
    }
    const count = typeof cell.execution_count === "number" ? String(cell.execution_count) : " ";
    const duration = summary.cellDurations.get(index);
    const outputs = outputsOf(cell).map((o) =>
      renderOutput(o, { trusted, anchors, ...(options.live ? { live: options.live } : {}) })
    ).join("");
    cells.push(
      `<section class="nn-cell nn-code-cell" id="${anchor}">${tagHtml}` +
        `<div class="nn-input"><div class="nn-prompt"><a href="#${anchor}">In [${count}]:</a>` +
        (duration !== undefined ? `<span class="nn-time">${formatDuration(duration)}</span>` : "") +
        `</div><pre class="nn-source"><code class="hljs language-${escapeHtml(language)}">` +
        `${highlight(source, language)}</code></pre></div>` +
        (outputs ? `<div class="nn-outputs">${outputs}</div>` : "") + `</section>`,
    );
  });

  const facts = [
    statusBadge(entry.stale ? `${summary.status}, stale` : summary.status),
    `<span>duration ${formatDuration(summary.durationMs)}</span>`,
    `<span>backend ${escapeHtml(summary.backend ?? "–")}</span>`,
    `<span>${claimsCount(summary)}</span>`,
  ];
  const notices: string[] = [];
  if (!trusted) {
    notices.push(
      `<p class="nn-notice untrusted">This notebook was not executed by this project: its HTML ` +
        `is sanitised, its SVG shown as images, and none of its scripts run.</p>`,
    );
  }
  if (entry.stale) {
    notices.push(
      `<p class="nn-notice stale">The source notebook changed after these outputs were made: ` +
        `rebuild with <code>deno task build</code> to run it again.</p>`,
    );
  }
  const footer = [
    entry.source ? `source <code>${escapeHtml(entry.source)}</code>` : "",
    entry.sourceSha256 ? `sha256 <code>${entry.sourceSha256.slice(0, 12)}…</code>` : "",
    entry.executedAt ? `executed ${escapeHtml(entry.executedAt)}` : "",
  ].filter(Boolean).join(" · ");
  const body = `<div class="nn-facts">${facts.join(" ")}</div>\n${notices.join("\n")}\n` +
    `<article class="nn-notebook${trusted ? "" : " untrusted"}">\n${
      cells.join("\n")
    }\n</article>\n` +
    (footer ? `<footer class="nn-footer">${footer}</footer>` : "");
  const live = trusted && [...(options.live?.values() ?? [])].some((p) => !p.error);
  return layout(summary.title, body, { ...options, csp: !trusted, live });
}

/**
 * The index page: notebooks with status, duration, backend and claims, then every claim.
 *
 * @example
 * ```ts
 * import { indexPage } from "./pages.ts";
 * console.log(indexPage([]).includes("No notebooks")); // true
 * ```
 */
export function indexPage(entries: SiteNotebook[], options: PageOptions = {}): string {
  const site = options.siteTitle ?? "Neural Notebooks";
  const rows = entries.map((e) => {
    const s = e.summary;
    return `<tr><td><a href="${escapeHtml(e.page)}">${escapeHtml(s.title)}</a>` +
      (e.source ? `<div class="nn-path">${escapeHtml(e.source)}</div>` : "") + `</td>` +
      `<td>${statusBadge(e.stale ? `${s.status}, stale` : s.status)}</td>` +
      `<td class="num">${formatDuration(s.durationMs)}</td>` +
      `<td>${escapeHtml(s.backend ?? "–")}</td>` +
      `<td>${claimsCount(s)}</td>` +
      `<td>${e.trusted ? "executed here" : '<span class="nn-warn-text">third-party</span>'}</td>` +
      `</tr>`;
  }).join("\n");

  const claims = entries.flatMap((e) => {
    const anchors = new Set<string>();
    return e.summary.claims.map((c) => {
      let anchor = anchorId("claim", c.id);
      for (let n = 2; anchors.has(anchor); n++) anchor = `${anchorId("claim", c.id)}-${n}`;
      anchors.add(anchor);
      return `<tr class="${c.pass ? "pass" : "fail"}">` +
        `<td><a href="${escapeHtml(e.page)}">${escapeHtml(e.summary.title)}</a></td>` +
        `<td><a href="${escapeHtml(e.page)}#${anchor}"><code>${escapeHtml(c.id)}</code></a>` +
        (c.statement ? `<div class="nn-statement">${escapeHtml(c.statement)}</div>` : "") +
        `</td><td class="num">${escapeHtml(formatValue(c.value))}</td>` +
        `<td>${escapeHtml(readableRule(c.ruleText))}</td>` +
        `<td><span class="nn-badge ${c.pass ? "ok" : "fail"}">${c.pass ? "pass" : "fail"}</span>` +
        `</td><td>${escapeHtml(c.backend)}${e.trusted ? "" : " (third-party)"}</td></tr>`;
    });
  });
  const totalClaims = entries.reduce((n, e) => n + e.summary.claims.length, 0);
  const failedClaims = entries.reduce(
    (n, e) => n + e.summary.claims.filter((c) => !c.pass).length,
    0,
  );
  const body = `<h1>${escapeHtml(site)}</h1>\n` +
    (entries.length === 0
      ? "<p>No notebooks.</p>"
      : `<p class="nn-summary">${entries.length} notebook${entries.length === 1 ? "" : "s"}, ` +
        `${totalClaims} claim${totalClaims === 1 ? "" : "s"}` +
        (totalClaims ? `, ${failedClaims} failed` : "") + `.</p>\n` +
        `<table class="nn-table nn-notebooks"><thead><tr><th>Notebook</th><th>Status</th>` +
        `<th>Duration</th><th>Backend</th><th>Claims</th><th>Outputs</th></tr></thead>` +
        `<tbody>\n${rows}\n</tbody></table>\n` +
        `<h2 id="claims">Claims</h2>\n` +
        (claims.length
          ? `<table class="nn-table nn-claims"><thead><tr><th>Notebook</th><th>Claim</th>` +
            `<th>Value</th><th>Rule</th><th>Result</th><th>Backend</th></tr></thead>` +
            `<tbody>\n${claims.join("\n")}\n</tbody></table>`
          : "<p>No claims.</p>")) +
    (options.aggregate && options.aggregate.length > 0
      ? `\n${aggregateSection(options.aggregate, entries)}`
      : "");
  return layout(site, body, options);
}

/** The threshold(s) of a claim rule, for the chart's reference lines. */
function ruleLines(rule: unknown): number[] {
  if (!rule || typeof rule !== "object") return [];
  const out: number[] = [];
  for (const v of Object.values(rule as Record<string, unknown>)) {
    if (typeof v === "number" && Number.isFinite(v)) out.push(v);
    if (Array.isArray(v)) out.push(...v.filter((x): x is number => Number.isFinite(x)));
  }
  return out;
}

/**
 * A strip chart (box plot with every run's point) of one claim's values across runs, with
 * the rule's threshold as a dashed line: a Plotly figure drawn by `site.js`.
 *
 * @example
 * ```ts
 * import { claimRunsFigure } from "./pages.ts";
 * const fig = claimRunsFigure({ notebook: "a.ipynb", group: {}, id: "acc", rule: { atLeast: 0.9 },
 *   runs: 2, passes: 2, missing: 0, stats: null, verdict: "robust",
 *   values: [{ seed: 0, value: 0.95, pass: true }, { seed: 1, value: 0.97, pass: true }] });
 * console.log((fig.data as unknown[]).length); // 2
 * ```
 */
export function claimRunsFigure(a: ClaimAggregate): Record<string, unknown> {
  const points = a.values.filter((v) =>
    typeof v.value === "number" || typeof v.value === "boolean"
  );
  const y = points.map((v) => typeof v.value === "boolean" ? (v.value ? 1 : 0) : v.value);
  // A box of the values and, over it, every run as a point (a strip), spread sideways by a
  // fixed pattern so that equal values stay visible; green holds, red fails.
  return {
    data: [{
      type: "box",
      name: a.id,
      y,
      x0: 0,
      boxpoints: false,
      hoverinfo: "skip",
      line: { color: "#57606a", width: 1 },
      fillcolor: "rgba(87,96,106,0.08)",
    }, {
      type: "scatter",
      mode: "markers",
      x: points.map((_, i) => ((i % 5) - 2) * 0.07),
      y,
      text: points.map((v) =>
        (v.seed === null ? "run" : `seed ${v.seed}`) + (v.pass ? "" : " (fails)")
      ),
      hoverinfo: "y+text",
      marker: { size: 7, color: points.map((v) => v.pass ? "#1a7f37" : "#cf222e") },
    }],
    layout: {
      height: 160,
      width: 300,
      margin: { l: 50, r: 10, t: 10, b: 20 },
      showlegend: false,
      xaxis: { visible: false, range: [-0.5, 0.5] },
      yaxis: { zeroline: false },
      shapes: ruleLines(a.rule).map((y0) => ({
        type: "line",
        xref: "paper",
        x0: 0,
        x1: 1,
        y0,
        y1: y0,
        line: { dash: "dash", width: 1, color: "#9a6700" },
      })),
    },
  };
}

/**
 * The index's "Claims across runs" section: per claim, k of n runs hold, median, range,
 * mean with its 95 % interval, the verdict, and a strip chart of the values.
 */
function aggregateSection(aggregate: ClaimAggregate[], entries: SiteNotebook[]): string {
  const pageOf = new Map<string, SiteNotebook>();
  for (const e of entries) {
    const name = (e.source ?? e.page).split(/[\\/]/).at(-1)!;
    pageOf.set(name, e);
  }
  const counts = { robust: 0, fragile: 0, fails: 0 };
  for (const a of aggregate) counts[a.verdict]++;
  const num = (v: number | undefined) => v === undefined ? "–" : readableNumber(v);
  const rows = aggregate.map((a) => {
    const name = a.notebook.split(/[\\/]/).at(-1)!;
    const entry = pageOf.get(name);
    const title = entry?.summary.title ?? name;
    const group = Object.keys(a.group).length > 0
      ? `<div class="nn-path">${escapeHtml(pointText(a.group))}</div>`
      : "";
    const s = a.stats;
    const mean = !s
      ? "–"
      : s.ci95
      ? `${num(s.mean)} <span class="nn-ci">[${num(s.ci95[0])}, ${num(s.ci95[1])}]</span>`
      : num(s.mean);
    const kind = a.verdict === "robust" ? "ok" : a.verdict === "fragile" ? "warn" : "fail";
    return `<tr class="nn-verdict-${a.verdict}">` +
      `<td>${
        entry ? `<a href="${escapeHtml(entry.page)}">${escapeHtml(title)}</a>` : escapeHtml(title)
      }${group}</td>` +
      `<td><code>${escapeHtml(a.id)}</code></td>` +
      `<td class="num">${a.passes}/${a.runs}</td>` +
      `<td class="num">${num(s?.median)}</td>` +
      `<td class="num">${num(s?.min)} – ${num(s?.max)}</td>` +
      `<td class="num">${mean}</td>` +
      `<td>${escapeHtml(readableRule(a.ruleText ?? JSON.stringify(a.rule) ?? ""))}</td>` +
      `<td><span class="nn-badge ${kind}">${a.verdict}</span></td>` +
      `<td class="nn-strip"><figure class="nn-chart"><script type="application/json" ` +
      `class="nn-figure">${scriptJson(claimRunsFigure(a))}</script><div class="nn-plot"></div>` +
      `</figure></td></tr>`;
  }).join("\n");
  return `<h2 id="claims-across-runs">Claims across runs</h2>\n` +
    `<p class="nn-summary">${aggregate.length} claim${aggregate.length === 1 ? "" : "s"} over ` +
    `the runs of a sweep: ${counts.robust} robust (hold in every run), ${counts.fragile} ` +
    `fragile (hold in some), ${counts.fails} fail (hold in none). Mean with its 95 % ` +
    `t-interval; each point of a chart is one run (green holds, red fails), the dashed line ` +
    `the rule's threshold.</p>\n` +
    `<table class="nn-table nn-aggregate"><thead><tr><th>Notebook</th><th>Claim</th>` +
    `<th>Holds</th><th>Median</th><th>Range</th><th>Mean (95 % CI)</th><th>Rule</th>` +
    `<th>Verdict</th><th>Values across runs</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>`;
}
