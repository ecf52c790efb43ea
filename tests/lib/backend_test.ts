import assert from "node:assert/strict";
import { printedBy } from "./printed.ts";
import * as tf from "@tensorflow/tfjs";
import {
  type AdapterReport,
  backendBundle,
  chartBundle,
  chooseBackend,
  lineChart,
  parseBackendName,
  plotlyVersion,
  probeWebGpu,
  resetPlotlySession,
  setupBackend,
  showBackend,
  UnknownBackendError,
} from "nn";

const software: AdapterReport = {
  description: "llvmpipe (LLVM 15.0.6, 256 bits)",
  vendor: "mesa",
  architecture: "",
  fallback: true,
};
const hardware: AdapterReport = { ...software, description: "NVIDIA H200", fallback: false };

Deno.test("chooseBackend: the automatic choice skips a software adapter for wasm", () => {
  assert.equal(chooseBackend({ requested: "auto", adapter: software }).backend, "wasm");
  assert.equal(chooseBackend({ requested: "auto", adapter: null }).backend, "wasm");
  assert.equal(chooseBackend({ requested: "auto", adapter: hardware }).backend, "webgpu");
  assert.equal(
    chooseBackend({ requested: "auto", adapter: software, allowFallbackAdapter: true }).backend,
    "webgpu",
  );
  assert.equal(
    chooseBackend({ requested: "auto", adapter: null, wasmAvailable: false }).backend,
    "cpu",
  );
});

Deno.test("chooseBackend: an explicit choice wins, software adapter or not", () => {
  const forced = chooseBackend({ requested: "webgpu", adapter: software });
  assert.equal(forced.backend, "webgpu");
  assert.match(forced.reason, /software fallback/);
  assert.equal(chooseBackend({ requested: "cpu", adapter: hardware }).backend, "cpu");
});

Deno.test("parseBackendName: unknown names list the valid ones", () => {
  assert.equal(parseBackendName(" WASM "), "wasm");
  assert.equal(parseBackendName("auto"), "auto");
  assert.throws(
    () => parseBackendName("tpu", "NN_BACKEND"),
    (e: unknown) =>
      e instanceof UnknownBackendError && /webgpu, wasm, cpu/.test(e.message) &&
      /NN_BACKEND/.test(e.message),
  );
});

Deno.test("setupBackend on this machine: auto, NN_BACKEND, forced webgpu", async (t) => {
  const adapter = await probeWebGpu();
  await t.step("auto picks wasm unless a hardware adapter is present", async () => {
    const report = await setupBackend();
    assert.equal(tf.getBackend(), report.backend);
    if (adapter && !adapter.fallback) assert.equal(report.backend, "webgpu");
    else assert.equal(report.backend, "wasm");
    assert.equal(report.source, "auto");
    assert.equal(report.versions.tfjs, "4.22.0");
    assert.equal(report.versions.deno, Deno.version.deno);
    assert.equal(report.fallback, adapter ? adapter.fallback : null);
  });
  await t.step(
    "NN_BACKEND overrides the automatic choice; the argument overrides both",
    async () => {
      Deno.env.set("NN_BACKEND", "cpu");
      try {
        const fromEnv = await setupBackend();
        assert.equal(fromEnv.backend, "cpu");
        assert.equal(fromEnv.source, "NN_BACKEND");
        const fromArg = await setupBackend({ backend: "wasm" });
        assert.equal(fromArg.backend, "wasm");
        assert.equal(fromArg.source, "argument");
        Deno.env.set("NN_BACKEND", "quantum");
        await assert.rejects(setupBackend(), /Unknown backend "quantum" \(from the NN_BACKEND/);
      } finally {
        Deno.env.delete("NN_BACKEND");
      }
    },
  );
  await t.step({
    name: "webgpu is taken when forced, even on a software adapter",
    ignore: adapter === null,
    fn: async () => {
      const report = await setupBackend({ backend: "webgpu" });
      assert.equal(report.backend, "webgpu");
      assert.equal(tf.getBackend(), "webgpu");
      const sum = tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]));
      assert.deepEqual(Array.from(await sum.data()), [4, 6]);
      sum.dispose();
    },
  });
  if (adapter === null) console.log("skipped the forced-webgpu step: no WebGPU adapter here");
  await setupBackend({ backend: "cpu" });
});

Deno.test("showBackend displays at once; the bundle carries the report under its mime type", async () => {
  const report = await setupBackend({ backend: "cpu" });
  const b = backendBundle(report);
  assert.deepEqual(b["application/vnd.neural-notebooks.backend+json"], report);
  assert.match(String(b["text/plain"]), /^backend cpu \(argument: cpu was asked for\)/);
  assert.deepEqual(printedBy(() => showBackend(report)), [b["text/plain"]]);
});

Deno.test("showBackend's HTML carries plotly.js each time; the session's charts leave it out", async () => {
  const report = await setupBackend({ backend: "cpu" });
  const marker = "plotly.js v" + plotlyVersion();
  resetPlotlySession();
  const chart = lineChart({ series: [{ name: "y", y: [1, 2] }] });
  assert.ok(!String(backendBundle(report)["text/html"]).includes(marker), "not unless asked");
  assert.ok(String(chartBundle(chart)["text/html"]).includes(marker), "first chart carries it");
  const shown = backendBundle(report, { includePlotly: true }); // what showBackend publishes
  assert.ok(String(shown["text/html"]).includes(marker), "the report carries it");
  assert.ok(!String(chartBundle(chart)["text/html"]).includes(marker), "charts leave it out");
  const again = backendBundle(report, { includePlotly: true });
  assert.ok(String(again["text/html"]).includes(marker), "a second report (Run All) too");
  assert.match(String(again["text/html"]), /<table class="nn-backend">/);
  resetPlotlySession();
});

Deno.test("importing the library selects cpu until setupBackend (no uninitialised webgpu)", async () => {
  const script = `import * as tf from "@tensorflow/tfjs"; import "nn";
const x = tf.tensor1d([1, 2]); console.log(tf.getBackend(), (await x.data()).join(","));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: new URL("../../", import.meta.url).pathname,
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.equal(stdout, "cpu 1,2");
});
