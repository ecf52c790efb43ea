/**
 * Parameter sweeps for `deno task run`: `--seeds 0-9` and `--grid name=v1,v2` expand into
 * the points of a cartesian product, each point one run of each notebook.
 *
 * A plain `-p name=value` sets one value (a JSON list such as `-p sizes=[1,2]` stays one
 * list-valued parameter, as before). Sweeping is explicit:
 *
 * - `--seeds 0-9`, `--seeds 0,3,5`, `--seeds 0-2,7`: the parameter `seed` takes each value;
 * - `--grid lr=0.1,0.01`: `lr` takes each comma-separated value (each parsed like a `-p`
 *   value: JSON when it parses, else text);
 * - `--grid 'units=[[16,8],[32]]'`: a JSON list after `=` gives one value per element, for
 *   values that hold commas themselves.
 *
 * Points are ordered grid names first (in the order given), seeds last, so one grid
 * setting's seeds sit together.
 *
 * @example
 * ```ts
 * import { expandSweep, parseGrid, parseSeeds, pointLabel } from "./sweep.ts";
 * const points = expandSweep({ seeds: parseSeeds("0-1"), grid: [parseGrid("lr=0.1,0.01")] });
 * console.log(points.map(pointLabel)); // ["lr-0.1_seed-0", "lr-0.1_seed-1", "lr-0.01_seed-0", "lr-0.01_seed-1"]
 * ```
 * @module
 */

import { ParameterError, type ParameterValue, parseParameterValue } from "./parameters.ts";

/** One swept parameter and the values it takes. */
export interface GridAxis {
  /** Parameter name. */
  name: string;
  /** Its values, in order. */
  values: ParameterValue[];
}

/** What to sweep. */
export interface Sweep {
  /** Seeds (`--seeds`), or empty. */
  seeds: number[];
  /** Other parameters (`--grid`), in the order given. */
  grid: GridAxis[];
}

/** One point of a sweep: parameter name to value (grid names first, then `seed`). */
export type SweepPoint = Record<string, ParameterValue>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** At most this many seeds (a typo such as `0-1000000` should not start a million runs). */
export const MAX_SEEDS = 10_000;

/**
 * Parses a seed list: integers and inclusive ranges separated by commas (`0-9`, `0,3,5`,
 * `0-2,7`); no duplicates.
 *
 * @example
 * ```ts
 * import { parseSeeds } from "./sweep.ts";
 * console.log(parseSeeds("0-2,7")); // [0, 1, 2, 7]
 * ```
 */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  const bad = (why: string) =>
    new ParameterError(
      `--seeds ${text}: ${why}; write whole numbers and ranges, e.g. --seeds 0-9 or --seeds 0,3,5`,
    );
  if (text.trim() === "") throw bad("no seeds given");
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw bad(`"${part}" is not a seed or a range`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw bad("seed too large");
    if (to < from) throw bad(`the range ${part} runs backwards`);
    if (seeds.length + (to - from + 1) > MAX_SEEDS) throw bad(`more than ${MAX_SEEDS} seeds`);
    for (let s = from; s <= to; s++) seeds.push(s);
  }
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) throw bad(`seed ${dup} is listed twice`);
  return seeds;
}

/**
 * Parses one `--grid name=v1,v2,...` (or `name=[JSON list]`) argument.
 *
 * @example
 * ```ts
 * import { parseGrid } from "./sweep.ts";
 * console.log(parseGrid("lr=0.1,0.01")); // { name: "lr", values: [0.1, 0.01] }
 * console.log(parseGrid('units=[[16,8],[32]]').values); // [[16, 8], [32]]
 * ```
 */
export function parseGrid(arg: string): GridAxis {
  const at = arg.indexOf("=");
  const name = at > 0 ? arg.slice(0, at).trim() : "";
  if (at <= 0) {
    throw new ParameterError(
      `--grid ${arg}: write --grid name=v1,v2, for example --grid lr=0.1,0.01`,
    );
  }
  if (!IDENTIFIER.test(name)) {
    throw new ParameterError(`--grid ${arg}: "${name}" is not a TypeScript identifier`);
  }
  if (name === "seed") {
    throw new ParameterError(`--grid ${arg}: sweep seeds with --seeds, e.g. --seeds 0-9`);
  }
  const text = arg.slice(at + 1).trim();
  let values: ParameterValue[];
  const json = text.startsWith("[") ? parseParameterValue(text) : undefined;
  if (Array.isArray(json)) values = json;
  else values = text.split(",").map((v) => parseParameterValue(v.trim()));
  if (values.length === 0 || (values.length === 1 && values[0] === "")) {
    throw new ParameterError(`--grid ${arg}: no values; write --grid ${name}=v1,v2`);
  }
  const seen = new Set<string>();
  for (const v of values) {
    const key = JSON.stringify(v);
    if (seen.has(key)) throw new ParameterError(`--grid ${arg}: the value ${key} is listed twice`);
    seen.add(key);
  }
  return { name, values };
}

/**
 * The points of a sweep (cartesian product; grid names first, seeds innermost). No sweep
 * gives no points (a plain run).
 *
 * @example
 * ```ts
 * import { expandSweep } from "./sweep.ts";
 * console.log(expandSweep({ seeds: [0, 1], grid: [] })); // [{ seed: 0 }, { seed: 1 }]
 * ```
 */
export function expandSweep(sweep: Sweep): SweepPoint[] {
  const axes: GridAxis[] = [...sweep.grid];
  if (sweep.seeds.length > 0) axes.push({ name: "seed", values: sweep.seeds });
  if (axes.length === 0) return [];
  let points: SweepPoint[] = [{}];
  for (const axis of axes) {
    points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.name]: v })));
  }
  return points;
}

function valueLabel(value: ParameterValue): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.replace(/[^A-Za-z0-9.+-]+/g, "_") || "_";
}

/**
 * A point as a folder name: `seed-3`, `lr-0.1_seed-3`.
 *
 * @example
 * ```ts
 * import { pointLabel } from "./sweep.ts";
 * console.log(pointLabel({ lr: 0.1, seed: 3 })); // "lr-0.1_seed-3"
 * ```
 */
export function pointLabel(point: SweepPoint): string {
  return Object.entries(point).map(([k, v]) => `${k}-${valueLabel(v)}`).join("_");
}

/**
 * A point in words: `seed=3`, `lr=0.1, seed=3`.
 *
 * @example
 * ```ts
 * import { pointText } from "./sweep.ts";
 * console.log(pointText({ lr: 0.1, seed: 3 })); // "lr=0.1, seed=3"
 * ```
 */
export function pointText(point: SweepPoint): string {
  return Object.entries(point).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
}
