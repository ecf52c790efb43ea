import * as tf from "@tensorflow/tfjs";
import * as nn from "nn";
await nn.setupBackend({ backend: Deno.args[2] ?? "wasm" });
const [D, B] = Deno.args.map(Number);
const m = nn.encoderDecoder({ sourceVocabSize: 68, targetVocabSize: 14, sourceLength: 20, targetLength: 128, dModel: D, numHeads: 4, seed: 0 });
const parts = nn.seq2seqParts(m);
const src = tf.ones([B, 20], "int32");
for (const rep of [0, 1]) for (const n of [4, 16, 64]) for (const cache of [true, false]) {
  const a = await nn.timeGeneration(parts, src, { startId: 1, steps: n, cache });
  console.log(rep, n, cache, (1000 * a.seconds / n).toFixed(1), "ms/step");
}
