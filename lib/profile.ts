/**
 * The run's profile: `"full"` (the experiment the notebook's text describes, the default)
 * or `"smoke"` (tiny sizes: a quick check of every cell for tests and CI).
 *
 * A notebook declares its profile once, in its setup cell, with {@linkcode useProfile}. A
 * smoke run then says so where a reader looks: a banner as the first output, "(smoke)" in
 * every figure title (see `chartBundle`), and figures that smoke sizes cannot make
 * meaningful replaced by a note (`show(figure, { fullOnly: "why" })`).
 *
 * @example
 * ```ts
 * import { currentProfile, useProfile } from "nn";
 * useProfile("full");
 * console.log(currentProfile()); // "full"
 * ```
 * @module
 */

import { escapeHtml, publish } from "./display.ts";

/** A notebook profile. */
export type Profile = "full" | "smoke";

/** The mime type of the smoke banner (`{profile}`), so that tools can find it. */
export const PROFILE_MIME = "application/vnd.neural-notebooks.profile+json";

let current: Profile | undefined;

/**
 * Declares the profile this notebook runs with. In the smoke profile it displays a banner
 * at once saying that the figures and numbers below come from tiny sizes; in the full
 * profile it shows nothing. Throws for anything but `"full"` or `"smoke"`.
 *
 * @example
 * ```ts
 * import { useProfile } from "nn";
 * let profile = "full"; // the parameters cell
 * useProfile(profile);
 * ```
 */
export function useProfile(profile: string): void {
  if (profile !== "full" && profile !== "smoke") {
    throw new TypeError(
      `profile "${profile}": expected "full" (the experiment the text describes) or "smoke" ` +
        `(a quick check with tiny sizes); set it in the parameters cell.`,
    );
  }
  current = profile;
  if (profile === "full") return;
  const text = "SMOKE PROFILE: tiny sizes for a quick check of every cell. The figures (marked " +
    '"(smoke)") and numbers below are not the experiment the text describes; set ' +
    'profile = "full" in the parameters cell and run all cells for that.';
  publish({
    [PROFILE_MIME]: { profile },
    "text/html": `<div class="nn-profile" style="border-left:4px solid #bf8700;` +
      `background:#fff8c5;color:#3b2300;padding:6px 10px;font-family:system-ui,sans-serif">` +
      `<strong>Smoke profile</strong> — ${escapeHtml(text.replace(/^SMOKE PROFILE: /, ""))}</div>`,
    "text/plain": text,
  });
}

/**
 * The profile declared with {@linkcode useProfile}, or `undefined` before it is called.
 *
 * @example
 * ```ts
 * import { currentProfile } from "nn";
 * if (currentProfile() === "smoke") console.log("a quick check");
 * ```
 */
export function currentProfile(): Profile | undefined {
  return current;
}

/**
 * Forgets the declared profile (for tests).
 *
 * @example
 * ```ts
 * import { currentProfile, resetProfile } from "nn";
 * resetProfile();
 * console.log(currentProfile()); // undefined
 * ```
 */
export function resetProfile(): void {
  current = undefined;
}
