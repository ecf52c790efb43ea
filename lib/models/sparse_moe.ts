/**
 * A sparse-by-design layer: the top-k mixture of experts (混合专家模型) of Shazeer et al.
 * 2017 ("Outrageously large neural networks: the sparsely-gated mixture-of-experts
 * layer"), as a serialisable tfjs layer.
 *
 * The layer holds `E` experts, each a small feed-forward network
 * `d → hiddenUnits (activation) → units`, and a gating network (门控网络), a linear map
 * `d → E` without bias. For each example the gate's `k` largest logits pick `k` experts;
 * their weights are the softmax over those `k` logits, the other experts get weight 0:
 *
 * y = Σ_{e ∈ topk(x)} g_e(x) · expert_e(x),  g(x) = softmax over the top-k of x W_g
 *
 * So each example uses `k/E` of the expert parameters (plus the gate): the parameter
 * count grows with `E` while the parameters active per example stay fixed. The gradient
 * reaches the `k` chosen experts and the gate only. (With `k = 1` the renormalised gate
 * weight is the constant 1, so the gate learns from the balancing term alone; use
 * `k ≥ 2`, as Shazeer et al. do.)
 *
 * Load balancing (负载均衡): a gate left alone tends to send most examples to a few
 * experts, which then train faster and get picked even more. While training, the layer
 * adds the auxiliary loss of the Switch Transformer (Fedus et al. 2021) to the model's
 * loss through `addLoss`:
 *
 * L_aux = α · E · Σ_e f_e · P_e
 *
 * with `f_e` the fraction of the batch's `B·k` expert slots that went to expert `e` and
 * `P_e` the mean gate probability (softmax over all `E` logits) of expert `e`. It is 1·α
 * when the load is uniform and grows as it concentrates; its gradient flows through
 * `P` to the gate.
 *
 * Computation: this implementation evaluates every expert on every example and
 * multiplies the unchosen ones by exactly 0 (one large matrix product instead of a
 * gather per expert). It is the simple, portable form — it runs on every tfjs backend
 * and is exact — but it does not save FLOPs; production MoE code dispatches each
 * example to its experts only, which is what makes the parameter sparsity pay in compute.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { TopKMixtureOfExperts } from "nn/models/sparse_moe.ts";
 * await tf.setBackend("cpu");
 * const moe = new TopKMixtureOfExperts({ units: 3, experts: 4, topK: 2, hiddenUnits: 5, seed: 0 });
 * const y = moe.apply(tf.ones([2, 6])) as tf.Tensor;
 * console.log(y.shape, moe.parameterCounts().activeExpertFraction); // [2, 3] 0.5
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random.ts";

/** Hidden activations an expert may use. */
export type ExpertActivation = "relu" | "tanh" | "sigmoid" | "elu" | "linear";

const ACTIVATIONS: Record<ExpertActivation, (x: tf.Tensor) => tf.Tensor> = {
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  elu: (x) => tf.elu(x),
  linear: (x) => x,
};

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Options (and serialised config) of {@linkcode TopKMixtureOfExperts}. */
export interface TopKMixtureOfExpertsArgs extends LayerArgs {
  /** Output features of the layer (and of each expert). */
  units: number;
  /** `E`, the number of experts (≥ 2). */
  experts: number;
  /** `k`, experts active per example (1 … E). */
  topK: number;
  /** Hidden units of each expert's one hidden layer. */
  hiddenUnits: number;
  /** Activation of the experts' hidden layer. Default "relu". */
  activation?: ExpertActivation;
  /** `α`, weight of the load-balancing loss added while training. Default 0.01; 0 turns it off. */
  balanceWeight?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
}

/** Parameter counts of a built {@linkcode TopKMixtureOfExperts}. */
export interface MoeParameterCounts {
  /** Gate weights: `d · E`. */
  gate: number;
  /** One expert: `(d + 1) · h + (h + 1) · units`. */
  perExpert: number;
  /** All experts: `E · perExpert`. */
  experts: number;
  /** Everything: gate + experts. */
  total: number;
  /** Parameters one example uses: gate + `k · perExpert`. */
  activePerExample: number;
  /** `k / E`: the share of expert parameters one example uses. */
  activeExpertFraction: number;
}

/** What {@linkcode TopKMixtureOfExperts.route} returns (inference mode). */
export interface Routing {
  /** Examples routed. */
  batch: number;
  /** Experts. */
  experts: number;
  /** Gate weights `[batch, E]`, row-major: k non-zero entries per row, summing to 1. */
  gates: Float32Array;
  /** The chosen experts `[batch, k]`, row-major, largest gate logit first. */
  indices: Int32Array;
}

/**
 * Top-k mixture-of-experts layer (see the module documentation). Input `[batch, d]`,
 * output `[batch, units]`. Registered with tfjs, so models holding it save and load.
 */
export class TopKMixtureOfExperts extends tf.layers.Layer {
  /** tfjs class name used in serialised models. */
  static className = "NnTopKMixtureOfExperts";
  /** Output features. */
  readonly units: number;
  /** Number of experts `E`. */
  readonly experts: number;
  /** Experts per example `k`. */
  readonly topK: number;
  /** Hidden units per expert. */
  readonly hiddenUnits: number;
  /** Hidden activation of the experts. */
  readonly activation: ExpertActivation;
  /** Weight `α` of the balancing loss. */
  readonly balanceWeight: number;
  /** Seed of the initial weights. */
  readonly seed: number;
  #inputDim = 0;
  #gate: tf.LayerVariable | null = null;
  #w1: tf.LayerVariable | null = null;
  #b1: tf.LayerVariable | null = null;
  #w2: tf.LayerVariable | null = null;
  #b2: tf.LayerVariable | null = null;
  #pending: tf.Tensor[] = [];

  /** @throws {RangeError} for sizes that are not whole numbers, k outside 1 … E, α < 0 */
  constructor(args: TopKMixtureOfExpertsArgs) {
    const {
      units,
      experts,
      topK,
      hiddenUnits,
      activation = "relu",
      balanceWeight = 0.01,
      seed = 0,
      ...base
    } = args;
    super(base);
    for (const [name, v] of Object.entries({ units, experts, topK, hiddenUnits })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`TopKMixtureOfExperts: ${name} must be a whole number ≥ 1, got ${v}.`);
      }
    }
    if (experts < 2) {
      throw new RangeError(`TopKMixtureOfExperts: need ≥ 2 experts, got ${experts}.`);
    }
    if (topK > experts) {
      throw new RangeError(`TopKMixtureOfExperts: topK ${topK} exceeds the ${experts} experts.`);
    }
    if (!(activation in ACTIVATIONS)) {
      throw new RangeError(
        `TopKMixtureOfExperts: unknown activation "${activation}"; use one of ` +
          `${Object.keys(ACTIVATIONS).join(", ")}.`,
      );
    }
    if (!(balanceWeight >= 0)) {
      throw new RangeError(
        `TopKMixtureOfExperts: balanceWeight must be ≥ 0, got ${balanceWeight}.`,
      );
    }
    this.units = units;
    this.experts = experts;
    this.topK = topK;
    this.hiddenUnits = hiddenUnits;
    this.activation = activation;
    this.balanceWeight = balanceWeight;
    this.seed = seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const d = shape[shape.length - 1];
    if (shape.length !== 2 || d == null) {
      throw new Error(
        `TopKMixtureOfExperts expects inputs [batch, features], got [${shape.join(", ")}]; ` +
          `flatten them first.`,
      );
    }
    this.#inputDim = d;
    const { experts: E, hiddenUnits: h, units: o } = this;
    const rng = new Rng(this.seed).fork("moe.weights");
    // Glorot-uniform limits per expert (fan-in and fan-out of one expert's layer).
    const uniform = (fanIn: number, fanOut: number) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return rng.initializer("randomUniform", { minval: -limit, maxval: limit });
    };
    this.#gate = this.addWeight("gate_kernel", [d, E], "float32", uniform(d, E));
    this.#w1 = this.addWeight("expert_kernel", [d, E, h], "float32", uniform(d, h));
    this.#b1 = this.addWeight("expert_bias", [E, h], "float32", tf.initializers.zeros());
    this.#w2 = this.addWeight("expert_output_kernel", [E, h, o], "float32", uniform(h, o));
    this.#b2 = this.addWeight("expert_output_bias", [E, o], "float32", tf.initializers.zeros());
    this.addLoss(() => this.#takeBalanceLoss());
    this.built = true;
  }

  #takeBalanceLoss(): tf.Scalar {
    const pending = this.#pending.filter((t) => !t.isDisposed);
    this.#pending = [];
    if (pending.length === 0) return tf.scalar(0);
    return (pending.length === 1 ? pending[0] : tf.addN(pending)) as tf.Scalar;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0], this.units];
  }

  /**
   * Gate logits `[B, E]`, the 0/1 top-k selection `[B, E]` and the chosen experts
   * `[B, k]`, largest logit first (ties: lower index first). The selection is made by `k`
   * rounds of argmax, whose gradient tfjs defines as 0: TopK has no gradient in tfjs, and
   * `tf.customGrad` returned wrong values on tfjs-webgpu 4.22, so neither is used.
   */
  #select(x: tf.Tensor2D): { logits: tf.Tensor2D; selected: tf.Tensor2D; indices: tf.Tensor2D } {
    const logits = tf.matMul(x, this.#gate!.read() as tf.Tensor2D) as tf.Tensor2D;
    let remaining: tf.Tensor2D = logits;
    let selected: tf.Tensor2D | null = null;
    const chosen: tf.Tensor1D[] = [];
    for (let j = 0; j < this.topK; j++) {
      const index = tf.argMax(remaining, 1) as tf.Tensor1D;
      const hit = tf.cast(tf.oneHot(index, this.experts), "float32") as tf.Tensor2D;
      chosen.push(index);
      selected = selected ? tf.add(selected, hit) : hit;
      // push the chosen logit far below every other before the next round
      if (j + 1 < this.topK) remaining = tf.sub(remaining, tf.mul(hit, 3e38));
    }
    return { logits, selected: selected!, indices: tf.stack(chosen, 1) as tf.Tensor2D };
  }

  /**
   * Softmax over the selected logits only, exact zeros elsewhere:
   * `exp(l − max l) · selected / Σ exp(l − max l) · selected` (the shift keeps every
   * exponential ≤ 1, and the largest logit is always selected, so the sum is ≥ 1).
   */
  #gates(logits: tf.Tensor2D, selected: tf.Tensor2D): tf.Tensor2D {
    const shifted = tf.exp(tf.sub(logits, tf.max(logits, 1, true)));
    const kept = tf.mul(shifted, selected);
    return tf.div(kept, tf.sum(kept, 1, true)) as tf.Tensor2D;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D;
    const training = kwargs?.training === true;
    const [y, aux] = tf.tidy(() => {
      const { experts: E, hiddenUnits: h, units: o, topK: k } = this;
      const d = this.#inputDim;
      const batch = x.shape[0];
      const { logits, selected } = this.#select(x);
      const gates = this.#gates(logits, selected);
      const hidden = ACTIVATIONS[this.activation](tf.add(
        tf.matMul(x, tf.reshape(this.#w1!.read(), [d, E * h])),
        tf.reshape(this.#b1!.read(), [E * h]),
      ));
      const perExpert = tf.transpose(tf.reshape(hidden, [batch, E, h]), [1, 0, 2]); // [E, B, h]
      const out = tf.add(
        tf.matMul(perExpert, this.#w2!.read() as tf.Tensor3D),
        tf.reshape(this.#b2!.read(), [E, 1, o]),
      ); // [E, B, o]
      const weighted = tf.mul(out, tf.expandDims(tf.transpose(gates), 2));
      const result = tf.sum(weighted, 0) as tf.Tensor;
      if (!training || this.balanceWeight === 0) return [result];
      // Switch Transformer balancing loss: α · E · Σ_e f_e P_e.
      const f = tf.div(tf.sum(selected, 0), batch * k);
      const p = tf.mean(tf.softmax(logits), 0);
      const loss = tf.mul(tf.sum(tf.mul(f, p)), this.balanceWeight * E);
      return [result, loss];
    });
    if (aux) {
      this.#pending = this.#pending.filter((t) => !t.isDisposed);
      this.#pending.push(aux);
    }
    return y;
  }

  /**
   * Routes a batch in inference mode: the gate weights and the chosen experts of every
   * example.
   *
   * @param x inputs `[batch, d]` of this layer
   */
  async route(x: tf.Tensor): Promise<Routing> {
    if (!this.built) this.build(x.shape);
    const [gates, indices] = tf.tidy(() => {
      const { logits, selected, indices } = this.#select(x as tf.Tensor2D);
      return [this.#gates(logits, selected), indices];
    });
    try {
      return {
        batch: x.shape[0],
        experts: this.experts,
        gates: new Float32Array(await gates.data()),
        indices: new Int32Array(await indices.data()),
      };
    } finally {
      tf.dispose([gates, indices]);
    }
  }

  /**
   * Parameters of the gate, one expert, all experts, and those one example uses.
   *
   * @throws {Error} before the layer is built (its input size is unknown until then)
   */
  parameterCounts(): MoeParameterCounts {
    if (!this.built) {
      throw new Error("parameterCounts: the layer is not built yet; apply it to an input first.");
    }
    const d = this.#inputDim;
    const { experts: E, hiddenUnits: h, units: o, topK: k } = this;
    const gate = d * E;
    const perExpert = (d + 1) * h + (h + 1) * o;
    return {
      gate,
      perExpert,
      experts: E * perExpert,
      total: gate + E * perExpert,
      activePerExample: gate + k * perExpert,
      activeExpertFraction: k / E,
    };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      experts: this.experts,
      topK: this.topK,
      hiddenUnits: this.hiddenUnits,
      activation: this.activation,
      balanceWeight: this.balanceWeight,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(TopKMixtureOfExperts);

/**
 * Share of the `B · k` expert slots of a routing that went to each expert (sums to 1;
 * `1/E` each when the load is uniform).
 *
 * @example
 * ```ts
 * import { expertLoad } from "nn/models/sparse_moe.ts";
 * const routing = { batch: 2, experts: 3, gates: new Float32Array(6), indices: new Int32Array([0, 1, 0, 2]) };
 * console.log(expertLoad(routing)); // [0.5, 0.25, 0.25]
 * ```
 */
export function expertLoad(routing: Routing): number[] {
  const counts = new Array<number>(routing.experts).fill(0);
  for (const e of routing.indices) counts[e]++;
  return counts.map((c) => c / routing.indices.length);
}

/**
 * Experts with a non-zero gate weight, averaged over the examples of a routing: `k` for
 * a correct top-k gate (a gate weight that underflowed to 0 would lower it).
 *
 * @example
 * ```ts
 * import { activeExpertsPerExample } from "nn/models/sparse_moe.ts";
 * const gates = new Float32Array([0.7, 0.3, 0, 0, 0.5, 0.5]);
 * console.log(activeExpertsPerExample({ batch: 2, experts: 3, gates, indices: new Int32Array(4) })); // 2
 * ```
 */
export function activeExpertsPerExample(routing: Routing): number {
  let active = 0;
  for (const g of routing.gates) if (g !== 0) active++;
  return active / routing.batch;
}

/**
 * Coefficient of variation (std / mean) of the expert load: 0 for a perfectly even load,
 * `√(E − 1)` when one expert takes everything (Shazeer et al. 2017 penalise its square).
 *
 * @example
 * ```ts
 * import { loadCv } from "nn/models/sparse_moe.ts";
 * console.log(loadCv([0.25, 0.25, 0.25, 0.25]), loadCv([1, 0, 0, 0]).toFixed(3)); // 0 "1.732"
 * ```
 */
export function loadCv(load: readonly number[]): number {
  const mean = load.reduce((a, b) => a + b, 0) / load.length;
  const variance = load.reduce((a, b) => a + (b - mean) ** 2, 0) / load.length;
  return mean > 0 ? Math.sqrt(variance) / mean : 0;
}

/** Options of {@linkcode moeClassifier}. */
export interface MoeClassifierOptions {
  /** Features per example (784 for MNIST). */
  inputs: number;
  /** Classes. */
  outputs: number;
  /** Experts `E`. */
  experts: number;
  /** Experts per example `k`. */
  topK: number;
  /** Hidden units of each expert. */
  hiddenUnits: number;
  /** Weight of the balancing loss. Default 0.01. */
  balanceWeight?: number;
  /** Seed of the weights. Default 0. */
  seed?: number;
}

/**
 * A classifier whose experts are small MLPs `inputs → hiddenUnits → outputs` (the
 * classic mixture of experts of Jacobs et al. 1991 with a top-k gate): a
 * {@linkcode TopKMixtureOfExperts} producing class scores, then softmax. Uncompiled.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { moeClassifier } from "nn/models/sparse_moe.ts";
 * await tf.setBackend("cpu");
 * const model = moeClassifier({ inputs: 784, outputs: 10, experts: 8, topK: 2, hiddenUnits: 64 });
 * console.log(model.countParams()); // 413392
 * model.dispose();
 * ```
 */
export function moeClassifier(options: MoeClassifierOptions): tf.Sequential {
  const model = tf.sequential();
  model.add(
    new TopKMixtureOfExperts({
      inputShape: [options.inputs],
      units: options.outputs,
      experts: options.experts,
      topK: options.topK,
      hiddenUnits: options.hiddenUnits,
      balanceWeight: options.balanceWeight,
      seed: options.seed,
    }),
  );
  model.add(tf.layers.activation({ activation: "softmax" }));
  return model;
}
