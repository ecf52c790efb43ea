/**
 * Small HTML helpers shared by the site's renderers.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./html.ts";
 * console.log(escapeHtml(`<a href="x">&</a>`)); // &lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;
 * ```
 * @module
 */

/**
 * Escapes text for HTML content and double- or single-quoted attribute values.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./html.ts";
 * console.log(escapeHtml("1 < 2")); // 1 &lt; 2
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/**
 * JSON for a `<script type="application/json">` element: `<`, `>`, `&` and the JavaScript
 * line separators are escaped, so the text can never close the element or start a comment.
 *
 * @example
 * ```ts
 * import { scriptJson } from "./html.ts";
 * console.log(scriptJson({ a: "</script>" })); // {"a":"\u003c/script\u003e"}
 * ```
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A fragment identifier made of safe characters (letters, digits, `-`, `_`, `.`).
 *
 * @example
 * ```ts
 * import { anchorId } from "./html.ts";
 * console.log(anchorId("claim", "acc high!")); // claim-acc-high-
 * ```
 */
export function anchorId(prefix: string, name: string): string {
  return `${prefix}-${name.replace(/[^A-Za-z0-9_.-]/g, "-")}`;
}
