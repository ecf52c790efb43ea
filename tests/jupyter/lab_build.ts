/**
 * Builds the JupyterLab 4 application of the browser suite from its npm packages, once:
 * `deno task build:lab` (or `deno run -A tests/jupyter/lab_build.ts [--force]`).
 *
 * The sources live in `tests/jupyter/lab/` (package.json with exact versions and its
 * lockfile, JupyterLab's entry point `index.js`, the rspack build `build.cjs`, the page
 * template and the server `lab_server.py`). The build copies them to `out/lab/src/`,
 * installs the packages there with `npm ci` and bundles the application into
 * `out/lab/build/` (bundle, settings schemas, themes). Both steps are skipped while their
 * inputs are unchanged: `out/lab/src/node_modules/.nn-lock-sha256` holds the lockfile's
 * hash, `out/lab/build/.nn-build-sha256` the hash of every source file, so a second run
 * costs a second. The Lab tests read {@linkcode labBuildState} and skip with its reason
 * when the build is missing or stale.
 *
 * Needs Node.js with npm (and the npm registry on the first run); without them it says so
 * and exits 0, and the Lab tests skip.
 *
 * @example
 * ```ts ignore
 * import { buildLab, labBuildState } from "./lab_build.ts";
 * if (!(await labBuildState()).ok) await buildLab();
 * ```
 * @module
 */

import { join } from "node:path";
import { PROJECT_ROOT } from "./helpers.ts";

/** The Lab sources in the repository. */
export const LAB_SOURCES: string = join(PROJECT_ROOT, "tests", "jupyter", "lab");
/** Where the sources are copied and the packages installed. */
export const LAB_WORK: string = join(PROJECT_ROOT, "out", "lab", "src");
/** The built application that `lab_server.py --LabNN.app_dir` serves. */
export const LAB_BUILD: string = join(PROJECT_ROOT, "out", "lab", "build");

/** The files whose content decides whether the build is current. */
const SOURCE_FILES = ["package.json", "package-lock.json", "index.js", "build.cjs"];
const LOCK_STAMP = join(LAB_WORK, "node_modules", ".nn-lock-sha256");
const BUILD_STAMP = join(LAB_BUILD, ".nn-build-sha256");

const decoder = new TextDecoder();

async function sha256(data: Uint8Array<ArrayBuffer> | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hash of every source file (name and content), which names a build. */
export async function sourcesHash(): Promise<string> {
  const parts: string[] = [];
  for (const file of SOURCE_FILES) {
    parts.push(`${file}:${await sha256(await Deno.readFile(join(LAB_SOURCES, file)))}`);
  }
  return await sha256(parts.join("\n"));
}

const readText = (path: string) => Deno.readTextFile(path).then((t) => t.trim(), () => "");

/** Whether the Lab build is present and current, and why not when it is not. */
export async function labBuildState(): Promise<{ ok: boolean; reason?: string }> {
  const stamp = await readText(BUILD_STAMP);
  if (!stamp) {
    return { ok: false, reason: `no JupyterLab build in ${LAB_BUILD} (deno task build:lab)` };
  }
  if (stamp !== await sourcesHash()) {
    return {
      ok: false,
      reason: `the JupyterLab build in ${LAB_BUILD} is older than tests/jupyter/lab/ ` +
        "(deno task build:lab)",
    };
  }
  return { ok: true };
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const t0 = performance.now();
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    throw new Error(
      `cannot run \`${cmd}\` (${(error as Error).message}): the JupyterLab build needs ` +
        "Node.js and npm.",
    );
  }
  const text = (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim();
  if (!out.success) {
    throw new Error(`\`${cmd} ${args.join(" ")}\` failed in ${cwd}:\n${text.slice(-4000)}`);
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${cmd} ${args.join(" ")}: ${seconds} s${text ? `\n${text.slice(-600)}` : ""}`);
}

/** Options for {@linkcode buildLab}. */
export interface BuildOptions {
  /** Reinstall and rebuild even when the stamps match. */
  force?: boolean;
}

/**
 * Installs the packages (`npm ci`, when the lockfile changed) and bundles the
 * application (when a source changed). Returns whether anything was rebuilt.
 */
export async function buildLab(options: BuildOptions = {}): Promise<boolean> {
  const hash = await sourcesHash();
  if (!options.force && await readText(BUILD_STAMP) === hash) {
    console.log(`JupyterLab build in ${LAB_BUILD} is current.`);
    return false;
  }
  await Deno.mkdir(LAB_WORK, { recursive: true });
  for (const file of SOURCE_FILES) {
    await Deno.copyFile(join(LAB_SOURCES, file), join(LAB_WORK, file));
  }
  const lockHash = await sha256(await Deno.readFile(join(LAB_SOURCES, "package-lock.json")));
  if (options.force || await readText(LOCK_STAMP) !== lockHash) {
    await run("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], LAB_WORK);
    await Deno.writeTextFile(LOCK_STAMP, lockHash + "\n");
  }
  // Build next to the old build, then swap, so that a failed build leaves no half build.
  const next = `${LAB_BUILD}.next`;
  await Deno.remove(next, { recursive: true }).catch(() => {});
  await run("node", ["build.cjs", next], LAB_WORK);
  await Deno.writeTextFile(join(next, ".nn-build-sha256"), hash + "\n");
  await Deno.remove(LAB_BUILD, { recursive: true }).catch(() => {});
  await Deno.rename(next, LAB_BUILD);
  return true;
}

/** Whether `node` and `npm` run here. */
export async function hasNode(): Promise<boolean> {
  for (const cmd of ["node", "npm"]) {
    try {
      const out = await new Deno.Command(cmd, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (!out.success) return false;
    } catch {
      return false;
    }
  }
  return true;
}

if (import.meta.main) {
  const t0 = performance.now();
  if (!await hasNode()) {
    // The Lab tests say so and skip without the build.
    console.log("JupyterLab build skipped: it needs Node.js and npm (apt-get install nodejs npm).");
    Deno.exit(0);
  }
  try {
    await buildLab({ force: Deno.args.includes("--force") });
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
  console.log(`deno task build:lab took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
