import assert from "node:assert/strict";
import { checkRule, claim, claimBundle, recordedClaims, setupBackend } from "nn";
import { printedBy } from "./printed.ts";

const CLAIM = "application/vnd.neural-notebooks.claim+json";
/** Makes a claim; returns the bundle of its record and what it printed at once. */
const make = (...args: Parameters<typeof claim>) => {
  let value: unknown = "not called";
  const printed = printedBy(() => value = claim(...args));
  assert.equal(value, undefined, "claim returns nothing for the cell to print");
  return { bundle: claimBundle(recordedClaims().at(-1)!), printed };
};

Deno.test("checkRule: each rule passes and fails where it should", () => {
  assert.equal(checkRule(0.95, { atLeast: 0.95 }).pass, true);
  assert.equal(checkRule(0.9499, { atLeast: 0.95 }).pass, false);
  assert.equal(checkRule(3, { atMost: 2 }).pass, false);
  assert.equal(checkRule(0, { greaterThan: 0 }).pass, false);
  assert.equal(checkRule(-1e-9, { lessThan: 0 }).pass, true);
  assert.equal(checkRule(0.5, { between: [0, 1] }).pass, true);
  assert.equal(checkRule(1.5, { between: [0, 1] }).pass, false);
  assert.equal(checkRule(0.975, { within: { of: 0.98, tolerance: 0.01 } }).pass, true);
  assert.equal(checkRule(0.965, { within: { of: 0.98, tolerance: 0.01 } }).pass, false);
  assert.equal(checkRule(true, { equals: true }).pass, true);
  assert.equal(checkRule(NaN, { atMost: 1 }).pass, false, "NaN never passes");
  assert.equal(checkRule("0.99" as never, { atLeast: 0 }).pass, false, "strings are not numbers");
  assert.throws(() => checkRule(1, { between: [2, 1] }), /lower bound/);
  assert.throws(() => checkRule(1, {} as never), /Unknown claim rule/);
});

Deno.test("claim: the bundle carries {id, value, rule, pass, backend}", async () => {
  await setupBackend({ backend: "cpu" });
  const { bundle, printed } = make("acc", 0.97, { atLeast: 0.95, because: "LeCun 1998" }, {
    statement: "the MLP reaches 95 %",
  });
  const record = bundle[CLAIM] as Record<string, unknown>;
  assert.equal(record.id, "acc");
  assert.equal(record.value, 0.97);
  assert.deepEqual(record.rule, { atLeast: 0.95, because: "LeCun 1998" });
  assert.equal(record.pass, true);
  assert.equal(record.backend, "cpu");
  assert.equal(
    bundle["text/plain"],
    "PASS acc: 0.97 ≥ 0.95 — the MLP reaches 95 % (LeCun 1998) [cpu]",
  );
  assert.deepEqual(printed, [bundle["text/plain"]], "shown at once (outside Jupyter: printed)");
  const failed = make("gap", -0.01, { greaterThan: 0 }).bundle;
  assert.equal((failed[CLAIM] as Record<string, unknown>).pass, false);
  assert.match(String(failed["text/html"]), /data-pass="false"/);
  assert.deepEqual(recordedClaims().slice(-2).map((c) => c.id), ["acc", "gap"]);
  assert.throws(() => claim("has space", 1, { atLeast: 0 }), /must be letters/);
});
