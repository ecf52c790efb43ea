/**
 * The gradual pruning schedule of Zhu & Gupta 2017 ("To prune, or not to prune"):
 * sparsity (稀疏度) rises from `s_i` to `s_f` over `n` pruning steps, `Δt` training
 * steps apart, starting at step `t_0`:
 *
 * s_t = s_f + (s_i − s_f) · (1 − (t − t_0) / (n Δt))³  for t ∈ {t_0, t_0 + Δt, …, t_0 + n Δt}
 *
 * It prunes fast while many redundant weights are left and slows down as few remain,
 * so the network has time to recover between steps. The exponent is 3 in the paper;
 * {@linkcode ScheduleOptions.power} changes it (1 gives a linear ramp).
 *
 * @example
 * ```ts
 * import { isPruningStep, scheduleSparsity } from "nn/models/sparse_schedule.ts";
 * const schedule = { finalSparsity: 0.8, beginStep: 0, frequency: 10, pruningSteps: 4 };
 * console.log(scheduleSparsity(20, schedule)); // ≈ 0.7: half way, s_f + (0 − 0.8) · 0.5³
 * console.log(isPruningStep(20, schedule), isPruningStep(25, schedule)); // true false
 * ```
 * @module
 */

/** Options of the schedule (the symbols of Zhu & Gupta 2017). */
export interface ScheduleOptions {
  /** `s_i`, the sparsity of the first pruning step. Default 0. */
  initialSparsity?: number;
  /** `s_f`, the sparsity reached at the last pruning step and kept afterwards. */
  finalSparsity: number;
  /** `t_0`, the training step of the first pruning step. Default 0. */
  beginStep?: number;
  /** `Δt`, training steps between pruning steps (≥ 1). */
  frequency: number;
  /** `n`, the number of pruning intervals (≥ 1): the last pruning step is `t_0 + n Δt`. */
  pruningSteps: number;
  /** Exponent of the decay. Default 3 (the paper's cubic schedule). */
  power?: number;
}

function checkSchedule(o: ScheduleOptions): Required<ScheduleOptions> {
  const full = {
    initialSparsity: o.initialSparsity ?? 0,
    finalSparsity: o.finalSparsity,
    beginStep: o.beginStep ?? 0,
    frequency: o.frequency,
    pruningSteps: o.pruningSteps,
    power: o.power ?? 3,
  };
  const { initialSparsity: si, finalSparsity: sf, beginStep, frequency, pruningSteps, power } =
    full;
  if (!(si >= 0 && si < 1 && sf >= 0 && sf < 1 && si <= sf)) {
    throw new RangeError(
      `Pruning schedule: need 0 ≤ initialSparsity ≤ finalSparsity < 1, got ${si} and ${sf}.`,
    );
  }
  if (!Number.isInteger(beginStep) || beginStep < 0) {
    throw new RangeError(
      `Pruning schedule: beginStep must be a whole number ≥ 0, got ${beginStep}.`,
    );
  }
  if (!Number.isInteger(frequency) || frequency < 1) {
    throw new RangeError(
      `Pruning schedule: frequency must be a whole number ≥ 1, got ${frequency}.`,
    );
  }
  if (!Number.isInteger(pruningSteps) || pruningSteps < 1) {
    throw new RangeError(
      `Pruning schedule: pruningSteps must be a whole number ≥ 1, got ${pruningSteps}.`,
    );
  }
  if (!(power > 0)) throw new RangeError(`Pruning schedule: power must be > 0, got ${power}.`);
  return full;
}

/**
 * The schedule's sparsity at training step `t`, by the formula with `t` clamped to
 * `[t_0, t_0 + n Δt]`: `s_i` before the first pruning step, `s_f` after the last.
 * Between pruning steps this is the formula's value; {@linkcode sparsityInForce} gives
 * the sparsity that actually holds there.
 *
 * @example
 * ```ts
 * import { scheduleSparsity } from "nn/models/sparse_schedule.ts";
 * const s = { initialSparsity: 0.5, finalSparsity: 0.9, frequency: 5, pruningSteps: 2 };
 * console.log(scheduleSparsity(0, s), scheduleSparsity(10, s), scheduleSparsity(99, s)); // 0.5 0.9 0.9
 * ```
 */
export function scheduleSparsity(t: number, schedule: ScheduleOptions): number {
  const s = checkSchedule(schedule);
  const span = s.pruningSteps * s.frequency;
  const progress = Math.min(1, Math.max(0, (t - s.beginStep) / span));
  return s.finalSparsity +
    (s.initialSparsity - s.finalSparsity) * Math.pow(1 - progress, s.power);
}

/**
 * Whether training step `t` is one of the pruning steps `t_0, t_0 + Δt, …, t_0 + n Δt`.
 *
 * @example
 * ```ts
 * import { isPruningStep } from "nn/models/sparse_schedule.ts";
 * const s = { finalSparsity: 0.9, beginStep: 10, frequency: 5, pruningSteps: 2 };
 * console.log([5, 10, 15, 20, 25].map((t) => isPruningStep(t, s))); // [false, true, true, true, false]
 * ```
 */
export function isPruningStep(t: number, schedule: ScheduleOptions): boolean {
  const s = checkSchedule(schedule);
  const offset = t - s.beginStep;
  return Number.isInteger(t) && offset >= 0 && offset <= s.pruningSteps * s.frequency &&
    offset % s.frequency === 0;
}

/**
 * The sparsity that holds after training step `t` when masks change only at pruning
 * steps: the schedule's value at the last pruning step ≤ `t`, or 0 before `t_0`.
 *
 * @example
 * ```ts
 * import { sparsityInForce } from "nn/models/sparse_schedule.ts";
 * const s = { finalSparsity: 0.8, beginStep: 0, frequency: 10, pruningSteps: 4 };
 * console.log(sparsityInForce(25, s) === sparsityInForce(20, s)); // true (≈ 0.7 from step 20 on)
 * ```
 */
export function sparsityInForce(t: number, schedule: ScheduleOptions): number {
  const s = checkSchedule(schedule);
  if (t < s.beginStep) return 0;
  const last = Math.min(
    s.beginStep + Math.floor((t - s.beginStep) / s.frequency) * s.frequency,
    s.beginStep + s.pruningSteps * s.frequency,
  );
  return scheduleSparsity(last, s);
}

/**
 * The pruning steps and their target sparsities: `n + 1` pairs from `t_0` to `t_0 + n Δt`.
 *
 * @example
 * ```ts
 * import { pruningPlan } from "nn/models/sparse_schedule.ts";
 * console.log(pruningPlan({ finalSparsity: 0.8, frequency: 10, pruningSteps: 2 }));
 * // steps 0, 10, 20 with sparsities 0, ≈ 0.7, 0.8
 * ```
 */
export function pruningPlan(schedule: ScheduleOptions): Array<{ step: number; sparsity: number }> {
  const s = checkSchedule(schedule);
  return Array.from({ length: s.pruningSteps + 1 }, (_, i) => {
    const step = s.beginStep + i * s.frequency;
    return { step, sparsity: scheduleSparsity(step, s) };
  });
}

/**
 * A schedule that prunes from step `t_0` until `endStep` in `pruningSteps` equal
 * intervals: `Δt = ⌊(endStep − t_0) / n⌋` (at least 1), so the last pruning step is at
 * or just before `endStep`.
 *
 * @example
 * ```ts
 * import { scheduleUntil } from "nn/models/sparse_schedule.ts";
 * console.log(scheduleUntil({ finalSparsity: 0.9, endStep: 105, pruningSteps: 10 }).frequency); // 10
 * ```
 */
export function scheduleUntil(
  options: Omit<ScheduleOptions, "frequency"> & { endStep: number },
): ScheduleOptions {
  const begin = options.beginStep ?? 0;
  const { endStep, ...rest } = options;
  if (!(endStep > begin)) {
    throw new RangeError(`scheduleUntil: endStep ${endStep} must be after beginStep ${begin}.`);
  }
  const frequency = Math.max(1, Math.floor((endStep - begin) / options.pruningSteps));
  return checkSchedule({ ...rest, beginStep: begin, frequency });
}
