import assert from "node:assert/strict";
import { charTokenize, wordTokenize } from "../../../lib/data/mod.ts";

Deno.test("wordTokenize lower-cases and splits punctuation into single characters", () => {
  assert.deepEqual(wordTokenize("Wow... Loved this place!!"), [
    "wow",
    ".",
    ".",
    ".",
    "loved",
    "this",
    "place",
    "!",
    "!",
  ]);
});

Deno.test("wordTokenize keeps inner apostrophes and normalises the curly one", () => {
  assert.deepEqual(wordTokenize("Don't say it’s rock'n'roll"), [
    "don't",
    "say",
    "it's",
    "rock'n'roll",
  ]);
  assert.deepEqual(wordTokenize("'quoted'"), ["'", "quoted", "'"]);
});

Deno.test("wordTokenize is Unicode-aware: accents, other scripts, digits", () => {
  assert.deepEqual(wordTokenize("Crème BRÛLÉE, 2 Stück"), ["crème", "brûlée", ",", "2", "stück"]);
  assert.deepEqual(wordTokenize("Привет мир"), ["привет", "мир"]);
  assert.deepEqual(wordTokenize("稀疏网络 works"), ["稀疏网络", "works"]);
  // A decomposed é (e + combining acute) is one word, equal to the composed form.
  assert.deepEqual(wordTokenize("cafe\u0301"), ["café"]);
  assert.deepEqual(wordTokenize("10/10, 3.5"), ["10", "/", "10", ",", "3", ".", "5"]);
});

Deno.test("wordTokenize options: keep case, drop punctuation", () => {
  assert.deepEqual(wordTokenize("Hi, Bob!", { lowercase: false }), ["Hi", ",", "Bob", "!"]);
  assert.deepEqual(wordTokenize("Hi, Bob!", { punctuation: false }), ["hi", "bob"]);
});

Deno.test("wordTokenize treats whitespace and control characters as separators", () => {
  assert.deepEqual(wordTokenize("  a\tb\nc\u0085d\u200be  "), ["a", "b", "c", "d", "e"]);
  assert.deepEqual(wordTokenize(""), []);
});

Deno.test("charTokenize returns grapheme clusters including spaces", () => {
  assert.deepEqual(charTokenize("Ab c"), ["A", "b", " ", "c"]);
  assert.deepEqual(charTokenize("Ab", { lowercase: true }), ["a", "b"]);
  assert.deepEqual(charTokenize("e\u0301!"), ["é", "!"]);
  assert.deepEqual(charTokenize("👍🏽🇩🇪"), ["👍🏽", "🇩🇪"]);
  assert.deepEqual(charTokenize(""), []);
});
