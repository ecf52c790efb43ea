/**
 * Installs (or removes) this project's Jupyter kernelspec, without Python.
 *
 * The kernelspec runs the Deno kernel (`deno jupyter --kernel --conn {connection_file}`)
 * with `NO_COLOR=1`; Jupyter starts it in the notebook's folder, where Deno finds the
 * project's deno.json (imports map, `nodeModulesDir`, unstable features), so the
 * library's alias `nn` resolves in every notebook of the project.
 *
 * Usage: `deno task kernel [--uninstall] [--prefix DIR] [--user] [--name NAME]`
 *
 * @example
 * ```ts
 * import { installKernelspec } from "./kernelspec.ts";
 * const dir = await Deno.makeTempDir();
 * const { path } = await installKernelspec({ dataDir: dir });
 * console.log(path); // <dir>/kernels/neural-notebooks
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";

/** The kernelspec's directory name, which notebooks name in `metadata.kernelspec.name`. */
export const KERNEL_NAME = "neural-notebooks";
/** The name shown in Jupyter's kernel picker. */
export const DISPLAY_NAME = "Neural Notebooks (Deno)";

/** The content of kernel.json. */
export interface KernelJson {
  argv: string[];
  display_name: string;
  language: string;
  env: Record<string, string>;
  interrupt_mode: "signal" | "message";
  metadata: Record<string, unknown>;
}

/**
 * The kernel.json this project installs.
 *
 * @param denoPath the deno executable; an absolute path, so that Jupyter started from a
 *   desktop launcher (without the shell's PATH) still finds it
 */
export function kernelJson(denoPath: string = Deno.execPath()): KernelJson {
  return {
    argv: [denoPath, "jupyter", "--kernel", "--conn", "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    env: { NO_COLOR: "1" },
    interrupt_mode: "signal",
    metadata: { "neural-notebooks": { deno: Deno.version.deno } },
  };
}

function home(): string {
  const h = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!h) throw new Error("Cannot find the home directory: set HOME or pass --prefix DIR.");
  return h;
}

/**
 * Jupyter's per-user data directory, as `jupyter --data-dir` computes it:
 * `JUPYTER_DATA_DIR` if set, else the platform default.
 */
export function userDataDir(): string {
  const env = Deno.env.get("JUPYTER_DATA_DIR");
  if (env) return env;
  switch (Deno.build.os) {
    case "darwin":
      return join(home(), "Library", "Jupyter");
    case "windows":
      return join(Deno.env.get("APPDATA") ?? join(home(), "AppData", "Roaming"), "jupyter");
    default:
      return join(Deno.env.get("XDG_DATA_HOME") ?? join(home(), ".local", "share"), "jupyter");
  }
}

/** Options for {@linkcode installKernelspec} and {@linkcode uninstallKernelspec}. */
export interface KernelspecOptions {
  /** A Jupyter data directory (the kernelspec goes to `<dataDir>/kernels/<name>`). */
  dataDir?: string;
  /** An install prefix, as `jupyter kernelspec install --prefix` (`<prefix>/share/jupyter`). */
  prefix?: string;
  /** Kernelspec name. Default {@linkcode KERNEL_NAME}. */
  name?: string;
  /** The deno executable to put in argv. Default: the running one. */
  denoPath?: string;
}

function targetDir(options: KernelspecOptions): string {
  const base = options.dataDir ??
    (options.prefix ? join(options.prefix, "share", "jupyter") : userDataDir());
  return join(base, "kernels", options.name ?? KERNEL_NAME);
}

/**
 * Writes kernel.json and the logos into the kernels folder; replaces an older copy.
 *
 * @returns the kernelspec's folder and what was written
 */
export async function installKernelspec(
  options: KernelspecOptions = {},
): Promise<{ path: string; kernel: KernelJson }> {
  const path = targetDir(options);
  const kernel = kernelJson(options.denoPath);
  if (options.name) kernel.display_name = `${DISPLAY_NAME} [${options.name}]`;
  await Deno.mkdir(path, { recursive: true });
  await Deno.writeTextFile(join(path, "kernel.json"), JSON.stringify(kernel, null, 2) + "\n");
  for (const logo of ["logo-32x32.png", "logo-64x64.png"]) {
    const bytes = await Deno.readFile(new URL(`./assets/${logo}`, import.meta.url));
    await Deno.writeFile(join(path, logo), bytes);
  }
  return { path, kernel };
}

/**
 * Removes the kernelspec folder. Returns its path, or `null` when it was not there.
 */
export async function uninstallKernelspec(options: KernelspecOptions = {}): Promise<string | null> {
  const path = targetDir(options);
  try {
    await Deno.remove(path, { recursive: true });
    return path;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

const HELP = `Install this project's Jupyter kernelspec ("${DISPLAY_NAME}").

Usage: deno task kernel [options]

Options:
  --uninstall      remove the kernelspec instead
  --prefix DIR     install under DIR/share/jupyter/kernels (like jupyter's --prefix)
  --data-dir DIR   install under DIR/kernels (default: JUPYTER_DATA_DIR or the user's
                   Jupyter data directory)
  --name NAME      kernelspec name (default ${KERNEL_NAME})
  -h, --help       this help
`;

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        uninstall: { type: "boolean" },
        prefix: { type: "string" },
        "data-dir": { type: "string" },
        name: { type: "string" },
        user: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    console.error(`kernel: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (v.name !== undefined && !/^[a-z0-9._-]+$/i.test(v.name)) {
    console.error(`kernel: --name "${v.name}" may only use letters, digits, ".", "_" and "-".`);
    return 2;
  }
  const options: KernelspecOptions = { prefix: v.prefix, dataDir: v["data-dir"], name: v.name };
  if (v.uninstall) {
    const removed = await uninstallKernelspec(options);
    console.log(
      removed ? `Removed the kernelspec at ${removed}` : `No kernelspec at ${targetDir(options)}`,
    );
    return 0;
  }
  const { path, kernel } = await installKernelspec(options);
  console.log(`Installed the kernelspec "${options.name ?? KERNEL_NAME}" at ${path}
  runs: ${kernel.argv.join(" ")}  (env NO_COLOR=1)

In Jupyter, pick the kernel "${kernel.display_name}": JupyterLab and classic Notebook list
it under New / Change kernel; VS Code under "Select Kernel" → "Jupyter Kernel…". Open
notebooks from inside this project so that Deno finds its deno.json.`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
