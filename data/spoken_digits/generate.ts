/**
 * Generates the spoken-digit clips shipped in this folder with Debian's `espeak-ng`
 * (`apt-get install espeak-ng`; made with eSpeak NG 1.51). Only needed to regenerate the
 * data: the notebooks read the committed files and need no system package.
 *
 *     deno run -A data/spoken_digits/generate.ts
 *
 * Recipe (everything random is drawn from one seeded sfc32 generator, seed `SEED`, in the
 * order below, so the same espeak-ng gives the same clips):
 *
 * 1. 16 voices, each an espeak-ng accent with a voice variant (`-v en-us+m1`); no variant
 *    is used by two voices. `HELD_OUT` names the 4 voices the notebook keeps out of
 *    training.
 * 2. For each voice, digit 0 … 9 (the words "zero" … "nine") and rendition 1 … 5: a speed
 *    drawn uniformly from 130 … 220 words per minute (`-s`), a pitch from 25 … 75 (`-p`),
 *    a start jitter from 0 … 60 ms and a signal-to-noise ratio from 10 … 30 dB.
 * 3. `espeak-ng --stdout` gives 22 050 Hz 16-bit mono; it is resampled to 8 000 Hz with a
 *    windowed-sinc low-pass interpolator (cutoff 3 600 Hz, Hann window, 16 zero crossings
 *    each side).
 * 4. The speech onset is the first sample above 2 % of the clip's peak; the clip starts
 *    30 ms before it less the jitter (never before the file's start), and is cut or padded
 *    with zeros to `SAMPLES` samples (0.64 s).
 * 5. Scaled to a peak of 0.5, then white Gaussian noise is added at the drawn SNR
 *    (relative to the mean power of the speech between its first and last sample above 2 %
 *    of the peak), then clipped to [−1, 1].
 * 6. Encoded as 8-bit μ-law (μ = 255, the continuous companding law of ITU-T G.711:
 *    y = sign(x)·ln(1 + μ|x|)/ln(1 + μ), stored as round((y + 1)/2 · 255)).
 *
 * Output: `clips.ulaw.gz` (gzip of N × SAMPLES bytes, clip after clip) and `clips.json`
 * (the recipe's constants and one record per clip: digit, voice, speed, pitch, jitter,
 * SNR, speech length). Then update data/manifest.json and data/README.md with the printed
 * sha256 values.
 */

const SEED = 2026;
const RATE = 8000;
const SAMPLES = 5120;
const RENDITIONS = 5;
const WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const VOICES = [
  "en-us+m1",
  "en-gb+m2",
  "en-gb-scotland+m3",
  "en-gb-x-rp+f1",
  "en-029+f2",
  "en-us-nyc+m4",
  "en-gb-x-gbclan+f3",
  "en-gb-x-gbcwmd+m5",
  "en-us+klatt",
  "en-gb+f4",
  "en-gb-scotland+m6",
  "en-gb-x-rp+klatt2",
  // held out of training by the notebook
  "en-us+m7",
  "en-gb+f5",
  "en-gb-scotland+klatt3",
  "en-029+m8",
];
const HELD_OUT = ["en-us+m7", "en-gb+f5", "en-gb-scotland+klatt3", "en-029+m8"];

/** An sfc32 generator (the algorithm of lib/random.ts) seeded through a splitmix-style mixer. */
function makeRng(seed: number) {
  let s = seed >>> 0;
  const mix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix(), b = mix(), c = mix(), d = mix();
  const step = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) step();
  const next = () => step() / 4294967296;
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * next();
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, uniform, normal };
}

async function speak(voice: string, word: string, speed: number, pitch: number) {
  const out = await new Deno.Command("espeak-ng", {
    args: ["-v", voice, "-s", String(speed), "-p", String(pitch), "--stdout", word],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const wav = out.stdout;
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  // find the "data" chunk (espeak-ng writes a streaming header with size 0x7fffffff)
  let p = 12, rate = 0;
  while (p + 8 <= wav.length) {
    const id = new TextDecoder().decode(wav.subarray(p, p + 4));
    const size = view.getUint32(p + 4, true);
    if (id === "fmt ") rate = view.getUint32(p + 12, true);
    if (id === "data") {
      p += 8;
      break;
    }
    p += 8 + size;
  }
  const n = Math.floor((wav.length - p) / 2);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = view.getInt16(p + 2 * i, true) / 32768;
  return { x, rate };
}

/** Windowed-sinc resampling (Hann window, `zeros` zero crossings of the low-pass each side). */
function resample(x: Float32Array, from: number, to: number, cutoff = 3600, zeros = 16) {
  const n = Math.floor((x.length * to) / from);
  const y = new Float32Array(n);
  const fc = cutoff / from; // cycles per input sample
  const half = zeros / (2 * fc); // half-width in input samples
  for (let i = 0; i < n; i++) {
    const t = (i * from) / to;
    let sum = 0;
    for (let k = Math.ceil(t - half); k <= Math.floor(t + half); k++) {
      if (k < 0 || k >= x.length) continue;
      const u = t - k;
      const sinc = u === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * u) / (Math.PI * u);
      const w = 0.5 + 0.5 * Math.cos((Math.PI * u) / half);
      sum += x[k] * sinc * w;
    }
    y[i] = sum;
  }
  return y;
}

function muLaw(x: number): number {
  const mu = 255;
  const y = Math.sign(x) * Math.log1p(mu * Math.abs(x)) / Math.log1p(mu);
  return Math.round(((y + 1) / 2) * 255);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

const rng = makeRng(SEED);
const clips: Record<string, number | string>[] = [];
const audio = new Uint8Array(VOICES.length * WORDS.length * RENDITIONS * SAMPLES);
let c = 0;
let cut = 0;
for (const voice of VOICES) {
  for (let digit = 0; digit < WORDS.length; digit++) {
    for (let r = 0; r < RENDITIONS; r++) {
      const speed = Math.round(rng.uniform(130, 220));
      const pitch = Math.round(rng.uniform(25, 75));
      const jitter = rng.uniform(0, 0.06);
      const snrDb = rng.uniform(10, 30);
      const raw = await speak(voice, WORDS[digit], speed, pitch);
      const y = resample(raw.x, raw.rate, RATE);
      let peak = 0;
      for (const v of y) peak = Math.max(peak, Math.abs(v));
      const threshold = 0.02 * peak;
      let onset = 0, end = y.length - 1;
      while (onset < y.length && Math.abs(y[onset]) < threshold) onset++;
      while (end > onset && Math.abs(y[end]) < threshold) end--;
      const start = Math.max(0, onset - Math.round((0.03 + jitter) * RATE));
      const clip = new Float32Array(SAMPLES);
      for (let i = 0; i < SAMPLES && start + i < y.length; i++) clip[i] = (0.5 * y[start + i]) / peak;
      if (end - start >= SAMPLES) cut++;
      let power = 0, m = 0;
      for (let i = onset - start; i <= Math.min(end - start, SAMPLES - 1); i++) {
        power += clip[i] ** 2;
        m++;
      }
      const noiseStd = Math.sqrt(power / m / 10 ** (snrDb / 10));
      for (let i = 0; i < SAMPLES; i++) {
        const v = clip[i] + noiseStd * rng.normal();
        audio[c * SAMPLES + i] = muLaw(Math.max(-1, Math.min(1, v)));
      }
      clips.push({
        digit,
        voice,
        speed,
        pitch,
        jitterMs: Math.round(jitter * 1000),
        snrDb: Number(snrDb.toFixed(2)),
        speechMs: Math.round(((end - onset + 1) / RATE) * 1000),
      });
      c++;
    }
  }
  console.log(`${voice}: done`);
}
const meta = {
  generator: "data/spoken_digits/generate.ts with eSpeak NG 1.51 (Debian espeak-ng 1.51+dfsg-10)",
  seed: SEED,
  sampleRate: RATE,
  samples: SAMPLES,
  encoding: "mu-law, mu = 255, byte = round((y + 1) / 2 * 255)",
  words: WORDS,
  voices: VOICES,
  heldOut: HELD_OUT,
  clips,
};
const here = new URL(".", import.meta.url);
const packed = new Uint8Array(
  await new Response(
    new Blob([audio]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer(),
);
await Deno.writeFile(new URL("clips.ulaw.gz", here), packed);
const json = new TextEncoder().encode(JSON.stringify(meta, null, 1) + "\n");
await Deno.writeFile(new URL("clips.json", here), json);
console.log(
  `${clips.length} clips (${cut} longer than ${SAMPLES / RATE} s, cut); clips.ulaw.gz ${packed.length} bytes, ` +
    `sha256 ${await sha256(packed)} (raw ${audio.length} bytes, sha256 ${await sha256(audio)}); ` +
    `clips.json ${json.length} bytes, sha256 ${await sha256(json)}`,
);
