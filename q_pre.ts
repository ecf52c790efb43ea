import * as tf from "@tensorflow/tfjs";
import * as nn from "nn";
await nn.setupBackend({ backend: "wasm" });
const [EP, FT, NL, D] = Deno.args.map(Number);
const T = 24;
const sent = await nn.loadSentiment({ source: "all" });
const split = nn.splitIndices(sent.texts.length, { seed: 0, train: 2 / 3, test: 1 / 3, stratify: sent.labels });
const pool = nn.take(sent.texts, split.train), poolY = nn.take(sent.labels, split.train);
const testX = nn.take(sent.texts, split.test), testY = nn.take(sent.labels, split.test);
const moby: string[] = [];
for (let i = 1; i <= 10; i++) moby.push(...nn.splitSentences(await nn.loadText(`moby_dick/chapter_${i}.txt`)));
const unlabelled = [...pool, ...moby];
const vocab = nn.Vocabulary.fromTexts(unlabelled, { minCount: 2, maxSize: 1000 });
function rows0() { return nn.encodeTexts(unlabelled, vocab, { length: T }); }
console.log("sentences", pool.length, moby.length, "vocab", vocab.size);
const counts = new Map<number, number>(); for (const r of rows0()) for (const id of r) if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]; let tot = 0; for (const v of counts.values()) tot += v; console.log("unigram top share", top[1] / tot);
const maskId = vocab.size, V = vocab.size + 1;
const rows = nn.encodeTexts(unlabelled, vocab, { length: T });
const enc = { vocabSize: V, maxLength: T, dModel: D, numHeads: 4, ffDim: 2 * D, numLayers: NL };
function mlmModel(seed: number) {
  const ids = tf.input({ shape: [T], dtype: "int32", name: "ids" });
  const pick = tf.input({ shape: [T], name: "pick" });
  const { memory } = nn.transformerEncoder(ids, { ...enc, seed });
  const at = tf.layers.dot({ axes: [1, 1], name: "at_pick" }).apply([pick, memory]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: V, activation: "softmax", name: "mlm_head" }).apply(at) as tf.SymbolicTensor;
  return tf.model({ inputs: [ids, pick], outputs: out });
}
function classifier(seed: number) {
  const ids = tf.input({ shape: [T], dtype: "int32", name: "ids" });
  const { memory } = nn.transformerEncoder(ids, { ...enc, seed });
  const pooled = tf.layers.globalAveragePooling1d({ name: "mean" }).apply(memory) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: "softmax", name: "sentiment", kernelInitializer: nn.rng(seed).initializer("glorotUniform") }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: ids, outputs: out });
}
const mlm = mlmModel(0);
mlm.compile({ optimizer: tf.train.adam(2e-3), loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
const t0 = performance.now();
for (let e = 0; e < EP; e++) {
  const ex = nn.maskedTokenTensors(rows, { maskId, seed: e, copies: 2 });
  const r = await nn.train(mlm, [ex.ids, ex.pick], ex.target, { epochs: 1, batchSize: 64, seed: e, progress: "none" });
  console.log(e, r.history.loss[0].toFixed(3), r.history.acc[0].toFixed(3), ((performance.now() - t0) / 1000).toFixed(0));
  ex.dispose();
}
const xTest = nn.sequencesToTensor(nn.encodeTexts(testX, vocab, { length: T }));
const yTest = nn.oneHot(testY, 2);
for (const s of [0, 1, 2]) {
  const r = nn.rng(100 + s);
  const idx = nn.splitIndices(pool.length, { seed: 100 + s, train: 200 / pool.length, test: 1 - 200 / pool.length, stratify: poolY }).train;
  const x = nn.sequencesToTensor(nn.encodeTexts(nn.take(pool, idx), vocab, { length: T }));
  const y = nn.oneHot(nn.take(poolY, idx), 2);
  const res: number[] = [];
  for (const pre of [true, false]) {
    const c = classifier(10 + s);
    if (pre) nn.transferWeights(mlm, c);
    c.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    await nn.train(c, x, y, { epochs: FT, batchSize: 16, seed: s, progress: "none" });
    const ev = c.evaluate(xTest, yTest) as tf.Scalar[];
    res.push((await ev[1].data())[0]);
  }
  console.log("seed", s, "pre", res[0].toFixed(3), "scratch", res[1].toFixed(3), ((performance.now() - t0) / 1000).toFixed(0));
}
