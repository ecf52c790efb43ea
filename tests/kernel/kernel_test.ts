/**
 * The executor against the real `deno jupyter --kernel`: one kernel process serves every
 * step (each step runs a small notebook on it).
 */
import assert from "node:assert/strict";
import { executeNotebook, type ExecutionResult } from "../../kernel/executor.ts";
import { BUILT_IN_KERNELS } from "../../kernel/kernel_lookup.ts";
import { KernelManager } from "../../kernel/kernel_manager.ts";
import { type Notebook, writeNotebook } from "../../kernel/notebook.ts";
import {
  FIXTURES,
  mimeText,
  nbformatAvailable,
  nbformatErrors,
  notebookOf,
  streamText,
} from "./helpers.ts";

Deno.test("the executor collects every kind of output from the real Deno kernel", async (t) => {
  const kernel = await KernelManager.start({
    spec: { ...BUILT_IN_KERNELS["neural-notebooks"], source: "built-in" },
    cwd: FIXTURES,
  });
  const executed: Notebook[] = [];
  const run = async (
    sources: Parameters<typeof notebookOf>[0],
    allowErrors = false,
  ): Promise<[Notebook, ExecutionResult]> => {
    const nb = notebookOf(sources);
    const result = await executeNotebook(nb, kernel, { allowErrors, timeoutMs: 60_000 });
    executed.push(nb);
    return [nb, result];
  };
  try {
    assert.equal(kernel.info.implementation, "Deno kernel");

    await t.step("stdout and stderr, in order, with the result and timing", async () => {
      const [nb, result] = await run([
        'console.log("out 1"); console.error("err 1"); console.log("out 2"); 40 + 2',
      ]);
      assert.equal(result.status, "ok");
      const outputs = nb.cells[0].outputs!;
      assert.deepEqual(
        outputs.map((o) => [o.output_type, o.name ?? "", o.text ?? mimeText(o, "text/plain")]),
        [
          ["stream", "stdout", "out 1\n"],
          ["stream", "stderr", "err 1\n"],
          ["stream", "stdout", "out 2\n"],
          ["execute_result", "", "42"],
        ],
      );
      assert.equal(outputs[3].execution_count, nb.cells[0].execution_count);
      assert.ok(typeof nb.cells[0].execution_count === "number");
      const timing = nb.cells[0].metadata.execution as Record<string, string>;
      for (
        const key of [
          "iopub.status.busy",
          "iopub.execute_input",
          "shell.execute_reply",
          "iopub.status.idle",
        ]
      ) {
        assert.ok(!Number.isNaN(Date.parse(timing[key])), `${key} is a timestamp`);
      }
    });

    await t.step("rich displays: a displayable result and a display call", async () => {
      const [nb] = await run([
        '({ [Symbol.for("Jupyter.display")]() { return { "text/html": "<b>rich</b>", "text/plain": "rich" }; } })',
        'await Deno.jupyter.display({ "text/markdown": "**md**", "text/plain": "md" }, { raw: true }); "done"',
      ]);
      const [result] = nb.cells[0].outputs!;
      assert.equal(result.output_type, "execute_result");
      assert.equal(mimeText(result, "text/html"), "<b>rich</b>");
      const [shown, value] = nb.cells[1].outputs!;
      assert.equal(shown.output_type, "display_data");
      assert.equal(mimeText(shown, "text/markdown"), "**md**");
      assert.equal(mimeText(value, "text/plain"), '"done"');
    });

    await t.step("the library's displays appear at once, wherever they are called", async () => {
      const [nb] = await run([
        'import * as nn from "nn";\n' +
        'for (const n of [1, 2]) nn.show(nn.lineChart({ title: `loop ${n}`, series: [{ name: "a", y: [n] }] }));\n' +
        'console.log("between");\n' +
        'nn.claim("inside", 1, { equals: 1 });\n' +
        'nn.publish({ "text/plain": "published" });\n' +
        "const after = 1;",
        'nn.show(nn.barChart({ title: "last", categories: ["x"], series: [{ name: "n", y: [1] }] }))',
        'nn.claim("last", 2, { atLeast: 1 })',
      ]);
      const kinds = (i: number) =>
        nb.cells[i].outputs!.map((o) =>
          o.output_type === "stream"
            ? "stream"
            : Object.keys(o.data ?? {}).find((k) => k.includes("vnd.")) ?? mimeText(o, "text/plain")
        );
      assert.deepEqual(kinds(0).filter((k) => k !== "stream" && !k.startsWith("plotly.js")), [
        "application/vnd.plotly.v1+json",
        "application/vnd.plotly.v1+json",
        "application/vnd.neural-notebooks.claim+json",
        "published",
      ]);
      for (const i of [1, 2]) {
        assert.equal(
          nb.cells[i].outputs!.length,
          1,
          `cell ${i}: one output, nothing printed after`,
        );
        assert.equal(nb.cells[i].outputs![0].output_type, "display_data");
      }
    });

    await t.step("a display updated in place from a later cell, via the library", async () => {
      const [nb] = await run([
        'import { display, updateDisplay } from "nn/display.ts";\n' +
        'await display({ "text/plain": "epoch 0" }, { displayId: "progress" });',
        'for (let i = 1; i <= 5; i++) await updateDisplay({ "text/plain": `epoch ${i}` }, "progress");',
        'await display({ "text/plain": "epoch 6" }, { displayId: "progress" }); "second"',
        'await display({ "text/plain": "other" }, { displayId: "other" });',
      ]);
      assert.equal(nb.cells[0].outputs!.length, 1);
      assert.equal(mimeText(nb.cells[0].outputs![0], "text/plain"), "epoch 6");
      assert.deepEqual(nb.cells[1].outputs, [], "an update adds no output of its own");
      assert.equal(mimeText(nb.cells[2].outputs![0], "text/plain"), "epoch 6");
      assert.equal(mimeText(nb.cells[3].outputs![0], "text/plain"), "other");
      assert.ok(!JSON.stringify(nb).includes("transient"), "display ids are not written");
    });

    await t.step("clear_output, immediate and with wait", async () => {
      const [nb] = await run([
        'console.log("gone"); await Deno.jupyter.broadcast("clear_output", { wait: false }); console.log("kept");',
        'console.log("old"); await Deno.jupyter.broadcast("clear_output", { wait: true }); console.log("new");',
      ]);
      assert.equal(streamText(nb.cells[0].outputs, "stdout"), "kept\n");
      assert.equal(streamText(nb.cells[1].outputs, "stdout"), "new\n");
    });

    await t.step("a thrown Error stops the run; raises-exception lets it continue", async () => {
      const [nb, result] = await run([
        { source: 'throw new Error("expected")', tags: ["raises-exception"] },
        'throw new Error("boom")',
        'console.log("not reached")',
      ]);
      assert.equal(nb.cells[0].outputs![0].ename, "Error");
      assert.equal(nb.cells[1].outputs![0].evalue, "boom");
      assert.ok(nb.cells[1].outputs![0].traceback!.length > 0);
      assert.deepEqual(nb.cells[2].outputs, []);
      assert.equal(nb.cells[2].execution_count, null);
      assert.equal(result.status, "error");
      assert.deepEqual(result.failure, { index: 1, id: "cell-2", ename: "Error", evalue: "boom" });
      assert.deepEqual(result.cells.map((c) => c.status), ["error", "error", "not run"]);
    });

    await t.step("a thrown string and rejected promises become error outputs", async () => {
      const [nb, result] = await run([
        'throw "plain string"',
        'await Promise.reject(new Error("rejected"))',
        'Promise.reject(new Error("unawaited")); "still alive"',
      ], true);
      assert.equal(nb.cells[0].outputs![0].output_type, "error");
      assert.match(nb.cells[0].outputs![0].evalue!, /plain string/);
      assert.equal(nb.cells[1].outputs![0].evalue, "rejected");
      assert.equal(mimeText(nb.cells[2].outputs!.at(-1), "text/plain"), '"still alive"');
      assert.deepEqual(result.cells.map((c) => c.status), ["error", "error", "ok"]);
    });

    await t.step("an error reply without an error output is turned into one", async () => {
      const [nb, result] = await run(["let = ;"], true);
      const [error] = nb.cells[0].outputs!;
      assert.equal(error.output_type, "error");
      assert.ok(error.ename && error.evalue, "ename and evalue come from the reply");
      assert.match(error.traceback!.join("\n"), /without an error output/);
      assert.equal(result.status, "error");
    });

    // A garbled message (seen in earlier suite runs with the Deno 2.9.6 kernel under load:
    // single iopub messages of several MB failing their HMAC check; not reproduced in 20
    // isolated runs) must not vanish: the cell then carries a CorruptMessageError saying
    // what was lost (tests/kernel/corrupt_message_test.ts drives that path directly).
    await t.step("5 MB outputs arrive whole, or the loss is an error output", async () => {
      const size = 5_000_000;
      const [nb] = await run([
        `console.log("x".repeat(${size}));`,
        `await Deno.jupyter.broadcast("display_data", { data: { "text/plain": "y".repeat(${size}) }, metadata: {}, transient: {} });`,
      ], true);
      const lost = (i: number) =>
        nb.cells[i].outputs!.some((o) =>
          o.output_type === "error" && o.ename === "CorruptMessageError"
        );
      if (!lost(0)) {
        assert.equal(streamText(nb.cells[0].outputs, "stdout"), "x".repeat(size) + "\n");
      }
      if (!lost(1)) {
        assert.equal(nb.cells[1].outputs!.length, 1);
        assert.equal(mimeText(nb.cells[1].outputs![0], "text/plain").length, size);
      }
    });

    await t.step("500 rapid prints are all kept, in order, merged into one stream", async () => {
      const [nb] = await run(['for (let i = 0; i < 500; i++) console.log("line " + i);']);
      const expected = Array.from({ length: 500 }, (_, i) => `line ${i}\n`).join("");
      assert.equal(nb.cells[0].outputs!.length, 1);
      assert.equal(streamText(nb.cells[0].outputs, "stdout"), expected);
    });

    await t.step("execution counts increase cell by cell", () => {
      const counts = executed.flatMap((nb) => nb.cells.map((c) => c.execution_count))
        .filter((c): c is number => typeof c === "number");
      assert.ok(counts.length > 10);
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i] > counts[i - 1]);
    });

    await t.step({
      name: "executed notebooks validate with nbformat",
      ignore: !nbformatAvailable,
      fn: async () => {
        const dir = await Deno.makeTempDir();
        try {
          const paths = executed.map((_, i) => `${dir}/step-${i}.ipynb`);
          for (const [i, nb] of executed.entries()) await writeNotebook(paths[i], nb);
          assert.equal(await nbformatErrors(...paths), "");
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    });
  } finally {
    await kernel.shutdown();
  }
});

function processExists(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("a timed-out cell restarts the kernel, the run goes on, no process is left", async () => {
  const kernel = await KernelManager.start({
    spec: { ...BUILT_IN_KERNELS["neural-notebooks"], source: "built-in" },
    cwd: FIXTURES,
  });
  const first = kernel.pid;
  let second = 0;
  try {
    const nb = notebookOf([
      "let state = 1;",
      "while (true) {}",
      'console.log(typeof state === "undefined" ? "fresh kernel" : "old kernel");',
    ]);
    const result = await executeNotebook(nb, kernel, { timeoutMs: 1_500, allowErrors: true });
    second = kernel.pid;
    assert.equal(result.status, "timeout");
    assert.equal(result.restarts, 1);
    assert.deepEqual(result.cells.map((c) => c.status), ["ok", "timeout", "ok"]);
    assert.equal(nb.cells[1].outputs![0].ename, "CellTimeoutError");
    assert.equal(streamText(nb.cells[2].outputs, "stdout"), "fresh kernel\n");
    assert.notEqual(second, first);
    assert.equal(processExists(first), false, "the stuck kernel was killed");
  } finally {
    await kernel.shutdown();
  }
  assert.equal(processExists(second), false, "shutdown leaves no kernel process");
});

Deno.test("a kernel that stops answering heartbeats is reported dead with its cell", async () => {
  const kernel = await KernelManager.start({
    spec: { ...BUILT_IN_KERNELS["neural-notebooks"], source: "built-in" },
    cwd: FIXTURES,
    heartbeatTimeoutMs: 2_000,
    heartbeatIntervalMs: 250,
  });
  const pid = kernel.pid;
  try {
    const nb = notebookOf([
      'console.log("frozen next");',
      "await new Promise((r) => setTimeout(r, 60_000));",
    ]);
    const running = executeNotebook(nb, kernel, { timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    Deno.kill(pid, "SIGSTOP"); // the process lives on but answers nothing
    const result = await running;
    assert.equal(result.status, "kernel died");
    assert.equal(result.failure?.index, 1);
    assert.equal(kernel.death?.reason, "heartbeat");
    assert.match(nb.cells[1].outputs!.at(-1)!.evalue!, /stopped answering heartbeats/);
    assert.equal(streamText(nb.cells[0].outputs, "stdout"), "frozen next\n");
  } finally {
    await kernel.shutdown();
  }
  assert.equal(processExists(pid), false, "the frozen kernel was killed");
});
