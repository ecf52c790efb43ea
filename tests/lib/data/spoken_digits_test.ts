import assert from "node:assert/strict";
import { loadSpokenDigits, muLawDecode, spokenDigitSplit } from "../../../lib/data/mod.ts";

Deno.test("μ-law decoding inverts the generator's encoding", () => {
  const mu = 255;
  for (const x of [-1, -0.3, -0.01, 0, 0.002, 0.25, 0.9]) {
    const y = Math.sign(x) * Math.log1p(mu * Math.abs(x)) / Math.log1p(mu);
    const byte = Math.round(((y + 1) / 2) * 255);
    // one step of the 8-bit code is at most ~3 % of |x| plus the step at zero
    assert.ok(Math.abs(muLawDecode(byte) - x) <= 0.035 * Math.abs(x) + 2e-4, `${x}`);
  }
});

Deno.test("the spoken digits: 16 voices × 10 digits × 5 renditions, 4 voices held out", async () => {
  const d = await loadSpokenDigits();
  assert.equal(d.clips.length, 800);
  assert.equal(d.voices.length, 16);
  assert.equal(d.sampleRate, 8000);
  assert.ok(d.audio.every((a) => a.length === 5120 && a.every((v) => v >= -1 && v <= 1)));
  for (const v of d.voices) {
    const mine = d.clips.filter((c) => c.voice === v);
    assert.equal(mine.length, 50, v);
    for (let digit = 0; digit < 10; digit++) {
      assert.equal(mine.filter((c) => c.digit === digit).length, 5);
    }
  }
  assert.deepEqual(d.heldOut, ["en-us+m7", "en-gb+f5", "en-gb-scotland+klatt3", "en-029+m8"]);
  // each variant (after the +) belongs to one voice only
  const variants = d.voices.map((v) => v.split("+")[1]);
  assert.equal(new Set(variants).size, 16);
  // speech is louder than the noise around it: the peak stands well above the first 10 ms
  const a = d.audio[0];
  const quiet = Math.max(...Array.from(a.subarray(0, 80), Math.abs));
  assert.ok(Math.max(...Array.from(a, Math.abs)) > 3 * quiet);
});

Deno.test("spokenDigitSplit keeps the held-out voices out of training, standardised features", async () => {
  const s = await spokenDigitSplit({ seed: 1 });
  const d = await loadSpokenDigits();
  assert.equal(s.yTrain.length, 600);
  assert.equal(s.yTest.length, 200);
  assert.equal(s.xTrain.length, 600 * s.frames * s.mels);
  assert.deepEqual([s.frames, s.mels], [39, 32]);
  for (const i of s.trainClips) assert.ok(!d.heldOut.includes(d.clips[i].voice));
  for (const i of s.testClips) assert.ok(d.heldOut.includes(d.clips[i].voice));
  let sum = 0, sq = 0;
  for (const v of s.xTrain) (sum += v), (sq += v * v);
  const mean = sum / s.xTrain.length;
  assert.ok(Math.abs(mean) < 1e-3 && Math.abs(sq / s.xTrain.length - 1) < 1e-2);
  const again = await spokenDigitSplit({ seed: 1 });
  assert.deepEqual(again.trainClips, s.trainClips);
  const other = await spokenDigitSplit({ seed: 1, heldOut: ["en-us+m1"] });
  assert.equal(other.yTest.length, 50);
  await assert.rejects(spokenDigitSplit({ heldOut: ["nobody"] }), /Unknown voice/);
});
