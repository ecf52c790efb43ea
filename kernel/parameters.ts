/**
 * Papermill-style parameters for Deno notebooks.
 *
 * A notebook keeps its knobs in one code cell tagged `parameters`. The runner writes the
 * values given on the command line (`-p name=value`, `--profile smoke`) as TypeScript
 * into a new cell tagged `injected-parameters`, placed right after the `parameters` cell
 * (an existing injected cell is replaced, so re-running an executed notebook works).
 *
 * The rule for notebooks: declare each parameter in its own statement (`let epochs = 20;`).
 * The injected cell redeclares it with the same keyword, which the Deno kernel allows
 * across cells for `let` after `let`, `const` after `const` and `var` after `var` (but
 * not `let` after `const`). Names the parameters cell does not declare get `let`.
 *
 * @example
 * ```ts
 * import { parseParameterArg, renderParameters } from "./parameters.ts";
 * const [name, value] = parseParameterArg("epochs=20");
 * console.log(renderParameters({ [name]: value }, "let epochs = 5;"));
 * // "// Parameters\nlet epochs = 20;\n"
 * ```
 * @module
 */

import { type Cell, cellTags, joinText, newCellId, type Notebook, splitLines } from "./notebook.ts";

/** A parameter value: anything JSON can express. */
export type ParameterValue =
  | string
  | number
  | boolean
  | null
  | ParameterValue[]
  | { [key: string]: ParameterValue };

/** Tag of the notebook's own parameters cell (papermill's convention). */
export const PARAMETERS_TAG = "parameters";
/** Tag of the cell the runner injects. */
export const INJECTED_TAG = "injected-parameters";

/** Raised for a malformed `-p` argument. */
export class ParameterError extends Error {
  /** Creates a parameter error with a message saying what to write instead. */
  constructor(message: string) {
    super(message);
    this.name = "ParameterError";
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Parses a value the way the runner documents: JSON when it parses as JSON
 * (`20`, `1e-3`, `true`, `null`, `"20"`, `[1,2]`, `{"a":1}`), otherwise the text itself.
 *
 * @example
 * ```ts
 * import { parseParameterValue } from "./parameters.ts";
 * console.log(parseParameterValue("20"), parseParameterValue("smoke")); // 20 "smoke"
 * ```
 */
export function parseParameterValue(text: string): ParameterValue {
  try {
    return JSON.parse(text) as ParameterValue;
  } catch {
    return text;
  }
}

/**
 * Parses one `name=value` argument.
 *
 * @example
 * ```ts
 * import { parseParameterArg } from "./parameters.ts";
 * console.log(parseParameterArg("lr=0.01")); // ["lr", 0.01]
 * ```
 */
export function parseParameterArg(arg: string): [string, ParameterValue] {
  const at = arg.indexOf("=");
  if (at <= 0) {
    throw new ParameterError(`-p ${arg}: write -p name=value, for example -p epochs=20`);
  }
  const name = arg.slice(0, at).trim();
  if (!IDENTIFIER.test(name)) {
    throw new ParameterError(`-p ${arg}: "${name}" is not a TypeScript identifier`);
  }
  return [name, parseParameterValue(arg.slice(at + 1))];
}

/** How a name is declared in a cell's source. */
export type DeclarationKind = "let" | "const" | "var";

/**
 * The keyword each name is declared with in `source` (one declaration per statement).
 *
 * @example
 * ```ts
 * import { declarationKinds } from "./parameters.ts";
 * console.log(declarationKinds("let a = 1;\nconst b: number = 2;")); // Map { "a" => "let", "b" => "const" }
 * ```
 */
export function declarationKinds(source: string): Map<string, DeclarationKind> {
  const kinds = new Map<string, DeclarationKind>();
  const pattern = /(?:^|[;{}\n])\s*(?:export\s+)?(let|const|var)\s+([A-Za-z_$][A-Za-z0-9_$]*)/g;
  for (const match of source.matchAll(pattern)) {
    if (!kinds.has(match[2])) kinds.set(match[2], match[1] as DeclarationKind);
  }
  return kinds;
}

/**
 * TypeScript source for the injected cell: one declaration per parameter, with the
 * keyword the parameters cell (`source`) uses for that name, `let` otherwise.
 *
 * @example
 * ```ts
 * import { renderParameters } from "./parameters.ts";
 * console.log(renderParameters({ profile: "smoke", seed: 7 }, 'const profile = "full";'));
 * // "// Parameters\nconst profile = \"smoke\";\nlet seed = 7;\n"
 * ```
 */
export function renderParameters(params: Record<string, ParameterValue>, source = ""): string {
  const kinds = declarationKinds(source);
  const lines = Object.entries(params).map(([name, value]) =>
    `${kinds.get(name) ?? "let"} ${name} = ${JSON.stringify(value)};`
  );
  return ["// Parameters", ...lines].join("\n") + "\n";
}

/**
 * The defaults the notebook's `parameters` cell gives as plain literals (`let profile =
 * "full";`, `let seed = 0;`, `let sizes = {};`): name → value, for every declaration whose
 * value reads as JSON; other declarations are left out. Empty without a parameters cell.
 *
 * @example
 * ```ts
 * import { parameterDefaults } from "./parameters.ts";
 * const nb = {
 *   nbformat: 4, nbformat_minor: 5, metadata: {},
 *   cells: [{
 *     cell_type: "code", metadata: { tags: ["parameters"] },
 *     source: 'let profile = "full"; // the lesson\nlet seed = 0;\nconst f = () => 1;',
 *   }],
 * };
 * console.log(parameterDefaults(nb)); // { profile: "full", seed: 0 }
 * ```
 */
export function parameterDefaults(nb: Notebook): Record<string, ParameterValue> {
  const cell = nb.cells.find((c) => c.cell_type === "code" && cellTags(c).includes(PARAMETERS_TAG));
  const defaults: Record<string, ParameterValue> = {};
  if (!cell) return defaults;
  const pattern =
    /^\s*(?:let|const|var)\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*(?::[^=]+)?=\s*(.+?);?\s*(?:\/\/.*)?$/;
  for (const line of joinText(cell.source).split("\n")) {
    const match = pattern.exec(line);
    if (!match) continue;
    try {
      defaults[match[1]] = JSON.parse(match[2]) as ParameterValue;
    } catch { /* not a JSON literal: no default recorded */ }
  }
  return defaults;
}

/** The result of {@linkcode injectParameters}. */
export interface Injection {
  /** Index of the injected cell in the notebook. */
  index: number;
  /** Things the user should know (no parameters cell, unknown names). */
  warnings: string[];
}

/**
 * Inserts (or replaces) the `injected-parameters` cell in `nb` (modified in place).
 * Does nothing and returns null when `params` is empty.
 *
 * @example
 * ```ts
 * import { injectParameters } from "./parameters.ts";
 * const nb = {
 *   nbformat: 4, nbformat_minor: 5, metadata: {},
 *   cells: [{ cell_type: "code", metadata: { tags: ["parameters"] }, source: "let epochs = 5;" }],
 * };
 * injectParameters(nb, { epochs: 1 });
 * console.log(nb.cells[1].source); // ["// Parameters\n", "let epochs = 1;\n"]
 * ```
 */
export function injectParameters(
  nb: Notebook,
  params: Record<string, ParameterValue>,
): Injection | null {
  if (Object.keys(params).length === 0) return null;
  const warnings: string[] = [];
  nb.cells = nb.cells.filter((cell) => !cellTags(cell).includes(INJECTED_TAG));
  const at = nb.cells.findIndex((cell) =>
    cell.cell_type === "code" && cellTags(cell).includes(PARAMETERS_TAG)
  );
  const source = at >= 0 ? joinText(nb.cells[at].source) : "";
  if (at < 0) {
    warnings.push(
      `no code cell is tagged "${PARAMETERS_TAG}"; the parameters were injected at the top`,
    );
  } else {
    const declared = declarationKinds(source);
    const unknown = Object.keys(params).filter((name) => !declared.has(name));
    if (unknown.length > 0) {
      warnings.push(
        `the parameters cell does not declare ${unknown.join(", ")}; injected with let`,
      );
    }
  }
  const ids = new Set(
    nb.cells.map((c) => c.id).filter((id): id is string => typeof id === "string"),
  );
  const cell: Cell = {
    cell_type: "code",
    execution_count: null,
    metadata: { tags: [INJECTED_TAG] },
    outputs: [],
    source: splitLines(renderParameters(params, source)),
  };
  if (nb.nbformat > 4 || (nb.nbformat === 4 && nb.nbformat_minor >= 5)) cell.id = newCellId(ids);
  const index = at + 1;
  nb.cells.splice(index, 0, cell);
  return { index, warnings };
}
