/**
 * The build manifest (`out/site-manifest.json`): for every executed copy the build made
 * with the project's runner, the sha256 of the source notebook it came from and of the
 * executed file itself, the profile, and when.
 *
 * It answers two questions by content hash, not by dates or flags inside notebooks:
 * - fresh: is the executed copy the result of running the source as it is now (same
 *   source sha256, same profile)? Then the build reuses it instead of running again.
 * - trusted: did this project's runner make this exact file (its sha256 is the one
 *   recorded when the build ran the runner)? Only then are its HTML outputs inserted as
 *   they are; any other executed notebook is rendered as third-party (sanitised).
 *
 * An executed copy whose metadata carries the runner's own record of the source hash
 * (`metadata["neural-notebooks"].run.source_sha256`, with `run.profile`: the profile it ran
 * with, injected or the notebook's default; older copies: `run.parameters.profile`) equal to
 * the current source's is also accepted as fresh and trusted, so that copies made by
 * `deno task run` can be reused.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./manifest.ts";
 * console.log(await sha256Hex(new TextEncoder().encode("abc")));
 * // ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
 * ```
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../notebook.ts";

/** File name of the manifest inside the executed-notebooks folder. */
export const MANIFEST_NAME = "site-manifest.json";

/** What the manifest records for one executed copy. */
export interface ManifestEntry {
  /** The source notebook, as given to the build (e.g. `notebooks/01_dense.ipynb`). */
  source: string;
  /** sha256 (hex) of the source file the copy was executed from. */
  sourceSha256: string;
  /** sha256 (hex) of the executed file the runner wrote. */
  executedSha256: string;
  /** The profile it ran with (absent: the runner's default). */
  profile?: string;
  /** ISO time of the execution. */
  executedAt: string;
  /** The runner's status for it, when its report said. */
  status?: string;
  /** The runner's duration for it in ms, when its report said. */
  durationMs?: number;
}

/** The manifest: executed file name (relative to the out folder) to its entry. */
export interface Manifest {
  /** Format version, 1. */
  version: 1;
  /** Entries by executed file name. */
  notebooks: Record<string, ManifestEntry>;
}

/**
 * sha256 of bytes, as lowercase hex.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./manifest.ts";
 * console.log((await sha256Hex(new Uint8Array())).slice(0, 8)); // e3b0c442
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** sha256 of a file's bytes (hex), or `undefined` when there is no such file. */
export async function fileSha256(path: string): Promise<string | undefined> {
  try {
    return await sha256Hex(await Deno.readFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Reads the manifest of an out folder; an absent or unreadable one is an empty manifest
 * (everything will be executed again).
 *
 * @example
 * ```ts
 * import { readManifest } from "./manifest.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await readManifest(dir)); // { version: 1, notebooks: {} }
 * await Deno.remove(dir);
 * ```
 */
export async function readManifest(outDir: string): Promise<Manifest> {
  try {
    const json = JSON.parse(await Deno.readTextFile(join(outDir, MANIFEST_NAME)));
    if (json?.version === 1 && json.notebooks && typeof json.notebooks === "object") {
      return json as Manifest;
    }
  } catch {
    // absent or broken: start over
  }
  return { version: 1, notebooks: {} };
}

/**
 * Writes the manifest atomically.
 *
 * @example
 * ```ts
 * import { readManifest, writeManifest } from "./manifest.ts";
 * const dir = await Deno.makeTempDir();
 * await writeManifest(dir, { version: 1, notebooks: {} });
 * console.log((await readManifest(dir)).version); // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeManifest(outDir: string, manifest: Manifest): Promise<void> {
  const sorted: Manifest = { version: 1, notebooks: {} };
  for (const key of Object.keys(manifest.notebooks).sort()) {
    sorted.notebooks[key] = manifest.notebooks[key];
  }
  await writeFileAtomic(join(outDir, MANIFEST_NAME), JSON.stringify(sorted, null, 2) + "\n");
}

/** What the build knows about one executed copy. */
export interface CopyState {
  /** The copy exists. */
  exists: boolean;
  /** It was made from the current source with the wanted profile. */
  fresh: boolean;
  /** This project's runner made this exact file. */
  trusted: boolean;
  /** sha256 of the executed file, when it exists. */
  executedSha256?: string;
  /** The manifest entry that vouches for it, if any. */
  entry?: ManifestEntry;
}

/** The source hash and profile the runner recorded in an executed notebook, if any. */
function runnerRecord(text: string): { sourceSha256?: string; profile?: string } {
  try {
    const meta = JSON.parse(text)?.metadata?.["neural-notebooks"];
    const run = meta?.run;
    const hash = meta?.source_sha256 ?? run?.source_sha256 ?? run?.sourceSha256;
    const profile = run?.profile ?? run?.parameters?.profile;
    return {
      ...(typeof hash === "string" ? { sourceSha256: hash.toLowerCase() } : {}),
      ...(typeof profile === "string" ? { profile } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Decides whether an executed copy is fresh and trusted (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { copyState, readManifest } from "./manifest.ts";
 * const state = await copyState({ manifest: await readManifest("out"), outDir: "out",
 *   name: "01_dense.ipynb", sourceSha256: "…" });
 * ```
 */
export async function copyState(options: {
  manifest: Manifest;
  outDir: string;
  name: string;
  sourceSha256: string;
  profile?: string;
}): Promise<CopyState> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(join(options.outDir, options.name));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { exists: false, fresh: false, trusted: false };
    }
    throw error;
  }
  const executedSha256 = await sha256Hex(bytes);
  const entry = options.manifest.notebooks[options.name];
  if (entry && entry.executedSha256 === executedSha256) {
    const fresh = entry.sourceSha256 === options.sourceSha256 &&
      (entry.profile ?? "") === (options.profile ?? "");
    return { exists: true, fresh, trusted: true, executedSha256, entry };
  }
  const recorded = runnerRecord(new TextDecoder().decode(bytes));
  if (
    recorded.sourceSha256 !== undefined && recorded.sourceSha256 === options.sourceSha256 &&
    (recorded.profile ?? "") === (options.profile ?? "")
  ) {
    return { exists: true, fresh: true, trusted: true, executedSha256 };
  }
  return { exists: true, fresh: false, trusted: false, executedSha256 };
}
