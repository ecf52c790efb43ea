/**
 * What a policy-gradient (策略梯度) method needs around its update: playing a batch of
 * episodes with a stochastic policy, and the discounted returns-to-go (回报) that weigh
 * each action's log-probability. The update itself — REINFORCE with a baseline
 * (Williams 1992) — is written in the notebook.
 *
 * @example
 * ```ts
 * import { playEpisodes, randomPolicy } from "nn/control/policy_gradient.ts";
 * const batch = await playEpisodes(randomPolicy(), { episodes: 4, seed: 0 });
 * console.log(batch.returns.length, batch.states.length === batch.actions.length); // 4 true
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { CartPole } from "./cartpole.ts";
import { Rng } from "../random.ts";

/**
 * A stochastic policy: for each state (rows of 4 numbers) the probability of action 1
 * (push right); action 0 has the rest.
 */
export type Policy = (states: Float32Array, count: number) => Promise<Float32Array>;

/**
 * The uniformly random policy: each push with probability ½ (the baseline a learned
 * policy must beat).
 *
 * @example
 * ```ts
 * import { randomPolicy } from "nn/control/policy_gradient.ts";
 * console.log(await randomPolicy()(new Float32Array(8), 2)); // Float32Array(2) [0.5, 0.5]
 * ```
 */
export function randomPolicy(): Policy {
  return (_states, count) => Promise.resolve(new Float32Array(count).fill(0.5));
}

/**
 * A policy from a tfjs model that maps states `[n, 4]` to two logits (left, right): the
 * probability of "right" is their softmax. Reads the result asynchronously (every
 * backend).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { modelPolicy } from "nn/control/policy_gradient.ts";
 * await tf.setBackend("cpu");
 * const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4], kernelInitializer: "zeros" })] });
 * console.log(await modelPolicy(m)(new Float32Array(4), 1)); // Float32Array(1) [0.5]
 * ```
 */
export function modelPolicy(model: tf.LayersModel): Policy {
  return async (states, count) => {
    const p = tf.tidy(() => {
      const logits = model.predict(tf.tensor2d(states, [count, 4])) as tf.Tensor2D;
      return tf.softmax(logits).slice([0, 1], [count, 1]);
    });
    const out = (await p.data()) as Float32Array;
    p.dispose();
    return out;
  };
}

/** Options of {@linkcode playEpisodes}. */
export interface PlayOptions {
  /** Episodes played side by side (one policy call per step for all). */
  episodes: number;
  /** Seed of the starting states and of the sampled actions. */
  seed: number;
  /** Steps after which an episode is cut (default 200). */
  maxSteps?: number;
}

/** A batch of finished episodes. */
export interface EpisodeBatch {
  /** Every visited state, episode after episode, 4 numbers each (`[x, ẋ, θ, θ̇]`). */
  states: Float32Array[];
  /** The action taken in each of those states. */
  actions: number[];
  /** The episode (0 … episodes−1) and step (0-based) of each state. */
  episode: number[];
  /** The step within its episode of each state. */
  step: number[];
  /** Total reward of each episode (its length: reward 1 per step). */
  returns: number[];
}

/**
 * Plays `episodes` CartPole episodes side by side with a stochastic policy; actions are
 * drawn from the policy's probabilities with the library's seeded generator.
 *
 * @example
 * ```ts
 * import { playEpisodes, randomPolicy } from "nn/control/policy_gradient.ts";
 * const a = await playEpisodes(randomPolicy(), { episodes: 3, seed: 5 });
 * const b = await playEpisodes(randomPolicy(), { episodes: 3, seed: 5 });
 * console.log(a.returns.join() === b.returns.join()); // true
 * ```
 */
export async function playEpisodes(policy: Policy, options: PlayOptions): Promise<EpisodeBatch> {
  const { episodes, seed, maxSteps = 200 } = options;
  if (!Number.isInteger(episodes) || episodes < 1) {
    throw new RangeError(`playEpisodes: episodes must be an integer >= 1, got ${episodes}.`);
  }
  const root = new Rng(seed);
  const draws = root.fork("actions");
  const envs = Array.from(
    { length: episodes },
    (_, e) => new CartPole({ seed: root.fork(`episode ${e}`).nextSeed(), maxSteps }),
  );
  const current = envs.map((env) => env.reset());
  const running = envs.map(() => true);
  const perEpisode = envs.map(() => ({ states: [] as Float32Array[], actions: [] as number[] }));
  while (running.some((r) => r)) {
    const live = running.map((r, e) => (r ? e : -1)).filter((e) => e >= 0);
    const batch = new Float32Array(live.length * 4);
    live.forEach((e, k) => batch.set(current[e], k * 4));
    const pRight = await policy(batch, live.length);
    live.forEach((e, k) => {
      const action = draws.next() < pRight[k] ? 1 : 0;
      perEpisode[e].states.push(Float32Array.from(current[e]));
      perEpisode[e].actions.push(action);
      const step = envs[e].step(action);
      current[e] = step.state;
      if (step.done) running[e] = false;
    });
  }
  const out: EpisodeBatch = { states: [], actions: [], episode: [], step: [], returns: [] };
  perEpisode.forEach((p, e) => {
    p.states.forEach((s, t) => {
      out.states.push(s);
      out.actions.push(p.actions[t]);
      out.episode.push(e);
      out.step.push(t);
    });
    out.returns.push(p.states.length);
  });
  return out;
}

/**
 * Discounted returns-to-go of one episode's rewards: G_t = Σ_{k ≥ t} γ^(k−t) r_k.
 *
 * @example
 * ```ts
 * import { returnsToGo } from "nn/control/policy_gradient.ts";
 * console.log(returnsToGo([1, 1, 1], 0.5)); // [1.75, 1.5, 1]
 * ```
 */
export function returnsToGo(rewards: readonly number[], gamma: number): number[] {
  if (!(gamma >= 0 && gamma <= 1)) throw new RangeError(`gamma must be in [0, 1], got ${gamma}.`);
  const out = new Array<number>(rewards.length);
  let g = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    g = rewards[t] + gamma * g;
    out[t] = g;
  }
  return out;
}
