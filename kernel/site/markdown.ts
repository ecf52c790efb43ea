/**
 * Markdown cells to HTML with marked (GitHub-flavoured: tables, strikethrough, task lists),
 * code blocks highlighted by highlight.js, and TeX math (`$…$`, `$$…$$`) typeset by KaTeX
 * at build time (or, with `math: "verbatim"`, kept as its source, untouched by emphasis or
 * escapes). Links to other notebooks (`other.ipynb`) point to their pages (`other.html`)
 * and `attachment:` images become data URLs.
 *
 * Raw HTML in markdown passes through unless `sanitize` is set, which the site does for
 * notebooks this project did not execute (see sanitize.ts).
 *
 * @example
 * ```ts
 * import { renderMarkdown } from "./markdown.ts";
 * console.log(renderMarkdown("Loss $a_1 * b_2$ falls.", { math: "verbatim" }));
 * // <p>Loss <span class="math inline">$a_1 * b_2$</span> falls.</p>
 * console.log(renderMarkdown("$x^2$").includes('<span class="katex">')); // true
 * ```
 * @module
 */

import { Marked, type Tokens } from "marked";
import { highlight } from "./highlight.ts";
import { escapeHtml } from "./html.ts";
import { renderTex } from "./math.ts";
import { sanitize as sanitizeHtml } from "./sanitize.ts";

/** Options for {@linkcode renderMarkdown}. */
export interface MarkdownOptions {
  /** A markdown cell's attachments (`{name: {mime: base64}}`), for `attachment:name` URLs. */
  attachments?: Record<string, Record<string, unknown>>;
  /** Rewrites a relative link target; default maps `x.ipynb` to `x.html`. */
  rewriteLink?: (href: string) => string;
  /** Language of unlabelled code blocks (not highlighted when absent). */
  defaultLanguage?: string;
  /** Typeset math with KaTeX (default) or leave the TeX verbatim. */
  math?: "katex" | "verbatim";
  /**
   * Sanitise the HTML (for notebooks this project did not execute). Math typeset by KaTeX
   * is put in after sanitising: KaTeX builds it from the TeX alone, so it is safe.
   */
  sanitize?: boolean;
}

interface MathToken extends Tokens.Generic {
  type: "mathBlock" | "mathInline";
  raw: string;
  display: boolean;
}

let context: MarkdownOptions = {};
let slots: string[] = [];
let nonce = "";

function mathHtml(raw: string, display: boolean): string {
  const tex = display ? raw.trim().replace(/^\$\$|\$\$$/g, "") : raw.slice(1, -1);
  if ((context.math ?? "katex") === "verbatim") return escapeHtml(raw.trim());
  const html = renderTex(tex.trim(), { display });
  if (!context.sanitize) return html;
  slots.push(html);
  return `<span class="nn-math-slot">nnmath${nonce}x${slots.length - 1}</span>`;
}

/** Maps `name.ipynb` (relative, optionally with a fragment) to `name.html`. */
export function notebookLinkToPage(href: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("//")) return href;
  return href.replace(/\.ipynb(?=$|[#?])/, ".html");
}

const marked = new Marked({
  gfm: true,
  extensions: [
    {
      name: "mathBlock",
      level: "block",
      start: (src: string) => src.match(/^ {0,3}\$\$/m)?.index,
      tokenizer(src: string): MathToken | undefined {
        const match = /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n+|$)/.exec(src);
        if (match) return { type: "mathBlock", raw: match[0], display: true };
        return undefined;
      },
      renderer: (token) => `<div class="math display">${mathHtml(token.raw, true)}</div>\n`,
    },
    {
      name: "mathInline",
      level: "inline",
      start: (src: string) => src.indexOf("$") >= 0 ? src.indexOf("$") : undefined,
      tokenizer(src: string): MathToken | undefined {
        const display = /^\$\$(?!\$)([\s\S]+?)\$\$/.exec(src);
        if (display) return { type: "mathInline", raw: display[0], display: true };
        const inline = /^\$(?![\s$])((?:\\.|[^\\$\n])+?)(?<!\s)\$(?!\d)/.exec(src);
        if (inline) return { type: "mathInline", raw: inline[0], display: false };
        return undefined;
      },
      renderer: (token) =>
        `<span class="math ${token.display ? "display" : "inline"}">${
          mathHtml(token.raw, token.display as boolean)
        }</span>`,
    },
  ],
  renderer: {
    code({ text, lang }: Tokens.Code): string {
      const language = (lang ?? "").trim().split(/\s+/)[0] || context.defaultLanguage;
      const cls = language ? ` class="hljs language-${escapeHtml(language)}"` : ' class="hljs"';
      return `<pre><code${cls}>${highlight(text.replace(/\n$/, ""), language)}</code></pre>\n`;
    },
  },
  walkTokens(token) {
    if (token.type !== "link" && token.type !== "image") return;
    const t = token as Tokens.Link | Tokens.Image;
    if (t.type === "image" && t.href.startsWith("attachment:")) {
      const bundle = context.attachments?.[decodeURIComponent(t.href.slice(11))];
      const mime = bundle && Object.keys(bundle).find((m) => m.startsWith("image/"));
      if (mime && typeof bundle[mime] === "string") {
        t.href = `data:${mime};base64,${(bundle[mime] as string).replace(/\s/g, "")}`;
      }
      return;
    }
    t.href = (context.rewriteLink ?? notebookLinkToPage)(t.href);
  },
});

/**
 * Renders markdown to HTML (see the module doc).
 *
 * @example
 * ```ts
 * import { renderMarkdown } from "./markdown.ts";
 * console.log(renderMarkdown("| a |\n|---|\n| 1 |").includes("<table>")); // true
 * console.log(renderMarkdown("[next](02_sparse.ipynb#top)")); // <p><a href="02_sparse.html#top">next</a></p>
 * ```
 */
export function renderMarkdown(source: string, options: MarkdownOptions = {}): string {
  context = options;
  slots = [];
  nonce = crypto.randomUUID().replaceAll("-", "");
  try {
    const html = marked.parse(source, { async: false });
    if (!options.sanitize) return html;
    return sanitizeHtml(html).replace(
      new RegExp(`<span class="nn-math-slot">nnmath${nonce}x(\\d+)</span>`, "g"),
      (_, i: string) => slots[Number(i)] ?? "",
    );
  } finally {
    context = {};
    slots = [];
  }
}
