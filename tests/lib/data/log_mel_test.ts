import assert from "node:assert/strict";
import {
  fft,
  hannWindow,
  hzToMel,
  logMelSpectrogram,
  melFilterbank,
  melToHz,
  powerSpectrogram,
} from "../../../lib/data/mod.ts";

Deno.test("fft equals the direct DFT sum on a random signal", () => {
  const n = 64;
  let s = 1;
  const x = Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5);
  const re = Float64Array.from(x), im = new Float64Array(n);
  fft(re, im);
  for (let k = 0; k < n; k++) {
    let dr = 0, di = 0;
    for (let t = 0; t < n; t++) {
      dr += x[t] * Math.cos((-2 * Math.PI * k * t) / n);
      di += x[t] * Math.sin((-2 * Math.PI * k * t) / n);
    }
    assert.ok(Math.abs(re[k] - dr) < 1e-9 && Math.abs(im[k] - di) < 1e-9, `bin ${k}`);
  }
  assert.throws(() => fft(new Float64Array(6), new Float64Array(6)), /power of two/);
});

Deno.test("the periodic Hann window and the HTK mel formula", () => {
  assert.deepEqual(Array.from(hannWindow(4)), [0, 0.5, 1, 0.5]);
  // periodic Hann overlap-adds to a constant at hop n/2
  const w = hannWindow(8);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(w[i] + w[i + 4] - 1) < 1e-6);
  assert.ok(Math.abs(hzToMel(1000) - 1000) < 0.1, "HTK: 1000 Hz ≈ 1000 mel");
  assert.ok(Math.abs(hzToMel(700) - 2595 * Math.log10(2)) < 1e-9);
  for (const f of [0, 123, 4000]) assert.ok(Math.abs(melToHz(hzToMel(f)) - f) < 1e-6);
});

Deno.test("the mel filters are triangles of peak at most 1 that tile the band", () => {
  const fb = melFilterbank({ sampleRate: 8000, nFft: 256, nMels: 32 });
  assert.equal(fb.length, 32);
  for (const row of fb) {
    const peak = Math.max(...row);
    assert.ok(peak > 0.3 && peak <= 1, `peak ${peak}`);
    // one rise then one fall: the non-zero bins are contiguous
    const nz = Array.from(row.keys()).filter((k) => row[k] > 0);
    assert.equal(nz.at(-1)! - nz[0] + 1, nz.length);
  }
  // centres increase; neighbouring triangles overlap so that their sum is 1 between centres
  const centre = (m: number) => fb[m].indexOf(Math.max(...fb[m]));
  for (let m = 1; m < 32; m++) assert.ok(centre(m) >= centre(m - 1));
  for (let k = 40; k < 120; k++) {
    const sum = fb.reduce((s, row) => s + row[k], 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `bin ${k}: ${sum}`);
  }
  assert.throws(() => melFilterbank({ sampleRate: 8000, nFft: 256, nMels: 8, fMax: 5000 }), /fMax/);
});

Deno.test("a pure tone lights the mel band around its frequency; silence gives log(floor)", () => {
  const rate = 8000;
  for (const hz of [300, 1000, 2500]) {
    const tone = Float32Array.from(
      { length: 2048 },
      (_, i) => Math.sin((2 * Math.PI * hz * i) / rate),
    );
    const s = logMelSpectrogram(tone, { sampleRate: rate, nFft: 256, hop: 128, nMels: 32 });
    assert.equal(s.frames, 1 + Math.floor((2048 - 256) / 128));
    const frame = Array.from(s.data.subarray(5 * 32, 6 * 32));
    const best = frame.indexOf(Math.max(...frame));
    // the band whose triangle spans the tone's frequency
    const lo = hzToMel(0), hi = hzToMel(4000);
    const mel = (m: number) => melToHz(lo + ((hi - lo) * m) / 33);
    assert.ok(mel(best) <= hz && hz <= mel(best + 2), `${hz} Hz in band ${best}`);
  }
  const silent = logMelSpectrogram(new Float32Array(512), { sampleRate: rate, floor: 1e-6 });
  assert.ok(silent.data.every((v) => Math.abs(v - Math.log(1e-6)) < 1e-6));
});

Deno.test("Parseval: the power spectrum of a windowed frame sums to N times its energy", () => {
  const n = 256;
  const x = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.3) + 0.5 * Math.sin(i * 1.7));
  const w = hannWindow(n);
  const energy = x.reduce((s, v, i) => s + (v * w[i]) ** 2, 0);
  const p = powerSpectrogram(x, { nFft: n, hop: n });
  // one-sided: bins 1 … N/2−1 stand for two
  let total = p.data[0] + p.data[n / 2];
  for (let k = 1; k < n / 2; k++) total += 2 * p.data[k];
  assert.ok(Math.abs(total / n - energy) < 1e-3 * energy);
  assert.throws(
    () => powerSpectrogram(new Float32Array(100), { nFft: 256, hop: 128 }),
    /fewer than one frame/,
  );
});
