/**
 * The CNN text notebook runs headless in the smoke profile through the project's runner
 * with every claim holding (see ./smoke.ts).
 */
import assert from "node:assert/strict";
import { runSmoke } from "./smoke.ts";

// Smoke-profile claims. Four check weaker statements than the full profile's and carry
// their own ids: the full profile states cnn-beats-afinn (≥ 3 points),
// top-ngrams-hold-afinn-words (≥ 2× the base rate), multiwidth-not-significantly-worse-than-width1
// (paired z ≥ −2) and cnn-competitive (≥ −3 points), and adds cross-domain-costs-accuracy and
// side-by-side-trained-until-validation-stalls.
const EXPECTED_CLAIMS = [
  "parameter-formula-matches-tfjs",
  "receptive-field-matches-gradient",
  "hand-convolution-matches-layers",
  "cnn-within-10-points-of-afinn",
  "top-ngrams-above-afinn-base-rate",
  "multiwidth-within-5-points-of-width1",
  "cross-domain-above-chance",
  "cnn-within-10-points-of-best-other",
];

Deno.test("05 builds, trains and evaluates its models in its own cells", async () => {
  const nb = JSON.parse(
    await Deno.readTextFile(new URL("../../notebooks/05_cnn_text_models.ipynb", import.meta.url)),
  ) as { cells: Array<{ cell_type: string; id: string; source: string[] }> };
  const code = nb.cells.filter((c) => c.cell_type === "code")
    .map((c) => ({ id: c.id, text: c.source.join("") }));
  const having = (pattern: RegExp) => code.filter((c) => pattern.test(c.text)).map((c) => c.id);
  // the model of section 2 in a cell of its own, trained by nn.train in the next one
  assert.deepEqual(having(/^const model = nn\.cnnTextClassifier\(/m), ["model"]);
  assert.ok(having(/\bnn\.train\(model,/).includes("train"));
  assert.ok(having(/\bmodel\.compile\(/).includes("train"));
  // the grids call one function defined in a cell
  assert.deepEqual(having(/^async function fitAndTest\(/m), ["fit-function"]);
  for (const id of ["widths", "transfer", "compare"]) {
    assert.ok(having(/await fitAndTest\(/).includes(id), `${id} calls fitAndTest`);
  }
  // the library helpers no longer train, nor convolve by hand
  const lib = await Deno.readTextFile(
    new URL("../../lib/experiments/cnn_text.ts", import.meta.url),
  );
  assert.doesNotMatch(lib, /\btrain\(|\.compile\(|\.fit\(/);
  assert.doesNotMatch(lib, /handConvolution/);
  // the convolution by hand is written in a cell from tf ops: lookup, dot products, bias, ReLU,
  // max over time; the next cell checks it against tf.layers.conv1d and the library's model
  const hand = code.find((c) => c.id === "hand")!.text;
  for (const op of [/tf\.gather\(/, /tf\.dot\(/, /tf\.add\(/, /tf\.relu\(/, /tf\.max\(/]) {
    assert.match(hand, op);
  }
  assert.doesNotMatch(code.map((c) => c.text).join("\n"), /ex\.handConvolution/);
  const check = code.find((c) => c.id === "hand-claim")!.text;
  assert.match(check, /tf\.layers\.conv1d\(/);
  assert.match(check, /nn\.claim\("hand-convolution-matches-layers"/);
  // prose teaches with display equations; the notebook closes with the claims table and a
  // summary printed from the run
  const markdown = nb.cells.filter((c) => c.cell_type === "markdown").map((c) => c.source.join(""));
  assert.ok(
    markdown.join("\n").split("$$").length - 1 >= 2 * 3,
    "at least three display equations",
  );
  assert.ok(markdown.some((m) => m.startsWith("## About the claims")));
  const last = nb.cells.at(-1)!;
  assert.equal(last.cell_type, "code");
  assert.match(last.source.join(""), /What this run showed[\s\S]*nn\.publish\(/);
});

Deno.test("05_cnn_text_models runs in the smoke profile with every claim holding", async () => {
  // parameters, hand convolution, curves, confusion, baselines, filters, widths, transfer,
  // side by side
  const nb = await runSmoke("05_cnn_text_models.ipynb", {
    claims: EXPECTED_CLAIMS,
    minCharts: 9,
    models: ["sentiment-cnn"],
  });
  // section 4 shows the filters' n-grams as an HTML table and highlighted sentences
  const html = nb.cells.flatMap((c) => c.outputs ?? []).map((o) =>
    String((o as { data?: Record<string, unknown> }).data?.["text/html"] ?? "")
  );
  assert.ok(html.some((h) => h.includes("<table>") && h.includes("top n-grams")), "n-gram table");
  assert.ok(html.some((h) => h.includes("<mark>")), "highlighted sentences");
});
