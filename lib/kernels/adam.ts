/**
 * Adam with the whole update of each weight in one pass, for the cpu and wasm backends.
 *
 * tfjs's `AdamOptimizer` runs about a dozen kernels per weight per step (two moment
 * updates, square, bias corrections, sqrt, divide, scale, add), each allocating a
 * tensor the size of the weight: for a 5 000 × 64 embedding table that is a dozen
 * passes over 1.3 MB. `FastAdam` updates the three in one vectorised pass (float32, as
 * tfjs's): on wasm on tfjs's heap (the kernels instantiated on its memory,
 * `wasmHeapKernels`): the moments in place, the weight in a copy that is then assigned
 * (a weight must get a new tensor id each step: tfjs-wasm caches XNNPACK operators with
 * packed weights by that id); on cpu in the SIMD kernels' memory, copied in and assigned
 * back. The maths is
 * tfjs's exactly (same ε, bias correction through β₁ᵗ and β₂ᵗ); it is a subclass of
 * `tf.AdamOptimizer`, so its state saves and loads as tfjs's "Adam". On webgpu it runs
 * three WGSL programs per weight (`nn/kernels/webgpu/adam.ts`; tfjs's own update when
 * `setWebGPUFusion(false)`), elsewhere tfjs's own update.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { adam } from "nn/kernels/adam.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
 * model.compile({ optimizer: adam(1e-3), loss: "meanSquaredError" });
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { copyToTensor, readF32 } from "./memory.ts";
import { allocTensor } from "./io.ts";
import { simd, simdAlloc, type SimdKernels, wasmHeapKernels } from "./simd/simd.ts";
import { fusedOnWebGPU } from "./webgpu/program.ts";
import { adamUpdateWebGPU } from "./webgpu/adam.ts";

interface AdamState {
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** `tf.AdamOptimizer` with a one-pass update on cpu and wasm (see module docs). */
export class FastAdam extends tf.AdamOptimizer {
  override applyGradients(
    variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0],
  ): void {
    const backend = tf.getBackend();
    if (fusedOnWebGPU()) return this.#applyWebGPU(variableGradients);
    if (backend !== "cpu" && backend !== "wasm") return super.applyGradients(variableGradients);
    const self = this as unknown as AdamState;
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    const { beta1, beta2, learningRate } = self;
    const eps = self.epsilon;
    // β₁ᵗ and β₂ᵗ for this step (tfjs keeps them as scalar variables)
    const a1 = self.accBeta1.dataSync()[0];
    const a2 = self.accBeta2.dataSync()[0];
    const c1 = 1 / (1 - a1);
    const c2 = 1 / (1 - a2);
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      const gradient = Array.isArray(variableGradients)
        ? variableGradients[i].tensor
        : variableGradients[name];
      if (!self.accumulatedFirstMoment[i]) {
        self.accumulatedFirstMoment[i] = {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
      }
      if (!self.accumulatedSecondMoment[i]) {
        self.accumulatedSecondMoment[i] = {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
      }
      if (gradient == null) return;
      const m = self.accumulatedFirstMoment[i]!.variable;
      const v = self.accumulatedSecondMoment[i]!.variable;
      if (value.dtype !== "float32" || gradient.dtype !== "float32") {
        throw new Error(`FastAdam: ${name} is ${value.dtype}; only float32 weights train.`);
      }
      const n = value.size;
      // one Adam step over the n floats at these addresses, in the kernels' memory
      const update = (
        k: Pick<SimdKernels, "adam_update">,
        g: number,
        mAt: number,
        vAt: number,
        wAt: number,
      ) => k.adam_update(g, mAt, vAt, wAt, n, beta1, beta2, learningRate, c1, c2, eps);
      const heap = wasmHeapKernels(tf.backend());
      if (heap && heap.refCount(m) === 1 && heap.refCount(v) === 1) {
        // on wasm, on tfjs's heap: the moments in place (only this optimizer holds them),
        // the weight into a new tensor (a copy of it updated there, then assigned): a
        // weight keeps no memory address across steps, since tfjs-wasm caches XNNPACK
        // operators with their packed weights by the weight's tensor id (a convolution's
        // filter), and a weight changed in place would leave them stale
        tf.tidy(() => {
          const next = allocTensor(tf.backend(), value.shape);
          const at = heap.address;
          const words = new Float32Array(heap.memory.buffer);
          words.copyWithin(at(next) / 4, at(value) / 4, at(value) / 4 + n);
          update(heap.kernels, at(gradient), at(m), at(v), at(next));
          value.assign(next);
        });
        return;
      }
      // gradient, moments and weight copied into the SIMD kernels' memory, updated there
      const [gB, mB, vB, wB] = simdAlloc([n, n, n, n]);
      gB.view().set(readF32(gradient));
      mB.view().set(readF32(m));
      vB.view().set(readF32(v));
      wB.view().set(readF32(value));
      update(simd(), gB.offset, mB.offset, vB.offset, wB.offset);
      tf.tidy(() => {
        m.assign(copyToTensor(mB.view(), m.shape));
        v.assign(copyToTensor(vB.view(), v.shape));
        value.assign(copyToTensor(wB.view(), value.shape));
      });
      for (const b of [gB, mB, vB, wB]) b.free();
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.scalar(a1 * beta1));
      self.accBeta2.assign(tf.scalar(a2 * beta2));
    });
    this.incrementIterations();
  }

  /** The same step on webgpu: three programs per weight (`nn/kernels/webgpu/adam.ts`). */
  #applyWebGPU(variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    const self = this as unknown as AdamState;
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    const { beta1, beta2, learningRate, epsilon } = self;
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      const gradient = Array.isArray(variableGradients)
        ? variableGradients[i].tensor
        : variableGradients[name];
      for (
        const [list, suffix] of [[self.accumulatedFirstMoment, "m"], [
          self.accumulatedSecondMoment,
          "v",
        ]] as const
      ) {
        if (!list[i]) {
          list[i] = {
            originalName: `${name}/${suffix}`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
      }
      if (gradient == null) return;
      if (value.dtype !== "float32" || gradient.dtype !== "float32") {
        throw new Error(`FastAdam: ${name} is ${value.dtype}; only float32 weights train.`);
      }
      adamUpdateWebGPU(
        value,
        gradient,
        self.accumulatedFirstMoment[i]!.variable,
        self.accumulatedSecondMoment[i]!.variable,
        self.accBeta1,
        self.accBeta2,
        { learningRate, beta1, beta2, epsilon },
      );
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, beta2));
    });
    this.incrementIterations();
  }
}

/**
 * An Adam optimizer: {@linkcode FastAdam} (same arguments and defaults as
 * `tf.train.adam`).
 *
 * @example
 * ```ts
 * import { adam } from "nn/kernels/adam.ts";
 * const opt = adam(0.01);
 * console.log(opt.getClassName()); // "Adam"
 * ```
 */
export function adam(
  learningRate = 0.001,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon?: number,
): FastAdam {
  return new FastAdam(learningRate, beta1, beta2, epsilon);
}
