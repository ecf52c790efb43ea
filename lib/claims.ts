/**
 * Claims: checked statements about an experiment's results.
 *
 * A notebook states what its experiment should show — "test accuracy at least 0.95",
 * "gap at the largest capacity exceeds the gap at the smallest" — as a claim with a
 * measured value and a rule. {@linkcode claim} checks it, shows a pass/fail line and
 * carries `{id, value, rule, pass, backend}` in the output under
 * `application/vnd.neural-notebooks.claim+json`, which the runner and the site read.
 * A failed claim does not throw: the notebook keeps running and the runner reports it.
 * Like every display of the library, a claim is shown at once where it is made and leaves
 * nothing for the cell to print.
 *
 * @example
 * ```ts
 * import { claim } from "nn";
 * const accuracy = 0.962;
 * claim("best-accuracy", accuracy, { atLeast: 0.95 });
 * ```
 * @module
 */

import { currentBackendReport } from "./backend.ts";
import { escapeHtml, publish } from "./display.ts";

/** The mime type of a claim in notebook outputs. */
export const CLAIM_MIME = "application/vnd.neural-notebooks.claim+json";

/**
 * A rule a value must satisfy. Exactly one of the checks is given; `because` cites
 * where the threshold comes from (a measurement or a paper).
 */
export type ClaimRule =
  & (
    | { atLeast: number }
    | { atMost: number }
    | { greaterThan: number }
    | { lessThan: number }
    | { between: [number, number] }
    | { within: { of: number; tolerance: number } }
    | { equals: number | boolean | string }
  )
  & { because?: string };

/** What a claim records. */
export interface ClaimRecord {
  /** Stable id, unique within a notebook (kebab-case). */
  id: string;
  /** The measured value. */
  value: number | boolean | string;
  /** The rule as given. */
  rule: ClaimRule;
  /** The rule in words, e.g. "≥ 0.95". */
  ruleText: string;
  /** Whether the value satisfies the rule. */
  pass: boolean;
  /** The backend the value was measured on, or "unknown" before setupBackend. */
  backend: string;
  /** Optional statement in words. */
  statement?: string;
}

/** Checks a value against a rule, returning the verdict and the rule in words. */
export function checkRule(
  value: number | boolean | string,
  rule: ClaimRule,
): { pass: boolean; ruleText: string } {
  const num = typeof value === "number" ? value : NaN;
  const finite = Number.isFinite(num);
  if ("atLeast" in rule) {
    return { pass: finite && num >= rule.atLeast, ruleText: `≥ ${rule.atLeast}` };
  }
  if ("atMost" in rule) return { pass: finite && num <= rule.atMost, ruleText: `≤ ${rule.atMost}` };
  if ("greaterThan" in rule) {
    return { pass: finite && num > rule.greaterThan, ruleText: `> ${rule.greaterThan}` };
  }
  if ("lessThan" in rule) {
    return { pass: finite && num < rule.lessThan, ruleText: `< ${rule.lessThan}` };
  }
  if ("between" in rule) {
    const [lo, hi] = rule.between;
    if (!(lo <= hi)) {
      throw new RangeError(`claim rule between [${lo}, ${hi}]: lower bound > upper.`);
    }
    return { pass: finite && num >= lo && num <= hi, ruleText: `in [${lo}, ${hi}]` };
  }
  if ("within" in rule) {
    const { of, tolerance } = rule.within;
    if (!(tolerance >= 0)) throw new RangeError(`claim rule within: tolerance must be ≥ 0.`);
    return {
      pass: finite && Math.abs(num - of) <= tolerance,
      ruleText: `within ${tolerance} of ${of}`,
    };
  }
  if ("equals" in rule) return { pass: value === rule.equals, ruleText: `= ${rule.equals}` };
  throw new TypeError(
    "Unknown claim rule: give one of atLeast, atMost, greaterThan, lessThan, between, " +
      "within {of, tolerance} or equals.",
  );
}

const recorded: ClaimRecord[] = [];

function formatValue(value: number | boolean | string): string {
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1000 ? value.toFixed(1) : String(Number(value.toPrecision(4)));
}

/** Options for {@linkcode claim}. */
export interface ClaimOptions {
  /** The statement in words, shown with the verdict. */
  statement?: string;
}

/**
 * Checks a claim, records it and displays its pass/fail line at once, wherever the call
 * stands in a cell (in a loop too); returns nothing, so the cell prints no value after it.
 *
 * @example
 * ```ts
 * import { claim } from "nn";
 * claim("gap-widens", 0.12 - 0.03, { greaterThan: 0 }, {
 *   statement: "the train–validation gap widens with capacity",
 * });
 * for (const seed of [0, 1]) claim(`acc-seed-${seed}`, 0.96, { atLeast: 0.95 });
 * ```
 */
export function claim(
  id: string,
  value: number | boolean | string,
  rule: ClaimRule,
  options: ClaimOptions = {},
): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(id)) {
    throw new TypeError(`Claim id "${id}" must be letters, digits, ".", "_" or "-" (no spaces).`);
  }
  const { pass, ruleText } = checkRule(value, rule);
  const record: ClaimRecord = {
    id,
    value,
    rule,
    ruleText,
    pass,
    backend: currentBackendReport()?.backend ?? "unknown",
    ...(options.statement ? { statement: options.statement } : {}),
  };
  recorded.push(record);
  publish(claimBundle(record));
}

/** The mimebundle of a claim record. */
export function claimBundle(record: ClaimRecord): Record<string, unknown> {
  const mark = record.pass ? "PASS" : "FAIL";
  const text = `${mark} ${record.id}: ${formatValue(record.value)} ${record.ruleText}` +
    (record.statement ? ` — ${record.statement}` : "") +
    (record.rule.because ? ` (${record.rule.because})` : "") + ` [${record.backend}]`;
  const colour = record.pass ? "#1a7f37" : "#cf222e";
  const html = `<div class="nn-claim" data-pass="${record.pass}" style="font-family:monospace">` +
    `<strong style="color:${colour}">${mark}</strong> <code>${escapeHtml(record.id)}</code>: ` +
    `${escapeHtml(formatValue(record.value))} ${escapeHtml(record.ruleText)}` +
    (record.statement ? ` — ${escapeHtml(record.statement)}` : "") +
    (record.rule.because ? ` <em>(${escapeHtml(record.rule.because)})</em>` : "") +
    ` <small>[${escapeHtml(record.backend)}]</small></div>`;
  return { [CLAIM_MIME]: record, "text/html": html, "text/plain": text };
}

/** Every claim recorded in this process so far (a copy). */
export function recordedClaims(): ClaimRecord[] {
  return recorded.slice();
}
