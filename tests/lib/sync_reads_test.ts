import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { guardSyncReads, print, probeWebGpu, setupBackend, SyncReadError } from "nn";

const root = new URL("../../", import.meta.url);

/** `.ts` files under lib/ and the code cells of notebooks/, with their paths. */
async function sources(): Promise<Array<{ path: string; text: string }>> {
  const out: Array<{ path: string; text: string }> = [];
  async function walk(dir: string) {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}${e.name}`;
      if (e.isDirectory) await walk(`${path}/`);
      else if (e.name.endsWith(".ts")) {
        out.push({ path, text: await Deno.readTextFile(new URL(path, root)) });
      } else if (e.name.endsWith(".ipynb")) {
        const nb = JSON.parse(await Deno.readTextFile(new URL(path, root)));
        const code = nb.cells
          .filter((c: { cell_type: string }) => c.cell_type === "code")
          .map((c: { source: string | string[] }) => [c.source].flat().join(""));
        out.push({ path, text: code.join("\n") });
      }
    }
  }
  await walk("lib/");
  await walk("notebooks/");
  return out;
}

// lib/kernels/ is exempt: its kernels run on the cpu and wasm backends only, where a
// synchronous read is a plain memory read (they are never registered for webgpu).
const SYNC_READ =
  /\.(dataSync|arraySync|bufferSync)\s*\(|\.print\s*\(\s*(true|false)?\s*\)|\btf\.print\s*\(/;

Deno.test("no synchronous tensor reads in lib/ (outside lib/kernels/) or notebooks/", async () => {
  const found: string[] = [];
  for (const { path, text } of await sources()) {
    if (path.startsWith("lib/kernels/") || path === "lib/sync_reads.ts") continue;
    text.split("\n").forEach((line, i) => {
      if (SYNC_READ.test(line)) found.push(`${path}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(
    found,
    [],
    "synchronous reads crash on webgpu under Deno: use await t.data(), await t.array() or " +
      "await nn.print(t)",
  );
});

Deno.test("the source scan catches each form of synchronous read", () => {
  for (
    const bad of [
      "x.dataSync()",
      "y.arraySync ()",
      "t.print()",
      "t.print(true)",
      "b.bufferSync()",
      "tf.print(x)",
    ]
  ) {
    assert.ok(SYNC_READ.test(bad), bad);
  }
  for (const fine of ["await x.data()", "await y.array()", "await nn.print(t)", "print(x)"]) {
    assert.ok(!SYNC_READ.test(fine), fine);
  }
});

Deno.test("nn.print prints tfjs's own formatting on cpu and wasm", async () => {
  for (const backend of ["cpu", "wasm"]) {
    await setupBackend({ backend });
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const lines: string[] = [];
    const text = await print(x, { log: (s) => lines.push(s) });
    assert.equal(text, x.toString());
    assert.deepEqual(lines, [text]);
    assert.match(await print(x, { verbose: true, log: () => {} }), /shape: \[2,2\]/);
    x.dispose();
  }
});

Deno.test({
  name: "webgpu: a synchronous read of a GPU tensor raises SyncReadError; nn.print works",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (!(await probeWebGpu())) {
      console.log("skipped: no WebGPU adapter on this machine");
      return;
    }
    assert.equal(guardSyncReads(), true);
    await setupBackend({ backend: "webgpu" });
    try {
      // 4096 elements: above tfjs-webgpu's size under which small ops run on the CPU
      const onGpu = () => tf.tidy(() => tf.add(tf.range(1, 4097), 1));
      await t.step("dataSync, arraySync, print, toString name the async alternative", () => {
        const x = onGpu();
        for (const read of [() => x.dataSync(), () => x.arraySync(), () => x.print()]) {
          assert.throws(
            read,
            (e: unknown) =>
              e instanceof SyncReadError && /await tensor\.data\(\)/.test(e.message) &&
              /nn\.print/.test(e.message),
          );
        }
        assert.throws(() => x.toString(), SyncReadError);
        x.dispose();
      });
      await t.step("after an async read, sync reads of the same tensor work", async () => {
        const x = onGpu();
        const lines: string[] = [];
        const text = await print(x, { log: (s) => lines.push(s) });
        assert.match(text, /\[2, 3, 4, \.\.\., 4095, 4096, 4097\]/);
        assert.deepEqual(Array.from(x.dataSync().slice(0, 3)), [2, 3, 4]);
        x.dispose();
      });
      await t.step("values that never left the CPU read synchronously", () => {
        const x = tf.tensor1d([5, 6]);
        assert.deepEqual(x.arraySync(), [5, 6]);
        x.dispose();
      });
    } finally {
      await setupBackend({ backend: "cpu" });
    }
  },
});
