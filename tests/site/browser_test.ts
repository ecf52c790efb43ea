/**
 * The built site in a real browser: Debian's Chromium, driven by playwright-core, opens
 * every page from `file://` with the network cut off, and finds as many drawn Plotly
 * charts (`.js-plotly-plot` with an SVG inside) as the notebook has chart outputs, no
 * console errors, no script of a third-party output run, and no request that is not a
 * local file. A screenshot of each page goes to out/site-screenshots/.
 *
 * Needs /usr/bin/chromium (`.ci/run` installs Debian's `chromium`); skips without it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { build, type BuiltNotebook, type RunRequest } from "../../kernel/site/build.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const available = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
if (!available) {
  console.log(`browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
}

const fixtures = new URL("../fixtures/site/", import.meta.url);
const screenshots = new URL("../../out/site-screenshots/", import.meta.url).pathname;

Deno.test({
  name: "browser: every page from file:// offline draws its charts, runs no foreign script",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nn-site-browser-" });
    const profile = await Deno.makeTempDir({ prefix: "nn-chromium-profile-" });
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    try {
      await Deno.mkdir(join(dir, "notebooks"));
      await Deno.copyFile(new URL("project.ipynb", fixtures), join(dir, "notebooks/project.ipynb"));
      const executed = await Deno.readTextFile(new URL("project.out.ipynb", fixtures));
      const runner = async (request: RunRequest) => {
        await Deno.writeTextFile(join(request.outDir, "project.ipynb"), executed);
        return { code: 0 };
      };
      // A sweep's report: two claims over three seeds, each drawn as a strip chart on the index.
      const values = (vs: number[], atLeast: number) =>
        vs.map((value, seed) => ({ seed, value, pass: value >= atLeast }));
      const aggregate = [
        { id: "acc-high", vs: [0.97, 0.95, 0.96], atLeast: 0.9, verdict: "robust" },
        { id: "loss-falls", vs: [0.2, 0.7, 0.3], atLeast: 0.25, verdict: "fragile" },
      ].map(({ id, vs, atLeast, verdict }) => ({
        notebook: "notebooks/project.ipynb",
        group: {},
        id,
        rule: { atLeast },
        ruleText: `≥ ${atLeast}`,
        runs: 3,
        passes: vs.filter((v) => v >= atLeast).length,
        missing: 0,
        values: values(vs, atLeast),
        stats: null,
        verdict,
      }));
      const report = join(dir, "report.json");
      await Deno.writeTextFile(report, JSON.stringify({ format: 1, aggregate }));
      const site = join(dir, "site");
      const result = await build({
        report,
        sources: [join(dir, "notebooks")],
        outDir: join(dir, "out"),
        siteDir: site,
        runner,
        untrusted: [new URL("third_party.ipynb", fixtures).pathname],
        log: () => {},
      });
      const pages: Array<{ page: string; charts: number; notebook?: BuiltNotebook }> = [
        { page: "index.html", charts: 2 },
        ...result.notebooks.map((n) => ({ page: n.page, charts: n.summary.charts, notebook: n })),
      ];
      assert.deepEqual(pages.map((p) => [p.page, p.charts]), [
        ["index.html", 2],
        ["project.html", 2],
        ["third_party.html", 1],
      ]);

      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        offline: true,
        viewport: { width: 1100, height: 900 },
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      const requests: string[] = [];
      await context.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:")) return route.continue();
        requests.push(url);
        return route.abort();
      });
      await Deno.mkdir(screenshots, { recursive: true });

      for (const { page: name, charts } of pages) {
        await t.step(name, async () => {
          const page = await context!.newPage();
          const errors: string[] = [];
          page.on("console", (m) => {
            if (m.type() === "error") errors.push(`console: ${m.text()}`);
          });
          page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
          await page.goto(`file://${join(site, name)}`, { waitUntil: "load" });
          const drawn = () =>
            page.locator(".js-plotly-plot").filter({ has: page.locator("svg") }).count();
          if (charts > 0) {
            await page.waitForFunction(
              (n) =>
                [...document.querySelectorAll(".js-plotly-plot")]
                  .filter((el) => el.querySelector("svg")).length >= n,
              charts,
              { timeout: 20_000 },
            ).catch(() => {});
          }
          assert.equal(await drawn(), charts, `${name}: charts drawn`);
          const flags = await page.evaluate(() => {
            const w = globalThis as unknown as Record<string, unknown>;
            return { pwned: w.__pwned, inline: w.__inlinePlotlyRan, plotly: typeof w.Plotly };
          });
          assert.equal(flags.pwned, undefined, `${name}: no third-party script ran`);
          assert.equal(flags.inline, undefined, `${name}: the inlined plotly.js was not copied`);
          assert.equal(
            flags.plotly,
            "object",
            `${name}: plotly.min.js loaded from beside the page`,
          );
          if (name === "index.html") {
            const points = await page.locator(".nn-aggregate .js-plotly-plot .point").count();
            assert.equal(points, 6, "every run of every claim is a point");
          }
          if (name === "third_party.html") {
            assert.ok(await page.getByText("Third-party HTML table:").isVisible());
            assert.equal(await page.locator("[onerror], [onclick], [onload], iframe").count(), 0);
          }
          if (name === "project.html") {
            assert.ok(await page.locator("#claim-acc-high").isVisible());
            assert.equal(await page.locator(".nn-error").count(), 1);
            assert.equal(await page.locator(".nn-image img, .nn-svg svg").count(), 2);
            assert.ok(await page.locator(".math .katex").count() >= 2, "math typeset by KaTeX");
            const fontLoaded = await page.evaluate(async () => {
              await document.fonts.ready;
              return [...document.fonts].some((f) =>
                f.family.includes("KaTeX_Main") && f.status === "loaded"
              );
            });
            assert.ok(fontLoaded, "KaTeX fonts load from katex/fonts beside the page");
          }
          await page.screenshot({
            path: join(screenshots, name.replace(/\.html$/, ".png")),
            fullPage: true,
          });
          await page.close();
          assert.deepEqual(errors, [], `${name}: console errors`);
        });
      }
      assert.deepEqual(requests, [], "no request left the machine");
    } finally {
      await context?.close();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
