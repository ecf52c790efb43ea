// The bench's CPU record: model name and vector extensions from /proc/cpuinfo text.
import assert from "node:assert/strict";
import { cpuInfo, cpuLabel, parseCpuInfo } from "./train_bench.ts";

Deno.test("parseCpuInfo reads an x86 model name and its AVX/AMX flags", () => {
  const xeon = parseCpuInfo(
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\n" +
      "flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw avx512vl avx512_bf16 amx_bf16 " +
      "amx_tile amx_int8\n",
  );
  assert.equal(xeon.model, "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz");
  assert.deepEqual(xeon.extensions, [
    "sse4.2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_bf16",
    "amx (tile, bf16, int8)",
  ]);
  assert.equal(xeon.lanes, 16);
  const epyc = parseCpuInfo("model name\t: AMD EPYC\nflags\t\t: sse4_2 avx avx2 fma\n");
  assert.equal(cpuLabel(epyc), "AMD EPYC (avx, avx2, fma)");
  assert.equal(epyc.lanes, 8);
});

Deno.test("parseCpuInfo reads Arm's Features line as NEON", () => {
  const arm = parseCpuInfo("processor\t: 0\nFeatures\t: fp asimd evtstrm sve\nCPU part\t: 0xd0c\n");
  assert.deepEqual(arm.extensions, ["neon", "sve"]);
  assert.equal(arm.lanes, 4);
});

Deno.test("cpuInfo describes this machine", () => {
  const c = cpuInfo();
  assert.ok(c.model.length > 0);
  assert.ok([4, 8, 16].includes(c.lanes));
});
