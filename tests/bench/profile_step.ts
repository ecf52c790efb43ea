/**
 * Where one training step of a reference model spends its time, kernel by kernel
 * (tfjs's `tf.profile`; fused ops show as "unnamed scope", their backward pass is the
 * gap between wall time and the kernel sum).
 *
 * ```
 * deno run -A tests/bench/profile_step.ts transformer wasm
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../lib/backend.ts";
import { adam } from "../../lib/kernels/mod.ts";
import { type ModelId, MODELS, SPECS } from "./train_bench.ts";

const [id = "mlp", backend = "wasm", top = "15"] = Deno.args;
if (!MODELS.includes(id as ModelId)) {
  throw new Error(`Unknown model "${id}": use one of ${MODELS.join(", ")}.`);
}
await setupBackend({ backend });
const spec = SPECS[id as ModelId];
const model = spec.build(0);
// the library's Adam, as `deno task bench` uses by default
model.compile({ optimizer: adam(1e-3), loss: tf.losses.softmaxCrossEntropy });
const { x, y } = spec.data(spec.batch);
await model.trainOnBatch(x, y); // warm-up
const t0 = performance.now();
const info = await tf.profile(async () => {
  await model.trainOnBatch(x, y);
  return [] as tf.Tensor[];
});
const wall = performance.now() - t0;
const byName = new Map<string, { calls: number; ms: number; shapes: string }>();
for (const k of info.kernels) {
  const e = byName.get(k.name) ?? { calls: 0, ms: 0, shapes: JSON.stringify(k.inputShapes) };
  e.calls++;
  e.ms += Number(await k.kernelTimeMs) || 0;
  byName.set(k.name, e);
}
const sum = [...byName.values()].reduce((s, e) => s + e.ms, 0);
console.log(
  `${id} on ${backend}: ${wall.toFixed(1)} ms wall (profiled), kernels ${sum.toFixed(1)} ms, ` +
    `${info.kernels.length} kernel calls`,
);
console.log("| kernel | calls | ms | first input shapes |\n| --- | --- | --- | --- |");
for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(top))) {
  console.log(`| ${name} | ${e.calls} | ${e.ms.toFixed(1)} | ${e.shapes.slice(0, 60)} |`);
}
