// The SIMD kernels (lib/kernels/simd): the embedded module matches its WAT source; the
// activations against float64 Math within stated bounds (NaN and extremes included);
// softmax, its backward pass and layer normalisation against float64 references, for
// rows with and without a tail; the block allocator (reuse, growth keeps contents).
import assert from "node:assert/strict";
import { render } from "../../../lib/kernels/simd/build.ts";
import { decodeBase64 } from "../../../lib/kernels/simd/base64.ts";
import { WASM_HEAP_RELAXED_BASE64 } from "../../../lib/kernels/simd/kernels_wasm.ts";
import {
  forcePlainHeapKernels,
  simd,
  simdAlloc,
  simdMap,
  simdMemoryStats,
  wasmHeapKernels,
} from "../../../lib/kernels/simd/simd.ts";

const here = new URL("../../../lib/kernels/simd/", import.meta.url);

Deno.test("kernels_wasm.ts is the assembly of kernels.wat (run `deno task build:wasm`)", async () => {
  const source = await Deno.readTextFile(new URL("kernels.wat", here));
  const expected = await render(source);
  const actual = await Deno.readTextFile(new URL("kernels_wasm.ts", here));
  assert.ok(actual === expected, "kernels_wasm.ts is out of date: run `deno task build:wasm`");
});

function grid(from: number, to: number, n: number): Float32Array {
  // n is not a multiple of 4, so the one-lane tail runs too
  return Float32Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));
}

function maxErrors(actual: Float32Array, x: Float32Array, ref: (v: number) => number) {
  let abs = 0;
  let rel = 0;
  for (let i = 0; i < x.length; i++) {
    const r = ref(x[i]);
    const d = Math.abs(actual[i] - r);
    abs = Math.max(abs, d);
    if (Math.abs(r) > 1e-30) rel = Math.max(rel, d / Math.abs(r));
  }
  return { abs, rel };
}

Deno.test("exp, sigmoid, tanh: within a few float32 ulps of float64 Math", () => {
  // float32 rounding alone is 6e-8 relative; bounds allow the polynomial's ~3 ulps
  const x = grid(-80, 80, 400_003);
  const e = maxErrors(simdMap("exp", x), x, Math.exp);
  assert.ok(e.rel < 4e-7, `exp: max relative error ${e.rel}`);
  const s = maxErrors(simdMap("sigmoid", x), x, (v) => 1 / (1 + Math.exp(-v)));
  assert.ok(s.rel < 4e-7 && s.abs < 2e-7, `sigmoid: ${JSON.stringify(s)}`);
  const small = grid(-0.3, 0.3, 60_001); // around the switch to the Taylor polynomial at 1/8
  for (const xs of [x, small]) {
    const t = maxErrors(simdMap("tanh", xs), xs, Math.tanh);
    assert.ok(t.rel < 5e-7 && t.abs < 2e-7, `tanh: ${JSON.stringify(t)}`);
  }
});

Deno.test("exp, sigmoid, tanh: extremes saturate, NaN stays NaN, tanh keeps the sign of ±0", () => {
  const x = new Float32Array([-1e30, -200, 200, 1e30, NaN, 0, -0]);
  const e = simdMap("exp", x);
  assert.ok(e[0] >= 0 && e[0] < 1e-37 && e[1] < 1e-37, `exp of large negatives: ${e}`);
  assert.ok(e[2] > 1e38 && Number.isFinite(e[3]), `exp of large positives: ${e}`);
  assert.ok(Number.isNaN(e[4]));
  assert.deepEqual(Array.from(simdMap("sigmoid", x)).slice(0, 4).map((v) => Math.round(v)), [
    0,
    0,
    1,
    1,
  ]);
  const t = simdMap("tanh", x);
  assert.deepEqual(Array.from(t.slice(0, 4)), [-1, -1, 1, 1]);
  assert.ok(Number.isNaN(t[4]));
  assert.ok(Object.is(t[5], 0) && Object.is(t[6], -0), `tanh(±0): ${t[5]}, ${t[6]}`);
});

function random(n: number, seed: number, amp = 3): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return amp * (2 * (s / 2147483648) - 1);
  });
}

function assertNear(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
) {
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(err <= tol, `${what}: max error ${err} > ${tol}`);
}

Deno.test("softmax_rows and softmax_backward_rows equal float64 references (causal, tails)", () => {
  const k = simd();
  for (const cols of [4, 7, 16]) {
    for (const causal of [false, true]) {
      const rows = cols;
      const stride = cols + 3; // rows with a gap between them
      const x = random(rows * stride, cols + (causal ? 100 : 0), 8);
      const d = random(rows * stride, 7 * cols);
      const [pb, db] = simdAlloc([rows * stride, rows * stride]);
      pb.view().set(x);
      db.view().set(d);
      k.softmax_rows(pb.offset, rows, cols, 4 * stride, causal ? 1 : 0);
      k.softmax_backward_rows(pb.offset, db.offset, rows, cols, 4 * stride);
      const p = pb.view();
      const dx = db.view();
      for (let i = 0; i < rows; i++) {
        const o = i * stride;
        const n = causal ? i + 1 : cols;
        const row = Array.from(x.subarray(o, o + n));
        const m = Math.max(...row);
        const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
        const ref = [...row.map((v) => Math.exp(v - m) / z), ...new Array(cols - n).fill(0)];
        const what = `cols=${cols} causal=${causal} row ${i}`;
        assertNear(p.subarray(o, o + cols), ref, 2e-7, `softmax ${what}`);
        const dot = ref.reduce((s, v, j) => s + v * d[o + j], 0);
        assertNear(
          dx.subarray(o, o + cols),
          ref.map((v, j) => v * (d[o + j] - dot)),
          1e-6,
          `backward ${what}`,
        );
        // the gap between rows is untouched
        assert.deepEqual(
          Array.from(p.subarray(o + cols, o + stride)),
          Array.from(x.subarray(o + cols, o + stride)),
        );
      }
      pb.free();
      db.free();
    }
  }
});

Deno.test("softmax_rows_masked: bias added, padded keys exactly 0, causal rows from row0", () => {
  const k = simd();
  for (const cols of [4, 7, 16]) {
    for (const causal of [false, true]) {
      for (const zero of [0, 1]) {
        const row0 = causal ? 2 : 0;
        const rows = cols - row0;
        const stride = cols + 3;
        const x = random(rows * stride, 3 * cols + (causal ? 50 : 0) + zero, 8);
        // keys 1 and cols − 1 are padding
        const bias = new Float32Array(cols);
        bias[1] = -1e9;
        bias[cols - 1] = -1e9;
        const [pb, bb] = simdAlloc([rows * stride, cols]);
        pb.view().set(x);
        bb.view().set(bias);
        k.softmax_rows_masked(
          pb.offset,
          rows,
          cols,
          4 * stride,
          causal ? 1 : 0,
          row0,
          bb.offset,
          zero,
        );
        const p = pb.view();
        for (let i = 0; i < rows; i++) {
          const o = i * stride;
          const n = causal ? row0 + i + 1 : cols;
          const row = Array.from(x.subarray(o, o + n), (v, j) => Math.fround(v + bias[j]));
          const m = Math.max(...row);
          // the SIMD exp clamps at e^−87: a padded key keeps a weight of about 1e-38
          const e = row.map((v) => Math.exp(Math.max(v - m, -87)));
          const z = e.reduce((s, v) => s + v, 0);
          const ref = [
            ...e.map((v, j) => (zero && bias[j] !== 0 ? 0 : v / z)),
            ...new Array(cols - n).fill(0),
          ];
          const what = `cols=${cols} causal=${causal} zero=${zero} row ${row0 + i}`;
          assertNear(p.subarray(o, o + cols), ref, 2e-7, `masked softmax ${what}`);
          if (zero) {
            for (const j of [1, cols - 1]) {
              if (j < n) assert.equal(p[o + j], 0, `${what}: padded key ${j} exactly 0`);
            }
          }
        }
        pb.free();
        bb.free();
      }
    }
  }
});

Deno.test("mm and transpose equal float64 references (strided, tails, accumulate)", () => {
  const k = simd();
  for (
    const [m, n, kk] of [
      [1, 1, 1],
      [3, 5, 2],
      [4, 16, 7],
      [5, 21, 3],
      [64, 64, 16],
      [2, 37, 9],
      [9, 8, 1],
      [12, 17, 33],
    ]
  ) {
    for (const acc of [0, 1]) {
      const [lda, ldb, ldc] = [kk + 2, n + 1, n + 3]; // strided rows
      const a = random(m * lda, m + kk);
      const b = random(kk * ldb, n + kk + 1);
      const c0 = random(m * ldc, m + n + 2);
      const [ab, bb, cb, tb] = simdAlloc([m * lda, kk * ldb, m * ldc, kk * m]);
      ab.view().set(a);
      bb.view().set(b);
      cb.view().set(c0);
      k.mm(ab.offset, 4 * lda, bb.offset, 4 * ldb, cb.offset, 4 * ldc, m, n, kk, 0.5, acc);
      const c = cb.view();
      for (let i = 0; i < m; i++) {
        const ref: number[] = [];
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < kk; q++) s += a[i * lda + q] * b[q * ldb + j];
          ref.push(0.5 * s + (acc ? c0[i * ldc + j] : 0));
        }
        assertNear(c.subarray(i * ldc, i * ldc + n), ref, 1e-4, `mm ${m}×${n}×${kk} acc ${acc}`);
        // the stride gap is untouched
        for (let j = n; j < ldc; j++) assert.equal(c[i * ldc + j], c0[i * ldc + j]);
      }
      // aᵀ of the m × k block: k × m, stride m
      k.transpose(ab.offset, 4 * lda, tb.offset, 4 * m, m, kk);
      const t = tb.view();
      for (let i = 0; i < m; i++) {
        for (let q = 0; q < kk; q++) assert.equal(t[q * m + i], a[i * lda + q]);
      }
      for (const blk of [ab, bb, cb, tb]) blk.free();
    }
  }
});

Deno.test("layer_norm_forward and layer_norm_backward equal float64 references", () => {
  const k = simd();
  for (const D of [4, 7, 64]) {
    const rows = 5;
    const eps = 1e-5;
    const x = random(rows * D, D, 4);
    const g = random(D, D + 1, 1);
    const be = random(D, D + 2, 1);
    const dy = random(rows * D, D + 3, 1);
    const [xb, yb, xh, rs, gb, bb, dyb, dxb, dgb, dbb] = simdAlloc([
      rows * D,
      rows * D,
      rows * D,
      rows,
      D,
      D,
      rows * D,
      rows * D,
      D,
      D,
    ]);
    xb.view().set(x);
    gb.view().set(g);
    bb.view().set(be);
    dyb.view().set(dy);
    dgb.view().fill(0);
    dbb.view().fill(0);
    k.layer_norm_forward(
      xb.offset,
      yb.offset,
      xh.offset,
      rs.offset,
      gb.offset,
      bb.offset,
      rows,
      D,
      eps,
      0,
      0,
    );
    k.layer_norm_backward(
      dyb.offset,
      xh.offset,
      rs.offset,
      gb.offset,
      dxb.offset,
      dgb.offset,
      dbb.offset,
      rows,
      D,
      0,
    );
    const y = yb.view();
    const dx = dxb.view();
    const dgRef = new Array(D).fill(0);
    const dbRef = new Array(D).fill(0);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * D, (r + 1) * D));
      const mean = row.reduce((s, v) => s + v, 0) / D;
      const v = row.reduce((s, u) => s + (u - mean) ** 2, 0) / D;
      const inv = 1 / Math.sqrt(v + eps);
      const n = row.map((u) => (u - mean) * inv);
      assertNear(
        y.subarray(r * D, (r + 1) * D),
        n.map((u, j) => u * g[j] + be[j]),
        2e-6,
        `y D=${D}`,
      );
      const dn = n.map((_, j) => dy[r * D + j] * g[j]);
      const m1 = dn.reduce((s, u) => s + u, 0) / D;
      const m2 = dn.reduce((s, u, j) => s + u * n[j], 0) / D;
      assertNear(
        dx.subarray(r * D, (r + 1) * D),
        dn.map((u, j) => inv * (u - m1 - n[j] * m2)),
        5e-6,
        `dx D=${D}`,
      );
      n.forEach((u, j) => {
        dgRef[j] += dy[r * D + j] * u;
        dbRef[j] += dy[r * D + j];
      });
    }
    assertNear(dgb.view(), dgRef, 5e-6, `dgamma D=${D}`);
    assertNear(dbb.view(), dbRef, 5e-6, `dbeta D=${D}`);
    for (const b of [xb, yb, xh, rs, gb, bb, dyb, dxb, dgb, dbb]) b.free();
  }
});

Deno.test("layer_norm_forward with a residual normalises x + r, bit for bit as summed first", () => {
  const k = simd();
  for (const D of [4, 7, 64]) {
    const rows = 3;
    const x = random(rows * D, D, 4);
    const r = random(rows * D, D + 5, 2);
    const g = random(D, D + 1, 1);
    const be = random(D, D + 2, 1);
    const [xb, rb, sb, y1, y2, xh1, xh2, rs1, rs2, gb, bb] = simdAlloc([
      ...[rows * D, rows * D, rows * D, rows * D, rows * D, rows * D, rows * D],
      ...[rows, rows, D, D],
    ]);
    xb.view().set(x);
    rb.view().set(r);
    sb.view().set(x.map((v, i) => Math.fround(v + r[i]))); // float32 sums
    gb.view().set(g);
    bb.view().set(be);
    const args = [gb.offset, bb.offset, rows, D, 1e-5] as const;
    k.layer_norm_forward(sb.offset, y1.offset, xh1.offset, rs1.offset, ...args, 0, 0);
    k.layer_norm_forward(xb.offset, y2.offset, xh2.offset, rs2.offset, ...args, rb.offset, 0);
    assert.deepEqual(Array.from(y2.view()), Array.from(y1.view()), `y D=${D}`);
    assert.deepEqual(Array.from(xh2.view()), Array.from(xh1.view()), `x̂ D=${D}`);
    assert.deepEqual(Array.from(rs2.view()), Array.from(rs1.view()), `1/σ D=${D}`);
    // the sum kept (the pre-norm block's residual stream): written to its own rows
    const [kept, y3] = simdAlloc([rows * D, rows * D]);
    k.layer_norm_forward(
      xb.offset,
      y3.offset,
      xh2.offset,
      rs2.offset,
      ...args,
      rb.offset,
      kept.offset,
    );
    assert.deepEqual(Array.from(kept.view()), Array.from(sb.view()), `sum kept D=${D}`);
    assert.deepEqual(Array.from(y3.view()), Array.from(y1.view()), `y, sum kept D=${D}`);
    // in place: y over x
    k.layer_norm_forward(xb.offset, xb.offset, xh2.offset, rs2.offset, ...args, rb.offset, 0);
    assert.deepEqual(Array.from(xb.view()), Array.from(y1.view()), `y in place D=${D}`);
    for (const b of [xb, rb, sb, y1, y2, xh1, xh2, rs1, rs2, gb, bb, kept, y3]) b.free();
  }
});

Deno.test("layer_norm_backward with ds adds the sum's gradient to dx, bit for bit", () => {
  const k = simd();
  for (const D of [4, 7, 64]) {
    const rows = 3;
    const [xb, yb, xh, rs, gb, bb, dyb, dsb, dx1, dx2, dg, db] = simdAlloc([
      ...[rows * D, rows * D, rows * D, rows, D, D],
      ...[rows * D, rows * D, rows * D, rows * D, D, D],
    ]);
    xb.view().set(random(rows * D, D, 4));
    gb.view().set(random(D, D + 1, 1));
    bb.view().set(random(D, D + 2, 1));
    dyb.view().set(random(rows * D, D + 3, 1));
    const ds = random(rows * D, D + 4, 1);
    dsb.view().set(ds);
    k.layer_norm_forward(
      xb.offset,
      yb.offset,
      xh.offset,
      rs.offset,
      gb.offset,
      bb.offset,
      rows,
      D,
      1e-5,
      0,
      0,
    );
    const back = (dx: number, dsAt: number) => {
      dg.view().fill(0);
      db.view().fill(0);
      k.layer_norm_backward(
        dyb.offset,
        xh.offset,
        rs.offset,
        gb.offset,
        dx,
        dg.offset,
        db.offset,
        rows,
        D,
        dsAt,
      );
    };
    back(dx1.offset, 0);
    const dgamma = Array.from(dg.view());
    back(dx2.offset, dsb.offset);
    const plain = dx1.view();
    assert.deepEqual(
      Array.from(dx2.view()),
      Array.from(plain, (v, i) => Math.fround(v + ds[i])),
      `dx + ds D=${D}`,
    );
    assert.deepEqual(Array.from(dg.view()), dgamma, `dgamma unchanged by ds D=${D}`);
    for (const b of [xb, yb, xh, rs, gb, bb, dyb, dsb, dx1, dx2, dg, db]) b.free();
  }
});

Deno.test("simdAlloc: 16-byte aligned blocks, freed space reused, growth keeps contents", () => {
  const start = simdMemoryStats();
  const [a, b] = simdAlloc([5, 3]);
  assert.equal(a.offset % 16, 0);
  assert.equal(b.offset % 16, 0);
  assert.ok(b.offset >= a.offset + 20, "blocks overlap");
  b.view().set([1, 2, 3]);
  a.free();
  const [c] = simdAlloc([4]);
  assert.equal(c.offset, a.offset, "the freed block is reused first");
  // a block larger than the memory grows it; the older block's values survive
  const [big] = simdAlloc([start.memoryBytes / 4 + 1000]);
  assert.ok(simdMemoryStats().memoryBytes > start.memoryBytes);
  assert.deepEqual(Array.from(b.view()), [1, 2, 3]);
  for (const x of [b, c, big]) x.free();
  b.free(); // idempotent
  assert.throws(() => b.view(), /after free/);
  assert.equal(simdMemoryStats().usedBytes, start.usedBytes);
  assert.throws(() => simdAlloc([-1]), /bad length/);
});

Deno.test("relu and the dense backward epilogue match their scalar definitions (tails, −0, NaN)", () => {
  const k = simd();
  const rows = 3;
  const n = 7; // 4 lanes and a tail of 3
  const dy = Float32Array.from({ length: rows * n }, (_, i) => (i % 5) - 2.5 + i / 10);
  dy[4] = NaN; // a NaN where y > 0 and one where y ≤ 0 both stay NaN (dy · step(y))
  dy[5] = NaN;
  const y = Float32Array.from({ length: rows * n }, (_, i) => (i % 3) - 1);
  y[4] = 1;
  y[5] = -1;
  y[6] = -0;
  const [dyB, yB, dzB, dbB, rB] = simdAlloc([rows * n, rows * n, rows * n, n, rows * n]);
  dyB.view().set(dy);
  yB.view().set(y);
  for (const relu of [1, 0]) {
    k.dense_backward_epilogue(dyB.offset, yB.offset, dzB.offset, dbB.offset, rows, n, relu);
    const dz = dzB.view();
    const db = new Float32Array(n);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        const i = r * n + j;
        const v = relu ? dy[i] * Number(y[i] > 0) : dy[i];
        if (relu) assert.ok(Object.is(dz[i], Math.fround(v)), `dz[${i}] ${dz[i]} vs ${v}`);
        db[j] = Math.fround(db[j] + v);
      }
    }
    assert.deepEqual(Array.from(dbB.view()), Array.from(db), `db (relu ${relu})`);
  }
  const x = Float32Array.from([-1, 2, -0, 0, NaN, -Infinity, 3.5, -2e-45, 1e-45]);
  rB.view().set(x);
  k.relu(rB.offset, x.length);
  const bits = new Int32Array(x.buffer.slice(0));
  const expected = new Float32Array(bits.map((b) => b & ~(b >> 31)).buffer);
  assert.deepEqual(Array.from(rB.view().subarray(0, x.length)), Array.from(expected));
  for (const b of [dyB, yB, dzB, dbB, rB]) b.free();
});

Deno.test("the heap builds, relaxed fma and plain f32x4: mm and exp against float64", () => {
  // a stand-in for tfjs-wasm's backend: its memory and an (empty) tensor map
  const backend = () => ({
    wasm: { asm: { memory: new WebAssembly.Memory({ initial: 8 }) } },
    dataIdMap: new Map(),
  });
  const relaxedValidates = WebAssembly.validate(decodeBase64(WASM_HEAP_RELAXED_BASE64));
  try {
    for (const plain of [false, true]) {
      forcePlainHeapKernels(plain);
      const heap = wasmHeapKernels(backend());
      assert.ok(heap, "the heap build instantiates on a plain memory");
      assert.equal(heap.kind, !plain && relaxedValidates ? "relaxed fma" : "f32x4");
      const f32 = new Float32Array(heap.memory.buffer);
      const [m, n, kk] = [13, 21, 37]; // the 4×8 tiles, the 16-, 4- and 1-column tails
      const [a, b, c] = [64, 64 + 4 * m * kk, 64 + 4 * (m * kk + kk * n)];
      const av = random(m * kk, 5);
      const bv = random(kk * n, 6);
      f32.set(av, a / 4);
      f32.set(bv, b / 4);
      heap.kernels.mm(a, 4 * kk, b, 4 * n, c, 4 * n, m, n, kk, 1, 0);
      const ref: number[] = [];
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < kk; q++) s += av[i * kk + q] * bv[q * n + j];
          ref.push(s);
        }
      }
      assertNear(f32.subarray(c / 4, c / 4 + m * n), ref, 1e-4, `mm (${heap.kind})`);
      const x = grid(-80, 80, 40_003);
      f32.set(x, 64 / 4);
      heap.kernels.exp(64, x.length);
      const e = maxErrors(f32.subarray(16, 16 + x.length), x, Math.exp);
      assert.ok(e.rel < 4e-7, `exp (${heap.kind}): max relative error ${e.rel}`);
    }
  } finally {
    forcePlainHeapKernels(false);
  }
});
