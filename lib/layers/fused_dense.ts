/**
 * `tf.layers.dense` with the bias and activation fused while training, on the cpu and
 * wasm backends.
 *
 * tfjs fuses a dense layer's bias and ReLU only where no gradient is taped, so every
 * training step of `tf.layers.dense` runs a matmul, a broadcasting bias add, the
 * activation and, backward, a dozen more kernels (see `nn/kernels/dense.ts`).
 * `FusedDense` is tfjs's `Dense` class with one change: where the fused kernels apply
 * (float32 input, `linear` or `relu` activation) its `call` runs one `NNDense` kernel
 * forward and one `NNDenseBackprop` backward on cpu and wasm, and on webgpu one fused
 * matmul program forward (`nn/kernels/webgpu/dense.ts`, while `webgpuFusion()`);
 * anywhere else (other activations, `setDenseFusion(false)`) it is tfjs's own `Dense.call`. Same weights (`kernel`, `bias`), same
 * config, same class name ("Dense"): models save as plain dense layers and load into
 * tfjs's `Dense` everywhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { fusedDense } from "nn/layers/fused_dense.ts";
 * const layer = fusedDense({ units: 3, activation: "relu", inputShape: [4] });
 * const model = tf.sequential({ layers: [layer] });
 * console.log(layer.getClassName(), model.outputs[0].shape); // "Dense" [null, 3]
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { dense, denseFusedHere } from "../kernels/dense.ts";

/** What `tf.layers.dense` takes. */
export type DenseLayerArgs = Parameters<typeof tf.layers.dense>[0];

type Kwargs = Parameters<tf.layers.Layer["call"]>[1];

interface DenseFields {
  kernel: tf.LayerVariable | null;
  bias: tf.LayerVariable | null;
  activation: { getClassName(): string };
}

/** tfjs's `Dense` class (not exported by `@tensorflow/tfjs` itself). */
const TfDense = (tf.layers.dense({ units: 1 }) as object).constructor as new (
  args: DenseLayerArgs,
) => tf.layers.Layer;

/**
 * tfjs's `Dense` whose training step is one kernel each way on cpu and wasm (see the
 * module docs). Not registered for serialisation: it saves and loads as "Dense".
 */
export class FusedDense extends TfDense {
  /** The activation's name when the fused kernels can run it, else null. */
  #fusable(): "linear" | "relu" | null {
    const name = (this as unknown as DenseFields).activation.getClassName();
    return name === "linear" || name === "relu" ? name : null;
  }

  /** Whether `call` runs the fused kernels for input `x` on the current backend. */
  usesFused(x?: tf.Tensor): boolean {
    return this.#fusable() !== null && denseFusedHere() &&
      (!x || (x.dtype === "float32" && x.rank >= 2));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!(Array.isArray(inputs) && inputs.length !== 1) && this.usesFused(x)) {
      return tf.tidy(() => {
        this.invokeCallHook(inputs, kwargs);
        const self = this as unknown as DenseFields;
        return dense(x, self.kernel!.read(), self.bias?.read() ?? null, this.#fusable()!);
      });
    }
    return super.call(inputs, kwargs);
  }
}

/**
 * A {@linkcode FusedDense} layer: takes what `tf.layers.dense` takes.
 *
 * @example
 * ```ts
 * import { fusedDense } from "nn/layers/fused_dense.ts";
 * console.log(fusedDense({ units: 8, activation: "relu" }).getClassName()); // "Dense"
 * ```
 */
export function fusedDense(args: DenseLayerArgs): FusedDense {
  return new FusedDense(args);
}
