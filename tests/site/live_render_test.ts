/**
 * How a published-model output renders on a page, without a browser: a panel with its sizes
 * and model script for a trusted notebook, a clear message when the model's files are
 * missing at build time, a note (no script) for a third-party notebook; the page's
 * Content-Security-Policy and bundle only where a panel can run.
 */
import assert from "node:assert/strict";
import { renderOutput } from "../../kernel/site/outputs.ts";
import { notebookPage } from "../../kernel/site/pages.ts";
import { summarize } from "../../kernel/site/summary.ts";
import { LIVE_CSP, type LivePanel, MODEL_MIME, publishedModels } from "../../kernel/site/live.ts";
import type { LiveMeta } from "../../lib/live/format.ts";
import type { Notebook, Output } from "../../kernel/notebook.ts";

const meta: LiveMeta = {
  format: 1,
  name: "digits",
  title: "Draw a digit <here>",
  examples: [],
  networks: [
    {
      label: "dense",
      path: "dense",
      params: 266_610,
      zeros: 0,
      weightBytes: 1_066_440,
      output: "probabilities",
      customLayers: [],
    },
    {
      label: "pruned 90 %",
      path: "pruned-90",
      params: 266_610,
      zeros: 239_580,
      weightBytes: 1_066_440,
      output: "probabilities",
      customLayers: [],
    },
  ],
  demo: { demo: "digits", inputs: { width: 28, height: 28, flatten: true }, labels: [] },
};
const output: Output = {
  output_type: "display_data",
  metadata: {},
  data: { [MODEL_MIME]: meta, "text/plain": 'published model "digits"' },
};
const panel: LivePanel = {
  name: "digits",
  key: "02/digits",
  src: "live/models/02.digits.js",
  bytes: 1_543_210,
  meta,
};

Deno.test("a published model renders as a live panel, a missing-model message or a note", () => {
  const html = renderOutput(output, { trusted: true, live: new Map([["digits", panel]]) });
  assert.match(
    html,
    /<div class="nn-live" data-model="02\/digits" data-src="live\/models\/02\.digits\.js" data-demo="digits">/,
  );
  assert.match(html, /Live: Draw a digit &lt;here&gt;/);
  assert.match(
    html,
    /dense: 266,610 parameters, 1\.07 MB of float32 weights · pruned 90 %: 266,610 parameters, 1\.07 MB of float32 weights \(89\.9 % zeros\); 1\.54 MB on this page/,
  );

  const missing = renderOutput(output, {
    trusted: true,
    live: new Map([["digits", {
      ...panel,
      meta: undefined,
      error: "its files are not in out/02.models/digits",
    }]]),
  });
  assert.match(missing, /nn-live-broken/);
  assert.match(
    missing,
    /The model “digits” cannot run here: its files are not in out\/02\.models\/digits\./,
  );
  assert.doesNotMatch(missing, /data-model=/);
  assert.match(
    renderOutput(output, { trusted: true }),
    /cannot run here: the site build prepared no live model/,
  );

  const foreign = renderOutput(output, { trusted: false, live: new Map([["digits", panel]]) });
  assert.match(foreign, /live panels run only for notebooks this project executed/);
  assert.doesNotMatch(foreign, /data-model=/);
});

Deno.test("only a page with a runnable panel loads the bundle, under the live CSP", () => {
  const notebook: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: "code", id: "c", metadata: {}, source: "", outputs: [output] }],
  };
  assert.deepEqual(publishedModels(notebook), ["digits"]);
  const entry = {
    page: "02.html",
    notebook,
    trusted: true,
    summary: summarize(notebook, { fallbackTitle: "02" }),
  };
  const live = notebookPage(entry, { live: new Map([["digits", panel]]) });
  assert.ok(live.includes(`<meta http-equiv="Content-Security-Policy" content="${LIVE_CSP}">`));
  assert.match(live, /<script src="live\/nn-live\.js" defer><\/script>/);
  assert.doesNotMatch(live.replace(/<script src="[^"]+" defer><\/script>/g, ""), /<script/);
  const broken = notebookPage(entry, { live: new Map([["digits", { ...panel, error: "gone" }]]) });
  assert.doesNotMatch(broken, /nn-live\.js|Content-Security-Policy/);
  assert.doesNotMatch(notebookPage(entry), /nn-live\.js/);
});
