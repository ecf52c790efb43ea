import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  modelPolicy,
  playEpisodes,
  randomPolicy,
  returnsToGo,
} from "../../../lib/control/policy_gradient.ts";

Deno.test("returns-to-go", () => {
  assert.deepEqual(returnsToGo([1, 1, 1], 1), [3, 2, 1]);
  assert.deepEqual(returnsToGo([1, 2, 3], 0.5), [2.75, 3.5, 3]);
  assert.deepEqual(returnsToGo([], 0.9), []);
  assert.throws(() => returnsToGo([1], 1.5), /gamma/);
});

Deno.test("the random policy's returns: about 22 steps on average (the usual CartPole figure)", async () => {
  const batch = await playEpisodes(randomPolicy(), { episodes: 200, seed: 0 });
  const mean = batch.returns.reduce((a, b) => a + b, 0) / batch.returns.length;
  assert.ok(mean > 17 && mean < 28, `mean ${mean}`);
  assert.equal(batch.states.length, batch.returns.reduce((a, b) => a + b, 0));
  // episode and step index every state in order
  assert.equal(batch.step[0], 0);
  assert.equal(batch.episode.at(-1), 199);
  const again = await playEpisodes(randomPolicy(), { episodes: 200, seed: 0 });
  assert.deepEqual(again.returns, batch.returns);
  await assert.rejects(playEpisodes(randomPolicy(), { episodes: 0, seed: 0 }), /episodes/);
});

Deno.test("a model policy with a good fixed controller keeps the pole up", async () => {
  await tf.setBackend("cpu");
  // logits (0, 40·(θ + 0.5 θ̇)): right when the pole falls right, almost deterministic
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 2, inputShape: [4], useBias: false })],
  });
  model.setWeights([tf.tensor2d([[0, 0], [0, 0], [0, 40], [0, 20]])]);
  const batch = await playEpisodes(modelPolicy(model), { episodes: 4, seed: 1, maxSteps: 100 });
  assert.ok(batch.returns.every((r) => r >= 90), batch.returns.join());
  model.dispose();
});
