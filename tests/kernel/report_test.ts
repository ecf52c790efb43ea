import assert from "node:assert/strict";
import {
  BACKEND_MIME,
  CLAIM_MIME,
  extractBackend,
  extractClaims,
  mergeReports,
  type NotebookReport,
  renderMarkdown,
  type RunReport,
  summarize,
} from "../../kernel/report.ts";
import type { Notebook } from "../../kernel/notebook.ts";
import { parseRunArgs, selectShard, UsageError } from "../../kernel/run.ts";

const claim = (id: string, pass: boolean) => ({
  id,
  value: 0.91234567,
  rule: { atLeast: 0.9 },
  ruleText: "≥ 0.9",
  pass,
  backend: "cpu",
});

Deno.test("claims and the backend report are read from outputs, JSON text included", () => {
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: "markdown", metadata: {}, source: "" },
      {
        cell_type: "code",
        metadata: {},
        source: "",
        outputs: [
          { output_type: "execute_result", data: { [CLAIM_MIME]: claim("a", true) } },
          {
            output_type: "display_data",
            data: { [CLAIM_MIME]: JSON.stringify(claim("b", false)) },
          },
          { output_type: "display_data", data: { [BACKEND_MIME]: { backend: "wasm" } } },
        ],
      },
    ],
  };
  const claims = extractClaims(nb);
  assert.deepEqual(claims.map((c) => [c.id, c.pass, c.cell, c.ruleText]), [
    ["a", true, 1, "≥ 0.9"],
    ["b", false, 1, "≥ 0.9"],
  ]);
  assert.deepEqual(extractBackend(nb), { backend: "wasm" });
});

function notebookReport(
  name: string,
  status: NotebookReport["status"],
  claims = 0,
): NotebookReport {
  return {
    notebook: name,
    output: `out/${name}`,
    status,
    durationMs: 1500,
    kernel: { name: "deno", source: "built-in" },
    cells: { total: 3, executed: 3, failed: status === "error" ? 1 : 0 },
    slowestCells: [{ index: 2, id: "x", durationMs: 1200, firstLine: "train()" }],
    failure: status === "error" ? { index: 2, id: "x", ename: "Error", evalue: "boom" } : undefined,
    claims: Array.from({ length: claims }, (_, i) => ({ ...claim(`c${i}`, i === 0), cell: 2 })),
    backend: { backend: "webgpu", adapter: { description: "llvmpipe", fallback: true } },
    parameters: {},
    warnings: [],
    restarts: 0,
  };
}

function runReport(
  notebooks: NotebookReport[],
  shard: { index: number; count: number },
): RunReport {
  return {
    format: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    durationMs: 60_000,
    shards: [shard],
    options: {},
    versions: {
      runner: "1",
      deno: "2",
      v8: "3",
      typescript: "4",
      kernels: [{ implementation: "Deno kernel", version: "2", language: "typescript" }],
    },
    notebooks,
    summary: summarize(notebooks),
  };
}

Deno.test("shard reports merge into one sorted report with recomputed totals", () => {
  const merged = mergeReports([
    runReport([notebookReport("b.ipynb", "error")], { index: 2, count: 2 }),
    runReport([notebookReport("a.ipynb", "claims failed", 2)], { index: 1, count: 2 }),
  ]);
  assert.deepEqual(merged.notebooks.map((n) => n.notebook), ["a.ipynb", "b.ipynb"]);
  assert.deepEqual(merged.summary, {
    notebooks: 2,
    ok: 0,
    failed: 2,
    claims: { total: 2, passed: 1, failed: 1 },
  });
  assert.equal(merged.durationMs, 120_000);
  assert.equal(merged.versions.kernels.length, 1, "identical kernels are listed once");
  assert.deepEqual(merged.shards, [{ index: 1, count: 2 }, { index: 2, count: 2 }]);
  const md = renderMarkdown(merged);
  assert.match(md, /2 notebook\(s\): 0 ok, 2 failed\. Claims: 1 of 2 hold\./);
  assert.match(md, /\| a\.ipynb \| c1 \| 0\.912346 \| ≥ 0\.9 \| \*\*no\*\* \| cpu \|/);
  assert.match(md, /- b\.ipynb: error in cell 3 \(id x\): Error: boom/);
  assert.match(md, /webgpu \(llvmpipe, software\)/);
  assert.match(md, /2 shards merged/);
});

Deno.test("shards split sorted paths round robin, each path in exactly one shard", () => {
  const paths = ["a", "b", "c", "d", "e", "f", "g"];
  const shards = [1, 2, 3].map((index) => selectShard(paths, { index, count: 3 }));
  assert.deepEqual(shards, [["a", "d", "g"], ["b", "e"], ["c", "f"]]);
  assert.deepEqual(shards.flat().sort(), paths);
});

Deno.test("command-line mistakes are usage errors with the fix in the message", () => {
  assert.throws(() => parseRunArgs(["--shard", "3/2"]), /expected I\/N with 1 ≤ I ≤ N/);
  assert.throws(() => parseRunArgs(["--profile", "huge"]), /expected smoke or full/);
  assert.throws(() => parseRunArgs(["--timeout", "-1"]), UsageError);
  assert.throws(() => parseRunArgs(["--frobnicate"]), /--help/);
  assert.throws(() => parseRunArgs(["--profile", "smoke", "-p", "profile=full"]), /contradicts/);
  const options = parseRunArgs([
    "--profile",
    "smoke",
    "-p",
    "epochs=3",
    "--timeout",
    "5",
    "x.ipynb",
  ]);
  assert.deepEqual(options.parameters, { profile: "smoke", epochs: 3 });
  assert.equal(options.timeoutMs, 5000);
  assert.deepEqual(options.paths, ["x.ipynb"]);
});
