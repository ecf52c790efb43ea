/**
 * Live panels in a real browser: small models of every demo are trained here, published as a
 * notebook would (`exportModel` into the runner's folder) and built into a site; Debian's
 * Chromium (driven by playwright-core) opens the page from `file://` with the network cut off
 * on tfjs's webgpu (SwiftShader's WebGPU adapter), webgl (SwiftShader's GL) and wasm backends.
 * On each, every panel gets an input — a sentence typed, a date typed and beam search chosen,
 * a prompt with a temperature and a seed, a digit drawn with the mouse — and its result must
 * equal what the same model computes in Deno for the same input (the same demo functions,
 * `nn/live/demos.ts`) within float tolerance. The page must stay within its
 * Content-Security-Policy (no violation reported), log no error and request nothing but its own
 * files; a page whose model script is missing must say so in that panel and run the others.
 *
 * Screenshots of each panel after its input go to `out/live-screenshots/<backend>-<model>.png`,
 * and the measured agreement and time to first prediction to `out/live-screenshots/summary.json`.
 *
 * Needs /usr/bin/chromium (`.ci/run` installs Debian's `chromium`); skips without it. A backend
 * the browser cannot start here is reported and skipped (the page then says which it used).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { chromium } from "playwright-core";
import * as nn from "nn";
import { build, type RunRequest } from "../../kernel/site/build.ts";
import {
  classifyDigit,
  predictSentiment,
  sampleChars,
  translate,
  type TranslateResult,
} from "nn/live/demos.ts";
import type { LiveMeta, OutputKind } from "nn/live/format.ts";
import { publishFixtures, trainFixtureModels } from "./live_fixtures.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const available = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
if (!available) {
  console.log(`live panel test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}
const BACKENDS = (Deno.env.get("NN_LIVE_BACKENDS") ?? "webgpu,webgl,wasm").split(",");
const screenshots = new URL("../../out/live-screenshots/", import.meta.url).pathname;

/** Largest |a − b| over two equally shaped nested arrays of numbers. */
function maxDiff(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b);
  assert.ok(Array.isArray(a) && Array.isArray(b), "arrays to compare");
  assert.equal(a.length, b.length, "same lengths");
  return a.reduce((m: number, v, i) => Math.max(m, maxDiff(v, b[i])), 0);
}

// deno-lint-ignore no-explicit-any
type Panel = Record<string, any>;

Deno.test({
  name: "live panels: every demo in Chromium on webgpu, webgl and wasm agrees with Deno",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await nn.setupBackend({ backend: "wasm" });
    const dir = await Deno.makeTempDir({ prefix: "nn-live-" });
    const profile = await Deno.makeTempDir({ prefix: "nn-chromium-profile-" });
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    const summary: Record<string, unknown>[] = [];
    try {
      const models = await trainFixtureModels();
      const outDir = join(dir, "out");
      const executed = await publishFixtures(models, outDir);
      await Deno.mkdir(join(dir, "notebooks"));
      await Deno.writeTextFile(
        join(dir, "notebooks/live.ipynb"),
        JSON.stringify({ ...executed, cells: executed.cells.map((c) => ({ ...c, outputs: [] })) }),
      );
      const runner = async (request: RunRequest) => {
        await Deno.writeTextFile(join(request.outDir, "live.ipynb"), JSON.stringify(executed));
        return { code: 0 };
      };
      const site = join(dir, "site");
      await build({
        sources: [join(dir, "notebooks")],
        outDir,
        siteDir: site,
        runner,
        log: () => {},
      });
      const meta = new Map<string, LiveMeta>();
      for (const m of models) {
        meta.set(
          m.name,
          JSON.parse(await Deno.readTextFile(join(outDir, "live.models", m.name, "live.json"))),
        );
        const script = await Deno.stat(join(site, `live/models/live.${m.name}.js`));
        assert.ok(script.size > 0, `${m.name}: model script written`);
      }
      const html = await Deno.readTextFile(join(site, "live.html"));
      assert.match(
        html,
        /Content-Security-Policy" content="default-src 'none'; script-src 'self' 'wasm-unsafe-eval'/,
      );
      assert.equal((html.match(/class="nn-live" data-model=/g) ?? []).length, 4, "four panels");
      assert.ok(!/<script>/.test(html), "no inline script");
      const net = (name: string) => models.find((m) => m.name === name)!.networks;
      const output = (name: string, i = 0) => meta.get(name)!.networks[i].output as OutputKind;

      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        offline: true,
        viewport: { width: 1100, height: 900 },
        args: [
          "--headless",
          "--no-sandbox",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--enable-unsafe-webgpu",
          "--use-webgpu-adapter=swiftshader",
          "--enable-unsafe-swiftshader",
          "--use-angle=swiftshader",
        ],
      });
      const requests: string[] = [];
      await context.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:")) return route.continue();
        requests.push(url);
        return route.abort();
      });
      await context.addInitScript(() => {
        const w = globalThis as unknown as { __cspViolations: string[] };
        w.__cspViolations = [];
        document.addEventListener("securitypolicyviolation", (e) => {
          w.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`);
        });
      });
      await Deno.mkdir(screenshots, { recursive: true });

      for (const backend of BACKENDS) {
        await t.step(backend, async (t) => {
          const page = await context!.newPage();
          const errors: string[] = [];
          page.on("console", (m) => {
            if (m.type() === "error") errors.push(`console: ${m.text()}`);
          });
          page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
          const started = performance.now();
          await page.goto(`file://${join(site, "live.html")}?backend=${backend}`);
          await page.waitForFunction(
            () =>
              [...document.querySelectorAll<HTMLElement>(".nn-live[data-model]")].every((p) =>
                p.dataset.state === "ready" || p.dataset.state === "error"
              ),
            null,
            { timeout: 240_000, polling: 250 },
          );
          const loadedMs = performance.now() - started;
          const states = await page.$$eval(".nn-live[data-model]", (ps) =>
            ps.map((p) => ({
              model: (p as HTMLElement).dataset.model,
              state: (p as HTMLElement).dataset.state,
              backend: (p as HTMLElement).dataset.backend,
              firstMs: Number((p as HTMLElement).dataset.firstMs),
              status: p.querySelector(".nn-live-status")?.textContent,
            })));
          const running = states[0].backend;
          if (running !== backend) {
            console.log(`live panels: ${backend} did not start in this Chromium (ran ${running})`);
            await page.close();
            return;
          }
          for (const s of states) {
            assert.equal(s.state, "ready", `${s.model}: ${s.status}`);
            assert.equal(s.backend, backend);
          }
          const record: Record<string, unknown> = {
            backend,
            runsOn: await page.locator(".nn-live-backend-text").first().textContent(),
            firstPredictionMs: Object.fromEntries(states.map((s) => [s.model, s.firstMs])),
            pageLoadedMs: Math.round(loadedMs),
            maxAbsDiff: {} as Record<string, number>,
          };
          const diffs = record.maxAbsDiff as Record<string, number>;
          const panel = (name: string) => page.locator(`.nn-live[data-model="live/${name}"]`);
          const result = async (name: string, done: (r: Panel) => boolean) => {
            const deadline = Date.now() + 120_000;
            while (Date.now() < deadline) {
              const [state, json] = await panel(name).evaluate((
                p,
              ) => [(p as HTMLElement).dataset.state, (p as HTMLElement).dataset.result]);
              if (state === "error") {
                throw new Error(
                  `${name}: ${await panel(name).locator(".nn-live-status").textContent()}`,
                );
              }
              if (state === "ready" && json) {
                const r = JSON.parse(json) as Panel;
                if (done(r)) return r;
              }
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
            throw new Error(`${name}: no result after 120 s`);
          };
          const shot = (name: string) =>
            panel(name).screenshot({ path: join(screenshots, `${backend}-${name}.png`) });

          await t.step("sentiment: a typed sentence", async () => {
            const text = "The staff was great but the food was bad";
            await panel("sentiment-cnn").locator("input.nn-live-input").fill(text);
            const r = await result("sentiment-cnn", (r) => r.input === text) as Panel & {
              probabilities: number[];
              contributions: number[];
            };
            const d = await predictSentiment(
              net("sentiment-cnn")[0],
              meta.get("sentiment-cnn")!.demo as never,
              text,
              output("sentiment-cnn"),
            );
            assert.deepEqual(r.words, d.words);
            assert.deepEqual(r.ids, d.ids);
            diffs.sentiment = Math.max(
              maxDiff(r.probabilities, d.probabilities),
              maxDiff(r.contributions, d.contributions),
            );
            await shot("sentiment-cnn");
          });

          await t.step("seq2seq: a typed date, beam search", async () => {
            const text = "July 4, 1976";
            const p = panel("dates");
            await p.locator("select.nn-live-method").selectOption({ index: 1 });
            await p.locator("input.nn-live-input").fill(text);
            const r = await result("dates", (r) => r.input === text && r.beamWidth > 1) as
              & Panel
              & TranslateResult;
            const seqMeta = meta.get("dates")!.demo as never;
            const parts = nn.seq2seqParts(net("dates")[0]);
            const d = await translate(parts, seqMeta, text, { beamWidth: 3 });
            if (JSON.stringify(r.tokens) === JSON.stringify(d.tokens)) {
              diffs.seq2seq = Math.max(
                maxDiff(r.probs, d.probs),
                maxDiff(r.attention, d.attention),
                Math.abs(r.logProb! - d.logProb!),
              );
            } else {
              // a near tie between hypotheses resolved the other way: the browser's choice
              // must score as well as Deno's, by Deno's own numbers
              const g = await translate(parts, seqMeta, text, { beamWidth: 1 });
              assert.ok(
                Math.abs(r.logProb! - d.logProb!) < 1e-3,
                `beam outputs differ: ${r.output} (${r.logProb}) vs ${d.output} (${d.logProb})`,
              );
              diffs.seq2seq = Math.abs(r.logProb! - d.logProb!);
              console.log(`seq2seq near tie: ${r.output} vs ${d.output}; greedy ${g.output}`);
            }
            assert.equal(r.attention.length, 10);
            for (const row of r.attention) {
              assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-3, "weights sum to 1");
            }
            await shot("dates");
          });

          await t.step("generate: prompt, temperature, seed", async () => {
            const p = panel("chars");
            const prompt = "I would ";
            await p.locator("input.nn-live-input").fill(prompt);
            await p.locator('input[aria-label="seed"]').fill("3");
            await p.locator('input[aria-label="temperature"]').fill("0.7");
            await p.locator("button.nn-live-sample").click();
            const r = await result(
              "chars",
              (r) =>
                r.prompt === "I would " && r.seed === 3 && Math.abs(r.temperature - 0.7) < 1e-9,
            ) as Panel & { results: { text: string; firstProbs: number[] }[] };
            let worst = 0;
            for (const [i, model] of net("chars").entries()) {
              const d = await sampleChars(model, meta.get("chars")!.demo as never, {
                prompt,
                length: 30,
                temperature: 0.7,
                seed: 3,
              });
              assert.equal(r.results[i].text, d.text, "the same seed samples the same text");
              worst = Math.max(worst, maxDiff(r.results[i].firstProbs, d.firstProbs));
            }
            diffs.generate = worst;
            await shot("chars");
          });

          await t.step("digits: a 0 drawn with the mouse", async () => {
            const canvas = panel("digits").locator("canvas.nn-live-canvas");
            await canvas.scrollIntoViewIfNeeded();
            const box = (await canvas.boundingBox())!;
            await panel("digits").getByRole("button", { name: "Clear" }).click();
            await result("digits", (r) => r.pixels.every((v: number) => v === 0));
            const runs = Number(await panel("digits").getAttribute("data-runs"));
            await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
            await page.mouse.down();
            for (let a = 0; a <= 2 * Math.PI + 0.2; a += 0.25) {
              await page.mouse.move(
                box.x + box.width * (0.5 + 0.22 * Math.sin(a)),
                box.y + box.height * (0.5 - 0.3 * Math.cos(a)),
              );
            }
            await page.mouse.up();
            const r = await result("digits", () => true);
            await page.waitForFunction(
              (n) =>
                Number(
                  document.querySelector<HTMLElement>('.nn-live[data-model="live/digits"]')!.dataset
                    .runs,
                ) > n,
              runs,
            );
            const last = JSON.parse(
              (await panel("digits").getAttribute("data-result"))!,
            ) as { pixels: number[]; probabilities: number[][] };
            assert.ok(r);
            assert.ok(
              last.pixels.filter((v) => v > 0.5).length > 30,
              "the drawing reached the model",
            );
            const d = await classifyDigit(
              net("digits").map((model, i) => ({ model, output: output("digits", i) })),
              last.pixels,
            );
            diffs.digits = maxDiff(last.probabilities, d);
            await shot("digits");
          });

          const tolerance = backend === "webgl" ? 2e-3 : 1e-4;
          for (const [demo, diff] of Object.entries(diffs)) {
            assert.ok(
              diff <= tolerance,
              `${backend} ${demo}: max |browser − Deno| ${diff} > ${tolerance}`,
            );
          }
          const violations = await page.evaluate(() =>
            (globalThis as unknown as { __cspViolations: string[] }).__cspViolations
          );
          assert.deepEqual(violations, [], "no Content-Security-Policy violation");
          await page.screenshot({ path: join(screenshots, `${backend}-page.png`), fullPage: true });
          await page.close();
          assert.deepEqual(errors, [], `${backend}: console errors`);
          summary.push(record);
        });
      }

      await t.step("a missing model script: a clear message, the other panels run", async () => {
        await Deno.remove(join(site, "live/models/live.digits.js"));
        const page = await context!.newPage();
        await page.goto(`file://${join(site, "live.html")}?backend=wasm`);
        await page.waitForFunction(
          () =>
            [...document.querySelectorAll<HTMLElement>(".nn-live[data-model]")].every((p) =>
              p.dataset.state === "ready" || p.dataset.state === "error"
            ),
          null,
          { timeout: 120_000 },
        );
        const digits = page.locator('.nn-live[data-model="live/digits"]');
        assert.equal(await digits.getAttribute("data-state"), "error");
        assert.match(
          (await digits.locator(".nn-live-status").textContent())!,
          /live\/models\/live\.digits\.js is missing beside this page/,
        );
        const ready = await page.locator('.nn-live[data-state="ready"]').count();
        assert.equal(ready, 3);
        await digits.screenshot({ path: join(screenshots, "missing-model.png") });
        await page.close();
      });
      assert.deepEqual(requests, [], "no request left the machine");
    } finally {
      await context?.close();
      await Deno.writeTextFile(join(screenshots, "summary.json"), JSON.stringify(summary, null, 1))
        .catch(() => {});
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      tf.disposeVariables();
    }
  },
});
