import assert from "node:assert/strict";
import { charTokenize, Vocabulary, type VocabularyJson } from "../../../lib/data/mod.ts";

const texts = ["the film was good", "the film was bad", "the plot, the end"];

Deno.test("PAD is id 0, OOV is id 1, then tokens by count then code-point order", () => {
  const vocab = Vocabulary.fromTexts(texts);
  assert.equal(Vocabulary.PAD, 0);
  assert.equal(Vocabulary.OOV, 1);
  assert.deepEqual(vocab.tokens.slice(0, 5), ["<pad>", "<oov>", "the", "film", "was"]);
  // count-1 tokens in code-point order: "," < "bad" < "end" < "good" < "plot"
  assert.deepEqual(vocab.tokens.slice(5), [",", "bad", "end", "good", "plot"]);
  assert.equal(vocab.count("the"), 4);
  assert.equal(vocab.size, 10);
});

Deno.test("the same corpus in another order gives the same ids", () => {
  const a = Vocabulary.fromTexts(texts);
  const b = Vocabulary.fromTexts([...texts].reverse());
  assert.deepEqual(a.tokens, b.tokens);
});

Deno.test("unknown tokens encode to OOV and decode to <oov>; padding is skipped", () => {
  const vocab = Vocabulary.fromTexts(texts);
  const ids = vocab.encode(["the", "movie", "was", "good"]);
  assert.ok(ids instanceof Int32Array);
  assert.deepEqual(Array.from(ids), [vocab.id("the"), 1, vocab.id("was"), vocab.id("good")]);
  assert.equal(vocab.has("movie"), false);
  assert.equal(vocab.id("movie"), Vocabulary.OOV);
  assert.deepEqual(vocab.decode([0, 0, ...ids]), ["the", "<oov>", "was", "good"]);
  assert.deepEqual(vocab.decode([0, 2], { skipPad: false }), ["<pad>", "the"]);
  assert.throws(() => vocab.decode([vocab.size]), /outside this vocabulary/);
});

Deno.test("known tokens round-trip through encode and decode", () => {
  const vocab = Vocabulary.fromTexts(texts);
  const tokens = ["the", "plot", ",", "the", "end"];
  assert.deepEqual(vocab.decode(vocab.encode(tokens)), tokens);
});

Deno.test("minCount and maxSize limit the vocabulary; maxSize counts the reserved ids", () => {
  assert.deepEqual(Vocabulary.fromTexts(texts, { minCount: 2 }).tokens, [
    "<pad>",
    "<oov>",
    "the",
    "film",
    "was",
  ]);
  assert.deepEqual(Vocabulary.fromTexts(texts, { maxSize: 4 }).tokens, [
    "<pad>",
    "<oov>",
    "the",
    "film",
  ]);
  assert.deepEqual(Vocabulary.fromTexts(texts, { maxSize: 2 }).tokens, ["<pad>", "<oov>"]);
  assert.throws(
    () => Vocabulary.fromTexts(texts, { maxSize: 1 }),
    /maxSize must be an integer >= 2/,
  );
  assert.throws(
    () => Vocabulary.fromTexts(texts, { minCount: 0 }),
    /minCount must be an integer >= 1/,
  );
});

Deno.test("reserved token strings in the corpus do not get a second id", () => {
  const vocab = Vocabulary.fromTokens([["<pad>", "<oov>", "x"]]);
  assert.deepEqual(vocab.tokens, ["<pad>", "<oov>", "x"]);
});

Deno.test("a custom tokenizer builds a character vocabulary", () => {
  const vocab = Vocabulary.fromTexts(["abba", "cab"], { tokenizer: charTokenize });
  assert.deepEqual(vocab.tokens, ["<pad>", "<oov>", "a", "b", "c"]);
});

Deno.test("JSON round trip keeps tokens, ids and counts", () => {
  const vocab = Vocabulary.fromTexts(texts, { minCount: 1 });
  const json = JSON.stringify(vocab);
  const parsed = JSON.parse(json) as VocabularyJson;
  assert.equal(parsed.format, "nn-vocabulary");
  assert.equal(parsed.version, 1);
  const copy = Vocabulary.fromJSON(json);
  assert.deepEqual(copy.tokens, vocab.tokens);
  assert.equal(copy.count("the"), 4);
  assert.deepEqual(
    Array.from(copy.encode(["was", "zzz"])),
    Array.from(vocab.encode(["was", "zzz"])),
  );
  assert.deepEqual(Vocabulary.fromJSON(parsed).tokens, vocab.tokens);
});

Deno.test("fromJSON rejects foreign or damaged JSON with a clear message", () => {
  assert.throws(() => Vocabulary.fromJSON('{"a": 1}'), /expected \{"format": "nn-vocabulary"/);
  assert.throws(
    () =>
      Vocabulary.fromJSON({
        format: "nn-vocabulary",
        version: 1,
        tokens: ["a", "b"],
        counts: [0, 0],
      }),
    /first two tokens must be "<pad>" and "<oov>"/,
  );
  assert.throws(
    () =>
      Vocabulary.fromJSON({
        format: "nn-vocabulary",
        version: 1,
        tokens: ["<pad>", "<oov>", "x", "x"],
        counts: [0, 0, 1, 1],
      }),
    /appears twice/,
  );
});
