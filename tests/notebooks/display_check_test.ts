import assert from "node:assert/strict";
import type { Cell, Notebook } from "../../kernel/notebook.ts";
import { calls, displayProblems, isObjectDump } from "./display_check.ts";

const PLOTLY = "application/vnd.plotly.v1+json";
const code = (source: string, outputs: Cell["outputs"] = []): Cell => ({
  cell_type: "code",
  metadata: {},
  source,
  outputs,
  execution_count: 1,
});
const notebook = (cells: Cell[]): Notebook => ({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells,
});
const chart = { output_type: "display_data", data: { [PLOTLY]: {}, "text/plain": "Chart" } };
const result = (text: string) => ({
  output_type: "execute_result",
  execution_count: 1,
  metadata: {},
  data: { "text/plain": text },
});

Deno.test("display check: nn.show calls without chart outputs are found", () => {
  assert.equal(calls("nn.show(a);\n// nn.show(b)\n/* nn.show(c) */ nn.show(d)", "show"), 2);
  assert.equal(calls("nn.publish(a); nn.show(b)", "publish"), 1);
  const nb = notebook([
    code("nn.show(a);\nnn.show(b);", [chart, chart]),
    code("nn.show(a);\nconsole.log(1);", []), // the chart vanished
    code("nn.show(a);\nthrow new Error()", [{ output_type: "error", ename: "E", evalue: "" }]),
    code('nn.publish({ "text/latex": "$x$" });\nnn.show(a)', [chart]), // the formula vanished
  ]);
  assert.deepEqual(displayProblems(nb), [
    "cell 1: 1 nn.show call(s) but 0 chart output(s)",
    "cell 3: 1 nn.publish call(s) but 0 such output(s)",
  ]);
});

Deno.test("display check: raw object dumps and empty results are found, values are not", () => {
  for (
    const dump of ["Promise { <pending> }", "{ id: 'a', value: 1 }", "Foo { a: 1 }", "[ 1, 2 ]"]
  ) {
    assert.ok(isObjectDump(dump), dump);
  }
  assert.ok(isObjectDump("{\n  id: 'x'\n}"));
  for (const value of ["\x1b[33m0.93\x1b[39m", '"done"', "true"]) assert.ok(!isObjectDump(value));
  const nb = notebook([
    code("x", [result("\x1b[33m5\x1b[39m")]),
    code("await nn.showClaim()", [result('{\n  id: \x1b[32m"a"\x1b[39m,\n  pass: true\n}')]),
    code("nn.show(fig)", [{ ...result(""), data: {} }]),
  ]);
  assert.deepEqual(displayProblems(nb), [
    'cell 1: its result is a raw object dump: {\n  id: \x1b[32m"a"\x1b[39m,\n  pass: true\n}',
    "cell 2: 1 nn.show call(s) but 0 chart output(s)",
    "cell 2: an empty result",
  ]);
});
