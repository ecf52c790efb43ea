/**
 * The library's custom layers; all are registered with `tf.serialization` so models
 * that use them save and load with tfjs as usual.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { LayerNorm } from "nn/layers/mod.ts";
 * const m = tf.sequential({ layers: [new LayerNorm({ inputShape: [4] })] });
 * console.log(m.layers[0].getClassName()); // "NNLayerNorm"
 * ```
 * @module
 */

export * from "./layer_norm.ts";
export * from "./position_embedding.ts";
export * from "./multi_head_attention.ts";
export * from "./fused_recurrent.ts";
export * from "./fused_lstm.ts";
export * from "./fused_gru.ts";
export * from "./fused_simple_rnn.ts";
export * from "./conv_max_over_time.ts";
export * from "./scaled_dot_product_attention.ts";
export * from "./cross_attention.ts";
export * from "./masked_mean_pooling.ts";
export * from "./fused_dense.ts";
export * from "./sinusoidal_position_encoding.ts";
