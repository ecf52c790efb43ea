// Sampling from a character model: seeded, the prompt kept, the temperature's effect.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { charCorpus } from "../../../lib/data/char_corpus.ts";
import { charLanguageModel } from "../../../lib/models/recurrent.ts";
import { sampleText } from "../../../lib/models/sample_text.ts";

/** A model whose logits favour one character by `margin` at every step. */
function favouring(vocabSize: number, favourite: number, margin: number): tf.LayersModel {
  const m = charLanguageModel({ vocabSize, units: 4, embeddingDim: 2, cell: "gru", seed: 0 });
  const head = m.getLayer("next_char");
  const [kernel] = head.getWeights(); // the variable's own tensor: not to be disposed
  const b = new Float32Array(vocabSize);
  b[favourite] = margin;
  const weights = [tf.zeros(kernel.shape), tf.tensor1d(b)];
  head.setWeights(weights);
  tf.dispose(weights);
  return m;
}

Deno.test("sampleText is seeded and returns the prompt plus length characters", async () => {
  await tf.setBackend("cpu");
  const c = charCorpus(["abcd"]);
  const m = charLanguageModel({ vocabSize: c.chars.length, units: 4, embeddingDim: 2, seed: 1 });
  const a = await sampleText(m, c, { prompt: "ab", length: 30, seed: 3 });
  const b = await sampleText(m, c, { prompt: "ab", length: 30, seed: 3 });
  const other = await sampleText(m, c, { prompt: "ab", length: 30, seed: 4 });
  assert.equal(a, b);
  assert.notEqual(a, other);
  assert.equal(a.length, 32);
  assert.ok(a.startsWith("ab"));
  assert.ok([...a].every((ch) => c.chars.includes(ch)));
  await assert.rejects(() => sampleText(m, c, { prompt: "z", length: 1, seed: 0 }), /not in/);
  m.dispose();
});

Deno.test("a low temperature picks the most likely character, a high one spreads the draws", async () => {
  await tf.setBackend("cpu");
  const c = charCorpus(["abcd"]);
  const m = favouring(c.chars.length, c.id("c"), 1);
  const cold = await sampleText(m, c, { prompt: "a", length: 40, seed: 0, temperature: 0.01 });
  assert.equal(cold.slice(1), "c".repeat(40));
  // at temperature 1, p(c) = e / (e + 3) ≈ 0.48: far from all 40 draws
  const warm = await sampleText(m, c, { prompt: "a", length: 40, seed: 0, temperature: 1 });
  const cs = [...warm.slice(1)].filter((ch) => ch === "c").length;
  assert.ok(cs > 8 && cs < 32, `${cs} of 40`);
  m.dispose();
});
