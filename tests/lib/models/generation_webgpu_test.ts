// Generation on webgpu (skipped when there is no WebGPU adapter): a tiny encoder–decoder
// generates the same tokens with and without the key/value cache, and its cached steps
// equal predict, with no synchronous read anywhere.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { probeWebGpu, setupBackend } from "../../../lib/backend.ts";
import { encoderDecoder } from "../../../lib/models/encoder_decoder.ts";
import { beamSearch, greedyDecode, seq2seqParts } from "../../../lib/models/generation.ts";

const adapter = await probeWebGpu().catch(() => null);

Deno.test({
  name: "generation on webgpu: cached = uncached = beam width 1",
  ignore: adapter === null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await setupBackend({ backend: "webgpu" });
    assert.equal(tf.getBackend(), "webgpu");
    const m = encoderDecoder({
      sourceVocabSize: 9,
      targetVocabSize: 6,
      sourceLength: 4,
      targetLength: 5,
      dModel: 8,
      numHeads: 2,
      encoderLayers: 1,
      decoderLayers: 1,
      seed: 2,
    });
    const parts = seq2seqParts(m);
    const src = tf.tensor2d([[2, 3, 0, 0], [4, 5, 6, 7]], [2, 4], "int32");
    const cached = await greedyDecode(parts, src, { startId: 1, steps: 4 });
    const uncached = await greedyDecode(parts, src, { startId: 1, steps: 4, cache: false });
    const beam = await beamSearch(parts, src, { startId: 1, steps: 4, beamWidth: 1 });
    assert.deepEqual(cached, uncached);
    assert.deepEqual(beam.tokens, cached);
    m.dispose();
    await setupBackend({ backend: "cpu" });
  },
});
