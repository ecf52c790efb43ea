// The library's custom layers: fused implementations against plain tfjs ops (forward and
// gradients), attention against a loop reference, and serialisation round trips.
// Tolerance: max |a − b| ≤ 1e-4 · (1 + max |b|).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertClose, data } from "../numeric.ts";
import { hasBlas } from "../../../lib/kernels/mod.ts";
import {
  attentionFused,
  convMaxFused,
  convMaxOps,
  ConvMaxOverTime,
  FusedLSTM,
  LayerNorm,
  layerNormFused,
  lstmSequenceFused,
  lstmSequenceOps,
  MultiHeadSelfAttention,
  PositionEmbedding,
  setAttentionProducts,
} from "../../../lib/layers/mod.ts";
import { simdMemoryStats } from "../../../lib/kernels/simd/simd.ts";

/** Values and gradients (w.r.t. every input) of sum(f(inputs) · dy). */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dySeed: number) {
  return tf.tidy(() => {
    const y = f(...inputs);
    const dy = data(y.shape, dySeed);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)))(inputs);
    return [Array.from(y.dataSync()), ...g.map((t) => Array.from(t.dataSync()))];
  });
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`FusedLSTM fused equals tfjs ops, forward and gradients (${backend})`, async () => {
    await tf.setBackend(backend);
    const before = simdMemoryStats().usedBytes;
    // 3 units: only the SIMD kernels' one-lane tail; 4: whole vectors; 6: both
    for (const units of [3, 4, 6]) {
      const x = data([3, 5, 4], 1);
      const w = data([4, 4 * units], 2, 0.5);
      const u = data([units, 4 * units], 3, 0.5);
      const b = data([4 * units], 4, 0.2);
      for (const seqs of [false, true]) {
        const run = (f: typeof lstmSequenceOps) =>
          valueAndGrads(
            (...a) =>
              f(
                a[0] as tf.Tensor3D,
                a[1] as tf.Tensor2D,
                a[2] as tf.Tensor2D,
                a[3] as tf.Tensor1D,
                seqs,
              ),
            [x, w, u, b],
            5,
          );
        const fused = run(lstmSequenceFused);
        const ops = run(lstmSequenceOps);
        ["y", "dx", "dW", "dU", "db"].forEach((name, i) =>
          assertClose(fused[i], ops[i], `${name} seq=${seqs} units=${units}`)
        );
      }
      tf.dispose([x, w, u, b]);
    }
    assert.equal(simdMemoryStats().usedBytes, before, "SIMD memory left in use");
  });

  Deno.test(`FusedLSTM on one-step sequences: fused equals ops, forward and gradients (${backend})`, async () => {
    await tf.setBackend(backend);
    const x = data([2, 1, 4], 6);
    const w = data([4, 12], 7, 0.5);
    const u = data([3, 12], 8, 0.5);
    const b = data([12], 9, 0.2);
    // with T = 1 the recurrent kernel is never used: gradients w.r.t. x, W and b only
    const run = (f: typeof lstmSequenceOps) =>
      valueAndGrads(
        (...a) =>
          f(a[0] as tf.Tensor3D, a[1] as tf.Tensor2D, u as tf.Tensor2D, a[2] as tf.Tensor1D, false),
        [x, w, b],
        10,
      );
    const fused = run(lstmSequenceFused);
    const ops = run(lstmSequenceOps);
    ["y", "dx", "dW", "db"].forEach((name, i) => assertClose(fused[i], ops[i], `${name} T=1`));
    tf.dispose([x, w, u, b]);
  });

  Deno.test(`ConvMaxOverTime fused equals conv1d → relu → max, forward and gradients (${backend})`, async () => {
    await tf.setBackend(backend);
    const x = data([3, 9, 5], 6);
    const w = data([3, 5, 7], 7);
    const b = data([7], 8, 0.3);
    for (const relu of [true, false]) {
      const fused = valueAndGrads(
        (...a) => convMaxFused(a[0] as tf.Tensor3D, a[1] as tf.Tensor3D, a[2] as tf.Tensor1D, relu),
        [x, w, b],
        9,
      );
      const ops = valueAndGrads(
        (...a) => convMaxOps(a[0] as tf.Tensor3D, a[1] as tf.Tensor3D, a[2] as tf.Tensor1D, relu),
        [x, w, b],
        9,
      );
      ["y", "dx", "dW", "db"].forEach((name, i) =>
        assertClose(fused[i], ops[i], `${name} relu=${relu}`)
      );
    }
    tf.dispose([x, w, b]);
  });
}

/** Attention in plain tfjs ops: qkv [B·T, 3D] (and a key mask [B, T]) → [B·T, D]. */
function attentionOps(
  qkv: tf.Tensor,
  B: number,
  H: number,
  causal: boolean,
  keyMask?: tf.Tensor,
): tf.Tensor {
  const [rows, L] = qkv.shape as [number, number];
  const D = L / 3, T = rows / B, hd = D / H;
  const [q, k, v] = tf.split(qkv, 3, 1).map((p) =>
    tf.transpose(tf.reshape(p, [B, T, H, hd]), [0, 2, 1, 3])
  );
  let s = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd));
  if (causal) s = tf.add(s, tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
  if (keyMask) s = tf.add(s, tf.mul(tf.sub(1, tf.reshape(keyMask, [B, 1, 1, T])), -1e9));
  const y = tf.matMul(tf.softmax(s), v);
  return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [rows, D]);
}

function layerNormOps(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const c = tf.sub(x, mean);
  const v = tf.mean(tf.square(c), -1, true);
  return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(v, eps))), g), b);
}

for (const backend of ["cpu", "wasm"]) {
  for (const products of ["gemm", "module"] as const) {
    Deno.test(`fused attention equals tfjs ops, forward and gradient (${backend}, products in ${products})`, async () => {
      await tf.setBackend(backend);
      const was = setAttentionProducts(products);
      const before = simdMemoryStats().usedBytes;
      // T = 5: softmax rows of one vector and a one-lane tail; T = 8: whole vectors;
      // 4 heads of 16 at T = 20: the module's products sixteen columns at a time
      for (const [T, B, H, hd] of [[5, 2, 3, 2], [8, 2, 3, 2], [20, 2, 4, 16]]) {
        const qkv = data([B * T, 3 * H * hd], 20, 2);
        for (const causal of [false, true]) {
          const a = valueAndGrads((t) => attentionFused(t as tf.Tensor2D, B, H, causal), [qkv], 21);
          const b = valueAndGrads((t) => attentionOps(t, B, H, causal), [qkv], 21);
          assertClose(a[0], b[0], `attention T=${T} causal=${causal}`);
          assertClose(a[1], b[1], `attention dqkv T=${T} causal=${causal}`);
        }
        qkv.dispose();
      }
      assert.equal(simdMemoryStats().usedBytes, before, "SIMD memory left in use");
      setAttentionProducts(was);
    });
  }

  for (const products of ["gemm", "module"] as const) {
    Deno.test(`fused attention with a key padding mask equals tfjs ops (${backend}, products in ${products})`, async () => {
      await tf.setBackend(backend);
      const was = setAttentionProducts(products);
      const before = simdMemoryStats().usedBytes;
      // sequence 0: 3 tokens then padding; 1: no padding; 2: padding first (not with the
      // causal mask: its first rows would see padding only, and the ops then leak the future);
      // 3: all padding (every row masked: the softmax of the masked scores, as the ops give)
      for (const T of [5, 8]) {
        const tokens = (n: number, first = 0) =>
          Array.from({ length: T }, (_, j) => (j >= first && j < first + n ? 1 : 0));
        for (const causal of [false, true]) {
          const mask = tf.tensor2d([
            tokens(3),
            tokens(T),
            causal ? tokens(T - 1) : tokens(T - 2, 2),
            tokens(0),
          ]);
          const qkv = data([4 * T, 3 * 6], 26, 2);
          const a = valueAndGrads(
            (t) => attentionFused(t as tf.Tensor2D, 4, 3, causal, mask),
            [qkv],
            27,
          );
          const b = valueAndGrads((t) => attentionOps(t, 4, 3, causal, mask), [qkv], 27);
          assertClose(a[0], b[0], `masked attention T=${T} causal=${causal}`);
          assertClose(a[1], b[1], `masked attention dqkv T=${T} causal=${causal}`);
          // the values of sequence 0's padded keys reach no output: their dV is exactly zero
          const dqkv = a[1];
          for (const j of [3, T - 1]) {
            for (let c = 12; c < 18; c++) assert.equal(dqkv[j * 18 + c], 0, `dV of pad ${j}`);
          }
          tf.dispose([qkv, mask]);
        }
      }
      assert.equal(simdMemoryStats().usedBytes, before, "SIMD memory left in use");
      setAttentionProducts(was);
    });
  }

  Deno.test(`fused layer norm equals tfjs ops, forward and gradients (${backend})`, async () => {
    await tf.setBackend(backend);
    const before = simdMemoryStats().usedBytes;
    // D = 8: whole SIMD vectors; D = 7: one vector and a three-lane tail
    for (const D of [8, 7]) {
      const x = data([2, 3, D], 22, 3);
      const g = data([D], 23);
      const b = data([D], 24);
      const a = valueAndGrads(
        (...t) => layerNormFused(t[0], t[1] as tf.Tensor1D, t[2] as tf.Tensor1D, 1e-5),
        [x, g, b],
        25,
      );
      const c = valueAndGrads((...t) => layerNormOps(t[0], t[1], t[2], 1e-5), [x, g, b], 25);
      ["y", "dx", "dgamma", "dbeta"].forEach((name, i) =>
        assertClose(a[i], c[i], `${name} D=${D}`)
      );
      tf.dispose([x, g, b]);
    }
    assert.equal(simdMemoryStats().usedBytes, before, "SIMD memory left in use");
  });
}

Deno.test("FusedLSTM matches tf.layers.lstm (sigmoid gates) with the same weights", async () => {
  await tf.setBackend("wasm");
  const x = data([2, 6, 3], 10);
  const ours = new FusedLSTM({ units: 4, seed: 1 });
  const theirs = tf.layers.lstm({ units: 4, recurrentActivation: "sigmoid" });
  const y1 = ours.apply(x) as tf.Tensor;
  theirs.apply(x);
  theirs.setWeights(ours.getWeights());
  const y2 = theirs.apply(x) as tf.Tensor;
  assertClose(y1.dataSync(), y2.dataSync(), "lstm output");
  assert.equal(ours.usesFused(), hasBlas()); // "auto": fused when a BLAS is loaded
  // the forget-gate bias starts at 1, the others at 0
  assert.deepEqual(Array.from(ours.getWeights()[2].dataSync()), [
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  tf.dispose([x, y1, y2]);
  ours.dispose();
  theirs.dispose();
});

Deno.test("LayerNorm equals tf.layers.layerNormalization, forward and input gradient", async () => {
  await tf.setBackend("wasm");
  const x = data([2, 3, 8], 11, 3);
  const ours = new LayerNorm({ epsilon: 1e-5 });
  const theirs = tf.layers.layerNormalization({ epsilon: 1e-5 });
  ours.apply(x);
  theirs.apply(x);
  const gamma = data([8], 12);
  const beta = data([8], 13);
  ours.setWeights([gamma, beta]);
  theirs.setWeights([gamma, beta]);
  const a = valueAndGrads((t) => ours.apply(t) as tf.Tensor, [x], 14);
  const b = valueAndGrads((t) => theirs.apply(t) as tf.Tensor, [x], 14);
  assertClose(a[0], b[0], "layer norm");
  assertClose(a[1], b[1], "layer norm dx");
  tf.dispose([x, gamma, beta]);
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`LayerNorm of [x, r] (Add & Norm) equals LayerNorm of x + r, values and gradients (${backend})`, async () => {
    await tf.setBackend(backend);
    const before = simdMemoryStats().usedBytes;
    const tensorsBefore = tf.memory().numTensors;
    for (const D of [5, 8]) {
      const x = data([2, 3, D], 21, 2);
      const r = data([2, 3, D], 22, 2);
      const gamma = data([D], 23);
      const beta = data([D], 24);
      for (const implementation of ["fused", "ops"] as const) {
        const ln = new LayerNorm({ implementation });
        tf.dispose(ln.apply(x) as tf.Tensor); // builds it
        ln.setWeights([gamma, beta]);
        // gradients w.r.t. x, r and (through the layer's weights) nothing else: the
        // residual gets the same gradient as x
        const fusedForm = valueAndGrads((a, b) => ln.apply([a, b]) as tf.Tensor, [x, r], 25);
        const summed = valueAndGrads((a, b) => ln.apply(tf.add(a, b)) as tf.Tensor, [x, r], 25);
        ["y", "dx", "dr"].forEach((name, i) =>
          assertClose(fusedForm[i], summed[i], `${implementation} ${name} D=${D}`)
        );
        assert.deepEqual(fusedForm[1], fusedForm[2], "x and r get one gradient");
        ln.dispose();
      }
      tf.dispose([x, r, gamma, beta]);
    }
    assert.equal(simdMemoryStats().usedBytes, before, "SIMD memory freed");
    assert.equal(tf.memory().numTensors, tensorsBefore, "no tensor leaked");
  });
}

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`LayerNorm with returnSum gives [x + r, LN(x + r)], values and gradients through both (${backend})`, async () => {
    await tf.setBackend(backend);
    const before = simdMemoryStats().usedBytes;
    const tensorsBefore = tf.memory().numTensors;
    for (const D of [5, 8]) {
      const x = data([2, 3, D], 31, 2);
      const r = data([2, 3, D], 32, 2);
      const reference = new LayerNorm({ implementation: "ops" });
      tf.dispose(reference.apply(x) as tf.Tensor); // builds it
      const weights = [data([D], 34), data([D], 35)];
      reference.setWeights(weights);
      // both outputs reach the loss (valueAndGrads weights each element at random)
      const loss =
        (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor[]) => (a: tf.Tensor, b: tf.Tensor) =>
          tf.stack(f(a, b));
      const want = valueAndGrads(
        loss((a, b) => {
          const sum = tf.add(a, b);
          return [sum, reference.apply(sum) as tf.Tensor];
        }),
        [x, r],
        36,
      );
      for (const implementation of ["fused", "ops"] as const) {
        const ln = new LayerNorm({ implementation, returnSum: true });
        tf.dispose(ln.apply([x, r]) as tf.Tensor[]); // builds it
        ln.setWeights(reference.getWeights());
        const got = valueAndGrads(loss((a, b) => ln.apply([a, b]) as tf.Tensor[]), [x, r], 36);
        ["value", "dx", "dr"].forEach((name, i) =>
          assertClose(got[i], want[i], `${implementation} ${name} D=${D}`)
        );
        assert.deepEqual(got[1], got[2], "x and r get one gradient");
        // only the norm reaches the loss: the sum's gradient is zero, as for LN(x + r)
        const normOnly = valueAndGrads((a, b) => (ln.apply([a, b]) as tf.Tensor[])[1], [x, r], 37);
        const plain = valueAndGrads(
          (a, b) => reference.apply(tf.add(a, b)) as tf.Tensor,
          [x, r],
          37,
        );
        ["norm", "dx", "dr"].forEach((name, i) =>
          assertClose(normOnly[i], plain[i], `${implementation} norm only ${name} D=${D}`)
        );
        ln.dispose();
      }
      reference.dispose();
      tf.dispose([x, r, ...weights]);
    }
    assert.equal(simdMemoryStats().usedBytes, before, "SIMD memory freed");
    assert.equal(tf.memory().numTensors, tensorsBefore, "no tensor leaked");
  });
}

Deno.test("LayerNorm with returnSum runs once per training step though tfjs-layers applies it per output", async () => {
  await tf.setBackend("wasm");
  const x = tf.input({ shape: [4, 8] });
  const r = tf.input({ shape: [4, 8] });
  const [sum, normed] = new LayerNorm({ returnSum: true, name: "addnorm" }).apply([
    x,
    r,
  ]) as tf.SymbolicTensor[];
  // both outputs feed the loss, as in a pre-norm block (the residual stream and the sublayer)
  const out = tf.layers.add().apply([
    sum,
    tf.layers.dense({ units: 8 }).apply(normed) as tf.SymbolicTensor,
  ]);
  const model = tf.model({ inputs: [x, r], outputs: out as tf.SymbolicTensor });
  model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
  const [a, b, y] = [data([2, 4, 8], 41), data([2, 4, 8], 42), data([2, 4, 8], 43)];
  const profile = await tf.profile(async () => {
    await model.trainOnBatch([a, b], y);
  });
  const runs = profile.kernels.filter((k) => k.name === "addLayerNormFused").length;
  assert.equal(runs, 1, `the Add & Norm op ran ${runs} times in one step`);
  // the same tensors after a weight change: computed again, not the last outputs
  const ln = model.getLayer("addnorm");
  const before = ln.apply([a, b]) as tf.Tensor[];
  const again = ln.apply([a, b]) as tf.Tensor[];
  assert.equal(again[1], before[1], "same tensors and weights: the same outputs");
  const betaBefore = await ln.getWeights()[1].data();
  const shifted = tf.onesLike(ln.getWeights()[1]);
  ln.setWeights([ln.getWeights()[0], shifted]);
  const after = ln.apply([a, b]) as tf.Tensor[];
  assert.notEqual(after[1], before[1]);
  const gap = await tf.sub(after[1], before[1]).mean().data();
  const want = 1 - Array.from(betaBefore).reduce((s, v) => s + v, 0) / betaBefore.length;
  assert.ok(Math.abs(gap[0] - want) < 1e-5, `β = 1 shifts the norm by ${want}: ${gap[0]}`);
  tf.dispose([a, b, y, shifted, ...before, ...after]);
  model.dispose();
});

Deno.test("LayerNorm with returnSum on one input says what to do", () => {
  const x = tf.input({ shape: [3, 4] });
  assert.throws(
    () => new LayerNorm({ returnSum: true, name: "n2" }).apply(x),
    /LayerNorm "n2" with returnSum needs two inputs \[x, r\]/,
  );
});

Deno.test("LayerNorm of [x, r] with different shapes says what to do", async () => {
  await tf.setBackend("wasm");
  const ln = new LayerNorm({ implementation: "fused" });
  const x = tf.ones([2, 4]);
  const r = tf.ones([4]);
  tf.dispose(ln.apply(x) as tf.Tensor);
  assert.throws(
    () => ln.apply([x, r]),
    /residual's shape \[4\] is not x's \[2,4\]; add them with tf.add/,
  );
  tf.dispose([x, r]);
  ln.dispose();
});

Deno.test("MultiHeadSelfAttention equals a loop reference; causal mask hides the future", async () => {
  await tf.setBackend("cpu");
  const B = 2, T = 3, D = 4, H = 2, hd = D / H;
  const x = data([B, T, D], 15);
  for (const causal of [false, true]) {
    const mha = new MultiHeadSelfAttention({ numHeads: H, causal, seed: 3 });
    const y = (mha.apply(x) as tf.Tensor).dataSync();
    const [wqkv, bqkv, wo, bo] = mha.getWeights().map((w) => w.dataSync());
    const xs = x.dataSync();
    const expected = new Float32Array(B * T * D);
    for (let b = 0; b < B; b++) {
      // qkv[t][j] = Σ_i x[b,t,i]·Wqkv[i,j] + b[j]
      const qkv = [...Array(T)].map((_, t) =>
        [...Array(3 * D)].map((_, j) => {
          let s = bqkv[j];
          for (let i = 0; i < D; i++) s += xs[(b * T + t) * D + i] * wqkv[i * 3 * D + j];
          return s;
        })
      );
      const merged = [...Array(T)].map(() => new Array(D).fill(0));
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          const scores = [...Array(T)].map((_, u) => {
            if (causal && u > t) return -Infinity;
            let s = 0;
            for (let e = 0; e < hd; e++) s += qkv[t][h * hd + e] * qkv[u][D + h * hd + e];
            return s / Math.sqrt(hd);
          });
          const m = Math.max(...scores);
          const p = scores.map((s) => Math.exp(s - m));
          const z = p.reduce((a, c) => a + c, 0);
          for (let e = 0; e < hd; e++) {
            merged[t][h * hd + e] = p.reduce(
              (a, pu, u) => a + (pu / z) * qkv[u][2 * D + h * hd + e],
              0,
            );
          }
        }
      }
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < D; j++) {
          let s = bo[j];
          for (let i = 0; i < D; i++) s += merged[t][i] * wo[i * D + j];
          expected[(b * T + t) * D + j] = s;
        }
      }
    }
    assertClose(y, expected, `attention causal=${causal}`);
    const att = mha.attentionWeights(x);
    assert.deepEqual(att.shape, [B, H, T, T]);
    const weights = att.arraySync() as number[][][][];
    // position 0 of sample 0, head 0, attends to position 2 only without the mask
    if (causal) assert.equal(weights[0][0][0][2], 0);
    else assert.ok(weights[0][0][0][2] > 0);
    att.dispose();
    mha.dispose();
  }
  x.dispose();
});

for (const implementation of ["fused", "ops"] as const) {
  Deno.test(`MultiHeadSelfAttention with a key padding mask equals a loop reference (${implementation})`, async () => {
    await tf.setBackend("wasm");
    const B = 2, T = 5, D = 4, H = 2, hd = D / H;
    const x = data([B, T, D], 18);
    const tokens = [3, 5]; // sequence 0: 3 tokens, 2 padding; sequence 1: no padding
    const mask = tf.tensor2d(tokens.map((n) => [...Array(T)].map((_, j) => (j < n ? 1 : 0))));
    const mha = new MultiHeadSelfAttention({ numHeads: H, seed: 4, implementation });
    mha.apply([x, mask]);
    // random biases too, so that the check covers them
    mha.setWeights(mha.getWeights().map((w, i) => (i % 2 ? data(w.shape, 40 + i) : w)));
    const y = (mha.apply([x, mask]) as tf.Tensor).dataSync();
    const [wqkv, bqkv, wo, bo] = mha.getWeights().map((w) => w.dataSync());
    const xs = x.dataSync();
    const expected = new Float32Array(B * T * D);
    for (let b = 0; b < B; b++) {
      const qkv = [...Array(T)].map((_, t) =>
        [...Array(3 * D)].map((_, j) => {
          let s = bqkv[j];
          for (let i = 0; i < D; i++) s += xs[(b * T + t) * D + i] * wqkv[i * 3 * D + j];
          return s;
        })
      );
      const merged = [...Array(T)].map(() => new Array(D).fill(0));
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          // softmax over the real keys u < tokens[b] only
          const scores = [...Array(tokens[b])].map((_, u) => {
            let s = 0;
            for (let e = 0; e < hd; e++) s += qkv[t][h * hd + e] * qkv[u][D + h * hd + e];
            return s / Math.sqrt(hd);
          });
          const m = Math.max(...scores);
          const p = scores.map((s) => Math.exp(s - m));
          const z = p.reduce((a, c) => a + c, 0);
          for (let e = 0; e < hd; e++) {
            merged[t][h * hd + e] = p.reduce(
              (a, pu, u) => a + (pu / z) * qkv[u][2 * D + h * hd + e],
              0,
            );
          }
        }
      }
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < D; j++) {
          let s = bo[j];
          for (let i = 0; i < D; i++) s += merged[t][i] * wo[i * D + j];
          expected[(b * T + t) * D + j] = s;
        }
      }
    }
    assertClose(y, expected, `masked attention (${implementation})`);
    // the weights: exactly 0 on padded keys, rows summing to 1 over the tokens
    const w = (await mha.attentionWeights(x, mask).array()) as number[][][][];
    for (const head of w[0]) {
      for (const row of head) {
        assert.deepEqual(row.slice(3), [0, 0]);
        assert.ok(Math.abs(row[0] + row[1] + row[2] - 1) < 1e-6);
      }
    }
    tf.dispose([x, mask]);
    mha.dispose();
  });
}

Deno.test("PositionEmbedding adds its table to every sample", async () => {
  await tf.setBackend("cpu");
  const pos = new PositionEmbedding({ maxLength: 4, seed: 2 });
  const x = data([2, 4, 3], 16);
  const y = pos.apply(x) as tf.Tensor;
  const table = pos.getWeights()[0];
  assertClose(y.dataSync(), tf.add(x, table).dataSync(), "positions");
  assert.throws(() => pos.apply(tf.zeros([1, 5, 3])), /longer than maxLength/);
});

Deno.test("custom layers round-trip through toJSON and modelFromJSON", async () => {
  await tf.setBackend("cpu");
  const input = tf.input({ shape: [6, 8] });
  let h = new PositionEmbedding({ maxLength: 6, seed: 1 }).apply(input) as tf.SymbolicTensor;
  h = new MultiHeadSelfAttention({ numHeads: 2, causal: true, seed: 2 }).apply(
    h,
  ) as tf.SymbolicTensor;
  h = new LayerNorm({ epsilon: 1e-3 }).apply(h) as tf.SymbolicTensor;
  const a = new FusedLSTM({ units: 5, returnSequences: true, seed: 3 }).apply(
    h,
  ) as tf.SymbolicTensor;
  const c = new ConvMaxOverTime({ filters: 4, kernelSize: 2, activation: "linear", seed: 4 }).apply(
    a,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: c });
  const json = model.toJSON(null, false) as unknown as tf.io.ModelJSON["modelTopology"];
  const copy = await tf.models.modelFromJSON({ modelTopology: json } as tf.io.ModelJSON);
  copy.setWeights(model.getWeights());
  const x = data([2, 6, 8], 17);
  assertClose(
    (copy.predict(x) as tf.Tensor).dataSync(),
    (model.predict(x) as tf.Tensor).dataSync(),
    "round trip",
  );
  const configs = copy.layers.slice(1).map((l) => l.getConfig());
  assert.equal(configs[1].causal, true);
  assert.equal(configs[2].epsilon, 1e-3);
  assert.equal(configs[3].returnSequences, true);
  assert.equal(configs[4].kernelSize, 2);
  assert.deepEqual(copy.layers.slice(1).map((l) => l.getClassName()), [
    "NNPositionEmbedding",
    "NNMultiHeadSelfAttention",
    "NNLayerNorm",
    "NNFusedLSTM",
    "NNConvMaxOverTime",
  ]);
  model.dispose();
  copy.dispose();
});

Deno.test("fused layers leave no SIMD memory in use after fit, predict and evaluate", async () => {
  await tf.setBackend("wasm");
  const before = simdMemoryStats().usedBytes;
  const input = tf.input({ shape: [6, 8] });
  const seq = new FusedLSTM({ units: 8, returnSequences: true, seed: 1 }).apply(input);
  const att = new MultiHeadSelfAttention({ numHeads: 2, seed: 2 }).apply(seq);
  const norm = new LayerNorm({}).apply(att);
  const conv = new ConvMaxOverTime({ filters: 4, kernelSize: 3, seed: 3 }).apply(norm);
  const out = tf.layers.dense({ units: 2, activation: "softmax" }).apply(conv) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
  const x = data([5, 6, 8], 30);
  const y = tf.oneHot(tf.tensor1d([0, 1, 1, 0, 1], "int32"), 2);
  await model.fit(x, y, { epochs: 2, batchSize: 5, verbose: 0 });
  tf.dispose(model.predict(x) as tf.Tensor);
  tf.dispose(model.evaluate(x, y) as tf.Scalar);
  assert.equal(simdMemoryStats().usedBytes, before, "SIMD memory left in use");
  tf.dispose([x, y]);
  model.dispose();
});
