/**
 * A reader changes an experiment in a running notebook: in Debian's classic Notebook 6.4
 * inside headless Chromium, notebooks/05_cnn_text_models.ipynb (smoke profile) runs all
 * its cells; then the model cell of section 2 is edited (widths {3, 4, 5} → {2, 3}, 8
 * filters per width) and re-run with Shift+Enter together with the cells that use its
 * result — training, evaluation, confusion matrix — on the same kernel, without a
 * restart. The test checks that the new model is what the outputs show: the parameter
 * count printed by the model cell and by the evaluation equals the formula for the new
 * shape (and differs from the old one), the live training display and the curves chart
 * carry the new name and were drawn, the earlier cells kept their execution counts and
 * the kernel neither died nor restarted. Screenshots of the edited cell and of the
 * evaluation's new output go to out/jupyter/.
 *
 * Needs `jupyter notebook` 6.x and /usr/bin/chromium; skips with the reason without them.
 * Timeout of the run-all: `NN_JUPYTER_TIMEOUT_S` (default 600).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { cnnTextParameters } from "../../lib/models/cnn_text.ts";
import { cnnTextProfile } from "../../lib/experiments/cnn_text.ts";
import {
  checkTools,
  CHROMIUM,
  CHROMIUM_ARGS,
  copyNotebook,
  createWorkspace,
  inspectNotebookPage,
  type NotebookServer,
  type PageReport,
  processesMatching,
  PROJECT_ROOT,
  runNotebookInPage,
  startNotebookServer,
  waitUntilQuiet,
} from "./helpers.ts";

const tools = await checkTools();
if (!tools.ok) console.log(`Jupyter edit-and-re-run test skipped: ${tools.reason}`);

const NOTEBOOK = join(PROJECT_ROOT, "notebooks", "05_cnn_text_models.ipynb");
const SCREENSHOTS = join(PROJECT_ROOT, "out", "jupyter");
const { embeddingDim, filters } = cnnTextProfile("smoke");
const TIMEOUT_MS = 1000 * Number(Deno.env.get("NN_JUPYTER_TIMEOUT_S") ?? 600);

/** The edit a reader makes in the model cell: other widths, fewer filters. */
const EDITS: Array<[string, string]> = [
  ["kernelSizes: [3, 4, 5]", "kernelSizes: [2, 3]"],
  ["filters: cfg.filters", "filters: 8"],
];

const text = (cell: PageReport["cells"][number]) => cell.outputs.map((o) => o.text).join("\n");

/** Index among all cells (markdown included) of the code cell whose source matches. */
function cellIndex(page: Page, pattern: string): Promise<number> {
  return page.evaluate((p) => {
    // deno-lint-ignore no-explicit-any
    const cells = (globalThis as any).Jupyter.notebook.get_cells() as any[];
    return cells.findIndex((c) => c.cell_type === "code" && c.get_text().includes(p));
  }, pattern);
}

/** The code cell of the report at notebook index `index` (the report lists code cells). */
async function reportCell(page: Page, report: PageReport, index: number) {
  const codeIndex = await page.evaluate((i) => {
    // deno-lint-ignore no-explicit-any
    const cells = (globalThis as any).Jupyter.notebook.get_cells() as any[];
    return cells.slice(0, i).filter((c) => c.cell_type === "code").length;
  }, index);
  return report.cells[codeIndex];
}

/**
 * Re-reads the page until `ready` holds or `ms` pass: the Deno kernel may send a cell's last
 * lines after it reports the cell done, so a quiet page can still be missing a few of them.
 */
async function inspectUntil(
  page: Page,
  ready: (report: PageReport) => Promise<boolean>,
  ms = 60_000,
): Promise<PageReport> {
  const deadline = Date.now() + ms;
  let report = await inspectNotebookPage(page);
  while (!(await ready(report)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    report = await inspectNotebookPage(page);
  }
  return report;
}

Deno.test({
  name:
    "classic Notebook: edit the model cell of 05, re-run it and its dependants, see the new model",
  ignore: !tools.ok,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const ws = await createWorkspace();
    let server: NotebookServer | undefined;
    let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    let left: Array<{ pid: number; cmd: string }> = [];
    try {
      const rel = await copyNotebook(ws, NOTEBOOK, "notebooks");
      await Deno.mkdir(SCREENSHOTS, { recursive: true });
      server = await startNotebookServer(ws);
      browser = await chromium.launchPersistentContext(ws.profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1200, height: 900 },
        args: CHROMIUM_ARGS,
      });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));

      // 1. Run all, as a reader opening the notebook does.
      const first = await runNotebookInPage(page, server, rel, { timeoutMs: TIMEOUT_MS });
      assert.deepEqual(first.kernelEvents, [], "the kernel died or restarted during run-all");
      const modelAt = await cellIndex(page, "const model = nn.cnnTextClassifier(");
      const before = await inspectUntil(
        page,
        async (r) => /: \d+ parameters/.test(text(await reportCell(page, r, modelAt))),
      );
      assert.deepEqual(before.errors, [], "run-all: error outputs");
      const sessions = async () =>
        (await (await server!.api("/api/sessions")).json() as Array<
          { path: string; kernel: { id: string } }
        >).find((s) => s.path === rel)?.kernel.id;
      const kernelId = await sessions();
      assert.ok(kernelId, "the notebook has a kernel");

      const trainAt = await cellIndex(page, "await nn.train(model,");
      const evaluateAt = await cellIndex(page, "await predictLabels(model, data.xTest)");
      const confusionAt = await cellIndex(page, "ex.confusionMatrix(cnn.predictions");
      assert.ok(modelAt > 0, "a cell builds the model");
      assert.deepEqual(
        [trainAt, evaluateAt, confusionAt],
        [modelAt + 1, modelAt + 2, modelAt + 3],
        "training, evaluation and confusion matrix follow the model cell",
      );
      const vocabSize = Number(
        /; vocabulary (\d+);/.exec(before.cells.map(text).join("\n"))?.[1],
      );
      assert.ok(vocabSize > 0, "the data cell prints the vocabulary size");
      const oldModel = await reportCell(page, before, modelAt);
      const oldParams = Number(/: (\d+) parameters/.exec(text(oldModel))?.[1]);
      assert.equal(
        oldParams,
        cnnTextParameters({ vocabSize, embeddingDim, filters, kernelSizes: [3, 4, 5], outputs: 2 }),
        `the model cell prints the smoke model's parameters:\n${text(oldModel)}`,
      );
      const setupCount = before.cells[0].count;

      // 2. Edit the model cell, then Shift+Enter through it and the three cells after it.
      const source = await page.evaluate((i) => {
        // deno-lint-ignore no-explicit-any
        return (globalThis as any).Jupyter.notebook.get_cell(i).get_text() as string;
      }, modelAt);
      let edited = source;
      for (const [from, to] of EDITS) {
        assert.ok(edited.includes(from), `the model cell says \`${from}\``);
        edited = edited.replace(from, to);
      }
      await page.evaluate(([i, t]) => {
        // deno-lint-ignore no-explicit-any
        const nb = (globalThis as any).Jupyter.notebook;
        nb.get_cell(i).set_text(t);
        nb.select(i);
        nb.command_mode();
        nb.focus_cell();
      }, [modelAt, edited] as const);
      for (let i = 0; i < 4; i++) await page.keyboard.press("Shift+Enter");
      const second = await waitUntilQuiet(page, rel, { timeoutMs: TIMEOUT_MS });
      // Wait for the evaluation's and the confusion matrix's charts too: on a loaded machine
      // they are drawn seconds after the text (the test failed 2 of 5 runs at load 20-30).
      const drawn = async (r: PageReport, at: number) => {
        const id = (await reportCell(page, r, at)).id;
        return r.charts.some((c) => c.cell === id && c.rendered);
      };
      const after = await inspectUntil(
        page,
        async (r) =>
          /CNN \{2,3\}: test accuracy .*parameters/.test(
            text(await reportCell(page, r, evaluateAt)),
          ) && /CNN \{2,3\}, 8 filters per width.*: \d+ parameters/.test(
            text(await reportCell(page, r, modelAt)),
          ) && await drawn(r, evaluateAt) && await drawn(r, confusionAt),
      );

      // 3. The same kernel, the earlier cells untouched, the re-run cells ran again.
      assert.deepEqual(second.kernelEvents, [], "the kernel died or restarted");
      assert.equal(await sessions(), kernelId, "the same kernel");
      assert.deepEqual(after.errors, [], "error outputs after the edit");
      assert.deepEqual(pageErrors, [], "uncaught errors in the page");
      assert.equal(after.cells[0].count, setupCount, "earlier cells were not re-run");
      const lastCount = Math.max(...before.cells.map((c) => c.count ?? 0));
      const rerun = await Promise.all(
        [modelAt, trainAt, evaluateAt, confusionAt].map((i) => reportCell(page, after, i)),
      );
      assert.deepEqual(
        rerun.map((c) => c.count),
        [lastCount + 1, lastCount + 2, lastCount + 3, lastCount + 4],
        "the four cells ran again, in order",
      );

      // 4. The outputs show the new model.
      const newParams = cnnTextParameters({
        vocabSize,
        embeddingDim,
        filters: 8,
        kernelSizes: [2, 3],
        outputs: 2,
      });
      assert.notEqual(newParams, oldParams);
      const [model, train, evaluate, confusion] = rerun;
      assert.match(text(model), new RegExp(`CNN \\{2,3\\}, 8 filters per width.*: ${newParams}`));
      assert.match(text(model), /conv_max_w2/, "the summary lists the width-2 branch");
      assert.doesNotMatch(text(model), /conv_max_w4/, "and no width-4 branch");
      const display = after.progress.filter((p) => p.cell === train.id);
      assert.equal(display.length, 1, "one live training display in the training cell");
      assert.match(display[0].finalText, /done:/);
      assert.ok(display[0].chartRendered, "its chart is drawn");
      assert.match(text(train), /^CNN \{2,3\}: 100% · done:/m);
      assert.match(
        text(evaluate),
        new RegExp(`CNN \\{2,3\\}: test accuracy .*, ${newParams} parameters`),
      );
      const curves = after.charts.filter((c) => c.cell === evaluate.id);
      assert.equal(curves.length, 1, "the evaluation shows the curves");
      assert.match(curves[0].title, /CNN \{2,3\}: loss and accuracy per epoch/);
      assert.ok(curves[0].rendered, `the curves are drawn: ${curves[0].reason ?? ""}`);
      const heat = after.charts.filter((c) => c.cell === confusion.id);
      assert.ok(heat.length === 1 && heat[0].rendered, "the confusion matrix is redrawn");
      const accuracy = /CNN \{2,3\}: test accuracy ([\d.]+)/.exec(text(evaluate))![1];
      assert.match(heat[0].title, new RegExp(`accuracy ${accuracy.replace(".", "\\.")}`));

      // 5. Screenshots of the edited cell and of the new result.
      const cellAt = (i: number) => page.locator("#notebook-container > .cell").nth(i);
      await cellAt(modelAt).screenshot({
        path: join(SCREENSHOTS, "05_cnn_text_models-edited-model.png"),
      });
      await cellAt(evaluateAt).screenshot({
        path: join(SCREENSHOTS, "05_cnn_text_models-edited-result.png"),
      });
      console.log(
        `run-all ${first.seconds.toFixed(1)} s; after the edit: ${oldParams} → ${newParams} ` +
          `parameters, test accuracy ${accuracy}, re-run ${second.seconds.toFixed(1)} s`,
      );
    } catch (error) {
      if (server) console.error(`jupyter notebook log:\n${server.log().slice(-4000)}`);
      throw error;
    } finally {
      await browser?.close();
      await server?.stop();
      left = await processesMatching([ws.temp, ws.root]);
      for (const p of left) {
        try {
          Deno.kill(p.pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await ws.cleanup();
    }
    assert.deepEqual(left.map((p) => `${p.pid} ${p.cmd}`), [], "processes left behind");
  },
});
