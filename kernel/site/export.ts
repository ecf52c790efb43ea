/**
 * Writes the static site: `index.html`, one page per notebook, and the files every page
 * shares — `site.css` (with the highlight.js theme), `site.js` (draws the charts),
 * `plotly.min.js` (the pinned `plotly.js-dist-min` bundle, written once) and `katex/`
 * (KaTeX's stylesheet and fonts, for the math typeset at build time).
 *
 * The site is assembled in a temporary folder beside the target and swapped in, so a
 * reader never sees a half-written site and pages of removed notebooks disappear. A
 * target folder that exists, is not empty and was not made by this exporter (it has no
 * `.neural-notebooks-site` marker) is left alone with an error.
 *
 * @example
 * ```ts ignore
 * import { exportSite } from "./export.ts";
 * const { files } = await exportSite([], { siteDir: "site" });
 * console.log(files.filter((f) => !f.startsWith("katex/")));
 * // ["index.html", "plotly.min.js", "site.css", "site.js"]
 * ```
 * @module
 */

import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { katexDistDir } from "./math.ts";
import { indexPage, notebookPage, type PageOptions, type SiteNotebook } from "./pages.ts";
import { buildLiveBundle, type LivePanel, livePanels, wasmBinaryScripts } from "./live.ts";

/** Marker file that identifies a folder written by {@linkcode exportSite}. */
export const SITE_MARKER = ".neural-notebooks-site";

/** Options for {@linkcode exportSite}. */
export interface ExportOptions extends PageOptions {
  /** The site folder (created or replaced). */
  siteDir: string;
}

/** What {@linkcode exportSite} wrote. */
export interface ExportResult {
  /** The site folder, absolute. */
  siteDir: string;
  /** Files written, relative to the site folder, sorted. */
  files: string[];
}

/** Path of the plotly.js bundle of the pinned `plotly.js-dist-min` package. */
export function plotlyBundlePath(): string {
  try {
    return createRequire(import.meta.url).resolve("plotly.js-dist-min");
  } catch (error) {
    throw new Error(
      `plotly.js-dist-min is not installed (${(error as Error).message}): ` +
        "run `deno install` in the project folder.",
    );
  }
}

function highlightThemePath(): string {
  return createRequire(import.meta.url).resolve("highlight.js/styles/github.css");
}

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Writes the site for the given notebooks (see the module doc). Page file names come from
 * the entries and must be unique.
 *
 * @example
 * ```ts ignore
 * import { exportSite } from "./export.ts";
 * await exportSite(entries, { siteDir: "site", siteTitle: "Course" });
 * ```
 */
export async function exportSite(
  entries: SiteNotebook[],
  options: ExportOptions,
): Promise<ExportResult> {
  const siteDir = resolve(options.siteDir);
  const pages = new Set<string>();
  for (const entry of entries) {
    if (
      !/^[^/\\]+\.html$/.test(entry.page) || entry.page === "index.html" || pages.has(entry.page)
    ) {
      throw new Error(`Page name "${entry.page}" is not a unique plain .html file name.`);
    }
    pages.add(entry.page);
  }
  if (await exists(siteDir)) {
    const info = await Deno.stat(siteDir);
    if (!info.isDirectory) {
      throw new Error(`${options.siteDir} exists and is not a folder: choose another --site.`);
    }
    if (!(await exists(join(siteDir, SITE_MARKER))) && !(await isEmptyDir(siteDir))) {
      throw new Error(
        `${options.siteDir} is not empty and was not written by the site build ` +
          `(no ${SITE_MARKER} in it): move it away or choose another --site.`,
      );
    }
  }

  const parent = dirname(siteDir);
  await Deno.mkdir(parent, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: parent, prefix: `.${basename(siteDir)}.new-` });
  const files: string[] = [];
  try {
    await Deno.chmod(staging, 0o755);
    const write = async (name: string, text: string) => {
      await Deno.writeTextFile(join(staging, name), text);
      files.push(name);
    };
    await write(
      SITE_MARKER,
      "This folder is written by `deno task build`; it is replaced whole.\n",
    );
    files.pop();
    await Deno.copyFile(plotlyBundlePath(), join(staging, "plotly.min.js"));
    files.push("plotly.min.js");
    const css = await Deno.readTextFile(new URL("./static/site.css", import.meta.url));
    const theme = await Deno.readTextFile(highlightThemePath());
    await write("site.css", `${css}\n/* highlight.js github theme (BSD-3-Clause) */\n${theme}`);
    await write("site.js", await Deno.readTextFile(new URL("./static/site.js", import.meta.url)));
    await Deno.mkdir(join(staging, "katex/fonts"), { recursive: true });
    const katex = katexDistDir();
    await Deno.copyFile(join(katex, "katex.min.css"), join(staging, "katex/katex.min.css"));
    files.push("katex/katex.min.css");
    for await (const font of Deno.readDir(join(katex, "fonts"))) {
      if (!font.isFile) continue;
      await Deno.copyFile(join(katex, "fonts", font.name), join(staging, "katex/fonts", font.name));
      files.push(`katex/fonts/${font.name}`);
    }
    // Live panels: the models each trusted notebook published, as scripts beside the pages.
    let anyLive = false;
    for (const entry of entries) {
      let live: Map<string, LivePanel> | undefined;
      if (entry.trusted && entry.modelsDir) {
        const found = await livePanels(entry.notebook, entry.page, entry.modelsDir);
        live = found.panels;
        for (const [path, text] of found.files) {
          await Deno.mkdir(join(staging, dirname(path)), { recursive: true });
          await write(path, text);
        }
        if ([...live.values()].some((p) => !p.error)) anyLive = true;
      }
      await write(entry.page, notebookPage(entry, { ...options, ...(live ? { live } : {}) }));
    }
    if (anyLive) {
      await Deno.mkdir(join(staging, "live/wasm"), { recursive: true });
      await write("live/nn-live.js", await buildLiveBundle());
      for (const [path, text] of await wasmBinaryScripts()) await write(path, text);
    }
    await write("index.html", indexPage(entries, options));

    // Swap the new site in.
    let old: string | undefined;
    if (await exists(siteDir)) {
      old = join(parent, `.${basename(siteDir)}.old-${crypto.randomUUID().slice(0, 8)}`);
      await Deno.rename(siteDir, old);
    }
    await Deno.rename(staging, siteDir);
    if (old) await Deno.remove(old, { recursive: true });
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
  return { siteDir, files: files.sort() };
}
