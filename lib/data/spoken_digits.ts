/**
 * Spoken digits: 800 clips of the words "zero" … "nine", synthesised with eSpeak NG in 16
 * voices (an accent with a voice variant each), five renditions per voice and digit at
 * random speeds and pitches, with white noise at 10–30 dB SNR; 8 kHz, 0.64 s, 8-bit μ-law.
 * The generator and its recipe are `data/spoken_digits/generate.ts`; the files are
 * sha256-checked on load (data/README.md). Four voices are held out of training by
 * {@linkcode spokenDigitSplit}, so the test measures recognition of voices never heard.
 *
 * @example
 * ```ts
 * import { loadSpokenDigits } from "nn/data/mod.ts";
 * const d = await loadSpokenDigits();
 * console.log(d.clips.length, d.sampleRate, d.heldOut.length); // 800 8000 4
 * ```
 * @module
 */

import { type DataFileOptions, loadJson, readDataFile } from "./files.ts";
import { gunzip } from "./gzip.ts";
import { type LogMelOptions, logMelSpectrogram } from "./log_mel.ts";
import { Rng } from "../random.ts";

/** One clip's recipe, as recorded by the generator. */
export interface SpokenDigitClip {
  /** The digit said, 0 … 9. */
  digit: number;
  /** The espeak-ng voice, `accent+variant`, e.g. `en-us+m1`. */
  voice: string;
  /** Words per minute. */
  speed: number;
  /** espeak-ng pitch, 0 … 99. */
  pitch: number;
  /** Extra silence before the word, ms. */
  jitterMs: number;
  /** Signal-to-noise ratio of the added white noise, dB. */
  snrDb: number;
  /** Length of the word itself, ms. */
  speechMs: number;
}

/** The shipped clips, decoded. */
export interface SpokenDigits {
  /** Each clip's samples in [−1, 1] (μ-law decoded). */
  audio: Float32Array[];
  /** Each clip's recipe (index = clip). */
  clips: SpokenDigitClip[];
  /** Samples per second (8 000). */
  sampleRate: number;
  /** The 16 voices. */
  voices: string[];
  /** The four voices held out of training. */
  heldOut: string[];
  /** The words, index = digit. */
  words: string[];
}

interface Meta {
  sampleRate: number;
  samples: number;
  words: string[];
  voices: string[];
  heldOut: string[];
  clips: SpokenDigitClip[];
}

/**
 * μ-law expansion (μ = 255, ITU-T G.711's continuous law) of a byte stored as
 * round((y + 1) / 2 · 255): x = sign(y) · ((1 + μ)^|y| − 1) / μ.
 *
 * @example
 * ```ts
 * import { muLawDecode } from "nn/data/mod.ts";
 * console.log(muLawDecode(0), muLawDecode(255)); // -1 1
 * ```
 */
export function muLawDecode(byte: number): number {
  const y = (2 * byte) / 255 - 1;
  return (Math.sign(y) * ((1 + 255) ** Math.abs(y) - 1)) / 255;
}

const cache = new Map<string, Promise<SpokenDigits>>();

/**
 * Reads and decodes the shipped clips (sha256-checked), cached per data folder.
 *
 * @example
 * ```ts
 * import { loadSpokenDigits } from "nn/data/mod.ts";
 * const { audio, clips } = await loadSpokenDigits();
 * console.log(audio[0].length, clips[0].voice); // 5120 "en-us+m1"
 * ```
 */
export function loadSpokenDigits(options: DataFileOptions = {}): Promise<SpokenDigits> {
  const key = String(options.dataDir ?? "");
  let entry = cache.get(key);
  if (entry === undefined) {
    entry = (async () => {
      const meta = await loadJson<Meta>("spoken_digits/clips.json", options);
      const bytes = await gunzip(
        await readDataFile("spoken_digits/clips.ulaw.gz", options),
        "spoken_digits/clips.ulaw.gz",
      );
      if (bytes.length !== meta.clips.length * meta.samples) {
        throw new Error(
          `spoken_digits/clips.ulaw.gz holds ${bytes.length} bytes, expected ` +
            `${meta.clips.length} clips × ${meta.samples} samples: regenerate both files together.`,
        );
      }
      const table = Float32Array.from({ length: 256 }, (_, b) => muLawDecode(b));
      const audio = meta.clips.map((_, c) =>
        Float32Array.from(bytes.subarray(c * meta.samples, (c + 1) * meta.samples), (b) => table[b])
      );
      return {
        audio,
        clips: meta.clips,
        sampleRate: meta.sampleRate,
        voices: meta.voices,
        heldOut: meta.heldOut,
        words: meta.words,
      };
    })();
    entry.catch(() => cache.delete(key));
    cache.set(key, entry);
  }
  return entry;
}

/** Options of {@linkcode spokenDigitSplit}. */
export interface SpokenDigitSplitOptions extends DataFileOptions {
  /** Seed of the order of the clips within each part (default 0). */
  seed?: number;
  /** Voices kept out of training (default: the four the data set names). */
  heldOut?: readonly string[];
  /** Log-mel settings (default: nFft 256, hop 128, 32 mel bands from 0 to 4 000 Hz). */
  logMel?: Partial<LogMelOptions>;
}

/** Log-mel features of the training voices and of the held-out voices. */
export interface SpokenDigitSplit {
  /** Training features, `n × frames × mels` values, standardised (see `mean`, `std`). */
  xTrain: Float32Array;
  /** Training digits. */
  yTrain: Int32Array;
  /** Held-out-voice features, standardised with the training statistics. */
  xTest: Float32Array;
  /** Held-out-voice digits. */
  yTest: Int32Array;
  /** Clip index (into `loadSpokenDigits().clips`) of each training example. */
  trainClips: Int32Array;
  /** Clip index of each test example. */
  testClips: Int32Array;
  /** Frames per clip (time steps). */
  frames: number;
  /** Mel bands. */
  mels: number;
  /** Mean of the training log-mel values (one number over all bands and frames). */
  mean: number;
  /** Standard deviation of the training log-mel values. */
  std: number;
  /** Training voices. */
  trainVoices: string[];
  /** Held-out voices. */
  testVoices: string[];
}

/**
 * Log-mel spectrograms of the clips split by voice: every clip of a held-out voice is a
 * test example, every other clip a training example (each part in a seeded order). The
 * features are standardised with the training part's mean and standard deviation.
 *
 * @throws {RangeError} when a held-out voice is not one of the data set's
 * @example
 * ```ts
 * import { spokenDigitSplit } from "nn/data/mod.ts";
 * const s = await spokenDigitSplit({ seed: 0 });
 * console.log(s.yTrain.length, s.yTest.length, s.frames, s.mels); // 600 200 39 32
 * ```
 */
export async function spokenDigitSplit(
  options: SpokenDigitSplitOptions = {},
): Promise<SpokenDigitSplit> {
  const data = await loadSpokenDigits(options);
  const heldOut = [...(options.heldOut ?? data.heldOut)];
  for (const v of heldOut) {
    if (!data.voices.includes(v)) {
      throw new RangeError(`Unknown voice "${v}": the voices are ${data.voices.join(", ")}.`);
    }
  }
  const logMel = { sampleRate: data.sampleRate, nFft: 256, hop: 128, nMels: 32, ...options.logMel };
  const features = data.audio.map((a) => logMelSpectrogram(a, logMel));
  const { frames, mels } = features[0];
  const size = frames * mels;
  const root = new Rng(options.seed ?? 0);
  const trainIdx = data.clips.map((c, i) => heldOut.includes(c.voice) ? -1 : i).filter((i) =>
    i >= 0
  );
  const testIdx = data.clips.map((c, i) => heldOut.includes(c.voice) ? i : -1).filter((i) =>
    i >= 0
  );
  root.fork("spoken train order").shuffle(trainIdx);
  root.fork("spoken test order").shuffle(testIdx);
  let sum = 0, sq = 0;
  for (const i of trainIdx) for (const v of features[i].data) (sum += v), (sq += v * v);
  const count = trainIdx.length * size;
  const mean = sum / count;
  const std = Math.sqrt(Math.max(sq / count - mean * mean, 1e-12));
  const pack = (idx: number[]) => {
    const x = new Float32Array(idx.length * size);
    idx.forEach((i, k) => {
      const f = features[i].data;
      for (let j = 0; j < size; j++) x[k * size + j] = (f[j] - mean) / std;
    });
    return { x, y: Int32Array.from(idx, (i) => data.clips[i].digit) };
  };
  const train = pack(trainIdx);
  const test = pack(testIdx);
  return {
    xTrain: train.x,
    yTrain: train.y,
    xTest: test.x,
    yTest: test.y,
    trainClips: Int32Array.from(trainIdx),
    testClips: Int32Array.from(testIdx),
    frames,
    mels,
    mean,
    std,
    trainVoices: data.voices.filter((v) => !heldOut.includes(v)),
    testVoices: heldOut,
  };
}
