/**
 * Measures a built site's live panels against Deno: opens every page with panels in headless
 * Chromium from `file://` on each backend, gives each panel its input (as `live_test.ts`
 * does), and compares the result with the same published model run in Deno (loaded from
 * `<out>/<notebook>.models/`). Prints, per backend and panel, the time to first prediction and
 * the largest |browser − Deno|, and writes them to `out/live-measure.json`, with a screenshot
 * of each panel in `out/live-screenshots/site-<backend>-<page>-<model>.png`.
 *
 * ```sh
 * deno task build && deno run -A tests/site/live_measure.ts --backends webgpu,webgl,wasm
 * deno run -A tests/site/live_measure.ts --pages 05_cnn_text_models --json out/m05.json
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { chromium } from "playwright-core";
import * as nn from "nn";
import { type LiveMeta, modelFromArtifacts } from "nn/live/format.ts";
import { CHROMIUM_ARGS, exercisePanel, panelStates } from "./live_check.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    site: { type: "string", default: "site" },
    out: { type: "string", default: "out" },
    backends: { type: "string", default: "webgpu,webgl,wasm" },
    pages: { type: "string" },
    json: { type: "string" },
  },
});
const site = resolve(values.site!);
const out = resolve(values.out!);
const shots = join(out, "live-screenshots");
await Deno.mkdir(shots, { recursive: true });
await nn.setupBackend({ backend: "wasm" });

async function loadNetworks(folder: string, meta: LiveMeta): Promise<tf.LayersModel[]> {
  const models: tf.LayersModel[] = [];
  for (const n of meta.networks) {
    const json = JSON.parse(await Deno.readTextFile(join(folder, n.path, "model.json")));
    const weights = await Deno.readFile(join(folder, n.path, "weights.bin"));
    models.push(
      await modelFromArtifacts(json.modelTopology, json.weightsManifest[0].weights, weights),
    );
  }
  return models;
}

const pages: {
  page: string;
  key: string;
  meta: LiveMeta;
  networks: tf.LayersModel[];
  bytes: number;
}[] = [];
for await (const entry of Deno.readDir(site)) {
  if (!entry.name.endsWith(".html")) continue;
  const only = values.pages?.split(",");
  if (only && !only.includes(entry.name.replace(/\.html$/, ""))) continue;
  const html = await Deno.readTextFile(join(site, entry.name));
  for (const m of html.matchAll(/data-model="([^"]+)" data-src="([^"]+)"/g)) {
    const [stem, name] = m[1].split("/");
    const folder = join(out, `${stem}.models`, name);
    const meta = JSON.parse(await Deno.readTextFile(join(folder, "live.json"))) as LiveMeta;
    const bytes = (await Deno.stat(join(site, m[2]))).size;
    pages.push({
      page: entry.name,
      key: m[1],
      meta,
      networks: await loadNetworks(folder, meta),
      bytes,
    });
  }
}
pages.sort((a, b) => a.key.localeCompare(b.key));
console.log(`${pages.length} panels: ${pages.map((p) => p.key).join(", ")}`);

const profile = await Deno.makeTempDir({ prefix: "nn-chromium-profile-" });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium",
  headless: true,
  offline: true,
  viewport: { width: 1100, height: 900 },
  args: CHROMIUM_ARGS,
});
const rows: Record<string, unknown>[] = [];
try {
  for (const backend of values.backends!.split(",")) {
    for (const file of [...new Set(pages.map((p) => p.page))].sort()) {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`file://${join(site, file)}?backend=${backend}`);
      const states = await panelStates(page, 600_000);
      for (const p of pages.filter((p) => p.page === file)) {
        const state = states.find((s) => s.model === p.key)!;
        const row: Record<string, unknown> = {
          backend: state.backend,
          panel: p.key,
          params: p.meta.networks.map((n) => n.params),
          weightBytes: p.meta.networks.map((n) => n.weightBytes),
          scriptBytes: p.bytes,
          firstPredictionMs: state.firstMs,
        };
        try {
          if (state.state !== "ready") throw new Error(state.status);
          const check = await exercisePanel(
            page,
            p.key,
            p.meta,
            p.networks,
            join(shots, `site-${backend}-${p.key.replace("/", "-")}.png`),
          );
          Object.assign(row, {
            maxAbsDiff: check.maxAbsDiff,
            input: check.input,
            shown: check.shown,
          });
        } catch (error) {
          row.error = (error as Error).message;
        }
        rows.push(row);
        console.log(JSON.stringify(row));
      }
      if (errors.length) console.log(`${file} on ${backend}: page errors ${errors.join("; ")}`);
      await page.close();
    }
  }
} finally {
  await context.close();
  await Deno.remove(profile, { recursive: true }).catch(() => {});
  await Deno.writeTextFile(
    values.json ?? join(out, "live-measure.json"),
    JSON.stringify(rows, null, 1),
  );
}
