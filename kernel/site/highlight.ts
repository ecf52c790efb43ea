/**
 * Syntax highlighting for code cells and markdown code blocks, with highlight.js (only the
 * languages notebooks use are loaded, which keeps start-up fast). Output is HTML with
 * `hljs-*` classes, styled by the highlight.js theme the site ships.
 *
 * @example
 * ```ts
 * import { highlight } from "./highlight.ts";
 * console.log(highlight("const x = 1;", "typescript"));
 * // <span class="hljs-keyword">const</span> x = <span class="hljs-number">1</span>;
 * ```
 * @module
 */

import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import { escapeHtml } from "./html.ts";

hljs.registerLanguage("bash", bash);
hljs.registerLanguage("css", css);
hljs.registerLanguage("javascript", javascript);
hljs.registerLanguage("json", json);
hljs.registerLanguage("markdown", markdown);
hljs.registerLanguage("python", python);
hljs.registerLanguage("typescript", typescript);
hljs.registerLanguage("xml", xml);
hljs.registerAliases(["deno", "tsx"], { languageName: "typescript" });
hljs.registerAliases(["ipython", "ipython3"], { languageName: "python" });

/**
 * Whether a language name or alias is highlighted (case-insensitive).
 *
 * @example
 * ```ts
 * import { isHighlighted } from "./highlight.ts";
 * console.log(isHighlighted("ts"), isHighlighted("cobol")); // true false
 * ```
 */
export function isHighlighted(language: string | undefined): boolean {
  return language ? hljs.getLanguage(language.toLowerCase()) !== undefined : false;
}

/**
 * Highlights code as HTML; unknown languages come back escaped but unhighlighted.
 *
 * @example
 * ```ts
 * import { highlight } from "./highlight.ts";
 * console.log(highlight("<b>", "cobol")); // &lt;b&gt;
 * ```
 */
export function highlight(code: string, language: string | undefined): string {
  if (!language || !isHighlighted(language)) return escapeHtml(code);
  return hljs.highlight(code, { language: language.toLowerCase(), ignoreIllegals: true }).value;
}
