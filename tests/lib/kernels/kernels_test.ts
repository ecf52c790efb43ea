// Each kernel the library registers for wasm is checked against tfjs's stock cpu
// backend: forward values and gradients, with the native BLAS (when present), the own
// SIMD GEMM and the TypeScript GEMM.
// Tolerance: max |wasm − cpu| ≤ 1e-4 · (1 + max |cpu|) (float32 sums in another order).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertClose } from "../numeric.ts";
import { registerFastKernels } from "../../../lib/kernels/mod.ts";
import {
  blasInfo,
  disableBlasForTesting,
  gemm,
  gemmTs,
  hasBlas,
} from "../../../lib/kernels/gemm.ts";
import { broadcastInto } from "../../../lib/kernels/broadcast.ts";

registerFastKernels("wasm");
registerFastKernels("cpu");

/** What the current test passes to `disableBlasForTesting` on wasm (`false`: automatic). */
let blasMode: boolean | "native" = false;

/**
 * Runs `f` on the cpu backend and on wasm and compares every output tensor. The library
 * sends cpu matmuls to BLAS too, so the cpu reference runs with BLAS off: tfjs's own kernel.
 */
async function compare(what: string, f: () => tf.Tensor | tf.Tensor[]) {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    disableBlasForTesting(backend === "cpu" ? true : blasMode);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const values = list.map((t) => Array.from(t.dataSync()));
    const shapes = list.map((t) => t.shape);
    tf.dispose(list);
    return { values, shapes };
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  assert.deepEqual(wasm.shapes, cpu.shapes, `${what}: shapes`);
  cpu.values.forEach((v, i) => assertClose(wasm.values[i], v, `${what} [${i}]`));
}

/** Deterministic data that is the same on every backend. */
function data(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  let s = seed * 9301 + 49297;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 9301 + 49297) % 233280;
    v[i] = lo + (hi - lo) * (s / 233280);
  }
  return tf.tensor(v, shape);
}

function ids(n: number, max: number, seed: number): tf.Tensor {
  const v = new Int32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v[i] = s % max;
  }
  return tf.tensor1d(v, "int32");
}

/** Plain and transposed matmuls, batched and broadcast. */
const matmulCases = () => {
  const out: tf.Tensor[] = [];
  const a = data([5, 7], 10);
  const b = data([7, 3], 11);
  out.push(tf.matMul(a, b));
  out.push(tf.matMul(tf.transpose(a), b, true, false));
  out.push(tf.matMul(a, tf.transpose(b), false, true));
  out.push(tf.matMul(tf.transpose(a), tf.transpose(b), true, true));
  const qa = data([2, 3, 4, 6], 12);
  const qb = data([2, 3, 5, 6], 13);
  out.push(tf.matMul(qa, qb, false, true)); // attention scores
  out.push(tf.matMul(data([4, 2, 3], 14), data([3, 5], 15))); // broadcast B
  return out;
};

/** Fused matmuls with bias and activations, and their gradients. */
const fusedMatmulCases = () => {
  const out: tf.Tensor[] = [];
  const a = data([6, 4], 16);
  const b = data([4, 5], 17);
  const bias = data([5], 18);
  for (const activation of ["linear", "relu", "elu", "sigmoid", "relu6"] as const) {
    out.push(tf.fused.matMul({ a, b, bias, activation }));
  }
  out.push(
    tf.fused.matMul({
      a,
      b: tf.transpose(b),
      transposeB: true,
      bias,
      activation: "relu",
    }),
  );
  out.push(
    ...tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.square(tf.fused.matMul({ a: x, b: w, bias: c, activation: "relu" })))
    )([a, b, bias]),
  );
  return out;
};

/** The GEMM modes to test: automatic, the own SIMD GEMM (when native is the default), TS. */
const MODES: { mode: boolean | "native"; label: string }[] = [
  { mode: false, label: blasInfo().gemm },
  ...(blasInfo().available ? [{ mode: "native" as const, label: "own SIMD GEMM" }] : []),
  { mode: true, label: "TS path" },
];

for (const { mode, label } of MODES) {
  Deno.test(`wasm kernels vs cpu, ${label}`, async (t) => {
    blasMode = mode;
    disableBlasForTesting(mode);
    try {
      await t.step("UnsortedSegmentSum, incl. out-of-range ids", () =>
        compare("segsum", () => {
          const x = data([50, 7], 1);
          const seg = tf.tensor1d([...Array(50).keys()].map((i) => (i * 7) % 13 - 1), "int32");
          return tf.unsortedSegmentSum(x, seg, 11);
        }));
      await t.step("UnsortedSegmentSum equals a plain loop on both backends", async () => {
        // the cpu backend's kernel is the library's too, so check against a loop
        const seg = [3, -1, 0, 3, 7, 2, 0];
        const rows = seg.map((_, i) => [i, 10 * i]);
        const expected = [...Array(4)].map(() => [0, 0]);
        seg.forEach((s, i) => {
          if (s >= 0 && s < 4) rows[i].forEach((v, j) => (expected[s][j] += v));
        });
        for (const backend of ["cpu", "wasm"]) {
          await tf.setBackend(backend);
          const out = tf.unsortedSegmentSum(tf.tensor2d(rows), tf.tensor1d(seg, "int32"), 4);
          assert.deepEqual(out.arraySync(), expected, backend);
          out.dispose();
        }
      });
      await t.step(
        "embedding gradient (gather → UnsortedSegmentSum)",
        () =>
          compare("gather grad", () => {
            const table = data([40, 6], 2);
            const idx = ids(90, 40, 3);
            const dy = data([90, 6], 4);
            return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, idx), dy)))(table);
          }),
      );
      await t.step("gather on axes 0 and 1, int32 and float32", () =>
        compare("gather", () => {
          const x = data([6, 5, 4], 30);
          return [
            tf.gather(x, ids(9, 6, 31)),
            tf.gather(x, tf.tensor2d([[0, 4], [2, 2]], [2, 2], "int32"), 1),
            tf.cast(
              tf.gather(tf.tensor1d([5, 6, 7], "int32"), tf.tensor1d([2, 0], "int32")),
              "float32",
            ),
          ];
        }));
      await t.step("sum over leading, middle, trailing and all axes", () =>
        compare("sum", () => {
          const x = data([4, 5, 6], 40);
          return [
            tf.sum(x, 0),
            tf.sum(x, [0, 1]),
            tf.sum(x, 1, true),
            tf.sum(x, -1),
            tf.sum(x),
            tf.sum(x, [0, 2]), // not contiguous: tfjs's kernel
            tf.sum(tf.tensor1d([1, 2, 3], "int32")),
          ];
        }));
      await t.step(
        "conv2d input gradient, stride 2, same padding (Conv2DBackpropInput)",
        () =>
          compare("conv2d dx", () => {
            const x = data([2, 7, 6, 3], 11) as tf.Tensor4D;
            const w = data([3, 2, 3, 5], 12) as tf.Tensor4D;
            const dy = data([2, 4, 3, 5], 13);
            return tf.grad((a: tf.Tensor) =>
              tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, w, 2, "same"), dy))
            )(x);
          }),
      );
      await t.step(
        "conv1d gradients (Conv2DBackpropInput, Conv2DBackpropFilter)",
        () =>
          compare("conv1d", () => {
            const x = data([3, 12, 5], 5);
            const w = data([3, 5, 4], 6);
            const dy = data([3, 10, 4], 7);
            const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
              tf.sum(tf.mul(tf.conv1d(a as tf.Tensor3D, b as tf.Tensor3D, 1, "valid"), dy))
            )([x, w]);
            return [gx, gw];
          }),
      );
      await t.step("conv2d filter gradient, stride 2, same padding", () =>
        compare("conv2d", () => {
          const x = data([2, 7, 6, 3], 8) as tf.Tensor4D;
          const w = data([3, 2, 3, 5], 9) as tf.Tensor4D;
          const dy = data([2, 4, 3, 5], 10);
          return tf.grad((f: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 2, "same"), dy))
          )(w);
        }));
      await t.step(
        "matMul, all transposes, batched and broadcast",
        () => compare("matmul", matmulCases),
      );
      await t.step(
        "fused matMul with bias and activations, and its gradients",
        () => compare("fused", fusedMatmulCases),
      );
      await t.step("broadcasting binary ops and their gradients", () =>
        compare("broadcast", () => {
          const x = data([3, 4, 5], 19);
          const row = data([5], 20, 0.5, 2);
          const col = data([3, 4, 1], 21, 0.5, 2);
          const out = [
            tf.add(x, row),
            tf.sub(col, x),
            tf.mul(x, col),
            tf.div(x, row),
            tf.maximum(x, col),
            tf.minimum(row, x),
            tf.squaredDifference(x, col),
            tf.cast(tf.equal(x, tf.max(x, 2, true)), "float32"),
            tf.cast(tf.greater(x, row), "float32"),
            tf.add(tf.tensor1d([1, 2], "int32"), tf.tensor2d([[1], [2]], [2, 1], "int32")),
          ];
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.div(tf.mul(a, b), tf.add(b, 1)))
          )([x, col]);
          return [...out, ...g];
        }));
    } finally {
      disableBlasForTesting(false);
    }
  });
}

Deno.test("gemm (native or SIMD) equals the TypeScript GEMM, strided and transposed", () => {
  const m = 5, n = 4, k = 3;
  const a = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: 40 }, (_, i) => Math.cos(i));
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      const lda = (tA ? m : k) + 2;
      const ldb = (tB ? k : n) + 1;
      const c1 = Float32Array.from({ length: 30 }, (_, i) => i / 10);
      const c2 = c1.slice();
      gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 2, c1, n + 1);
      gemmTs(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 2, c2, n + 1);
      assertClose(c1, c2, `gemm tA=${tA} tB=${tB}`);
    }
  }
});

Deno.test("broadcastInto follows numpy broadcasting", () => {
  const out = new Float32Array(6);
  broadcastInto("a - b", [10, 20], [2, 1], [1, 2, 3], [3], out, [2, 3]);
  assert.deepEqual(Array.from(out), [9, 8, 7, 19, 18, 17]);
});

Deno.test("broadcastInto merges runs of axes and still follows numpy broadcasting", () => {
  // element by element through the index of each axis: the reference
  const naive = (a: number[], as: number[], b: number[], bs: number[], os: number[]) => {
    const n = os.reduce((x, y) => x * y, 1);
    const out: number[] = [];
    const at = (v: number[], s: number[], idx: number[]) => {
      const pad = [...Array(os.length - s.length).fill(1), ...s];
      let k = 0;
      for (let d = 0; d < os.length; d++) k = k * pad[d] + (pad[d] === 1 ? 0 : idx[d]);
      return v[k];
    };
    for (let i = 0; i < n; i++) {
      const idx: number[] = [];
      let r = i;
      for (let d = os.length - 1; d >= 0; d--) {
        idx[d] = r % os[d];
        r = Math.floor(r / os[d]);
      }
      out.push(at(a, as, idx) - at(b, bs, idx));
    }
    return out;
  };
  const pairs: number[][][] = [
    [[3, 4, 5], [4, 5]],
    [[3, 4, 5], [3, 4, 1]],
    [[3, 4, 5], [3, 1, 5]],
    [[3, 1, 5], [1, 4, 1]],
    [[2, 3, 4, 5], [3, 1, 1]],
    [[1, 1, 5], [2, 3, 1]],
    [[4, 1], [4, 1]],
    [[2, 1, 1], [1]],
  ];
  for (const [as, bs] of pairs) {
    const os = as.map((_, d) => Math.max(as[d], bs[d - (as.length - bs.length)] ?? 1));
    if (bs.length > as.length) throw new Error("test shapes: a has the higher rank");
    const a = Array.from({ length: as.reduce((x, y) => x * y, 1) }, (_, i) => i * 3 + 1);
    const b = Array.from({ length: bs.reduce((x, y) => x * y, 1) }, (_, i) => i * 7 - 5);
    const out = new Float32Array(os.reduce((x, y) => x * y, 1));
    broadcastInto("a - b", a, as, b, bs, out, os);
    assert.deepEqual(Array.from(out), naive(a, as, b, bs, os), `${as} − ${bs}`);
    // and the other way round
    const out2 = new Float32Array(out.length);
    broadcastInto("a - b", b, bs, a, as, out2, os);
    assert.deepEqual(Array.from(out2), naive(a, as, b, bs, os).map((v) => 0 - v), `${bs} − ${as}`);
  }
});

Deno.test("wasm: Identity, identity-permutation Transpose and same-dtype Cast share memory safely", async () => {
  await tf.setBackend("wasm");
  const before = tf.memory().numTensors;
  const buffersBefore = tf.backend().numDataIds();
  const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  const same = tf.transpose(a, [0, 1]);
  const swapped = tf.transpose(a, [1, 0]);
  const copy = tf.clone(a);
  const cast = tf.cast(a, "float32");
  const floats = tf.tensor1d([1.7, -2.5]);
  const ints = tf.cast(floats, "int32"); // a real cast still converts
  // shared, not copied: one buffer for a, same, copy and cast; swapped, floats, ints
  assert.equal(tf.backend().numDataIds() - buffersBefore, 4);
  a.dispose(); // the others keep the shared memory alive
  assert.deepEqual(await same.array(), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(await copy.array(), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(await cast.array(), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(await ints.array(), [1, -2]);
  assert.deepEqual(await swapped.array(), [[1, 4], [2, 5], [3, 6]]);
  // an embedding's gradient (gather on axis 0) runs two identity transposes
  const table = tf.tensor2d([[1, 1], [2, 2], [3, 3]]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, tf.tensor1d([2, 0, 2], "int32"))))(table);
  assert.deepEqual(await g.array(), [[1, 1], [0, 0], [2, 2]]);
  // Identity's gradient is a same-dtype cast: the gradient of a clone
  const x = tf.tensor1d([1, 2]);
  const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.clone(t), 2)))(x);
  assert.deepEqual(await dx.array(), [2, 2]);
  tf.dispose([same, swapped, copy, cast, floats, ints, table, g, x, dx]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("registerFastKernels is idempotent", () => {
  assert.deepEqual(registerFastKernels("wasm"), []);
  registerFastKernels("webgpu"); // registers the transposed matMuls where webgpu is loaded
  assert.deepEqual(registerFastKernels("webgpu"), []);
});

Deno.test({
  name: "cpu matmuls through the fast GEMM (native and SIMD) equal tfjs's own cpu kernel",
  ignore: !hasBlas(),
  fn: async () => {
    await tf.setBackend("cpu");
    const run = (f: () => tf.Tensor[], mode: boolean | "native") => {
      disableBlasForTesting(mode);
      const out = tf.tidy(f);
      const values = out.map((t) => Array.from(t.dataSync()));
      tf.dispose(out);
      return values;
    };
    try {
      for (const [what, f] of [["matmul", matmulCases], ["fused", fusedMatmulCases]] as const) {
        const stock = run(f, true);
        for (const mode of [false, "native"] as const) {
          run(f, mode).forEach((v, i) => assertClose(v, stock[i], `${what} ${mode} [${i}]`));
        }
      }
    } finally {
      disableBlasForTesting(false);
    }
  },
});
