/**
 * The notebooks in a real Jupyter front end: Debian's classic Notebook 6.4, serving a
 * copy of notebooks/ (smoke profile) with this project's kernelspec from a temporary
 * Jupyter data dir, driven by headless Chromium through the Notebook's own JavaScript
 * API. For every notebook (and two fixtures) the page runs all cells on the project's
 * kernel; the suite then checks that no output is an error, every chart output was
 * drawn by Plotly, the live training display was updated in place (one output ending
 * in "done:"), every claim rendered, no output was dropped by the front end, and the
 * page kept receiving the kernel's messages to the end (a corrupted iopub message makes
 * the server close its channel to the page: reported with the server's "Invalid
 * Signature" line). A screenshot of each notebook goes to out/jupyter/<notebook>.png.
 *
 * The same notebooks are then executed by `jupyter nbconvert --execute` on the
 * project's kernelspec.
 *
 * Needs `jupyter notebook` 6.x, `jupyter nbconvert` and /usr/bin/chromium (`.ci/run`
 * installs them with apt-get); skips with the reason without them. Per-notebook timeout:
 * `NN_JUPYTER_TIMEOUT_S` (default 600); `NN_JUPYTER_ONLY=REGEX` limits the notebooks of
 * notebooks/ to those whose file name matches (the fixtures always run), and
 * `NN_NBCONVERT_ONLY=REGEX` further limits those nbconvert executes (`.ci/run` sets it:
 * every notebook already runs headless through the runner and in the page, so CI runs the
 * fixture and one notebook through nbclient).
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { chromium } from "playwright-core";
import { KERNEL_NAME } from "../../kernel/kernelspec.ts";
import {
  checkTools,
  CHROMIUM,
  CHROMIUM_ARGS,
  copyNotebook,
  createWorkspace,
  inspectNotebookPage,
  listNotebooks,
  nbconvertExecute,
  type NotebookServer,
  type PageReport,
  processesMatching,
  PROJECT_ROOT,
  runNotebookInPage,
  type RunStats,
  screenshot,
  startNotebookServer,
} from "./helpers.ts";

const tools = await checkTools();
if (!tools.ok) console.log(`Jupyter front-end tests skipped: ${tools.reason}`);
else if (!tools.nbconvert) {
  console.log("nbconvert test skipped: no `jupyter nbconvert` (apt-get install jupyter-nbconvert)");
}

const only = Deno.env.get("NN_JUPYTER_ONLY");
const nbconvertOnlyText = Deno.env.get("NN_NBCONVERT_ONLY");
const nbconvertOnly = nbconvertOnlyText ? new RegExp(nbconvertOnlyText) : null;
const notebooks = (await listNotebooks(join(PROJECT_ROOT, "notebooks")))
  .filter((nb) => !only || new RegExp(only).test(basename(nb)));
const FIXTURES = new URL("../fixtures/jupyter/", import.meta.url).pathname;
const GOOD = join(FIXTURES, "live_training.ipynb");
const BROKEN = join(FIXTURES, "broken_chart.ipynb");
const SCREENSHOTS = join(PROJECT_ROOT, "out", "jupyter");
const TIMEOUT_MS = 1000 * Number(Deno.env.get("NN_JUPYTER_TIMEOUT_S") ?? 600);

/** Page results by notebook name, for the nbconvert comparison. */
const pageResults = new Map<string, PageReport>();

const outputCount = (r: { cells: Array<{ outputs: unknown[] }> }) =>
  r.cells.reduce((n, c) => n + c.outputs.length, 0);

function describe(report: PageReport): string {
  return report.cells.map((c) =>
    `  [${c.count ?? " "}] ${c.id}: ` +
    (c.outputs.map((o) => `${o.type}(${o.text.split("\n")[0].slice(0, 60)})`).join(", ") || "-")
  ).join("\n");
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

/** The checks every notebook must pass in the page. */
function assertHealthy(name: string, report: PageReport, pageErrors: string[]): void {
  const context = `${name}:\n${describe(report)}`;
  assert.deepEqual(report.errors, [], `${name}: error outputs\n${context}`);
  assert.ok(report.cells.length > 0, `${name}: no code cells`);
  for (const cell of report.cells) {
    assert.equal(typeof cell.count, "number", `${name}: cell ${cell.id} did not run\n${context}`);
  }
  assert.deepEqual(report.mismatched, [], `${name}: output elements do not match outputs`);
  const broken = report.charts.filter((c) => !c.rendered)
    .map((c) => `${c.cell}#${c.output} "${c.title}": ${c.reason}`);
  assert.deepEqual(broken, [], `${name}: charts not rendered as Plotly charts`);
  for (const p of report.progress) {
    assert.match(p.finalText, /done:/, `${name}: training display in ${p.cell} did not finish`);
  }
  for (const c of report.claims) {
    assert.ok(c.rendered, `${name}: claim ${c.id} in ${c.cell} not rendered`);
  }
  assert.deepEqual(pageErrors, [], `${name}: uncaught errors in the page`);
}

Deno.test({
  name: `classic Notebook ${tools.notebookVersion ?? ""} in Chromium runs every notebook`,
  ignore: !tools.ok,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const ws = await createWorkspace();
    const markers = [ws.temp, ws.root];
    let left: string[] = [];
    let server: NotebookServer | undefined;
    let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    try {
      const good = await copyNotebook(ws, GOOD, "fixtures");
      const bad = await copyNotebook(ws, BROKEN, "fixtures");
      const copies: Array<[string, string]> = [];
      for (const nb of notebooks) {
        copies.push([basename(nb), await copyNotebook(ws, nb, "notebooks")]);
      }
      await Deno.mkdir(SCREENSHOTS, { recursive: true });

      server = await startNotebookServer(ws);
      const specs = await (await server.api("/api/kernelspecs")).json();
      const spec = specs.kernelspecs?.[KERNEL_NAME]?.spec;
      assert.ok(spec, `the server does not list the ${KERNEL_NAME} kernelspec`);
      assert.deepEqual(spec.argv, [
        Deno.execPath(),
        "jupyter",
        "--kernel",
        "--conn",
        "{connection_file}",
      ]);
      assert.equal(spec.env?.NO_COLOR, "1");

      browser = await chromium.launchPersistentContext(ws.profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1200, height: 900 },
        args: CHROMIUM_ARGS,
      });

      const run = async (rel: string) => {
        const page = await browser!.newPage();
        const pageErrors: string[] = [];
        page.on("pageerror", (e) => pageErrors.push(e.message));
        const logStart = server!.log().length;
        const t0 = performance.now();
        try {
          const stats = await runNotebookInPage(page, server!, rel, { timeoutMs: TIMEOUT_MS });
          const report = await inspectNotebookPage(page);
          const name = basename(rel, ".ipynb");
          const t1 = performance.now();
          await screenshot(page, join(SCREENSHOTS, `${name}.png`));
          const shotSeconds = (performance.now() - t1) / 1000;
          // The notebook's kernel: this project's, then shut it down before the next one.
          const sessions = await (await server!.api("/api/sessions")).json() as Array<
            { id: string; path: string; kernel: { name: string } }
          >;
          const session = sessions.find((s) => s.path === rel);
          assert.equal(session?.kernel.name, KERNEL_NAME, `${rel} ran on ${session?.kernel.name}`);
          await (await server!.api(`/api/sessions/${session!.id}`, { method: "DELETE" })).body
            ?.cancel();
          const total = (performance.now() - t0) / 1000;
          console.log(
            `${rel}: cells ran in ${stats.seconds.toFixed(1)} s (step ${total.toFixed(1)} s, ` +
              `screenshot ${shotSeconds.toFixed(1)} s), ${outputCount(report)} outputs, ` +
              `${report.charts.length} charts, ${report.progress.length} training displays ` +
              `(${stats.updates} updates in place), ${report.claims.length} claims ` +
              `(${report.claims.filter((c) => c.pass).length} pass)`,
          );
          assert.deepEqual(stats.kernelEvents, [], `${rel}: the kernel died or restarted`);
          if (stats.stalled) {
            const bad = /ValueError: Invalid Signature[^\n]*/.exec(server!.log().slice(logStart));
            assert.fail(
              `${rel}: the page stopped receiving the kernel's iopub messages (${stats.stalled})` +
                (bad
                  ? `. The server rejected a kernel message (${bad[0]}): the Deno kernel ` +
                    "corrupted a large iopub message and the server's channel to the page died."
                  : ""),
            );
          }
          return { stats, report, pageErrors };
        } finally {
          await page.close();
        }
      };

      await t.step("fixture: chart, live training display, claims", async () => {
        let { stats, report, pageErrors } = await run(good);
        const trainingCell = (r: PageReport) =>
          r.cells.find((c) => c.outputs.some((o) => o.text.includes("XOR")));
        const shown = (r: PageReport) =>
          trainingCell(r)?.outputs.filter((o) => o.type === "display_data") ?? [];
        const named = (r: PageReport) =>
          shown(r).map((o) => JSON.stringify(o.text.split("\n")[0].slice(0, 80))).join(", ");
        // What the kernel sent: the training display once, every later state an update of
        // it. This is the library's contract, checked on every run.
        const sentOnce = (s: RunStats) => {
          const sent = s.displays.filter((d) => d.includes("XOR quadrants:"));
          assert.equal(sent.length, 1, `the page received: ${s.displays.join(" | ")}`);
        };
        sentOnce(stats);
        // Seen twice in many runs (once in this page, once in JupyterLab on CI): the training
        // cell showed two displays. The cause is the kernel's: Deno 2.9.6 stamps each output
        // with the request that is current when its iopub drainer sends it, so with "Run
        // All" queueing every request, a cell's last output (here the chart cell's) can be
        // filed under the next cell (measured with jupyter_client: README, "Tests"). Every
        // display the page received is logged with the cell it was filed under, and the
        // fixture runs once more in a fresh page, which must be clean.
        if (shown(report).length > 1) {
          console.log(
            `the training cell showed ${shown(report).length} displays (${named(report)}); ` +
              `display_data received: ${stats.displays.join(" | ")}. Running the fixture again.`,
          );
          ({ stats, report, pageErrors } = await run(good));
          sentOnce(stats);
        }
        pageResults.set(basename(good), report);
        assertHealthy(good, report, pageErrors);
        assert.deepEqual(stats.unsolicited, [], "outputs dropped by the front end");
        assert.ok(trainingCell(report), "the training cell shows its display");
        assert.equal(
          shown(report).length,
          1,
          `one training display, updated in place; the cell shows: ${named(report)}`,
        );
        assert.equal(report.progress.length, 1);
        assert.match(report.progress[0].finalText, /100% · done: 6 epochs/);
        assert.ok(report.progress[0].chartRendered, "the live chart is drawn");
        const epochs = new Set(stats.updateTexts.map((s) => /epoch (\d+)\/6/.exec(s)?.[1]));
        epochs.delete(undefined);
        assert.ok(epochs.size >= 5, `updates of epochs ${[...epochs]} seen in the page`);
        assert.equal(report.charts.length, 2, "the line chart and the live chart");
        assert.deepEqual(report.claims.map((c) => [c.id, c.pass, c.rendered]), [
          ["loss-falls", true, true],
          ["epochs-run", true, true],
        ]);
      });

      await t.step("fixture: a broken chart is reported as not rendered", async () => {
        const { report } = await run(bad);
        assert.deepEqual(report.errors, [], "the broken chart is an output, not an error");
        assert.deepEqual(
          report.charts.map((c) => [c.title, c.rendered]),
          [['Chart "A good chart": 1 trace (bar "n")', true], [
            "Broken chart: invalid figure",
            false,
          ]],
        );
        assert.match(report.charts[1].reason!, /invalid figure/);
        // The checker that fails it is the one every notebook goes through.
        assert.throws(() => assertHealthy(bad, report, []), /charts not rendered/);
      });

      for (const [name, rel] of copies) {
        await t.step(`notebooks/${name}`, async () => {
          const { stats, report, pageErrors } = await run(rel);
          pageResults.set(name, report);
          assertHealthy(name, report, pageErrors);
          assert.deepEqual(stats.unsolicited, [], `${name}: outputs dropped by the front end`);
          assert.ok(report.charts.length > 0, `${name}: shows charts`);
          assert.ok(report.claims.length > 0, `${name}: states claims`);
        });
      }
    } catch (error) {
      if (server) console.error(`jupyter notebook log:\n${server.log().slice(-4000)}`);
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

Deno.test({
  name: "jupyter nbconvert --execute runs notebooks on the project's kernelspec",
  ignore: !tools.ok || !tools.nbconvert,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const ws = await createWorkspace();
    let left: string[] = [];
    try {
      // The fixture and every notebook the page test ran (NN_JUPYTER_ONLY limits both;
      // NN_NBCONVERT_ONLY limits the notebooks here)
      const sources = [
        GOOD,
        ...notebooks.filter((nb) => !nbconvertOnly || nbconvertOnly.test(basename(nb))),
      ];
      for (const source of sources) {
        const name = basename(source);
        await t.step(name, async () => {
          const rel = await copyNotebook(ws, source, "nbconvert-in");
          const result = await nbconvertExecute(ws, rel, { timeoutS: TIMEOUT_MS / 1000 });
          assert.equal(result.code, 0, `nbconvert failed on ${name}:\n${result.log}`);
          const cells = result.notebook!.cells.filter((c) => c.cell_type === "code");
          const outputs = cells.flatMap((c) => (c.outputs ?? []) as Array<Record<string, unknown>>);
          const errors = outputs.filter((o) => o.output_type === "error");
          assert.deepEqual(errors, [], `${name}: error outputs under nbconvert`);
          const inPage = pageResults.get(name);
          console.log(
            `nbconvert ${name}: ${result.seconds.toFixed(1)} s, ${outputs.length} outputs` +
              (inPage ? ` (classic Notebook page: ${outputCount(inPage)})` : ""),
          );
        });
      }
    } finally {
      left = await sweep([ws.temp, ws.root]);
      await ws.cleanup();
    }
    assert.deepEqual(left, [], "processes left behind");
  },
});
