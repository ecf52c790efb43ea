/**
 * The site's renderers, without a browser: markdown, highlighting, ANSI, sanitising,
 * outputs by trust, summaries and pages.
 */
import assert from "node:assert/strict";
import { readNotebook } from "../../kernel/notebook.ts";
import { highlight } from "../../kernel/site/highlight.ts";
import { renderMarkdown } from "../../kernel/site/markdown.ts";
import {
  ansiToHtml,
  renderBundle,
  renderOutput,
  stripInlinedPlotly,
} from "../../kernel/site/outputs.ts";
import { indexPage, notebookPage, type SiteNotebook } from "../../kernel/site/pages.ts";
import { sanitize } from "../../kernel/site/sanitize.ts";
import { formatDuration, runnerRecord, summarize } from "../../kernel/site/summary.ts";

const fixtures = new URL("../fixtures/site/", import.meta.url);
const project = await readNotebook(new URL("project.out.ipynb", fixtures).pathname);
const thirdParty = await readNotebook(new URL("third_party.ipynb", fixtures).pathname);

function entry(notebook: typeof project, trusted: boolean, page: string): SiteNotebook {
  return { notebook, trusted, page, summary: summarize(notebook, { fallbackTitle: page }) };
}

/** The `<script>` elements of a page other than the site's own two files and figure data. */
function foreignScripts(html: string): string[] {
  return [...html.matchAll(/<script\b[^>]*>[\s\S]*?<\/script>/gi)].map((m) => m[0]).filter((s) =>
    !/^<script src="(plotly\.min|site)\.js" defer><\/script>$/.test(s) &&
    !/^<script type="application\/json" class="nn-figure">/.test(s)
  );
}

Deno.test("markdown: GFM tables, highlighted code, math left verbatim, notebook links", () => {
  const html = renderMarkdown(
    "| a | b |\n|---|--:|\n| 1 | 2 |\n\n```ts\nconst x = 1;\n```\n\n" +
      "Loss $a_1 * b_2 * c$ costs $5 and $6.\n\n$$\\sum_i x_i * y_i$$\n\n[next](02_sparse.ipynb#top)",
    { math: "verbatim" },
  );
  assert.match(html, /<table>[\s\S]*<th align="right">b<\/th>/);
  assert.match(html, /<code class="hljs language-ts"><span class="hljs-keyword">const<\/span>/);
  assert.match(html, /<span class="math inline">\$a_1 \* b_2 \* c\$<\/span>/);
  assert.match(html, /costs \$5 and \$6\./, "dollar amounts are not math");
  assert.match(html, /<div class="math display">\$\$\\sum_i x_i \* y_i\$\$<\/div>/);
  assert.match(html, /href="02_sparse\.html#top"/);
  const typeset = renderMarkdown("Loss $a_1 * b_2$.\n\n$$\\frac{1}{2}$$");
  assert.match(typeset, /<span class="math inline"><span class="katex">/);
  assert.match(typeset, /<div class="math display"><span class="katex-display">/);
  assert.match(typeset, /<annotation encoding="application\/x-tex">a_1 \* b_2<\/annotation>/);
  const hostile = renderMarkdown("$x^2$ <img src=x onerror=alert(1)><script>alert(2)</script>", {
    sanitize: true,
  });
  assert.match(hostile, /<span class="katex">/, "math is typeset in sanitised markdown too");
  assert.doesNotMatch(hostile, /onerror|<script|nn-math-slot/);
  const attached = renderMarkdown("![logo](attachment:logo.png)", {
    attachments: { "logo.png": { "image/png": "iVBORw0KGgo=" } },
  });
  assert.match(attached, /src="data:image\/png;base64,iVBORw0KGgo="/);
});

Deno.test("highlight: known languages get hljs spans, unknown ones are escaped", () => {
  assert.match(highlight("const x = 1;", "typescript"), /<span class="hljs-keyword">const<\/span>/);
  assert.equal(highlight("<b>&</b>", "cobol"), "&lt;b&gt;&amp;&lt;/b&gt;");
});

Deno.test("ansi: colours become styles, text is escaped", () => {
  const html = ansiToHtml("\x1b[31mred\x1b[0m <b>");
  assert.match(html, /<span style="color:rgb\(187,0,0\)">red<\/span>/);
  assert.ok(html.endsWith("&lt;b&gt;"));
});

Deno.test("sanitize: scripts, handlers, remote images, iframes, styles and ids are removed", () => {
  const html = sanitize(
    '<div id="main" onclick="x()"><script>window.__pwned=1</script><p style="color:red;position:fixed">t</p>' +
      '<img src="x" onerror="window.__pwned=2"><img src="https://e.x/a.png"><img src="data:image/png;base64,AA">' +
      '<iframe src="https://e.x"></iframe><style>body{display:none}</style>' +
      '<a href="javascript:alert(1)">j</a><a href="https://ok.example/">k</a><svg onload="x()"></svg></div>',
  );
  assert.doesNotMatch(html, /script|onclick|onerror|onload|iframe|<style|javascript:|id=|<svg/i);
  assert.doesNotMatch(html, /position/);
  assert.match(html, /<p style="color:red">t<\/p>/);
  assert.match(html, /<img src="data:image\/png;base64,AA" \/>/);
  assert.equal((html.match(/<img/g) ?? []).length, 1, "only the data: image is left");
  assert.match(html, /<a href="https:\/\/ok\.example\/" rel="noopener noreferrer nofollow">k<\/a>/);
});

Deno.test("outputs: charts are drawn from their JSON; inlined plotly.js is never copied", () => {
  const chartCell = project.cells.find((c) => c.id === "chart")!;
  const html = renderOutput(chartCell.outputs![0], { trusted: true });
  assert.match(
    html,
    /<figure class="nn-chart"><script type="application\/json" class="nn-figure">/,
  );
  assert.match(html, /"Loss by epoch"/);
  assert.doesNotMatch(html, /plotly\.js v|__inlinePlotlyRan|Plotly\.newPlot/);
  // The loader output (plotly.js alone) leaves nothing on the page.
  const train = project.cells.find((c) => c.id === "train")!;
  assert.equal(renderOutput(train.outputs![0], { trusted: true }), "");
  assert.equal(
    stripInlinedPlotly("<p>a</p><script>/**\n* plotly.js v3.7.0\n*/x()</script>"),
    "<p>a</p>",
  );
  assert.equal(stripInlinedPlotly("<script>other()</script>"), "<script>other()</script>");
});

Deno.test("outputs: figure JSON cannot close its script element", () => {
  const html = renderBundle(
    {
      "application/vnd.plotly.v1+json": {
        data: [{ type: "bar", name: "</script><script>window.__pwned=1</script>", y: [1] }],
        layout: {
          images: [{ source: "https://e.x/track.png" }, { source: "data:image/png;base64,AA" }],
        },
      },
    },
    {},
    { trusted: false },
  );
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
  assert.match(html, /\\u003c\/script\\u003e/);
  assert.doesNotMatch(html, /e\.x\/track/, "untrusted figures load no remote images");
  assert.match(html, /data:image\/png;base64,AA/);
});

Deno.test("outputs: third-party HTML, SVG, markdown and JavaScript are made inert", () => {
  const rendered = thirdParty.cells.flatMap((c) => c.outputs ?? [])
    .map((o) => renderOutput(o, { trusted: false })).join("\n");
  assert.doesNotMatch(rendered, /__pwned\s*=\s*[1-68]|onerror|onload|onclick|<iframe|<svg/i);
  assert.match(rendered, /Third-party <em>HTML<\/em> table:/);
  assert.match(rendered, /<img alt="SVG image" src="data:image\/svg\+xml;base64,/);
  assert.match(rendered, /&lt;IPython\.core\.display\.Javascript object&gt;/);
  assert.match(rendered, /<strong>bold<\/strong>/);
  // Trusted: HTML and SVG go in as they are.
  const svg = project.cells.find((c) => c.id === "svg")!;
  assert.match(renderOutput(svg.outputs![0], { trusted: true }), /<div class="nn-svg"><svg /);
});

Deno.test("outputs: claims, backend report, streams, errors and images", () => {
  const all = project.cells.flatMap((c) => c.outputs ?? [])
    .map((o) => renderOutput(o, { trusted: true, anchors: new Set() })).join("\n");
  assert.match(all, /<div class="nn-claim pass" id="claim-loss-falls">/);
  assert.match(all, /<div class="nn-claim fail" id="claim-acc-high">.*FAIL/);
  assert.match(all, /<table class="nn-backend"><tr><th>backend<\/th><td>wasm<\/td>/);
  assert.match(all, /<pre class="nn-stream nn-stdout"><span style="color:rgb\(0,187,0\)">green/);
  assert.match(all, /&lt;not a tag&gt;/);
  assert.match(
    all,
    /<div class="nn-error" role="alert"><div class="nn-error-title">ReferenceError: undefinedThing is not defined/,
  );
  assert.match(all, /<img alt="&lt;logo 32×32&gt;" src="data:image\/png;base64,iVBOR/);
  assert.match(
    all,
    /<div class="nn-prompt">Out\[5\]:<\/div><div class="nn-output-body"><pre class="nn-text">4<\/pre>/,
  );
});

Deno.test("summary: title, status, duration, backend, claims and charts", () => {
  const s = summarize(project, { fallbackTitle: "x" });
  assert.equal(s.title, "Site fixture: every kind of output");
  assert.equal(s.status, "claims failed", "the only error is in a raises-exception cell");
  assert.equal(s.backend, "wasm");
  assert.equal(s.charts, 2);
  assert.deepEqual(s.claims.map((c) => [c.id, c.pass, c.cellId]), [
    ["loss-falls", true, "claims"],
    ["acc-high", false, "claims"],
  ]);
  assert.ok(s.durationMs! > 2000 && s.durationMs! < 3000, String(s.durationMs));
  assert.equal(s.cellDurations.get(2), 650, "busy to reply");
  assert.equal(formatDuration(s.durationMs), "2.5 s");

  const failing = structuredClone(project);
  failing.cells.find((c) => c.id === "error")!.metadata.tags = [];
  assert.equal(summarize(failing, { fallbackTitle: "x" }).status, "error");
  const passing = structuredClone(project);
  for (const cell of passing.cells) {
    for (const o of cell.outputs ?? []) {
      const claim = o.data?.["application/vnd.neural-notebooks.claim+json"] as { pass: boolean };
      if (claim) claim.pass = true;
    }
  }
  assert.equal(summarize(passing, { fallbackTitle: "x" }).status, "ok");
  passing.metadata["neural-notebooks"] = { run: { status: "kernel died", duration_s: 3.25 } };
  assert.deepEqual(runnerRecord(passing), { status: "kernel died", durationMs: 3250 });
  assert.equal(
    summarize(project, { fallbackTitle: "x", runnerStatus: "timeout" }).status,
    "timeout",
  );
  assert.equal(summarize(thirdParty, { fallbackTitle: "x" }).charts, 1);
});

Deno.test("pages: trusted page, third-party page with CSP and no foreign scripts, index", () => {
  const trusted = notebookPage(entry(project, true, "project.html"));
  assert.match(trusted, /<script src="plotly\.min\.js" defer><\/script>/);
  assert.doesNotMatch(trusted, /Content-Security-Policy/);
  assert.equal((trusted.match(/<figure class="nn-chart">/g) ?? []).length, 2);
  assert.match(trusted, /id="cell-claims"/);
  assert.match(trusted, /<span class="nn-time">650 ms<\/span>/);
  assert.match(trusted, /href="third_party\.html"/);
  assert.deepEqual(foreignScripts(trusted), []);

  const untrusted = notebookPage(entry(thirdParty, false, "third_party.html"));
  assert.match(
    untrusted,
    /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self';/,
  );
  assert.match(untrusted, /not executed by this project/);
  assert.deepEqual(foreignScripts(untrusted), []);
  assert.doesNotMatch(untrusted, /__pwned\s*=/);

  const index = indexPage([
    entry(project, true, "project.html"),
    entry(thirdParty, false, "third_party.html"),
  ]);
  assert.match(index, /<a href="project\.html#claim-loss-falls"><code>loss-falls<\/code><\/a>/);
  assert.match(index, /<a href="project\.html#claim-acc-high">/);
  assert.match(index, /<td class="num">2\.5 s<\/td><td>wasm<\/td>/);
  assert.match(index, /third-party/);
  assert.match(index, /2 notebooks, 2 claims, 1 failed\./);
});
