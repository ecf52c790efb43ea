/**
 * Finds the kernel a notebook asks for: its `metadata.kernelspec.name` looked up in the
 * Jupyter data directories (`kernels/<name>/kernel.json`), with built-in fallbacks for
 * this project's kernelspec (`neural-notebooks`) and the stock `deno` one, so that a
 * machine without any installed kernelspec still runs Deno notebooks.
 *
 * @example
 * ```ts
 * import { resolveKernel } from "./kernel_lookup.ts";
 * const { spec } = await resolveKernel({
 *   kernelspec: { name: "deno", display_name: "Deno", language: "typescript" },
 * });
 * console.log(spec.argv.includes("--kernel")); // true
 * ```
 * @module
 */

import { join } from "node:path";

/** A kernel command line and environment, ready to start. */
export interface KernelSpec {
  /** Kernelspec name (the folder name under `kernels/`). */
  name: string;
  /** Command line; `{connection_file}` is replaced by the connection file's path. */
  argv: string[];
  /** Extra environment variables for the kernel process. */
  env: Record<string, string>;
  /** Display name, for reports. */
  displayName: string;
  /** Language the kernel runs. */
  language: string;
  /** Where it came from: a `kernel.json` path, or `built-in`. */
  source: string;
}

/** Raised when a notebook's kernel cannot be run by this runner. */
export class KernelLookupError extends Error {
  /** Creates a lookup error with a message saying what to do. */
  constructor(message: string) {
    super(message);
    this.name = "KernelLookupError";
  }
}

/** Languages the Deno kernel runs. */
export const DENO_LANGUAGES: readonly string[] = ["typescript", "javascript"];

/** Kernel names with a built-in command line, used when no kernelspec is installed. */
export const BUILT_IN_KERNELS: Readonly<Record<string, Omit<KernelSpec, "source">>> = {
  "neural-notebooks": {
    name: "neural-notebooks",
    argv: ["deno", "jupyter", "--kernel", "--conn", "{connection_file}"],
    env: { NO_COLOR: "1" },
    displayName: "Neural Notebooks (Deno)",
    language: "typescript",
  },
  deno: {
    name: "deno",
    argv: ["deno", "jupyter", "--kernel", "--conn", "{connection_file}"],
    env: {},
    displayName: "Deno",
    language: "typescript",
  },
};

/**
 * The Jupyter data directories searched for `kernels/`, in Jupyter's order:
 * `JUPYTER_PATH`, `JUPYTER_DATA_DIR` (or `~/.local/share/jupyter`), then the system dirs.
 *
 * @example
 * ```ts
 * import { jupyterDataDirs } from "./kernel_lookup.ts";
 * console.log(jupyterDataDirs().includes("/usr/share/jupyter")); // true
 * ```
 */
export function jupyterDataDirs(): string[] {
  const dirs: string[] = [];
  const jupyterPath = Deno.env.get("JUPYTER_PATH");
  if (jupyterPath) dirs.push(...jupyterPath.split(":").filter((d) => d !== ""));
  const dataDir = Deno.env.get("JUPYTER_DATA_DIR");
  const home = Deno.env.get("HOME");
  if (dataDir) dirs.push(dataDir);
  else if (Deno.build.os === "darwin" && home) dirs.push(join(home, "Library", "Jupyter"));
  else {
    const xdg = Deno.env.get("XDG_DATA_HOME") ?? (home ? join(home, ".local", "share") : "");
    if (xdg) dirs.push(join(xdg, "jupyter"));
  }
  dirs.push("/usr/local/share/jupyter", "/usr/share/jupyter");
  return [...new Set(dirs)];
}

/**
 * Reads the installed kernelspec `name` from the first data directory that has it.
 *
 * @example
 * ```ts
 * import { findKernelSpec } from "./kernel_lookup.ts";
 * console.log(await findKernelSpec("no-such-kernel")); // undefined
 * ```
 */
export async function findKernelSpec(
  name: string,
  dirs: string[] = jupyterDataDirs(),
): Promise<KernelSpec | undefined> {
  for (const dir of dirs) {
    const path = join(dir, "kernels", name, "kernel.json");
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      continue;
    }
    let json: { argv?: unknown; env?: unknown; display_name?: unknown; language?: unknown };
    try {
      json = JSON.parse(text);
    } catch {
      throw new KernelLookupError(`kernelspec ${path} is not JSON; reinstall the kernel`);
    }
    if (!Array.isArray(json.argv) || !json.argv.every((a) => typeof a === "string")) {
      throw new KernelLookupError(`kernelspec ${path} has no "argv" list; reinstall the kernel`);
    }
    return {
      name,
      argv: json.argv as string[],
      env: (json.env && typeof json.env === "object" ? json.env : {}) as Record<string, string>,
      displayName: typeof json.display_name === "string" ? json.display_name : name,
      language: typeof json.language === "string" ? json.language : "",
      source: path,
    };
  }
  return undefined;
}

/** The kernel-related metadata of a notebook. */
export interface NotebookKernelMetadata {
  /** `metadata.kernelspec`. */
  kernelspec?: { name?: string; display_name?: string; language?: string };
  /** `metadata.language_info`. */
  language_info?: { name?: string };
}

/** The kernel to start for a notebook, with a warning when it was guessed. */
export interface ResolvedKernel {
  /** What to start. */
  spec: KernelSpec;
  /** Set when the notebook's kernel was not found and the stock Deno kernel stands in. */
  warning?: string;
}

/**
 * The language a notebook declares (`kernelspec.language`, else `language_info.name`).
 *
 * @example
 * ```ts
 * import { notebookLanguage } from "./kernel_lookup.ts";
 * console.log(notebookLanguage({ language_info: { name: "typescript" } })); // typescript
 * ```
 */
export function notebookLanguage(metadata: NotebookKernelMetadata): string | undefined {
  const language = metadata.kernelspec?.language ?? metadata.language_info?.name;
  return typeof language === "string" && language !== "" ? language.toLowerCase() : undefined;
}

/**
 * Chooses the kernel for a notebook's metadata: the installed kernelspec of its name,
 * else the built-in command for `neural-notebooks`/`deno`, else (for a TypeScript or
 * JavaScript notebook) the stock Deno command with a warning.
 * Throws {@linkcode KernelLookupError} for notebooks in other languages.
 *
 * @example
 * ```ts
 * import { resolveKernel } from "./kernel_lookup.ts";
 * const { warning } = await resolveKernel({
 *   kernelspec: { name: "tslab", language: "typescript" },
 * }, []);
 * console.log(warning !== undefined); // true
 * ```
 */
export async function resolveKernel(
  metadata: NotebookKernelMetadata,
  dirs: string[] = jupyterDataDirs(),
): Promise<ResolvedKernel> {
  const language = notebookLanguage(metadata);
  const name = metadata.kernelspec?.name ?? "";
  if (language === undefined) {
    throw new KernelLookupError(
      `the notebook names no kernel language: set metadata.kernelspec.language to "typescript"`,
    );
  }
  if (!DENO_LANGUAGES.includes(language)) {
    throw new KernelLookupError(
      `the notebook is written in ${language} (kernel "${name || "unnamed"}"); ` +
        `this runner executes Deno notebooks (typescript or javascript)`,
    );
  }
  if (name !== "") {
    const installed = await findKernelSpec(name, dirs);
    if (installed) return { spec: installed };
    const builtIn = BUILT_IN_KERNELS[name];
    if (builtIn) return { spec: { ...builtIn, source: "built-in" } };
  }
  return {
    spec: { ...BUILT_IN_KERNELS.deno, source: "built-in" },
    warning: `kernel "${name || "unnamed"}" is not installed; running the ${language} notebook ` +
      `with the stock Deno kernel (deno jupyter --kernel)`,
  };
}
