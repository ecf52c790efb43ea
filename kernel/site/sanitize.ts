/**
 * Sanitising HTML from notebooks this project did not execute, with sanitize-html.
 *
 * Kept: text formatting, headings, lists, tables (pandas-style DataFrames included), links
 * (http, https, mailto and relative, opened with `rel="noopener noreferrer nofollow"`),
 * images whose source is a `data:image/…` URL, `class` attributes, a few harmless inline
 * styles (colours, alignment, weight). Removed: scripts and their content, event handler
 * attributes, `style` elements, iframes, objects, forms, SVG, `id` attributes (they could
 * shadow the page's own elements), `javascript:` and other schemes, and images that would
 * load anything (a page must not reach the network, nor tell a third party who reads it).
 *
 * @example
 * ```ts
 * import { sanitize } from "./sanitize.ts";
 * console.log(sanitize('<p onclick="x()">hi<script>alert(1)</script><img src="x" onerror="y"></p>'));
 * // <p>hi</p>
 * ```
 * @module
 */

import sanitizeHtml from "sanitize-html";

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    ...sanitizeHtml.defaults.allowedTags,
    "img",
    "del",
    "ins",
    "details",
    "summary",
    "center",
  ],
  disallowedTagsMode: "discard",
  allowedAttributes: {
    "*": ["class", "title", "lang", "dir", "style", "align"],
    a: ["href", "name", "rel"],
    img: ["src", "alt", "width", "height"],
    td: ["colspan", "rowspan", "valign"],
    th: ["colspan", "rowspan", "valign", "scope"],
    table: ["border"],
    ol: ["start", "type"],
    li: ["value"],
  },
  allowedStyles: {
    "*": {
      "color": [/^#[0-9a-f]{3,8}$/i, /^rgba?\([\d\s.,%]+\)$/i, /^[a-z]+$/i],
      "background-color": [/^#[0-9a-f]{3,8}$/i, /^rgba?\([\d\s.,%]+\)$/i, /^[a-z]+$/i],
      "text-align": [/^(left|right|center|justify)$/],
      "font-weight": [/^(normal|bold|bolder|lighter|\d{3})$/],
      "font-style": [/^(normal|italic)$/],
      "white-space": [/^(normal|pre|pre-wrap|nowrap)$/],
    },
  },
  allowedSchemes: ["http", "https", "mailto"],
  allowedSchemesByTag: { img: ["data"] },
  allowProtocolRelative: false,
  transformTags: {
    a: sanitizeHtml.simpleTransform("a", { rel: "noopener noreferrer nofollow" }),
  },
  exclusiveFilter: (frame: sanitizeHtml.IFrame) =>
    frame.tag === "img" && !/^data:image\/[a-z0-9.+-]+[;,]/i.test(frame.attribs.src ?? ""),
};

/**
 * Returns HTML with everything that could run code, load a resource or restyle the page
 * removed (see the module doc).
 *
 * @example
 * ```ts
 * import { sanitize } from "./sanitize.ts";
 * console.log(sanitize('<a href="javascript:alert(1)">x</a>')); // <a rel="noopener noreferrer nofollow">x</a>
 * ```
 */
export function sanitize(html: string): string {
  return sanitizeHtml(html, OPTIONS);
}
