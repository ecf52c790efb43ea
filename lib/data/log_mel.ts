/**
 * Log-mel spectrograms (对数梅尔声谱图): the usual input of speech and sound models.
 *
 * A signal is cut into overlapping frames of `nFft` samples, `hop` apart (no padding, so
 * `frames = 1 + ⌊(length − nFft) / hop⌋`); each frame is multiplied by a periodic Hann
 * window w[n] = ½ − ½ cos(2πn / N) and transformed by a radix-2 FFT; the power spectrum
 * |X[k]|² of bins k = 0 … N/2 is pooled by `nMels` triangular filters spaced evenly on
 * the mel scale — the **HTK formula** m(f) = 2595 · log₁₀(1 + f / 700) (Young et al., *The
 * HTK Book*), each filter rising from 0 at one mel point to 1 at the next and back to 0,
 * without area normalisation — and the result is `log(energy + floor)` (natural log).
 *
 * @example
 * ```ts
 * import { logMelSpectrogram } from "nn/data/mod.ts";
 * const rate = 8000;
 * const tone = Float32Array.from({ length: 4000 }, (_, i) => Math.sin(2 * Math.PI * 1000 * i / rate));
 * const s = logMelSpectrogram(tone, { sampleRate: rate, nFft: 256, hop: 128, nMels: 32 });
 * console.log(s.frames, s.mels); // 30 32
 * ```
 * @module
 */

/** Options of {@linkcode logMelSpectrogram}. */
export interface LogMelOptions {
  /** Samples per second of the signal. */
  sampleRate: number;
  /** Frame length and FFT size, a power of two (default 256). */
  nFft?: number;
  /** Samples between the starts of consecutive frames (default nFft / 2). */
  hop?: number;
  /** Mel bands (default 32). */
  nMels?: number;
  /** Lowest filter edge in Hz (default 0). */
  fMin?: number;
  /** Highest filter edge in Hz (default sampleRate / 2). */
  fMax?: number;
  /** Added before the log so silence stays finite (default 1e-6). */
  floor?: number;
}

/** A spectrogram: `frames × mels` values, frame-major (row t holds frame t's bands). */
export interface LogMel {
  /** Row-major `frames × mels` values. */
  data: Float32Array;
  /** Number of frames (time steps). */
  frames: number;
  /** Number of mel bands. */
  mels: number;
}

/**
 * Hz to mel, HTK formula: 2595 · log₁₀(1 + f / 700).
 *
 * @example
 * ```ts
 * import { hzToMel } from "nn/data/mod.ts";
 * console.log(hzToMel(1000).toFixed(1)); // "1000.0"
 * ```
 */
export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

/**
 * Mel to Hz, the inverse of {@linkcode hzToMel}: 700 · (10^(m / 2595) − 1).
 *
 * @example
 * ```ts
 * import { melToHz } from "nn/data/mod.ts";
 * console.log(melToHz(0)); // 0
 * ```
 */
export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

/**
 * The periodic Hann window of length n: w[i] = ½ − ½ cos(2πi / n) (the DFT-even form that
 * overlap-adds to a constant at hop n / 2).
 *
 * @example
 * ```ts
 * import { hannWindow } from "nn/data/mod.ts";
 * console.log(Array.from(hannWindow(4))); // [0, 0.5, 1, 0.5]
 * ```
 */
export function hannWindow(n: number): Float32Array {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`hannWindow: n must be an integer >= 1, got ${n}.`);
  }
  return Float32Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
}

/**
 * In-place iterative radix-2 FFT of `re + i·im` (length a power of two), X[k] = Σ x[n]
 * e^(−2πikn/N).
 *
 * @throws {RangeError} when the length is not a power of two
 * @example
 * ```ts
 * import { fft } from "nn/data/mod.ts";
 * const re = new Float64Array([1, 1, 1, 1]), im = new Float64Array(4);
 * fft(re, im);
 * console.log(Array.from(re)); // [4, 0, 0, 0]
 * ```
 */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if (n !== im.length || n < 1 || (n & (n - 1)) !== 0) {
    throw new RangeError(`fft: the length must be a power of two (re and im alike), got ${n}.`);
  }
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  const [cos, sin] = twiddles(n);
  for (let size = 2; size <= n; size <<= 1) {
    const stride = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < size / 2; k++) {
        const wr = cos[k * stride], wi = sin[k * stride];
        const a = start + k, b = a + size / 2;
        const tr = re[b] * wr - im[b] * wi;
        const ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
}

const twiddleCache = new Map<number, [Float64Array, Float64Array]>();

/** cos and sin of −2πk/n for k < n/2, cached per n. */
function twiddles(n: number): [Float64Array, Float64Array] {
  let t = twiddleCache.get(n);
  if (!t) {
    const half = Math.max(1, n / 2);
    t = [
      Float64Array.from({ length: half }, (_, k) => Math.cos((-2 * Math.PI * k) / n)),
      Float64Array.from({ length: half }, (_, k) => Math.sin((-2 * Math.PI * k) / n)),
    ];
    twiddleCache.set(n, t);
  }
  return t;
}

/**
 * The mel filterbank: `nMels` rows of `nFft / 2 + 1` weights, one per FFT bin (bin k is at
 * k · sampleRate / nFft Hz). Filter m is a triangle over the mel points m, m + 1, m + 2 of
 * `nMels + 2` points spaced evenly in mel (HTK formula) from fMin to fMax, peak 1.
 *
 * @example
 * ```ts
 * import { melFilterbank } from "nn/data/mod.ts";
 * const fb = melFilterbank({ sampleRate: 8000, nFft: 256, nMels: 32 });
 * console.log(fb.length, fb[0].length); // 32 129
 * ```
 */
export function melFilterbank(
  options: { sampleRate: number; nFft: number; nMels: number; fMin?: number; fMax?: number },
): Float32Array[] {
  const { sampleRate, nFft, nMels, fMin = 0, fMax = sampleRate / 2 } = options;
  if (!(fMin >= 0 && fMax > fMin && fMax <= sampleRate / 2)) {
    throw new RangeError(
      `melFilterbank: need 0 <= fMin < fMax <= sampleRate / 2, got ${fMin} and ${fMax}.`,
    );
  }
  const bins = nFft / 2 + 1;
  const lo = hzToMel(fMin), hi = hzToMel(fMax);
  const points = Array.from(
    { length: nMels + 2 },
    (_, i) => melToHz(lo + ((hi - lo) * i) / (nMels + 1)),
  );
  return Array.from({ length: nMels }, (_, m) => {
    const [left, centre, right] = [points[m], points[m + 1], points[m + 2]];
    return Float32Array.from({ length: bins }, (_, k) => {
      const f = (k * sampleRate) / nFft;
      if (f <= left || f >= right) return 0;
      return f <= centre ? (f - left) / (centre - left) : (right - f) / (right - centre);
    });
  });
}

/**
 * The power spectrogram |STFT|² of a signal: `frames × (nFft / 2 + 1)` values, Hann
 * window, no padding.
 *
 * @throws {RangeError} when the signal is shorter than one frame
 * @example
 * ```ts
 * import { powerSpectrogram } from "nn/data/mod.ts";
 * const s = powerSpectrogram(new Float32Array(512), { nFft: 256, hop: 128 });
 * console.log(s.frames, s.bins); // 3 129
 * ```
 */
export function powerSpectrogram(
  signal: ArrayLike<number>,
  options: { nFft: number; hop: number },
): { data: Float32Array; frames: number; bins: number } {
  const { nFft, hop } = options;
  if (!Number.isInteger(hop) || hop < 1) {
    throw new RangeError(`hop must be an integer >= 1, got ${hop}.`);
  }
  if (signal.length < nFft) {
    throw new RangeError(
      `The signal has ${signal.length} samples, fewer than one frame of ${nFft}.`,
    );
  }
  const frames = 1 + Math.floor((signal.length - nFft) / hop);
  const bins = nFft / 2 + 1;
  const window = hannWindow(nFft);
  const data = new Float32Array(frames * bins);
  const re = new Float64Array(nFft), im = new Float64Array(nFft);
  for (let t = 0; t < frames; t++) {
    for (let i = 0; i < nFft; i++) {
      re[i] = signal[t * hop + i] * window[i];
      im[i] = 0;
    }
    fft(re, im);
    for (let k = 0; k < bins; k++) data[t * bins + k] = re[k] * re[k] + im[k] * im[k];
  }
  return { data, frames, bins };
}

/**
 * The log-mel spectrogram of a signal: Hann-windowed frames, FFT power, HTK mel filters,
 * natural log of (energy + floor).
 *
 * @example
 * ```ts
 * import { logMelSpectrogram } from "nn/data/mod.ts";
 * const s = logMelSpectrogram(new Float32Array(5120), { sampleRate: 8000 });
 * console.log(s.frames, s.mels, s.data[0].toFixed(2)); // 39 32 "-13.82"
 * ```
 */
export function logMelSpectrogram(signal: ArrayLike<number>, options: LogMelOptions): LogMel {
  const { sampleRate, nFft = 256, nMels = 32, floor = 1e-6 } = options;
  const hop = options.hop ?? nFft / 2;
  const bank = melFilterbank({ sampleRate, nFft, nMels, fMin: options.fMin, fMax: options.fMax });
  const power = powerSpectrogram(signal, { nFft, hop });
  const data = new Float32Array(power.frames * nMels);
  // each triangle's non-zero bins
  const spans = bank.map((f) => {
    let lo = 0, hi = f.length - 1;
    while (lo < f.length && f[lo] === 0) lo++;
    while (hi > lo && f[hi] === 0) hi--;
    return [lo, hi];
  });
  for (let t = 0; t < power.frames; t++) {
    for (let m = 0; m < nMels; m++) {
      const filter = bank[m];
      let sum = 0;
      for (let k = spans[m][0]; k <= spans[m][1]; k++) {
        sum += filter[k] * power.data[t * power.bins + k];
      }
      data[t * nMels + m] = Math.log(sum + floor);
    }
  }
  return { data, frames: power.frames, mels: nMels };
}
