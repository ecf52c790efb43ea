import assert from "node:assert/strict";
import {
  CartPole,
  CARTPOLE_CONSTANTS,
  cartPoleAccelerations,
} from "../../../lib/control/cartpole.ts";

/**
 * Barto, Sutton & Anderson (1983), appendix, with both friction coefficients 0, written
 * independently of the module: θ̈ first, then ẍ from θ̈.
 */
function published(state: number[], F: number) {
  const g = 9.8, mc = 1.0, m = 0.1, l = 0.5;
  const [, , th, thd] = state;
  const thetaAcc =
    (g * Math.sin(th) + Math.cos(th) * ((-F - m * l * thd * thd * Math.sin(th)) / (mc + m))) /
    (l * (4 / 3 - (m * Math.cos(th) ** 2) / (mc + m)));
  const xAcc = (F + m * l * (thd * thd * Math.sin(th) - thetaAcc * Math.cos(th))) / (mc + m);
  return { xAcc, thetaAcc };
}

Deno.test("the accelerations are the paper's equations", () => {
  const states = [[0, 0, 0, 0], [0.3, -0.2, 0.1, 0.5], [-1, 1, -0.2, -1.5], [2, 0.5, 0.19, 2]];
  for (const s of states) {
    for (const F of [10, -10]) {
      const a = cartPoleAccelerations(s, F), b = published(s, F);
      assert.ok(
        Math.abs(a.xAcc - b.xAcc) < 1e-12 && Math.abs(a.thetaAcc - b.thetaAcc) < 1e-12,
        `${s} ${F}`,
      );
    }
  }
  // upright and still, no push: nothing moves; a push right tips the pole left (θ̈ < 0)
  assert.deepEqual(cartPoleAccelerations([0, 0, 0, 0], 0), { xAcc: 0, thetaAcc: 0 });
  assert.ok(cartPoleAccelerations([0, 0, 0, 0], 10).thetaAcc < 0);
});

Deno.test("one step is an Euler step of τ = 0.02 s with the published accelerations", () => {
  const env = new CartPole({ seed: 3 });
  const s0 = Array.from(env.reset());
  assert.ok(s0.every((v) => Math.abs(v) <= 0.05));
  const { xAcc, thetaAcc } = published(s0, 10);
  const { state, reward, done } = env.step(1);
  const tau = CARTPOLE_CONSTANTS.tau;
  const expected = [
    s0[0] + tau * s0[1],
    s0[1] + tau * xAcc,
    s0[2] + tau * s0[3],
    s0[3] + tau * thetaAcc,
  ];
  expected.forEach((v, i) => assert.ok(Math.abs(state[i] - v) < 1e-12));
  assert.equal(reward, 1);
  assert.equal(done, false);
});

Deno.test("episodes end past 12° or 2.4 m, or are cut at maxSteps; seeded starts", () => {
  const env = new CartPole({ seed: 0 });
  env.reset();
  let step;
  do step = env.step(1); while (!step.done); // always right: the pole falls
  assert.ok(Math.abs(step.state[2]) > (12 * Math.PI) / 180 || Math.abs(step.state[0]) > 2.4);
  assert.equal(step.truncated, false);
  assert.ok(env.steps < 20);
  assert.throws(() => env.step(0), /call reset/);
  const short = new CartPole({ seed: 0, maxSteps: 3 });
  let s = short.reset();
  let last;
  for (let t = 0; t < 3; t++) {
    last = short.step(s[2] + 0.5 * s[3] > 0 ? 1 : 0);
    s = last.state;
  }
  assert.equal(last!.done, true);
  assert.equal(last!.truncated, true);
  assert.deepEqual(new CartPole({ seed: 5 }).reset(), new CartPole({ seed: 5 }).reset());
  assert.notDeepEqual(new CartPole({ seed: 5 }).reset(), new CartPole({ seed: 6 }).reset());
  assert.throws(() => new CartPole({ seed: 0 }).step(0), /call reset/);
  assert.throws(() => new CartPole({ maxSteps: 0 }), /maxSteps/);
});

Deno.test("a simple hand controller balances for 200 steps; always-left falls within 20", () => {
  const env = new CartPole({ seed: 1 });
  let s = env.reset(), t = 0, done = false;
  while (!done) {
    const step = env.step(s[2] + 0.5 * s[3] > 0 ? 1 : 0); // push under the falling pole
    s = step.state;
    done = step.done;
    t++;
  }
  assert.equal(t, 200);
  assert.throws(() => env.step(2), /call reset|0 \(left\)/);
});
