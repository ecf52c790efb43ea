import assert from "node:assert/strict";
import { loadSentiment, repairCp1252, SENTIMENT_SOURCES } from "../../../lib/data/mod.ts";

Deno.test("each source has exactly 1000 sentences, 500 negative and 500 positive", async () => {
  for (const source of SENTIMENT_SOURCES) {
    const data = await loadSentiment({ source });
    assert.equal(data.texts.length, 1000, source);
    assert.equal(data.labels.length, 1000, source);
    assert.ok(data.source.every((s) => s === source), source);
    assert.equal(data.labels.filter((y) => y === 0).length, 500, source);
    assert.equal(data.labels.filter((y) => y === 1).length, 500, source);
    assert.ok(data.texts.every((t) => t.length > 0), `${source} has an empty sentence`);
  }
});

Deno.test("'all' concatenates amazon, imdb and yelp in that order", async () => {
  const all = await loadSentiment();
  assert.equal(all.texts.length, 3000);
  assert.deepEqual([all.source[0], all.source[1000], all.source[2000]], ["amazon", "imdb", "yelp"]);
  const imdb = await loadSentiment({ source: "imdb" });
  assert.deepEqual(all.texts.slice(1000, 2000), imdb.texts);
  assert.equal(all.texts[2000], "Wow... Loved this place.");
});

Deno.test("clean text has no surrounding spaces and no C1 control characters", async () => {
  const all = await loadSentiment();
  assert.ok(all.texts.every((t) => t === t.trim()));
  assert.ok(all.texts.every((t) => !/[\u0080-\u009f]/.test(t)));
  assert.ok(all.texts.some((t) => t.includes("in all of them – a true masterpiece")));
});

Deno.test("clean: false returns the imdb sentences exactly as stored", async () => {
  const raw = await loadSentiment({ source: "imdb", clean: false });
  assert.equal(raw.texts.length, 1000);
  assert.ok(
    raw.texts.every((t) => t.endsWith("  ")),
    "every stored imdb sentence ends in two spaces",
  );
  assert.equal(raw.texts.filter((t) => /[\u0080-\u009f]/.test(t)).length, 8);
});

Deno.test("repairCp1252 maps C1 characters to Windows-1252 and leaves the rest", () => {
  assert.equal(repairCp1252("a\u0096b\u0085c\u0097d\u0092e"), "a–b…c—d’e");
  assert.equal(repairCp1252("café ok"), "café ok");
});

Deno.test("an unknown source is refused with the valid names", async () => {
  await assert.rejects(
    loadSentiment({ source: "twitter" as never }),
    /Unknown sentiment source "twitter": use "amazon", "imdb", "yelp" or "all"/,
  );
});
