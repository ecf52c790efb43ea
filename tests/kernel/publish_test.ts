/**
 * A notebook that publishes a model, through the real runner and kernel: the kernel gets
 * `NN_PUBLISH_DIR`, the model lands next to the executed copy (`<out>/<notebook>.models/`,
 * emptied first), the executed notebook records it as an output, and `deno task build
 * --no-execute` turns that output into a live panel with its model script.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readNotebook } from "../../kernel/notebook.ts";
import { build } from "../../kernel/site/build.ts";
import { MODEL_MIME } from "../../lib/live/format.ts";
import { FIXTURES, runCli } from "./helpers.ts";

Deno.test("a published model goes next to the executed notebook and onto its page", async () => {
  const dir = await Deno.makeTempDir({ prefix: "publish-test-" });
  try {
    const out = join(dir, "out");
    const stale = join(out, "publish_model.models", "from-an-earlier-run");
    await Deno.mkdir(stale, { recursive: true });
    const run = await runCli(["--out", out, join(FIXTURES, "publish_model.ipynb")]);
    assert.equal(run.code, 0, run.stderr);
    const folder = join(out, "publish_model.models", "tiny-digits");
    const meta = JSON.parse(await Deno.readTextFile(join(folder, "live.json")));
    assert.equal(meta.demo.demo, "digits");
    assert.deepEqual(meta.networks.map((n: { params: number }) => n.params), [784 * 8 + 8 + 90]);
    const model = JSON.parse(await Deno.readTextFile(join(folder, "tiny-digits", "model.json")));
    assert.equal(model.format, "layers-model");
    assert.deepEqual(model.weightsManifest[0].paths, ["weights.bin"]);
    assert.equal((await Deno.stat(join(folder, "tiny-digits", "weights.bin"))).size, 4 * 6370);
    await assert.rejects(Deno.stat(stale), Deno.errors.NotFound, "the folder is emptied first");

    const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
    assert.deepEqual(report.notebooks[0].models, [{
      name: "tiny-digits",
      demo: "digits",
      networks: [{ label: "tiny-digits", params: 6370, weightBytes: 4 * 6370 }],
      cell: 2,
    }]);
    assert.match(
      await Deno.readTextFile(join(out, "report.md")),
      /\| .*publish_model\.ipynb \| tiny-digits \| digits \| tiny-digits: 6370 parameters, 0\.03 MB \|/,
    );
    const nb = await readNotebook(join(out, "publish_model.ipynb"));
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    const record = outputs.find((o) => o.data && MODEL_MIME in o.data);
    assert.ok(record, "the export is an output of the executed notebook");
    assert.equal((record!.data![MODEL_MIME] as { name: string }).name, "tiny-digits");
    assert.match(
      String(record!.data!["text/plain"]),
      /published model "tiny-digits".*publish_model\.models\/tiny-digits/,
    );

    const notebooks = join(dir, "notebooks");
    await Deno.mkdir(notebooks);
    await Deno.copyFile(
      join(FIXTURES, "publish_model.ipynb"),
      join(notebooks, "publish_model.ipynb"),
    );
    // the copy in out/ was made from the fixture: the build takes it as fresh and trusted
    const site = join(dir, "site");
    const built = await build({
      sources: [notebooks],
      outDir: out,
      siteDir: site,
      noExecute: true,
      log: () => {},
      runner: () => Promise.reject(new Error("nothing should run")),
    });
    assert.equal(built.notebooks.length, 1);
    const html = await Deno.readTextFile(join(site, "publish_model.html"));
    assert.ok(built.notebooks[0].trusted, "the runner's own copy");
    assert.match(html, /data-model="publish_model\/tiny-digits"/);
    assert.match(html, /src="live\/nn-live\.js"/);
    const script = await Deno.readTextFile(join(site, "live/models/publish_model.tiny-digits.js"));
    assert.match(script, /globalThis\.nnLiveModels \?\?= \{\}\)\["publish_model\/tiny-digits"\]/);
    assert.ok((await Deno.stat(join(site, "live/wasm/tfjs-backend-wasm-simd.wasm.js"))).size > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
