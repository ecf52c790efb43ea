/**
 * Per-op profile of one training step, and the same for PyTorch's version of the model
 * (`torch.profiler`, through `torch_profile.py`), side by side.
 *
 * Ours comes from tfjs's `tf.profile`, corrected in three ways so that the parts add up
 * to the step: nested kernels (the `_FusedMatMul` inside a `fusedMatMul__op` scope, the
 * kernels inside a fused op's forward) count once, in the innermost kernel ("self" time,
 * as `torch.profiler`'s self CPU time); the backward pass of a fused op (`tf.customGrad`,
 * JavaScript and SIMD work that runs no tfjs kernel) shows as `<name> (backward)`; the
 * optimizer's update as `optimizer (<class>)`. What is left of the wall time is
 * `(outside kernels)`: tape bookkeeping, tensor tracking, the loss read back.
 *
 * ```
 * deno run -A tests/bench/profile_step.ts transformer wasm
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { ModelId } from "./train_bench.ts";
import { startGemmThreads } from "../../lib/kernels/gemm.ts";

/** One op of a profile: calls and self milliseconds per training step. */
export interface OpRow {
  name: string;
  calls: number;
  ms: number;
  /** Input shapes of the first call (tfjs) or the most common ones (torch). */
  shapes?: string;
}

/** A profile of `steps` training steps, averaged to one step. */
export interface StepProfile {
  /** Wall time of one step (ms), as profiled (profiling adds a little). */
  wall_ms: number;
  /** Sum of the ops' self times (ms). */
  kernel_ms: number;
  /** Kernel calls per step (tfjs kernels, or PyTorch's aten ops with self time). */
  calls: number;
  ops: OpRow[];
}

interface TapeNode {
  kernelName: string;
  gradient?: (dys: tf.Tensor[]) => unknown;
}

interface EngineInternals {
  state: {
    kernelDepth: number;
    activeTape: TapeNode[] | null;
    activeProfile: { kernels: Array<{ name: string }> };
  };
  addTapeNode: (...args: unknown[]) => void;
}

/**
 * Profiles `steps` calls of `model.trainOnBatch(x, y)` (after one warm-up, with the helper
 * threads that split large GEMMs and the attention started) and returns one step's ops by
 * self time. `byShape` keys ops by name and input shapes.
 *
 * @example
 * ```ts ignore
 * const p = await profileTrainStep(model, x, y, { steps: 3 });
 * console.log(p.kernel_ms, p.calls, p.ops[0]);
 * ```
 */
export async function profileTrainStep(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  options: { steps?: number; byShape?: boolean; warmup?: boolean } = {},
): Promise<StepProfile> {
  const steps = options.steps ?? 3;
  startGemmThreads(); // else the first steps run on one thread while they start
  if (options.warmup ?? true) await model.trainOnBatch(x, y);
  const engine = tf.engine() as unknown as EngineInternals;
  // kernels pushed at depth > 0 ran inside another kernel (or a fused op's forward)
  const depth: number[] = [];
  // extra rows: fused backward passes and the optimizer, with their own time only
  const extra: Array<{ name: string; ms: number; from: number; to: number }> = [];
  const kernels = () => engine.state.activeProfile.kernels;
  const timed = <T>(name: string, f: () => T): T => {
    const before = kernels().length;
    const t0 = performance.now();
    const r = f();
    extra.push({ name, ms: performance.now() - t0, from: before, to: kernels().length });
    return r;
  };
  const addTapeNode = engine.addTapeNode;
  engine.addTapeNode = function (this: EngineInternals, ...args: unknown[]) {
    addTapeNode.apply(this, args);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    // a customGrad's backward work runs in node.gradient itself; a registered kernel's
    // in the thunks it returns, which run tfjs kernels (profiled as such)
    if (node?.gradient && node.kernelName === args[0] && !isRegistered(node.kernelName)) {
      const g = node.gradient;
      node.gradient = (dys) => timed(`${node.kernelName} (backward)`, () => g(dys));
    }
  };
  const optimizer = model.optimizer as unknown as { applyGradients: (v: unknown) => void };
  const apply = optimizer.applyGradients;
  optimizer.applyGradients = function (this: unknown, v: unknown) {
    return timed(`optimizer (${model.optimizer.getClassName()})`, () => apply.call(this, v));
  };
  let wall = 0;
  let info: Awaited<ReturnType<typeof tf.profile>>;
  try {
    info = await tf.profile(async () => {
      const list = kernels();
      const push = list.push;
      list.push = function (...items) {
        for (let i = 0; i < items.length; i++) depth.push(engine.state.kernelDepth);
        return push.apply(this, items);
      };
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) await model.trainOnBatch(x, y);
      wall = performance.now() - t0;
      return [] as tf.Tensor[];
    });
  } finally {
    engine.addTapeNode = addTapeNode;
    optimizer.applyGradients = apply;
  }
  const rows = new Map<string, OpRow>();
  const add = (key: string, name: string, ms: number, shapes?: string) => {
    const r = rows.get(key) ?? { name, calls: 0, ms: 0, shapes };
    r.calls++;
    r.ms += ms;
    rows.set(key, r);
  };
  // self time: a kernel's time less the kernels pushed at depth + 1 before it since the
  // last one at its own depth (children are pushed before their parent)
  const times = await Promise.all(info.kernels.map(async (k) => Number(await k.kernelTimeMs) || 0));
  const selfMs = times.slice();
  const open: number[][] = []; // per depth: sum of the children waiting for their parent
  for (let i = 0; i < info.kernels.length; i++) {
    const d = depth[i] ?? 0;
    const children = open[d + 1] ?? [];
    selfMs[i] = times[i] - children.reduce((s, v) => s + v, 0);
    open[d + 1] = [];
    (open[d] ??= []).push(times[i]);
  }
  // a fused backward or optimizer row's own time excludes the top-level kernels it ran
  const topLevelMs = (from: number, to: number) => {
    let s = 0;
    for (let i = from; i < to; i++) if ((depth[i] ?? 0) === 0) s += times[i];
    return s;
  };
  let kernelMs = 0;
  info.kernels.forEach((k, i) => {
    const shapes = JSON.stringify(k.inputShapes);
    const key = options.byShape ? `${k.name} ${shapes}` : k.name;
    add(key, k.name, selfMs[i], shapes);
    kernelMs += selfMs[i];
  });
  for (const e of extra) {
    const own = Math.max(0, e.ms - topLevelMs(e.from, e.to));
    add(e.name, e.name, own);
    kernelMs += own;
  }
  add("(outside kernels)", "(outside kernels)", Math.max(0, wall - kernelMs));
  rows.get("(outside kernels)")!.calls = 0;
  const ops = [...rows.values()].map((r) => ({
    ...r,
    calls: r.calls / steps,
    ms: r.ms / steps,
  })).sort((a, b) => b.ms - a.ms);
  return {
    wall_ms: wall / steps,
    kernel_ms: kernelMs / steps,
    calls: info.kernels.length / steps,
    ops,
  };
}

function isRegistered(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Op categories, so that tfjs's kernels and PyTorch's aten ops line up. */
export const CATEGORIES: Array<{ name: string; ours: RegExp; torch: RegExp }> = [
  {
    name: "matmul (dense, projections)",
    ours: /^(BatchMatMul|_FusedMatMul|MatMul|fusedMatMul__op|NNDense|denseWebGPU)/,
    torch: /^aten::(mm|addmm|matmul|linear|addmv|mv|dot)$/,
  },
  {
    name: "loss",
    ours: /softmaxCrossEntropy|^(Log|Exp|LogSoftmax)$/,
    torch:
      /^aten::(cross_entropy|log_softmax|_log_softmax|nll_loss|_log_softmax_backward_data|nll_loss_forward|nll_loss_backward|nll_loss_nd|nll_loss2d)/,
  },
  {
    // PyTorch's attention: its batched matmuls (bmm: scores, weighted values and their
    // gradients) and softmax; ours: the fused op, whose GEMMs run inside it
    name: "attention (scores, softmax, weighted values)",
    ours: /attention|Softmax|softmax(?!CrossEntropy)/i,
    torch:
      /^aten::(bmm|baddbmm|_softmax|softmax|_softmax_backward_data|_native_multi_head_attention|_masked_softmax|_transformer_encoder_layer_fwd)/,
  },
  {
    name: "layer norm",
    ours: /layerNorm|LayerNorm/,
    torch: /^aten::(native_layer_norm|native_layer_norm_backward|layer_norm)/,
  },
  {
    // PyTorch's CPU LSTM runs its cell op by op: the activations are the cell's
    name: "recurrent (fused)",
    ours: /LSTM|GRU|SimpleRNN|recurrent|Lstm/i,
    torch:
      /lstm|gru|rnn|^aten::(tanh|tanh_|sigmoid|sigmoid_|tanh_backward|sigmoid_backward|unsafe_split|unsafe_chunk)$/i,
  },
  {
    name: "convolution, max over time",
    ours: /^(Conv|conv|MaxPool)/,
    torch:
      /^aten::(conv|convolution|_convolution|mkldnn_convolution|_slow_conv|amax|max|slow_conv|thnn_conv|convolution_backward)/,
  },
  {
    name: "embedding",
    ours: /^(GatherV2|UnsortedSegmentSum|position|Position)/,
    torch:
      /^aten::(embedding|embedding_backward|embedding_dense_backward|index_select|index_add_|index)/,
  },
  {
    name: "optimizer",
    ours: /^optimizer/,
    torch: /Optimizer|^aten::(_foreach|addcdiv_|addcmul_|lerp_|sqrt|div_|add_|mul_)/,
  },
  {
    name: "element-wise (add, mul, relu, masks)",
    ours:
      /^(Add|AddN|Sub|Multiply|RealDiv|Relu|Step|Maximum|Minimum|Greater|GreaterEqual|Less|LessEqual|Equal|NotEqual|Select|Square|Sqrt|Rsqrt|Abs|Sign|ZerosLike|OnesLike|Fill|Cast|SquaredDifference|Neg)$/,
    torch:
      /^aten::(add|sub|mul|div|relu|threshold_backward|relu_|clamp_min|eq|where|masked_fill|zero_|fill_|ones_like|zeros_like|zeros|ones|empty|empty_like|sum_out|rsub|neg|abs|sign|clamp|add_|mul_)$/,
  },
  {
    name: "reductions (sum, mean)",
    ours: /^(Sum|Mean|Max|Min|Prod|All|Any)$/,
    torch: /^aten::(sum|mean|amax|max|min|prod|all|any)$/,
  },
  {
    name: "copies, reshapes, transposes",
    ours:
      /^(Reshape|Identity|Transpose|Tile|Concat|Slice|ExpandDims|Squeeze|Pack|Unpack|SplitV|Pad|Clone)$/,
    torch:
      /^aten::(view|reshape|_reshape_alias|transpose|t|permute|contiguous|clone|copy_|expand|as_strided|unsqueeze|squeeze|select|slice|cat|split|chunk|detach|_unsafe_view|alias|flatten|narrow|stack|to|_to_copy|empty_strided|resize_|set_|result_type|unbind|split_with_sizes|expand_as|view_as)$/,
  },
  {
    // PyTorch's autograd engine records its own rows (evaluate_function, *Backward0,
    // AccumulateGrad): its bookkeeping, as ours outside kernels
    name: "outside kernels (tape, tracking, read-back)",
    ours: /^\(outside kernels\)/,
    torch: /^\(outside ops\)|^autograd::|Backward0$|^torch::autograd::|^aten::item$/,
  },
];

/** The category of an op name (`"other"` when none matches). */
export function categoryOf(name: string, side: "ours" | "torch"): string {
  // fused backward rows go with their op
  const base = name.replace(/ \(backward\)$/, "");
  return CATEGORIES.find((c) => c[side].test(base))?.name ?? "other";
}

/** Sums a profile's ops by category. */
export function byCategory(
  p: StepProfile,
  side: "ours" | "torch",
): Map<string, { ms: number; calls: number }> {
  const m = new Map<string, { ms: number; calls: number }>();
  for (const op of p.ops) {
    const c = categoryOf(op.name, side);
    const e = m.get(c) ?? { ms: 0, calls: 0 };
    e.ms += op.ms;
    e.calls += op.calls;
    m.set(c, e);
  }
  return m;
}

/**
 * Markdown: the categories side by side (ours, PyTorch's, the ratio of times), then each
 * side's `top` ops by self time.
 */
export function formatSideBySide(
  model: ModelId | string,
  ours: StepProfile,
  torch: StepProfile | null,
  label: string,
  top = 12,
): string {
  const lines: string[] = [];
  const f = (v: number) => v.toFixed(2);
  lines.push(
    `\n### ${model}: one training step, ${label}${
      torch ? " beside PyTorch (torch.profiler, self CPU time)" : ""
    }`,
  );
  lines.push(
    `ours: ${f(ours.wall_ms)} ms wall, ${f(ours.kernel_ms)} ms in ops, ${
      ours.calls.toFixed(0)
    } kernel calls` + (torch
      ? `; PyTorch: ${f(torch.wall_ms)} ms wall, ${f(torch.kernel_ms)} ms in ops, ${
        torch.calls.toFixed(0)
      } op calls`
      : ""),
  );
  const a = byCategory(ours, "ours");
  const b = torch ? byCategory(torch, "torch") : new Map();
  const names = [...CATEGORIES.map((c) => c.name), "other"].filter((n) => a.has(n) || b.has(n));
  lines.push(
    "\n| category | ours ms | ours calls | PyTorch ms | PyTorch calls | ours ÷ PyTorch |",
  );
  lines.push("| --- | --- | --- | --- | --- | --- |");
  for (const n of names) {
    const x = a.get(n);
    const y = b.get(n);
    lines.push(
      `| ${n} | ${x ? f(x.ms) : "–"} | ${x ? x.calls.toFixed(0) : "–"} | ${y ? f(y.ms) : "–"} | ${
        y ? y.calls.toFixed(0) : "–"
      } | ${x && y && y.ms > 0 ? (x.ms / y.ms).toFixed(1) : "–"} |`,
    );
  }
  const list = (p: StepProfile, side: "ours" | "torch") =>
    p.ops.slice(0, top).map((o) =>
      `| ${o.name} | ${o.calls.toFixed(o.calls % 1 ? 1 : 0)} | ${f(o.ms)} | ${
        categoryOf(o.name, side)
      } | ${(o.shapes ?? "").slice(0, 50)} |`
    );
  lines.push(`\nours, top ${top} by self time:\n`);
  lines.push("| op | calls | ms | category | input shapes (first call) |");
  lines.push("| --- | --- | --- | --- | --- |");
  lines.push(...list(ours, "ours"));
  if (torch) {
    lines.push(`\nPyTorch, top ${top} by self CPU time:\n`);
    lines.push("| op | calls | ms | category | input shapes |");
    lines.push("| --- | --- | --- | --- | --- |");
    lines.push(...list(torch, "torch"));
  }
  return lines.join("\n");
}
