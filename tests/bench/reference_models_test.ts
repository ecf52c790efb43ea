// The four reference models of shared/bench/REFERENCE.md, at full size, each take one
// training step on the default CPU backend (wasm) without a missing-kernel error.
// Numerics only: no timing is asserted.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { setupBackend } from "../../lib/backend.ts";
import "../../lib/kernels/mod.ts";
import { disposeModel } from "../../lib/train.ts";
import { MODELS, SPECS } from "./train_bench.ts";

Deno.test("reference models train one batch on wasm", async (t) => {
  await setupBackend({ backend: "wasm" });
  for (const id of MODELS) {
    await t.step(id, async () => {
      const spec = SPECS[id];
      const model = spec.build(0);
      model.compile({ optimizer: tf.train.adam(1e-3), loss: tf.losses.softmaxCrossEntropy });
      const { x, y } = spec.data(spec.batch);
      const before = model.getWeights().map((w) => w.dataSync().slice());
      const loss = await model.trainOnBatch(x, y) as number;
      assert.ok(Number.isFinite(loss), `${id}: loss ${loss}`);
      const changed = model.getWeights().filter((w, i) =>
        w.dataSync().some((v, j) => v !== before[i][j])
      );
      assert.equal(changed.length, model.getWeights().length, `${id}: every weight should move`);
      tf.dispose([x, y]);
      disposeModel(model);
    });
  }
});
