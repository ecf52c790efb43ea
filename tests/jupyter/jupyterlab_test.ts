/**
 * The notebooks in JupyterLab 4: the Lab built from its npm packages by `lab_build.ts`
 * (JupyterLab 4.6.3, the core extensions of a `pip install jupyterlab`), served by
 * Debian's jupyter-server 1.23 and jupyterlab-server 2.16 (`lab/lab_server.py`) with this
 * project's kernelspec, driven by headless Chromium through Lab's own application object.
 * Two configurations, one test each: Lab as installed (charts through the HTML fallback)
 * and Lab with jupyterlab-plotly 5.24's renderer (charts from the Plotly JSON).
 *
 * In each configuration:
 * - how Lab's rendermime ranks the chart bundle's mime types, trusted and untrusted;
 * - the fixture (chart, live training display, claims): one training output updated in
 *   place, the chart drawn, claims shown; a chart cell re-run, all outputs cleared and
 *   the cell re-run, a second view of the notebook ("New View for Notebook"); saved,
 *   closed and reopened in a fresh page (trusted: the server signed it on save); a copy
 *   that is no longer signed ("someone else's notebook") opened untrusted, then "Trust
 *   Notebook";
 * - a broken chart is reported as not drawn by the same checker;
 * - every notebook of notebooks/ (smoke profile): Run All; no error output, no output
 *   dropped, every chart drawn (an SVG with the figure's traces, points and title), every
 *   live training display one output that ended "done:", every claim shown; screenshots;
 *   saved, closed, then reopened untrusted in a fresh page: the outputs are all there,
 *   then every chart is drawn after "Trust Notebook" (with the renderer: shown from the
 *   saved PNG and the JSON, drawn interactive when hovered).
 *
 * Screenshots go to out/jupyter/lab/<configuration>/: `<notebook>.png` after the run (a
 * notebook taller than 16 000 px in parts, `-2.png` …), `<notebook>-live-training.png` of a
 * training display caught mid-training, and for the fixture, 03 and 04b
 * `<notebook>-reopened.png` after trusting the reopened notebook.
 *
 * Runs when `NN_JUPYTERLAB=1` (`deno task test:lab`, `deno task test:jupyter`): the suite
 * takes longer than the rest of `deno task test` together. Needs the Lab build
 * (`deno task build:lab`), Debian's `jupyter-server` and `python3-jupyterlab-server`, and
 * Chromium; skips with the reason without them. Per-notebook timeout:
 * `NN_JUPYTER_TIMEOUT_S` (default 600); `NN_JUPYTER_ONLY=REGEX` limits the notebooks;
 * `NN_JUPYTERLAB_NOTEBOOKS=split` runs each in one configuration (CI does).
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { KERNEL_NAME } from "../../kernel/kernelspec.ts";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  copyNotebook,
  createWorkspace,
  listNotebooks,
  type NotebookServer,
  processesMatching,
  PROJECT_ROOT,
  type Workspace,
} from "./helpers.ts";
import {
  checkLabTools,
  clearAllOutputs,
  closeNotebook,
  freezeMidTraining,
  frozenDisplay,
  inspectWhenDrawn,
  type LabReport,
  type LabRunStats,
  mimeRanks,
  openLab,
  openNotebook,
  openSecondView,
  releaseFreeze,
  runAllInLab,
  runCodeCell,
  saveNotebook,
  screenshotCell,
  screenshotNotebook,
  startLabServer,
  trustNotebook,
} from "./lab_helpers.ts";

const PLOTLY = "application/vnd.plotly.v1+json";
const CLAIM = "application/vnd.neural-notebooks.claim+json";

const enabled = Deno.env.get("NN_JUPYTERLAB") === "1";
const tools = enabled ? await checkLabTools() : undefined;
const skip = !enabled
  ? "set NN_JUPYTERLAB=1 (deno task test:lab or deno task test:jupyter) to run them"
  : tools!.ok
  ? undefined
  : tools!.reason;
if (skip) console.log(`JupyterLab tests skipped: ${skip}`);

const only = Deno.env.get("NN_JUPYTER_ONLY");
const notebooks = (await listNotebooks(join(PROJECT_ROOT, "notebooks")))
  .filter((nb) => !only || new RegExp(only).test(basename(nb)));
const FIXTURES = new URL("../fixtures/jupyter/", import.meta.url).pathname;
const GOOD = join(FIXTURES, "live_training.ipynb");
const BROKEN = join(FIXTURES, "broken_chart.ipynb");
const TIMEOUT_MS = 1000 * Number(Deno.env.get("NN_JUPYTER_TIMEOUT_S") ?? 600);
/**
 * `NN_JUPYTERLAB_NOTEBOOKS=split` runs each notebook in one configuration only, the two
 * taking turns (01, 03, 04b, 06 in Lab as installed; 02, 04, 05 with the renderer): half
 * the time, as CI runs it; unset or `all`, every notebook in both.
 */
const NOTEBOOKS_MODE = Deno.env.get("NN_JUPYTERLAB_NOTEBOOKS")?.trim() || "all";
if (!["all", "split"].includes(NOTEBOOKS_MODE)) {
  throw new Error(`NN_JUPYTERLAB_NOTEBOOKS must be "all" or "split", got "${NOTEBOOKS_MODE}".`);
}
const splitNotebooks = NOTEBOOKS_MODE === "split";
/** The notebooks whose reopened and trusted view is also shot (each shot costs seconds). */
const SHOT_REOPENED = /^(live_training|03_|04b_)/;

const outputCount = (r: { cells: Array<{ outputs: unknown[] }> }) =>
  r.cells.reduce((n, c) => n + c.outputs.length, 0);

function describe(report: LabReport): string {
  return report.cells.map((c) =>
    `  [${c.count ?? " "}] ${c.id}: ` +
    (c.outputs.map((o) => `${o.type}(${o.text.split("\n")[0].slice(0, 60)})`).join(", ") || "-")
  ).join("\n");
}

/** The checks every notebook must pass in Lab after running. */
function assertHealthy(name: string, report: LabReport, pageErrors: string[]): void {
  const context = `${name}:\n${describe(report)}`;
  assert.deepEqual(report.errors, [], `${name}: error outputs\n${context}`);
  assert.ok(report.cells.length > 0, `${name}: no code cells`);
  for (const cell of report.cells) {
    assert.equal(typeof cell.count, "number", `${name}: cell ${cell.id} did not run\n${context}`);
  }
  assert.deepEqual(report.mismatched, [], `${name}: output widgets do not match outputs`);
  const broken = report.charts.filter((c) => !c.rendered)
    .map((c) => `${c.cell}#${c.output} "${c.title}": ${c.reason}`);
  assert.deepEqual(broken, [], `${name}: charts not drawn`);
  for (const p of report.progress) {
    assert.match(p.finalText, /done:/, `${name}: training display in ${p.cell} did not finish`);
  }
  const hidden = report.claims.filter((c) => !c.rendered).map((c) => `${c.cell}: ${c.id}`);
  assert.deepEqual(hidden, [], `${name}: claims not shown`);
  assert.deepEqual(pageErrors, [], `${name}: uncaught errors in the page`);
}

/** The outputs of a report as (type, mime types without Lab's added PNG) per cell. */
function outputShape(report: LabReport): string[] {
  return report.cells.map((c) =>
    `${c.id}: ` +
    c.outputs.map((o) => `${o.type}[${o.mimes.filter((m) => m !== "image/png").join(",")}]`)
      .join(" ")
  );
}

/** Kills what is still running with one of `markers` in its command line; returns it. */
async function sweep(markers: string[]): Promise<string[]> {
  const left = await processesMatching(markers);
  for (const p of left) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch { /* gone */ }
  }
  return left.map((p) => `${p.pid} ${p.cmd}`);
}

/** Shuts the kernel of a notebook down (Kernel ▸ Shut Down Kernel, through the API). */
async function shutDownSession(server: NotebookServer, path: string): Promise<string> {
  const sessions = await (await server.api("/api/sessions")).json() as Array<
    { id: string; path: string; kernel: { name: string } }
  >;
  const session = sessions.find((s) => s.path === path);
  assert.ok(session, `${path} has a session`);
  await (await server.api(`/api/sessions/${session.id}`, { method: "DELETE" })).body?.cancel();
  return session.kernel.name;
}

/**
 * Writes the saved notebook again with one metadata field added, as a copy received from
 * someone else: its content no longer matches the signature the server recorded on save,
 * so Lab opens it untrusted.
 */
async function unsign(ws: Workspace, rel: string): Promise<void> {
  const path = join(ws.root, rel);
  const notebook = JSON.parse(await Deno.readTextFile(path));
  notebook.metadata.shared_by = "someone else";
  await Deno.writeTextFile(path, JSON.stringify(notebook, null, 1) + "\n");
}

const CONFIGS = [
  { name: "JupyterLab 4.6.3", plotly: false, dir: "lab" },
  { name: "JupyterLab 4.6.3 with jupyterlab-plotly 5.24.1", plotly: true, dir: "lab-plotly" },
];

for (const config of CONFIGS) {
  Deno.test({
    name: `${config.name} in Chromium runs every notebook, saves, reopens and trusts it`,
    ignore: skip !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const shots = join(PROJECT_ROOT, "out", "jupyter", "lab", config.dir);
      await Deno.remove(shots, { recursive: true }).catch(() => {}); // no stale shots
      await Deno.mkdir(shots, { recursive: true });
      const ws = await createWorkspace();
      const markers = [ws.temp, ws.root];
      let left: string[] = [];
      let server: NotebookServer | undefined;
      let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
      try {
        server = await startLabServer(ws, { plotly: config.plotly, python: tools!.python });
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          headless: true,
          args: CHROMIUM_ARGS,
        });
        console.log(`${config.name} on ${tools!.serverVersions}`);

        /** A fresh page with Lab open, collecting uncaught errors. */
        const labPage = async () => {
          const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
          const errors: string[] = [];
          page.on("pageerror", (e) => errors.push(e.message));
          await openLab(page, server!);
          return { page, errors };
        };

        /**
         * Screenshots a live training display mid-training: the page freezes on the first
         * update past a first epoch (see freezeMidTraining), the display's output is shot
         * as Lab shows it, and the page goes on.
         */
        const liveShot = (page: Page, rel: string, file: string) => async () => {
          const text = await frozenDisplay(page);
          if (!text) return;
          try {
            await new Promise((resolve) => setTimeout(resolve, 700)); // the chart draws
            const at = await page.evaluate(([p, t]) => {
              // deno-lint-ignore no-explicit-any
              const panel = (globalThis as any).__nnPanels[p];
              // deno-lint-ignore no-explicit-any
              const cells = (panel.content.widgets as any[]).filter((c) => c.model.type === "code");
              for (let c = 0; c < cells.length; c++) {
                const outputs = cells[c].model.outputs;
                for (let o = 0; o < outputs.length; o++) {
                  if (outputs.get(o).toJSON().data?.["text/plain"] === t) return [c, o];
                }
              }
              return null;
            }, [rel, text] as const);
            if (at) {
              await screenshotCell(page, rel, at[0], file, at[1]);
              console.log(`${rel}: live training display shot at "${text.slice(0, 70)}"`);
            }
          } catch (e) {
            console.log(`mid-training screenshot of ${rel} failed: ${(e as Error).message}`);
          } finally {
            await releaseFreeze(page);
          }
        };

        /** Runs a notebook in a fresh page; returns the page, still open, and what it shows. */
        const runNotebook = async (rel: string, drawMs = 60_000) => {
          const { page, errors } = await labPage();
          const name = basename(rel, ".ipynb");
          const t0 = performance.now();
          await openNotebook(page, rel);
          await freezeMidTraining(page);
          const stats: LabRunStats = await runAllInLab(page, rel, {
            timeoutMs: TIMEOUT_MS,
            onPoll: liveShot(page, rel, join(shots, `${name}-live-training.png`)),
          });
          const report = await inspectWhenDrawn(page, rel, { ms: drawMs });
          assert.deepEqual(stats.kernelEvents, [], `${rel}: the kernel died or restarted`);
          assert.equal(stats.stalled, null, `${rel}: ${stats.stalled}`);
          console.log(
            `${rel}: cells ran in ${stats.seconds.toFixed(1)} s (step ` +
              `${((performance.now() - t0) / 1000).toFixed(1)} s), ${outputCount(report)} ` +
              `outputs, ${report.charts.length} charts (${
                [...new Set(report.charts.map((c) => c.renderer))].join(", ")
              }), ${report.progress.length} training displays (${stats.updates} updates ` +
              `in place), ${report.claims.length} claims ` +
              `(${report.claims.filter((c) => c.pass).length} pass)`,
          );
          return { page, errors, stats, report };
        };

        /**
         * Opens a saved notebook in a fresh page and checks what Lab shows: its outputs,
         * trusted or not; charts drawn (trusted), or blank until "Trust Notebook" (without
         * the renderer) or shown from the saved PNG and drawn when hovered (with it).
         * Returns the report once every chart is drawn.
         */
        const reopen = async (rel: string, signed: boolean, before?: LabReport) => {
          const { page, errors } = await labPage();
          const name = basename(rel, ".ipynb");
          try {
            const t0 = performance.now();
            await openNotebook(page, rel);
            // Untrusted HTML charts never draw: wait for what can show.
            const shown = (c: LabReport["charts"][number]) =>
              c.rendered || c.image || (!signed && !config.plotly);
            let report = await inspectWhenDrawn(page, rel, {
              ready: (r) => r.charts.every(shown) && r.claims.every((c) => c.rendered),
            });
            const openSeconds = (performance.now() - t0) / 1000;
            if (before) {
              assert.deepEqual(outputShape(report), outputShape(before), `${rel}: outputs kept`);
            }
            const trusted = report.cells.every((c) => c.outputs.every((o) => o.trusted));
            assert.equal(trusted, signed, `${rel}: opened ${trusted ? "trusted" : "untrusted"}`);
            const drawn = report.charts.filter((c) => c.rendered).length;
            const images = report.charts.filter((c) => c.image).length;
            console.log(
              `${rel} reopened ${signed ? "signed" : "unsigned"} in ${openSeconds.toFixed(1)} ` +
                `s: ${outputCount(report)} outputs, ${report.charts.length} charts, ${drawn} ` +
                `drawn, ${images} shown as PNG, ${report.sanitized} HTML outputs sanitised`,
            );
            if (!signed) {
              if (config.plotly) {
                // The renderer is "safe": it shows untrusted charts, from the saved PNG.
                assert.equal(images + drawn, report.charts.length, `${rel}: charts shown`);
              } else {
                // The HTML fallback is sanitised: scripts removed, nothing drawn.
                assert.equal(drawn, 0, `${rel}: untrusted HTML charts stay blank`);
                assert.ok(report.sanitized > 0, `${rel}: scripts sanitised`);
              }
              await trustNotebook(page, rel);
            }
            report = await inspectWhenDrawn(page, rel, { hover: config.plotly });
            assertHealthy(`${rel} (reopened)`, report, errors);
            if (!signed && SHOT_REOPENED.test(name)) {
              await screenshotNotebook(page, rel, join(shots, `${name}-reopened.png`));
            }
            await closeNotebook(page, rel);
            await shutDownSession(server!, rel);
            return report;
          } finally {
            await page.close();
          }
        };

        await t.step("how Lab ranks the mime types of a chart and a claim", async () => {
          const { page } = await labPage();
          try {
            const rel = await copyNotebook(ws, BROKEN, "ranks");
            await openNotebook(page, rel);
            const chart = await mimeRanks(page, rel, [PLOTLY, "text/html", "text/plain"]);
            const claim = await mimeRanks(page, rel, [CLAIM, "text/html", "text/plain"]);
            console.log(
              `rendermime order: ${chart.order.join(" > ")}; chart bundle: trusted → ` +
                `${chart.trusted}, untrusted → ${chart.untrusted}; claim bundle: trusted → ` +
                `${claim.trusted}, untrusted → ${claim.untrusted}`,
            );
            const expected = config.plotly ? PLOTLY : "text/html";
            assert.equal(chart.trusted, expected);
            assert.equal(chart.untrusted, expected);
            assert.equal(chart.order.includes(PLOTLY), config.plotly);
            assert.equal(claim.trusted, "text/html");
            assert.equal(claim.untrusted, "text/html");
            await shutDownSession(server!, rel);
          } finally {
            await page.close();
          }
        });

        await t.step(
          "fixture: chart, live display, claims; re-run, clear, views, trust",
          async () => {
            const rel = await copyNotebook(ws, GOOD, "fixtures");
            let { page, errors, stats, report } = await runNotebook(rel);
            // What the kernel sent: the training display once, every later state an update
            // of it. This is the library's contract, checked on every run.
            const sentOnce = (displays: string[]) => {
              const sent = displays.filter((d) => d.includes("XOR quadrants:"));
              assert.equal(sent.length, 1, `the kernel published: ${displays.join(" | ")}`);
            };
            const trainingCell = (r: LabReport) =>
              r.cells.find((c) => c.outputs.some((o) => o.text.includes("XOR")))!;
            const trainingOutputs = (r: LabReport) =>
              JSON.stringify(
                trainingCell(r)?.outputs.map((o) => [o.type, o.mimes, o.text.slice(0, 60)]),
              );
            sentOnce(stats.displays);
            // CI saw Lab's model hold that one display twice, once in many runs (Lab 4.6 with
            // jupyterlab-plotly, 2 busy cores; never reproduced here): when the kernel sent
            // it once and Lab shows it twice, the run is repeated once in a fresh page, with
            // the first run's outputs logged, and must then be clean.
            const displaysShown = (r: LabReport) =>
              trainingCell(r)?.outputs.filter((o) => o.type === "display_data").length ?? 0;
            if (displaysShown(report) > 1) {
              console.log(
                `Lab showed the training display more than once although the kernel sent it ` +
                  `once: ${trainingOutputs(report)}; display_data received: ` +
                  `${stats.displays.join(" | ")}. Running the fixture again.`,
              );
              await closeNotebook(page, rel);
              await shutDownSession(server!, rel);
              await page.close();
              ({ page, errors, stats, report } = await runNotebook(rel));
              sentOnce(stats.displays);
            }
            try {
              assertHealthy(rel, report, errors);
              assert.deepEqual(stats.unsolicited, [], "outputs dropped by the front end");
              const train = trainingCell(report);
              assert.ok(train, "the training cell shows its display");
              assert.equal(
                displaysShown(report),
                1,
                `one training display, updated in place; the cell's outputs: ${
                  trainingOutputs(report)
                }`,
              );
              assert.equal(report.progress.length, 1);
              assert.match(report.progress[0].finalText, /100% · done: 6 epochs/);
              assert.ok(report.progress[0].chartRendered, "the live chart is drawn at its end");
              // The bar is HTML: Lab shows it where HTML is the preferred rendering.
              if (config.plotly) assert.equal(report.progress[0].barText, null);
              else assert.match(report.progress[0].barText ?? "", /100% · done:/);
              const epochs = new Set(stats.updateTexts.map((s) => /epoch (\d+)\/6/.exec(s)?.[1]));
              epochs.delete(undefined);
              assert.ok(epochs.size >= 5, `updates of epochs ${[...epochs]} seen in the page`);
              assert.equal(report.charts.length, 2, "the line chart and the live chart");
              assert.deepEqual(report.claims.map((c) => [c.id, c.pass, c.rendered]), [
                ["loss-falls", true, true],
                ["epochs-run", true, true],
              ]);
              await screenshotNotebook(page, rel, join(shots, "live_training.png"));

              // Re-run the chart cell: its new output is drawn.
              const chartCell = report.cells.findIndex((c) =>
                c.outputs.some((o) => o.mimes.includes(PLOTLY) && !o.text.includes("XOR"))
              );
              await runCodeCell(page, rel, chartCell, { timeoutMs: TIMEOUT_MS });
              let again = await inspectWhenDrawn(page, rel);
              assert.ok(again.charts.every((c) => c.rendered), "charts drawn after a re-run");
              // Clear every output, re-run the chart cell: drawn (plotly.js is in the page).
              await clearAllOutputs(page, rel);
              assert.equal(outputCount(await inspectWhenDrawn(page, rel, { ms: 1_000 })), 0);
              await runCodeCell(page, rel, chartCell, { timeoutMs: TIMEOUT_MS });
              again = await inspectWhenDrawn(page, rel);
              assert.equal(again.charts.length, 1);
              assert.ok(
                again.charts[0].rendered,
                `drawn after clearing: ${again.charts[0].reason}`,
              );
              // Run all again, then a second view of the same notebook: both draw every chart.
              await runAllInLab(page, rel, { timeoutMs: TIMEOUT_MS });
              const view = await openSecondView(page, rel);
              const first = await inspectWhenDrawn(page, rel);
              // jupyterlab-plotly shows the PNG the first view saved until hovered.
              const second = await inspectWhenDrawn(page, view, { hover: config.plotly });
              assert.ok(first.charts.every((c) => c.rendered), "the first view's charts");
              assert.deepEqual(
                second.charts.map((c) => [c.title.replace(/ in [\d.]+ s.*/, ""), c.rendered]),
                first.charts.map((c) => [c.title.replace(/ in [\d.]+ s.*/, ""), true]),
                "the second view draws its own charts",
              );
              await closeNotebook(page, view);

              // Save, close; reopen in a fresh page: signed by the server on save, so trusted.
              const saveSeconds = await saveNotebook(page, rel);
              const bytes = (await Deno.stat(join(ws.root, rel))).size;
              await closeNotebook(page, rel);
              assert.equal(await shutDownSession(server!, rel), KERNEL_NAME);
              console.log(
                `fixture saved in ${saveSeconds.toFixed(1)} s, ${(bytes / 1e6).toFixed(2)} MB`,
              );
              await reopen(rel, true);
              // Someone else's copy: untrusted.
              await unsign(ws, rel);
              await reopen(rel, false);
            } finally {
              await page.close();
            }
          },
        );

        await t.step({
          name: "the 2 MB output: the saved fixture opened with and without it",
          // The HTML fallback's configuration: there the 2 MB output is what Lab renders.
          ignore: config.plotly,
          fn: async () => {
            // The fixture as saved above (unsigned, so opened untrusted), and a copy without
            // the inlined plotly.js, to time what the 2 MB output costs when Lab opens it.
            const rel = "fixtures/live_training.ipynb";
            const light = "fixtures/live_training-without-plotly.ipynb";
            const notebook = JSON.parse(await Deno.readTextFile(join(ws.root, rel)));
            let stripped = 0;
            for (const cell of notebook.cells) {
              for (const output of cell.outputs ?? []) {
                const html = output.data?.["text/html"];
                if (html === undefined) continue;
                const text = Array.isArray(html) ? html.join("") : String(html);
                const without = text.replace(
                  /<script type="text\/javascript">\/\* plotly\.js v[\s\S]*?<\/script>/,
                  "",
                );
                stripped += text.length - without.length;
                output.data["text/html"] = without;
              }
            }
            assert.ok(stripped > 1_000_000, `the saved fixture carries plotly.js (${stripped} B)`);
            await Deno.writeTextFile(join(ws.root, light), JSON.stringify(notebook, null, 1));
            const line: string[] = [];
            for (const path of [rel, light, rel, light]) {
              const { page } = await labPage();
              try {
                const bytes = (await Deno.stat(join(ws.root, path))).size;
                const t0 = performance.now();
                const times = await openNotebook(page, path);
                await inspectWhenDrawn(page, path, {
                  ms: 30_000,
                  ready: (r) => r.mismatched.length === 0 && r.claims.every((c) => c.rendered),
                });
                const shown = (performance.now() - t0) / 1000;
                const saved = await saveNotebook(page, path);
                // Typing into a new cell at the end, as a reader does.
                await page.evaluate((p) => {
                  // deno-lint-ignore no-explicit-any
                  const w = globalThis as any;
                  const panel = w.__nnPanels[p];
                  w.jupyterapp.shell.activateById(panel.id);
                  panel.content.activeCellIndex = panel.content.widgets.length - 1;
                  panel.content.mode = "command";
                  panel.content.node.focus();
                }, path);
                await page.keyboard.press("b");
                await page.keyboard.press("Enter");
                const typed = "const total = [1, 2, 3, 4, 5].reduce((a, b) => a + b, 0);";
                const t1 = performance.now();
                await page.keyboard.type(typed);
                await page.waitForFunction(
                  ([p, t]) =>
                    // deno-lint-ignore no-explicit-any
                    (globalThis as any).__nnPanels[p].content.activeCell.model.sharedModel
                      .getSource() === t,
                  [path, typed] as const,
                );
                const typing = (performance.now() - t1) / typed.length;
                line.push(
                  `${(bytes / 1e6).toFixed(2)} MB: model ${times.model.toFixed(2)} s, every ` +
                    `output shown ${shown.toFixed(1)} s (kernel start included), saved in ` +
                    `${saved.toFixed(2)} s, ${typing.toFixed(0)} ms a typed character`,
                );
                await closeNotebook(page, path);
                await shutDownSession(server!, path);
              } finally {
                await page.close();
              }
            }
            console.log(`opening the fixture untrusted, twice each: ${line.join("; ")}`);
          },
        });

        await t.step("fixture: a broken chart is reported as not drawn", async () => {
          const rel = await copyNotebook(ws, BROKEN, "fixtures");
          const { page, report } = await runNotebook(rel, 10_000);
          try {
            assert.deepEqual(report.errors, [], "the broken chart is an output, not an error");
            assert.deepEqual(
              report.charts.map((c) => [c.title, c.rendered]),
              [['Chart "A good chart": 1 trace (bar "n")', true], [
                "Broken chart: invalid figure",
                false,
              ]],
            );
            assert.match(report.charts[1].reason!, /invalid figure/);
            // (jupyterlab-plotly's renderer fails on it, and Lab shows no widget for it.)
            assert.throws(
              () => assertHealthy(rel, report, []),
              /charts not drawn|output widgets do not match/,
            );
            await shutDownSession(server!, rel);
          } finally {
            await page.close();
          }
        });

        for (const [i, source] of notebooks.entries()) {
          const name = basename(source);
          // NN_JUPYTERLAB_NOTEBOOKS=split: each notebook in one configuration, alternately
          const elsewhere = splitNotebooks && i % CONFIGS.length !== CONFIGS.indexOf(config);
          await t.step({
            name: `notebooks/${name}`,
            ignore: elsewhere,
            fn: async () => {
              const rel = await copyNotebook(ws, source, "notebooks");
              const { page, errors, stats, report } = await runNotebook(rel);
              try {
                assertHealthy(name, report, errors);
                assert.deepEqual(
                  stats.unsolicited,
                  [],
                  `${name}: outputs dropped by the front end`,
                );
                assert.ok(report.charts.length > 0, `${name}: shows charts`);
                assert.ok(report.claims.length > 0, `${name}: states claims`);
                // Each training display is one output that was updated in place: no output
                // of an unfinished state is left (assertHealthy: every one ends "done:").
                assert.ok(
                  stats.updates >= report.progress.length,
                  `${name}: ${stats.updates} updates for ${report.progress.length} displays`,
                );
                await screenshotNotebook(page, rel, join(shots, basename(rel, ".ipynb") + ".png"));
                const saveSeconds = await saveNotebook(page, rel);
                const bytes = (await Deno.stat(join(ws.root, rel))).size;
                await closeNotebook(page, rel);
                assert.equal(await shutDownSession(server!, rel), KERNEL_NAME);
                console.log(
                  `${name} saved in ${saveSeconds.toFixed(1)} s, ${(bytes / 1e6).toFixed(2)} MB`,
                );
              } finally {
                await page.close();
              }
              await unsign(ws, rel);
              await reopen(rel, false, report);
            },
          });
        }
      } catch (error) {
        if (server) console.error(`JupyterLab server log:\n${server.log().slice(-4000)}`);
        throw error;
      } finally {
        await browser?.close();
        await server?.stop();
        left = await sweep(markers);
        await ws.cleanup();
      }
      assert.deepEqual(left, [], "processes left behind");
    },
  });
}
