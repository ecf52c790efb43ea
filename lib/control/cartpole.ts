/**
 * CartPole (倒立摆): a pole hinged on a cart that moves along a track, to be kept upright by
 * pushing the cart left or right — the control task of Barto, Sutton & Anderson (1983),
 * *Neuronlike adaptive elements that can solve difficult learning control problems*,
 * IEEE Trans. SMC 13(5), written out in TypeScript and seeded.
 *
 * The dynamics are the paper's equations without friction (μ_c = μ_p = 0, as in OpenAI
 * Gym's CartPole-v0), integrated by explicit Euler steps of τ = 0.02 s. With pole angle θ (0 upright), cart
 * position x, push F = ±10 N, cart mass m_c = 1 kg, pole mass m = 0.1 kg, half-length
 * l = 0.5 m and g = 9.8 m/s²:
 *
 *     θ̈ = (g sin θ − cos θ · (F + m l θ̇² sin θ)/(m_c + m)) / (l (4/3 − m cos² θ / (m_c + m)))
 *     ẍ = (F + m l (θ̇² sin θ − θ̈ cos θ)) / (m_c + m)
 *
 * An episode starts from x, ẋ, θ, θ̇ each uniform in [−0.05, 0.05], gives reward 1 per
 * step, and ends when |θ| > 12° or |x| > 2.4 m (that step still earns its reward), or is
 * cut at `maxSteps` (200, as CartPole-v0: "solved" is a mean return ≥ 195 over 100
 * consecutive episodes).
 *
 * @example
 * ```ts
 * import { CartPole } from "nn/control/cartpole.ts";
 * const env = new CartPole({ seed: 0 });
 * let state = env.reset(), total = 0, done = false;
 * while (!done) {
 *   const step = env.step(state[2] > 0 ? 1 : 0); // push towards the side the pole leans to
 *   state = step.state;
 *   total += step.reward;
 *   done = step.done;
 * }
 * console.log(total > 20); // true
 * ```
 * @module
 */

import { Rng } from "../random.ts";

/** Physical constants of the cart–pole (Barto, Sutton & Anderson 1983). */
export const CARTPOLE_CONSTANTS = {
  /** Gravity, m/s². */
  gravity: 9.8,
  /** Cart mass, kg. */
  massCart: 1.0,
  /** Pole mass, kg. */
  massPole: 0.1,
  /** Half the pole's length, m. */
  halfLength: 0.5,
  /** Magnitude of the push, N. */
  force: 10.0,
  /** Seconds per step (Euler). */
  tau: 0.02,
  /** The episode ends past this angle, radians (12°). */
  thetaLimit: (12 * Math.PI) / 180,
  /** The episode ends past this cart position, m. */
  xLimit: 2.4,
} as const;

/** Options of {@linkcode CartPole}. */
export interface CartPoleOptions {
  /** Seed of the starting states (default 0). */
  seed?: number;
  /** Steps after which an episode is cut (default 200, CartPole-v0). */
  maxSteps?: number;
}

/** What {@linkcode CartPole.step} returns. */
export interface CartPoleStep {
  /** The new state `[x, ẋ, θ, θ̇]`. */
  state: Float64Array;
  /** 1 for every step taken. */
  reward: number;
  /** The episode is over: the pole fell, the cart left the track, or `maxSteps` was reached. */
  done: boolean;
  /** The episode was cut at `maxSteps` rather than lost. */
  truncated: boolean;
}

/**
 * The derivatives (ẍ, θ̈) of the cart–pole for a state and a push F, the paper's
 * equations.
 *
 * @example
 * ```ts
 * import { cartPoleAccelerations } from "nn/control/cartpole.ts";
 * const { thetaAcc } = cartPoleAccelerations([0, 0, 0, 0], 10);
 * console.log(thetaAcc < 0); // true: pushing right tips an upright pole to the left
 * ```
 */
export function cartPoleAccelerations(
  state: ArrayLike<number>,
  force: number,
): { xAcc: number; thetaAcc: number } {
  const { gravity: g, massCart, massPole: m, halfLength: l } = CARTPOLE_CONSTANTS;
  const total = massCart + m;
  const theta = state[2], thetaDot = state[3];
  const sin = Math.sin(theta), cos = Math.cos(theta);
  const temp = (force + m * l * thetaDot * thetaDot * sin) / total;
  const thetaAcc = (g * sin - cos * temp) / (l * (4 / 3 - (m * cos * cos) / total));
  const xAcc = temp - (m * l * thetaAcc * cos) / total;
  return { xAcc, thetaAcc };
}

/** A seeded cart–pole environment (one episode at a time). */
export class CartPole {
  /** Steps after which an episode is cut. */
  readonly maxSteps: number;
  #rng: Rng;
  #state = new Float64Array(4);
  #steps = 0;
  #done = true;

  /** @throws {RangeError} when maxSteps is not an integer ≥ 1 */
  constructor(options: CartPoleOptions = {}) {
    this.maxSteps = options.maxSteps ?? 200;
    if (!Number.isInteger(this.maxSteps) || this.maxSteps < 1) {
      throw new RangeError(`CartPole: maxSteps must be an integer >= 1, got ${this.maxSteps}.`);
    }
    this.#rng = new Rng(options.seed ?? 0).fork("cartpole");
  }

  /** The current state `[x, ẋ, θ, θ̇]` (a copy). */
  get state(): Float64Array {
    return this.#state.slice();
  }

  /** Steps taken in the current episode. */
  get steps(): number {
    return this.#steps;
  }

  /** Starts an episode from a seeded random state near upright; returns it. */
  reset(): Float64Array {
    for (let i = 0; i < 4; i++) this.#state[i] = this.#rng.next() * 0.1 - 0.05;
    this.#steps = 0;
    this.#done = false;
    return this.state;
  }

  /**
   * Pushes the cart left (action 0, −10 N) or right (action 1, +10 N) for one step.
   *
   * @throws {Error} when the episode is over (call `reset`) or the action is not 0 or 1
   */
  step(action: number): CartPoleStep {
    if (this.#done) throw new Error("CartPole: the episode is over; call reset() first.");
    if (action !== 0 && action !== 1) {
      throw new RangeError(`CartPole: the action must be 0 (left) or 1 (right), got ${action}.`);
    }
    const { force, tau, thetaLimit, xLimit } = CARTPOLE_CONSTANTS;
    const s = this.#state;
    const { xAcc, thetaAcc } = cartPoleAccelerations(s, action === 1 ? force : -force);
    s[0] += tau * s[1];
    s[1] += tau * xAcc;
    s[2] += tau * s[3];
    s[3] += tau * thetaAcc;
    this.#steps++;
    const fell = Math.abs(s[0]) > xLimit || Math.abs(s[2]) > thetaLimit;
    const truncated = !fell && this.#steps >= this.maxSteps;
    this.#done = fell || truncated;
    return { state: this.state, reward: 1, done: this.#done, truncated };
  }
}
