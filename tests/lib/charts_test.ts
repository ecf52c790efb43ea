import assert from "node:assert/strict";
import {
  barChart,
  chartBundle,
  currentProfile,
  describeFigure,
  heatmap,
  histogram,
  lineChart,
  plotlyJs,
  plotlyVersion,
  resetPlotlySession,
  resetProfile,
  scatterChart,
  show,
  trainingCurves,
  useProfile,
  validateFigure,
} from "nn";
import { printedBy } from "./printed.ts";

const PLOTLY = "application/vnd.plotly.v1+json";

Deno.test("chart bundle: exactly the three entries of the display contract", () => {
  const fig = lineChart({ title: "Loss", x: [1, 2, 3], series: [{ name: "train", y: [3, 2, 1] }] });
  const bundle = chartBundle(fig);
  assert.deepEqual(Object.keys(bundle).sort(), [PLOTLY, "text/html", "text/plain"].sort());
  assert.deepEqual(bundle[PLOTLY], fig);
  assert.equal(bundle["text/plain"], 'Chart "Loss": 1 trace (scatter "train")');
  assert.match(String(bundle["text/html"]), /window\.Plotly\.newPlot/);
});

Deno.test("plotly.js is inlined once per session, before the first chart", () => {
  resetPlotlySession();
  const marker = "plotly.js v" + plotlyVersion();
  const first = String(chartBundle(lineChart({ series: [{ name: "a", y: [1] }] }))["text/html"]);
  const second = String(chartBundle(lineChart({ series: [{ name: "b", y: [2] }] }))["text/html"]);
  assert.ok(first.includes(marker), "first chart carries plotly.js");
  // The Deno 2.9 kernel can corrupt iopub messages above ~3.75 MiB: stay well under.
  assert.ok(first.length < 2_500_000, `first chart is ${first.length} bytes`);
  assert.ok(first.indexOf(marker) < first.indexOf("nn-chart"), "library before the chart div");
  assert.ok(!second.includes(marker), "second chart does not");
  assert.ok(second.length < 10_000);
  assert.ok(plotlyJs().length > 1_000_000);
  const forced = String(
    chartBundle(lineChart({ series: [{ name: "c", y: [3] }] }), { includePlotly: true })[
      "text/html"
    ],
  );
  assert.ok(forced.includes(marker));
});

Deno.test("chart html cannot be closed early by data containing </script>", () => {
  const fig = lineChart({ title: "</script><b>x</b>", series: [{ name: "a", y: [1] }] });
  const html = String(chartBundle(fig)["text/html"]);
  const scripts = html.split("</script>").length - 1;
  assert.equal(scripts, (html.match(/<script/g) ?? []).length);
  assert.ok(!html.includes("</script><b>"));
});

Deno.test("figure builders: traces, axes and errors", () => {
  const bars = barChart({ categories: ["a", "b"], series: [{ name: "n", y: [1, 2] }] });
  assert.equal(bars.data[0].type, "bar");
  assert.throws(
    () => barChart({ categories: ["a"], series: [{ name: "n", y: [1, 2] }] }),
    /2 values for 1 categories; give one per category/,
  );
  const withErrors = barChart({
    categories: ["a", "b"],
    series: [{ name: "n", y: [1, 2], error: [0.1, 0.2] }],
  });
  assert.deepEqual(withErrors.data[0].error_y, { type: "data", array: [0.1, 0.2], visible: true });
  assert.equal(bars.data[0].error_y, undefined);
  assert.throws(
    () => barChart({ categories: ["a", "b"], series: [{ name: "n", y: [1, 2], error: [0.1] }] }),
    /1 error bars for 2 categories/,
  );
  const hm = heatmap({
    z: [[1, 0.5], [0, 1]],
    xLabels: ["p", "q"],
    yLabels: ["p", "q"],
    annotate: true,
  });
  assert.deepEqual(hm.data[0].text, [["1", "0.500"], ["0", "1"]]);
  assert.equal((hm.layout.yaxis as Record<string, unknown>).autorange, "reversed");
  assert.throws(() => heatmap({ z: [[1, 2], [3]] }), /same length/);
  assert.throws(() => heatmap({ z: [[1, 2]], xLabels: ["a"] }), /1 x labels for 2 columns/);
  const h = histogram({ series: [{ name: "w", values: new Float32Array([0.5, -0.5]) }], bins: 10 });
  assert.deepEqual(h.data[0].x, [0.5, -0.5]);
  assert.equal(h.data[0].nbinsx, 10);
  const sc = scatterChart({ groups: [{ name: "g", x: [1], y: [2] }], logX: true });
  assert.equal((sc.layout.xaxis as Record<string, unknown>).type, "log");
  const tc = trainingCurves({ loss: [1, 0.5], val_loss: [1.2, 0.8], acc: [0.5, 0.7] });
  assert.equal(tc.data.length, 3);
  assert.equal(tc.data.find((t) => t.name === "acc")!.yaxis, "y2");
  assert.deepEqual(
    (tc.data.find((t) => t.name === "val_loss")!.line as Record<string, unknown>).dash,
    "dash",
  );
  assert.equal(
    describeFigure(tc),
    'Chart "Training": 3 traces (scatter "loss", scatter "val_loss", scatter "acc")',
  );
});

Deno.test("validateFigure rejects what Plotly cannot draw", () => {
  assert.throws(() => validateFigure(null), /must be an object/);
  assert.throws(() => validateFigure({ data: {}, layout: {} }), /data must be an array/);
  assert.throws(() => validateFigure({ data: [], layout: null }), /layout must be an object/);
  assert.throws(() => show({ data: [1], layout: {} } as never), /not a trace/);
  assert.throws(() => show({ data: [{ y: [1] }] } as never), /layout/);
});

Deno.test("show displays at once, wherever it is called, and returns nothing", () => {
  resetProfile();
  const a = lineChart({ title: "A", series: [{ name: "a", y: [1, 2] }] });
  const b = barChart({ title: "B", categories: ["x"], series: [{ name: "n", y: [1] }] });
  let values: unknown[] = [];
  const printed = printedBy(() => values = [show(a), show(b)]);
  assert.deepEqual(values, [undefined, undefined], "nothing left for the cell to print");
  assert.deepEqual(printed, ['Chart "A": 1 trace (scatter "a")', 'Chart "B": 1 trace (bar "n")']);
});

Deno.test("smoke profile: '(smoke)' in every title, full-only figures replaced by a note", () => {
  const fig = heatmap({ title: "Attention", z: [[1, 0], [0, 1]] });
  try {
    printedBy(() => useProfile("smoke"));
    const bundle = chartBundle(fig);
    const title = (bundle[PLOTLY] as { layout: { title: { text: string } } }).layout.title.text;
    assert.equal(title, "Attention (smoke)");
    assert.equal(fig.layout.title && (fig.layout.title as { text: string }).text, "Attention");
    // a title with a subtitle line: "(smoke)" ends the first line, once
    const sub = chartBundle(
      lineChart({ title: "Loss<br><sub>epoch 2/3</sub>", series: [{ name: "a", y: [1] }] }),
    );
    const subTitle = (sub[PLOTLY] as { layout: { title: { text: string } } }).layout.title.text;
    assert.equal(subTitle, "Loss (smoke)<br><sub>epoch 2/3</sub>");
    const again = chartBundle(sub[PLOTLY] as Parameters<typeof chartBundle>[0]);
    assert.equal(
      (again[PLOTLY] as { layout: { title: { text: string } } }).layout.title.text,
      subTitle,
    );
    const untitled = chartBundle(lineChart({ series: [{ name: "a", y: [1] }] }));
    assert.match(String(untitled["text/plain"]), /^Chart "\(smoke\)"/);
    const printed = printedBy(() => show(fig, { fullOnly: "the model is untrained in smoke" }));
    assert.equal(printed.length, 1);
    assert.match(printed[0], /Attention.*\(smoke\): not drawn.*untrained in smoke/);
    printedBy(() => useProfile("full"));
    assert.equal(
      (chartBundle(fig)[PLOTLY] as { layout: { title: { text: string } } }).layout.title.text,
      "Attention",
    );
    assert.deepEqual(printedBy(() => show(fig, { fullOnly: "x" })), [
      'Chart "Attention": 1 trace (heatmap)',
    ]);
    assert.throws(() => useProfile("quick"), /expected "full".*or "smoke"/);
  } finally {
    resetProfile();
  }
});

Deno.test("useProfile: a smoke banner at once, nothing in the full profile", () => {
  try {
    assert.deepEqual(printedBy(() => useProfile("full")), []);
    const banner = printedBy(() => useProfile("smoke"));
    assert.equal(banner.length, 1);
    assert.match(banner[0], /^SMOKE PROFILE: tiny sizes/);
    assert.equal(currentProfile(), "smoke");
  } finally {
    resetProfile();
  }
});
