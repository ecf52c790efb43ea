/**
 * TeX math to HTML with KaTeX, at build time: pages need no script for math, only the
 * KaTeX stylesheet and fonts the site ships in `katex/`. A formula KaTeX cannot parse is
 * shown as its source, in red, with KaTeX's message as a tooltip.
 *
 * @example
 * ```ts
 * import { renderTex } from "./math.ts";
 * console.log(renderTex("a_1 + b", { display: false }).startsWith('<span class="katex">')); // true
 * ```
 * @module
 */

import katex from "katex";
import { createRequire } from "node:module";
import { dirname } from "node:path";

/** Options for {@linkcode renderTex}. */
export interface TexOptions {
  /** Display (block) math rather than inline. */
  display: boolean;
}

/**
 * Renders TeX (without its `$` delimiters) to HTML and MathML.
 *
 * @example
 * ```ts
 * import { renderTex } from "./math.ts";
 * console.log(renderTex("\\frac{1}{2}", { display: true }).includes("katex-display")); // true
 * ```
 */
export function renderTex(tex: string, options: TexOptions): string {
  return katex.renderToString(tex, {
    displayMode: options.display,
    throwOnError: false,
    trust: false,
    strict: "ignore",
    output: "htmlAndMathml",
  });
}

/**
 * Splits math written with delimiters (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`) into its TeX and
 * whether it is display math; text without delimiters is display math as a whole.
 *
 * @example
 * ```ts
 * import { splitDelimiters } from "./math.ts";
 * console.log(splitDelimiters("$$x^2$$"), splitDelimiters("$y$")); // { tex: "x^2", display: true } { tex: "y", display: false }
 * ```
 */
export function splitDelimiters(source: string): { tex: string; display: boolean } {
  const s = source.trim();
  const display = /^\$\$([\s\S]*)\$\$$/.exec(s) ?? /^\\\[([\s\S]*)\\\]$/.exec(s);
  if (display) return { tex: display[1].trim(), display: true };
  const inline = /^\$([\s\S]*)\$$/.exec(s) ?? /^\\\(([\s\S]*)\\\)$/.exec(s);
  if (inline) return { tex: inline[1].trim(), display: false };
  return { tex: s, display: true };
}

/** The folder of KaTeX's stylesheet (`katex.min.css`) and its `fonts/`. */
export function katexDistDir(): string {
  return dirname(createRequire(import.meta.url).resolve("katex/dist/katex.min.css"));
}
