/**
 * Sparse networks (稀疏网络): networks in which most weights, or most of the network
 * per example, are zero or unused.
 *
 * - pruning (剪枝) with masks (掩码): {@linkcode MagnitudePruner} (one-shot, layer-wise
 *   or global threshold, exact counts), {@linkcode GradualPruning} driven by the cubic
 *   schedule of Zhu & Gupta 2017 ({@linkcode scheduleSparsity}), sparsity reports;
 * - sparse-by-design layers: the top-k mixture of experts (混合专家模型)
 *   {@linkcode TopKMixtureOfExperts} with a load-balancing loss;
 * - storage and products of sparse matrices in CSR form ({@linkcode csrFromDense},
 *   {@linkcode denseCsrMatMul}).
 *
 * Dropout (随机失活), the third way to sparsity the notebook covers, is `SeededDropout`
 * in `dense.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MagnitudePruner, scheduleSparsity } from "nn/models/sparse.ts";
 * await tf.setBackend("cpu");
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [10] })] });
 * const pruner = new MagnitudePruner(model);
 * const s = scheduleSparsity(50, { finalSparsity: 0.9, frequency: 10, pruningSteps: 10 });
 * console.log((await pruner.prune(s)).zeros); // round(0.7875 · 100) = 79
 * pruner.dispose();
 * ```
 * @module
 */

export * from "./sparse_schedule.ts";
export * from "./sparse_pruning.ts";
export * from "./sparse_moe.ts";
export * from "./sparse_csr.ts";
