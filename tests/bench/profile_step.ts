/**
 * Where one training step of a reference model spends its time, op by op: tfjs's
 * `tf.profile` with each kernel's self time (nested kernels counted once), the fused
 * ops' backward passes and the optimizer as rows of their own (see `step_profile.ts`),
 * optionally beside PyTorch's step (`--torch`: `torch.profiler`, `torch_profile.py`).
 *
 * ```
 * deno run -A tests/bench/profile_step.ts transformer wasm
 * deno run -A tests/bench/profile_step.ts transformer wasm --top 40 --by-shape --steps 5
 * deno run -A tests/bench/profile_step.ts transformer wasm --torch
 * deno run -A tests/bench/profile_step.ts mlp wasm --no-dense-fusion   # tfjs's dense ops
 * ```
 * The first line gives the step's wall time, the time in ops and the kernel calls per
 * step; the load average is printed with it (timings on a busy machine are noisy, the
 * op counts are not).
 * @module
 */

import { parseArgs } from "node:util";
import { setupBackend } from "../../lib/backend.ts";
import { adam, blasInfo, softmaxCrossEntropy } from "../../lib/kernels/mod.ts";
import { type ModelId, MODELS, SPECS, torchProfile } from "./train_bench.ts";
import { formatSideBySide, profileTrainStep } from "./step_profile.ts";
import { setDenseFusion } from "../../lib/kernels/dense.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    top: { type: "string", default: "15" },
    steps: { type: "string", default: "3" },
    "by-shape": { type: "boolean", default: false },
    torch: { type: "boolean", default: false },
    "torch-threads": { type: "string", default: "2" },
    "no-dense-fusion": { type: "boolean", default: false },
  },
});
const [id = "mlp", backend = "wasm", topArg] = positionals;
const top = Number(topArg ?? values.top);
if (!MODELS.includes(id as ModelId)) {
  throw new Error(`Unknown model "${id}": use one of ${MODELS.join(", ")}.`);
}
await setupBackend({ backend });
if (values["no-dense-fusion"]) setDenseFusion(false);
const spec = SPECS[id as ModelId];
const model = spec.build(0);
// the library's Adam, as `deno task bench` uses by default
model.compile({ optimizer: adam(1e-3), loss: softmaxCrossEntropy });
const { x, y } = spec.data(spec.batch);
const p = await profileTrainStep(model, x, y, {
  steps: Number(values.steps),
  byShape: values["by-shape"],
});
const load = Deno.loadavg()[0];
console.log(
  `${id} on ${backend} (${blasInfo().gemm}${
    values["no-dense-fusion"] ? ", dense fusion off" : ""
  }): ${p.wall_ms.toFixed(1)} ms wall (profiled), ` +
    `ops ${p.kernel_ms.toFixed(1)} ms, ${p.calls.toFixed(0)} kernel calls per step ` +
    `(mean of ${values.steps} steps; load average ${load.toFixed(2)})`,
);
if (values.torch) {
  const t = await torchProfile(id as ModelId, Number(values["torch-threads"]));
  console.log(formatSideBySide(id, p, t, backend, top));
} else {
  console.log("| kernel | calls | self ms | first input shapes |\n| --- | --- | --- | --- |");
  for (const e of p.ops.slice(0, top)) {
    console.log(
      `| ${e.name} | ${e.calls.toFixed(e.calls % 1 ? 1 : 0)} | ${e.ms.toFixed(2)} | ${
        (e.shapes ?? "").slice(0, 70)
      } |`,
    );
  }
}
