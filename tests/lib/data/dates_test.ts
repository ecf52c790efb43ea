// Dates data: seeded and distinct examples, every format parses back to its date, tensors
// have the teacher-forcing shapes, ids round-trip, exact match.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  DATE_FORMATS,
  DATE_SOURCE_LENGTH,
  DATE_TARGET_VOCAB,
  dateExamples,
  dateTensors,
  decodeIso,
  encodeDateSource,
  encodeIso,
  exactMatch,
} from "../../../lib/data/dates.ts";

Deno.test("dateExamples: seeded, distinct, within the source length, correct answers", () => {
  const a = dateExamples(500, { seed: 3 });
  assert.deepEqual(a, dateExamples(500, { seed: 3 }));
  assert.notDeepEqual(a, dateExamples(500, { seed: 4 }));
  assert.equal(new Set(a.map((e) => e.source)).size, 500);
  for (const e of a) {
    assert.ok(e.source.length <= DATE_SOURCE_LENGTH, e.source);
    assert.match(e.target, /^(19[5-9]\d|20[0-4]\d)-\d\d-\d\d$/);
    const [y, m, d] = e.target.split("-").map(Number);
    assert.equal(DATE_FORMATS[e.format](y, m, d), e.source);
  }
  assert.equal(new Set(a.map((e) => e.format)).size, Object.keys(DATE_FORMATS).length);
  assert.equal(DATE_FORMATS["Month dth, yyyy"](2015, 1, 23), "January 23rd, 2015");
  assert.equal(DATE_FORMATS["Month dth, yyyy"](2015, 1, 12), "January 12th, 2015");
  assert.equal(DATE_FORMATS["m/d/yy"](1999, 3, 4), "3/4/99");
  const test = dateExamples(50, { seed: 9, exclude: new Set(a.map((e) => e.source)) });
  assert.ok(test.every((e) => !a.some((t) => t.source === e.source)));
});

Deno.test("dateTensors and ids", async () => {
  const ex = dateExamples(3, { seed: 0 });
  const t = dateTensors(ex);
  assert.deepEqual(t.source.shape, [3, DATE_SOURCE_LENGTH]);
  assert.deepEqual(t.targetIn.shape, [3, 11]);
  assert.deepEqual(t.targetOut.shape, [3, 11, DATE_TARGET_VOCAB]);
  const tin = await t.targetIn.array();
  const tout = await tf.argMax(t.targetOut, -1).array() as number[][];
  assert.equal(tin[0][0], 1);
  assert.deepEqual(tin[0].slice(1), tout[0].slice(0, 10));
  assert.equal(tout[0][10], 2);
  assert.equal(decodeIso(tout[0]), ex[0].target);
  assert.equal(decodeIso(encodeIso("2001-02-03")), "2001-02-03");
  assert.equal(encodeDateSource("a").length, DATE_SOURCE_LENGTH);
  assert.throws(() => encodeDateSource("é"), /not a date character/);
  assert.equal(exactMatch(["a", "b"], ["a", "c"]), 0.5);
  t.dispose();
});
