import * as tf from "@tensorflow/tfjs";
import * as nn from "nn";
await nn.setupBackend({ backend: "wasm" });
const [D, B] = Deno.args.map(Number);
const lengths = [16, 64, 128];
const m = nn.encoderDecoder({ sourceVocabSize: 68, targetVocabSize: 14, sourceLength: 20, targetLength: 128, dModel: D, numHeads: 4, seed: 0 });
const parts = nn.seq2seqParts(m);
const src = tf.ones([B, 20], "int32");
for (const n of lengths) {
  const a = await nn.timeGeneration(parts, src, { startId: 1, steps: n, cache: true });
  const b = await nn.timeGeneration(parts, src, { startId: 1, steps: n, cache: false });
  console.log(n, a.tokensPerSecond.toFixed(0), b.tokensPerSecond.toFixed(0), (a.tokensPerSecond / b.tokensPerSecond).toFixed(2));
}
