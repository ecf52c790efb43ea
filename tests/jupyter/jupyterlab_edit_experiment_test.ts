/**
 * A reader changes an experiment in a running notebook, in JupyterLab 4 (the Lab of
 * `lab_build.ts`, without a Plotly renderer, as `pip install jupyterlab` gives it) inside
 * headless Chromium: the test of `edit_experiment_test.ts` (issue 17), in Lab.
 * notebooks/05_cnn_text_models.ipynb (smoke profile) runs all its cells; then the model
 * cell of section 2 is edited in Lab's editor (widths {3, 4, 5} → {2, 3}, 8 filters per
 * width) and run with Shift+Enter together with the three cells that use its result —
 * training, evaluation, confusion matrix — on the same kernel, without a restart. The
 * test checks that the outputs show the new model: the parameter count printed by the
 * model cell and by the evaluation equals the formula for the new shape, the live training
 * display and the curves chart carry the new name and were drawn, the earlier cells kept
 * their execution counts, the kernel neither died nor restarted. Screenshots of the edited
 * cell and of the evaluation's new output go to out/jupyter/lab/.
 *
 * Runs when `NN_JUPYTERLAB=1` (`deno task test:lab`); needs the Lab build, Debian's
 * jupyter-server and jupyterlab-server, and Chromium, and skips with the reason without
 * them. Timeout of the run-all: `NN_JUPYTER_TIMEOUT_S` (default 600).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { cnnTextParameters } from "../../lib/models/cnn_text.ts";
import { cnnTextProfile } from "../../lib/experiments/cnn_text.ts";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  copyNotebook,
  createWorkspace,
  type NotebookServer,
  processesMatching,
  PROJECT_ROOT,
} from "./helpers.ts";
import {
  checkLabTools,
  inspectLabNotebook,
  instrumentNotebook,
  type LabReport,
  openLab,
  openNotebook,
  runAllInLab,
  startLabServer,
  waitUntilLabQuiet,
} from "./lab_helpers.ts";

const enabled = Deno.env.get("NN_JUPYTERLAB") === "1";
const tools = enabled ? await checkLabTools() : undefined;
const skip = !enabled
  ? "set NN_JUPYTERLAB=1 (deno task test:lab or deno task test:jupyter) to run it"
  : tools!.ok
  ? undefined
  : tools!.reason;
if (skip) console.log(`JupyterLab edit-and-re-run test skipped: ${skip}`);

const NOTEBOOK = join(PROJECT_ROOT, "notebooks", "05_cnn_text_models.ipynb");
const SCREENSHOTS = join(PROJECT_ROOT, "out", "jupyter", "lab");
const { embeddingDim, filters } = cnnTextProfile("smoke");
const TIMEOUT_MS = 1000 * Number(Deno.env.get("NN_JUPYTER_TIMEOUT_S") ?? 600);

/** The edit a reader makes in the model cell: other widths, fewer filters. */
const EDITS: Array<[string, string]> = [
  ["kernelSizes: [3, 4, 5]", "kernelSizes: [2, 3]"],
  ["filters: cfg.filters", "filters: 8"],
];

const text = (cell: LabReport["cells"][number]) => cell.outputs.map((o) => o.text).join("\n");

/** Index among all cells (markdown included) of the code cell whose source contains `pattern`. */
function cellIndex(page: Page, path: string, pattern: string): Promise<number> {
  return page.evaluate(([p, pat]) => {
    // deno-lint-ignore no-explicit-any
    const cells = (globalThis as any).__nnPanels[p].content.widgets as any[];
    return cells.findIndex((c) =>
      c.model.type === "code" && c.model.sharedModel.getSource().includes(pat)
    );
  }, [path, pattern] as const);
}

/** The code cell of the report at notebook index `index` (the report lists code cells). */
async function reportCell(page: Page, path: string, report: LabReport, index: number) {
  const codeIndex = await page.evaluate(([p, i]) => {
    // deno-lint-ignore no-explicit-any
    const cells = (globalThis as any).__nnPanels[p].content.widgets as any[];
    return cells.slice(0, i).filter((c) => c.model.type === "code").length;
  }, [path, index] as const);
  return report.cells[codeIndex];
}

/**
 * Re-reads the notebook until `ready` holds or `ms` pass: the Deno kernel may send a
 * cell's last lines after it reports the cell done.
 */
async function inspectUntil(
  page: Page,
  path: string,
  ready: (report: LabReport) => Promise<boolean>,
  ms = 60_000,
): Promise<LabReport> {
  const deadline = Date.now() + ms;
  let report = await inspectLabNotebook(page, path);
  while (!(await ready(report)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    report = await inspectLabNotebook(page, path);
  }
  return report;
}

/** Screenshots one cell (index among all cells), scrolled into view. */
async function cellShot(page: Page, path: string, index: number, file: string): Promise<void> {
  const handle = await page.evaluateHandle(([p, i]) => {
    // deno-lint-ignore no-explicit-any
    return (globalThis as any).__nnPanels[p].content.widgets[i].node;
  }, [path, index] as const);
  await handle.asElement()!.screenshot({ path: file });
  await handle.dispose();
}

Deno.test({
  name: "JupyterLab: edit the model cell of 05, re-run it and its dependants, see the new model",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const ws = await createWorkspace();
    let server: NotebookServer | undefined;
    let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
    let left: Array<{ pid: number; cmd: string }> = [];
    try {
      const rel = await copyNotebook(ws, NOTEBOOK, "notebooks");
      await Deno.mkdir(SCREENSHOTS, { recursive: true });
      server = await startLabServer(ws, { plotly: false, python: tools!.python });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
      });
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      await openLab(page, server);
      await openNotebook(page, rel);

      // 1. Run all, as a reader opening the notebook does.
      const first = await runAllInLab(page, rel, { timeoutMs: TIMEOUT_MS });
      assert.deepEqual(first.kernelEvents, [], "the kernel died or restarted during run-all");
      const modelAt = await cellIndex(page, rel, "const model = nn.cnnTextClassifier(");
      const before = await inspectUntil(
        page,
        rel,
        async (r) => /: \d+ parameters/.test(text(await reportCell(page, rel, r, modelAt))),
      );
      assert.deepEqual(before.errors, [], "run-all: error outputs");
      const kernelId = async () =>
        (await (await server!.api("/api/sessions")).json() as Array<
          { path: string; kernel: { id: string } }
        >).find((s) => s.path === rel)?.kernel.id;
      const kernel = await kernelId();
      assert.ok(kernel, "the notebook has a kernel");

      const trainAt = await cellIndex(page, rel, "await nn.train(model,");
      const evaluateAt = await cellIndex(page, rel, "await predictLabels(model, data.xTest)");
      const confusionAt = await cellIndex(page, rel, "ex.confusionMatrix(cnn.predictions");
      assert.ok(modelAt > 0, "a cell builds the model");
      assert.deepEqual(
        [trainAt, evaluateAt, confusionAt],
        [modelAt + 1, modelAt + 2, modelAt + 3],
        "training, evaluation and confusion matrix follow the model cell",
      );
      const vocabSize = Number(/; vocabulary (\d+);/.exec(before.cells.map(text).join("\n"))?.[1]);
      assert.ok(vocabSize > 0, "the data cell prints the vocabulary size");
      const oldModel = await reportCell(page, rel, before, modelAt);
      const oldParams = Number(/: (\d+) parameters/.exec(text(oldModel))?.[1]);
      assert.equal(
        oldParams,
        cnnTextParameters({ vocabSize, embeddingDim, filters, kernelSizes: [3, 4, 5], outputs: 2 }),
        `the model cell prints the smoke model's parameters:\n${text(oldModel)}`,
      );
      const setupCount = before.cells[0].count;
      const lastCount = Math.max(...before.cells.map((c) => c.count ?? 0));

      // 2. Edit the model cell in Lab's editor, then Shift+Enter through it and the three
      //    cells after it, in command mode as a reader does after editing.
      const source = await page.evaluate(([p, i]) => {
        // deno-lint-ignore no-explicit-any
        const panel = (globalThis as any).__nnPanels[p];
        return panel.content.widgets[i].model.sharedModel.getSource() as string;
      }, [rel, modelAt] as const);
      let edited = source;
      for (const [from, to] of EDITS) {
        assert.ok(edited.includes(from), `the model cell says \`${from}\``);
        edited = edited.replace(from, to);
      }
      await instrumentNotebook(page, rel);
      await page.evaluate(([p, i, t]) => {
        // deno-lint-ignore no-explicit-any
        const w = globalThis as any;
        const panel = w.__nnPanels[p];
        w.jupyterapp.shell.activateById(panel.id);
        panel.content.widgets[i].model.sharedModel.setSource(t);
        panel.content.activeCellIndex = i;
        panel.content.mode = "command";
        panel.content.node.focus();
      }, [rel, modelAt, edited] as const);
      for (let i = 0; i < 4; i++) await page.keyboard.press("Shift+Enter");
      const second = await waitUntilLabQuiet(page, rel, { timeoutMs: TIMEOUT_MS });
      // Ready once the evaluation shows its line and its curves (the chart can come a
      // moment after the line), the confusion matrix is redrawn and every chart is drawn.
      const after = await inspectUntil(
        page,
        rel,
        async (r) => {
          const evaluation = text(await reportCell(page, rel, r, evaluateAt));
          const confusion = await reportCell(page, rel, r, confusionAt);
          return /CNN \{2,3\}: test accuracy .*parameters/.test(evaluation) &&
            /CNN \{2,3\}: loss and accuracy per epoch/.test(evaluation) &&
            confusion.count === lastCount + 4 &&
            /confusion matrix/.test(text(confusion)) &&
            /CNN \{2,3\}, 8 filters per width.*: \d+ parameters/.test(
              text(await reportCell(page, rel, r, modelAt)),
            ) && r.charts.every((c) => c.rendered);
        },
      );

      // 3. The same kernel, the earlier cells untouched, the re-run cells ran again.
      assert.deepEqual(second.kernelEvents, [], "the kernel died or restarted");
      assert.deepEqual(first.unsolicited, [], "outputs of the run-all dropped by Lab");
      assert.deepEqual(second.unsolicited, [], "outputs of the re-run dropped by Lab");
      assert.equal(await kernelId(), kernel, "the same kernel");
      assert.deepEqual(after.errors, [], "error outputs after the edit");
      assert.deepEqual(pageErrors, [], "uncaught errors in the page");
      assert.equal(after.cells[0].count, setupCount, "earlier cells were not re-run");
      const rerun = await Promise.all(
        [modelAt, trainAt, evaluateAt, confusionAt].map((i) => reportCell(page, rel, after, i)),
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
      await cellShot(page, rel, modelAt, join(SCREENSHOTS, "05_cnn_text_models-edited-model.png"));
      await cellShot(
        page,
        rel,
        evaluateAt,
        join(SCREENSHOTS, "05_cnn_text_models-edited-result.png"),
      );
      console.log(
        `run-all ${first.seconds.toFixed(1)} s; after the edit: ${oldParams} → ${newParams} ` +
          `parameters, test accuracy ${accuracy}, re-run ${second.seconds.toFixed(1)} s`,
      );
    } catch (error) {
      if (server) console.error(`JupyterLab server log:\n${server.log().slice(-4000)}`);
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
