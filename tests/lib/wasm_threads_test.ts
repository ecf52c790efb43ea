// tfjs's threaded SIMD wasm build under Deno (lib/kernels/wasm_threads.ts): it starts,
// runs on more than one thread, computes what the single-threaded build computes
// (tfjs's kernels and the library's own wasm kernels on a SharedArrayBuffer heap), and
// lets a script exit.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import "../../lib/kernels/mod.ts";
import {
  installThreadedWasm,
  parseWasmThreads,
  wasmThreadsReport,
} from "../../lib/kernels/wasm_threads.ts";

const THREADED = "wasm-threads-test";

/** Deterministic data, the same on every backend. */
function data(shape: number[], seed: number): tf.Tensor {
  let s = seed * 9301 + 49297;
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) {
    s = (s * 9301 + 49297) % 233280;
    v[i] = 2 * (s / 233280) - 1;
  }
  return tf.tensor(v, shape);
}

/** Matmuls and convolutions (forward and gradients) large enough for XNNPACK to split. */
function cases(): tf.Tensor[] {
  const a = data([256, 784], 1);
  const b = data([784, 300], 2);
  const bias = data([300], 3);
  const x = data([8, 28, 28, 16], 4) as tf.Tensor4D;
  const f = data([3, 3, 16, 32], 5) as tf.Tensor4D;
  const seq = data([16, 100, 64], 6) as tf.Tensor3D;
  const f1 = data([5, 64, 100], 7) as tf.Tensor3D;
  const convGrads = tf.grads((xx: tf.Tensor, ff: tf.Tensor) =>
    tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 1, "same").square().sum()
  );
  return [
    tf.matMul(a, b),
    tf.matMul(a, data([300, 784], 8), false, true),
    tf.fused.matMul({ a, b, bias, activation: "relu" }),
    tf.conv2d(x, f, 1, "same"),
    tf.conv1d(seq, f1, 1, "valid"),
    ...convGrads([x, f]),
    tf.softmax(data([64, 1000], 9)),
  ];
}

async function run(backend: string): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = tf.tidy(cases);
  const values = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return values;
}

function maxRelError(actual: Float32Array, expected: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  return err / (1 + scale);
}

Deno.test("parseWasmThreads: off by default, auto, counts capped at 8, errors name the values", () => {
  assert.equal(parseWasmThreads(undefined), "off");
  assert.equal(parseWasmThreads(""), "off");
  assert.equal(parseWasmThreads(" OFF "), "off");
  assert.equal(parseWasmThreads("1"), "off");
  assert.equal(parseWasmThreads("auto"), "auto");
  assert.equal(parseWasmThreads("2"), 2);
  assert.equal(parseWasmThreads(64), 8);
  assert.throws(() => parseWasmThreads("many"), /"auto", "off" or a whole number/);
  assert.throws(() => parseWasmThreads("2.5"), /NN_WASM_THREADS/);
});

Deno.test("threaded wasm: 2 threads, same numbers as the single-threaded build", async () => {
  // "wasm" stays tfjs's single-threaded build; a second backend name gets the
  // threaded one, with every wasm kernel (tfjs's and the library's) copied over.
  installThreadedWasm({ threads: "off" });
  const single = await run("wasm");
  assert.equal(getThreadsCount(), 1);
  for (const k of tf.getKernelsForBackend("wasm")) {
    tf.registerKernel({ ...k, backendName: THREADED });
  }
  try {
    assert.equal(installThreadedWasm({ threads: 2, backendName: THREADED }), true);
    const threaded = await run(THREADED);
    const report = wasmThreadsReport();
    assert.equal(report.build, "threaded-simd", report.reason);
    assert.equal(report.threads, 2);
    assert.equal(getThreadsCount(), 2);
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    assert.ok(backend.wasm.HEAPU8.buffer instanceof SharedArrayBuffer);
    assert.equal(threaded.length, single.length);
    threaded.forEach((v, i) => {
      assert.equal(v.length, single[i].length, `case ${i}: length`);
      const err = maxRelError(v, single[i]);
      assert.ok(err <= 1e-5, `case ${i}: max error ${err} relative to the single-threaded build`);
    });
  } finally {
    await tf.setBackend("cpu");
    tf.removeBackend(THREADED);
    for (const k of tf.getKernelsForBackend(THREADED)) {
      tf.unregisterKernel(k.kernelName, THREADED);
    }
  }
});

Deno.test("threaded wasm: setupBackend reports it, and the script still exits", async () => {
  const script = `
    import * as tf from "@tensorflow/tfjs";
    import { backendBundle, setupBackend } from "nn";
    const report = await setupBackend({ backend: "wasm" });
    const c = tf.matMul(tf.ones([512, 512]), tf.ones([512, 512]));
    console.log(JSON.stringify({ wasm: report.wasm, value: (await c.data())[0] }));
    console.error(backendBundle(report)["text/plain"]);
  `;
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, "-"],
    cwd: new URL("../../", import.meta.url).pathname,
    env: { NN_WASM_THREADS: "2" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await out.output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  const line = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
  assert.equal(line.value, 512);
  assert.equal(line.wasm.build, "threaded-simd", line.wasm.reason);
  assert.equal(line.wasm.threads, 2);
  assert.match(line.wasm.requested, /NN_WASM_THREADS/);
  assert.match(err, /wasm: threaded-simd, 2 thread/);
});
