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
import type { LiveMeta } from "nn/live/format.ts";
import { publishFixtures, trainFixtureModels } from "./live_fixtures.ts";
import { CHROMIUM_ARGS, exercisePanel, panelStates } from "./live_check.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const available = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
if (!available) {
  console.log(`live panel test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}
const BACKENDS = (Deno.env.get("NN_LIVE_BACKENDS") ?? "webgpu,webgl,wasm").split(",");
const screenshots = new URL("../../out/live-screenshots/", import.meta.url).pathname;

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

      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        offline: true,
        viewport: { width: 1100, height: 900 },
        args: CHROMIUM_ARGS,
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
          const states = await panelStates(page);
          const loadedMs = performance.now() - started;
          if (states[0].backend !== backend) {
            console.log(
              `live panels: ${backend} did not start in this Chromium (ran ${states[0].backend})`,
            );
            await page.close();
            return;
          }
          for (const s of states) {
            assert.equal(s.state, "ready", `${s.model}: ${s.status}`);
            assert.equal(s.backend, backend);
          }
          const diffs: Record<string, number> = {};
          summary.push({
            backend,
            runsOn: await page.locator(".nn-live-backend-text").first().textContent(),
            firstPredictionMs: Object.fromEntries(states.map((s) => [s.model, s.firstMs])),
            pageLoadedMs: Math.round(loadedMs),
            maxAbsDiff: diffs,
          });
          for (const m of models) {
            await t.step(`${meta.get(m.name)!.demo.demo}: ${m.name}`, async () => {
              const check = await exercisePanel(
                page,
                `live/${m.name}`,
                meta.get(m.name)!,
                m.networks,
                join(screenshots, `${backend}-${m.name}.png`),
              );
              diffs[check.demo] = check.maxAbsDiff;
            });
          }
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
        });
      }

      await t.step("a missing model script: a clear message, the other panels run", async () => {
        await Deno.remove(join(site, "live/models/live.digits.js"));
        const page = await context!.newPage();
        await page.goto(`file://${join(site, "live.html")}?backend=wasm`);
        const states = await panelStates(page, 120_000);
        const digits = states.find((s) => s.model === "live/digits")!;
        assert.equal(digits.state, "error");
        assert.match(digits.status, /live\/models\/live\.digits\.js is missing beside this page/);
        assert.equal(states.filter((s) => s.state === "ready").length, 3);
        await page.locator('.nn-live[data-model="live/digits"]').screenshot({
          path: join(screenshots, "missing-model.png"),
        });
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
