/**
 * Neural Notebooks' shared library: backend choice, seeded randomness, datasets,
 * training with live progress, Plotly charts and checked claims.
 *
 * Notebooks import it by its alias from the project's deno.json:
 *
 * @example
 * ```ts
 * import * as nn from "nn";
 * const report = await nn.setupBackend({ backend: "cpu" });
 * nn.claim("backend-chosen", report.backend, { equals: "cpu" });
 * ```
 * @module
 */

export * from "./display.ts";
export * from "./profile.ts";
export * from "./random.ts";
export * from "./backend.ts";
export * from "./sync_reads.ts";
export * from "./charts.ts";
export * from "./claims.ts";
export * from "./compare.ts";
export * from "./train.ts";
export * from "./data/mod.ts";
export * from "./kernels/mod.ts";
export * from "./layers/mod.ts";
export * from "./models/dense.ts";
export * from "./models/counting.ts";
export * from "./models/inspect.ts";
export * from "./models/recurrent.ts";
export * from "./models/transformer.ts";
export * from "./models/encoder_decoder.ts";
export * from "./models/generation.ts";
export * from "./models/cnn_text.ts";
export * from "./models/sample_text.ts";
export * from "./models/cnn_image.ts";
export * from "./models/attribution.ts";
export * from "./control/cartpole.ts";
export * from "./control/policy_gradient.ts";
export * from "./publish.ts";
