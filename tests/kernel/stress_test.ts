/**
 * Stress: tests/fixtures/notebooks/stress.ipynb (many small and large outputs, displays
 * updated in place, displays not awaited, a timer that prints after its cell returned)
 * executed 20 times on the real kernel; every cell must have exactly what it prints, no
 * more, no less. The lateness figures show how much the kernel's late outputs needed the
 * flush barrier and the settle window.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_SETTLE_MS, executeNotebook } from "../../kernel/executor.ts";
import { BUILT_IN_KERNELS } from "../../kernel/kernel_lookup.ts";
import { KernelManager } from "../../kernel/kernel_manager.ts";
import { joinText, type Notebook, readNotebook } from "../../kernel/notebook.ts";
import { FIXTURES, streamText } from "./helpers.ts";

const RUNS = 20;
const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));

/** What each cell of the stress notebook must print (stream text, display texts, result). */
const EXPECTED: Record<
  string,
  { stdout?: string; stderr?: string; displays?: string[]; result?: string }
> = {
  "stress-01": { stdout: range(300, (i) => `small-${i}\n`).join("") },
  "stress-02": {
    stdout: range(40, (i) => `out-${i}\n`).join(""),
    stderr: range(40, (i) => `err-${i}\n`).join(""),
  },
  "stress-03": { stdout: "L".repeat(1_000_000) + "\n" },
  "stress-04": { displays: range(30, (i) => `display-${i}`) },
  "stress-05": { displays: ["big-chart"], stdout: "after-big\n" },
  "stress-06": { displays: ["progress-20"], stdout: "progress done\n" },
  "stress-07": { displays: range(10, (i) => `loose-${i}`), stdout: "loose sent\n" },
  "stress-08": { stdout: "timer fired\n", result: '"timer set"' },
  "stress-09": { result: "rich-result" },
  "stress-10": {
    stdout: range(2000, (i) => `line-${i}`).join("\n") + "\n",
    stderr: "the end\n",
    result: "12345",
  },
};

function short(s: string): string {
  return s.length > 80 ? `${s.slice(0, 40)}…(${s.length} chars)…${s.slice(-30)}` : s;
}

/** Every difference between what the cells hold and what they must hold. */
function problems(nb: Notebook): string[] {
  const found: string[] = [];
  for (const cell of nb.cells.filter((c) => c.cell_type === "code")) {
    const want = EXPECTED[String(cell.id)];
    const outputs = cell.outputs ?? [];
    const texts = (type: string) =>
      outputs.filter((o) => o.output_type === type).map((o) =>
        joinText(o.data?.["text/plain"] as string)
      );
    const got = {
      stdout: streamText(outputs, "stdout"),
      stderr: streamText(outputs, "stderr"),
      displays: JSON.stringify(texts("display_data").sort()),
      results: JSON.stringify(texts("execute_result")),
      errors: JSON.stringify(outputs.filter((o) => o.output_type === "error")),
    };
    const expected = {
      stdout: want.stdout ?? "",
      stderr: want.stderr ?? "",
      displays: JSON.stringify([...want.displays ?? []].sort()),
      results: JSON.stringify(want.result === undefined ? [] : [want.result]),
      errors: "[]",
    };
    for (const key of Object.keys(got) as (keyof typeof got)[]) {
      if (got[key] !== expected[key]) {
        found.push(`${cell.id} ${key}: got ${short(got[key])}, want ${short(expected[key])}`);
      }
    }
  }
  return found;
}

Deno.test(`stress notebook: ${RUNS} executions, zero missing or misplaced outputs`, async () => {
  const kernel = await KernelManager.start({
    spec: { ...BUILT_IN_KERNELS["neural-notebooks"], source: "built-in" },
    cwd: FIXTURES,
  });
  const all: string[] = [];
  const late = { afterDone: 0, maxDelayMs: 0, afterSettle: 0 };
  let outputs = 0;
  try {
    for (let run = 1; run <= RUNS; run++) {
      const nb = await readNotebook(join(FIXTURES, "stress.ipynb"));
      const result = await executeNotebook(nb, kernel, { timeoutMs: 60_000 });
      assert.equal(result.status, "ok", `run ${run}: ${JSON.stringify(result.failure)}`);
      all.push(...problems(nb).map((p) => `run ${run}: ${p}`));
      late.afterDone += result.lateness.afterDone;
      late.afterSettle += result.lateness.afterSettle;
      late.maxDelayMs = Math.max(late.maxDelayMs, result.lateness.maxDelayMs);
      outputs += nb.cells.reduce((n, c) => n + (c.outputs?.length ?? 0), 0);
    }
  } finally {
    await kernel.shutdown();
  }
  console.log(
    `stress: ${RUNS} runs, ${outputs} outputs; ${late.afterDone} output messages came after ` +
      `idle and reply (latest ${late.maxDelayMs} ms after), ${late.afterSettle} after their ` +
      `cell had settled (settle window ${DEFAULT_SETTLE_MS} ms after the flush barrier)`,
  );
  assert.deepEqual(all, []);
});
