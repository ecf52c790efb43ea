import assert from "node:assert/strict";
import {
  aggregateClaims,
  BACKEND_MIME,
  CLAIM_MIME,
  extractBackend,
  extractClaims,
  mergeReports,
  type NotebookReport,
  readableRule,
  renderMarkdown,
  type RunReport,
  summarize,
  tQuantile975,
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
  shard?: { index: number; count: number },
): RunReport {
  return {
    format: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    durationMs: 60_000,
    shards: shard ? [shard] : [],
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

Deno.test("claims over seeds: k of n, median, min, max, mean with a 95 % t-interval, verdicts", () => {
  const run = (seed: number, values: Record<string, number>, group = {}): NotebookReport => ({
    ...notebookReport("a.ipynb", "ok"),
    sweep: { ...group, seed },
    claims: Object.entries(values).map(([id, value], cell) => ({
      id,
      value,
      rule: { atLeast: 1 },
      ruleText: "≥ 1",
      pass: value >= 1,
      backend: "cpu",
      cell,
    })),
  });
  const runs = [
    run(0, { a: 1, b: 0, c: 0 }),
    run(1, { a: 2, b: 3, c: 0 }),
    run(2, { a: 3 }), // stopped before b and c
    run(3, { a: 6, b: 5, c: 0.5 }),
  ];
  const agg = aggregateClaims(runs);
  assert.deepEqual(agg.map((a) => [a.id, a.passes, a.runs, a.missing, a.verdict]), [
    ["a", 4, 4, 0, "robust"],
    ["b", 2, 4, 1, "fragile"],
    ["c", 0, 4, 1, "fails"],
  ]);
  const a = agg[0].stats!;
  assert.deepEqual([a.n, a.median, a.min, a.max, a.mean], [4, 2.5, 1, 6, 3]);
  // sd of 1,2,3,6 = sqrt(14/3); t(0.975, 3) = 3.1824; half-width = t * sd / 2.
  const half = 3.1824 * Math.sqrt(14 / 3) / 2;
  assert.ok(Math.abs(a.ci95![0] - (3 - half)) < 1e-9 && Math.abs(a.ci95![1] - (3 + half)) < 1e-9);
  assert.deepEqual(agg[0].values.map((v) => v.seed), [0, 1, 2, 3]);
  // Runs that differ in another swept parameter are separate groups.
  const grouped = aggregateClaims([
    run(0, { a: 1 }, { lr: 1 }),
    run(1, { a: 0 }, { lr: 1 }),
    run(0, { a: 2 }, { lr: 2 }),
  ]);
  assert.deepEqual(grouped.map((g) => [g.group, g.passes, g.runs]), [[{ lr: 1 }, 1, 2], [
    { lr: 2 },
    1,
    1,
  ]]);
  assert.deepEqual(aggregateClaims([run(0, { a: 1 })]), [], "one run per notebook: no aggregate");
  assert.equal(tQuantile975(1), 12.7062);
  assert.equal(tQuantile975(9), 2.2622);
  assert.ok(Math.abs(tQuantile975(50) - 2.0086) < 2e-3, "interpolated in 1/df");
  assert.ok(tQuantile975(1e6) > 1.96 && tQuantile975(1e6) < 1.9601);
  const report = mergeReports([runReport(runs.slice(0, 2)), runReport(runs.slice(2))]);
  assert.deepEqual(report.aggregate, agg, "merged shards carry the same aggregate");
  const md = renderMarkdown(report);
  assert.match(md, /## Claims across runs/);
  assert.match(
    md,
    /\| a\.ipynb \| a \| 4\/4 \| 2\.5 \| 1 \| 6 \| 3 \[-0\.4374, 6\.437\] \| ≥ 1 \| robust \|/,
  );
  assert.match(md, /\| a\.ipynb \| b \| 2\/4 \| .* \| \*\*fragile\*\* \|/);
  assert.match(md, /a\.ipynb \(seed=3\)/);
});

Deno.test("numbers in rules are rounded for reading; the exact value stays in the JSON", () => {
  assert.equal(readableRule("< 0.16666666666666666"), "< 0.1667");
  assert.equal(readableRule("≥ 1.0000000000000002 × baseline"), "≥ 1 × baseline");
  assert.equal(readableRule("in [0.33333333333333331, 2.5]"), "in [0.3333, 2.5]");
  assert.equal(readableRule("≤ 1.2345678e-7"), "≤ 1.235e-7");
  assert.equal(readableRule("≥ 0.9"), "≥ 0.9");
  assert.equal(readableRule("≥ 100"), "≥ 100");
  assert.equal(readableRule("v1.2.34567 build"), "v1.2.34567 build", "not a number on its own");
  const entry = notebookReport("a.ipynb", "ok");
  entry.claims = [{
    id: "ratio",
    value: 0.1,
    rule: { lessThan: 1 / 6 },
    ruleText: `< ${1 / 6}`,
    pass: true,
    backend: "cpu",
    cell: 0,
  }];
  const report = runReport([entry]);
  assert.match(renderMarkdown(report), /\| ratio \| 0\.1 \| < 0\.1667 \|/);
  assert.equal(
    JSON.parse(JSON.stringify(report)).notebooks[0].claims[0].ruleText,
    "< 0.16666666666666666",
  );
});
