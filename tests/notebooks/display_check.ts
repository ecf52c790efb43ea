/**
 * What a reader of an executed notebook must never meet: a cell that builds a chart with
 * `nn.show(...)` but has no chart among its outputs (the chart silently vanished), a cell
 * that publishes a table or formula with `nn.publish(...)` that is not there, or a
 * cell whose result is a raw object dump (`Promise { … }`, `{ id: …, value: … }`, a class
 * instance) instead of a rendered output.
 *
 * @example
 * ```ts ignore
 * import { displayProblems } from "./display_check.ts";
 * import { readNotebook } from "../../kernel/notebook.ts";
 * console.log(displayProblems(await readNotebook("out/01_dense_networks.ipynb")));
 * ```
 * @module
 */

import { type Cell, joinText, type Notebook } from "../../kernel/notebook.ts";

const PLOTLY = "application/vnd.plotly.v1+json";
const FIGURE_NOTE = "application/vnd.neural-notebooks.figure-note+json";
const CLAIM = "application/vnd.neural-notebooks.claim+json";

/** Calls of `nn.<name>(` in a cell's code, comments left out. */
export function calls(source: string, name: "show" | "publish"): number {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
  return (code.match(new RegExp(`\\bnn\\.${name}\\(`, "g")) ?? []).length;
}

/** Chart outputs of a cell: Plotly figures and the notes shown instead of full-only figures. */
export function chartOutputs(cell: Cell): number {
  return (cell.outputs ?? []).filter((o) => o.data && (PLOTLY in o.data || FIGURE_NOTE in o.data))
    .length;
}

/** Rich outputs of a cell that are neither charts nor claims (tables, formulas, banners). */
function otherDisplays(cell: Cell): number {
  return (cell.outputs ?? []).filter((o) =>
    o.data && !(PLOTLY in o.data || FIGURE_NOTE in o.data || CLAIM in o.data)
  ).length;
}

/** Whether a text/plain result is an object dump rather than a value a reader wants to see. */
export function isObjectDump(text: string): boolean {
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "").trim();
  return plain.includes("\n") ||
    /^(\{|\[|Promise \{|\[Function|\[class|[A-Z][\w$]* \{)/.test(plain);
}

/**
 * Problems of an executed notebook's display, one line each ("cell 12: …", counting code
 * and markdown cells from 0); empty when every chart is drawn and no result is a dump.
 */
export function displayProblems(nb: Notebook): string[] {
  const problems: string[] = [];
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const source = joinText(cell.source);
    const shows = calls(source, "show");
    const charts = chartOutputs(cell);
    const publishes = calls(source, "publish");
    const others = otherDisplays(cell);
    const errored = (cell.outputs ?? []).some((o) => o.output_type === "error");
    if (shows > charts && !errored) {
      problems.push(`cell ${i}: ${shows} nn.show call(s) but ${charts} chart output(s)`);
    }
    if (publishes > others && !errored) {
      problems.push(`cell ${i}: ${publishes} nn.publish call(s) but ${others} such output(s)`);
    }
    for (const o of cell.outputs ?? []) {
      if (o.output_type !== "execute_result" || !o.data) continue;
      const keys = Object.keys(o.data);
      const text = joinText(o.data["text/plain"] as string | string[] | undefined ?? "");
      if (keys.length === 0 || (keys.length === 1 && text.trim() === "")) {
        problems.push(`cell ${i}: an empty result`);
      } else if (keys.length === 1 && keys[0] === "text/plain" && isObjectDump(text)) {
        problems.push(`cell ${i}: its result is a raw object dump: ${text.slice(0, 80)}`);
      }
    }
  });
  return problems;
}
