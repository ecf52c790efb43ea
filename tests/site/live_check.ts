/// <reference lib="dom" />
/**
 * Driving one live panel in Chromium and checking it against Deno: what `live_test.ts` does
 * for every panel of its fixture page on each backend, and `live_measure.ts` for a built
 * site's real models. Each demo gets an input the way a reader gives it (typing, choosing
 * beam search, setting a prompt, temperature and seed, drawing with the mouse); the panel's
 * result (`data-result`) is compared with the same demo function run in Deno on the same
 * input, and the largest absolute difference is returned.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import * as nn from "nn";
import * as tf from "@tensorflow/tfjs";
import { classifyDigit, predictSentiment, sampleChars, translate } from "nn/live/demos.ts";
import type { LiveMeta, OutputKind } from "nn/live/format.ts";

/** Chromium's switches for WebGPU on SwiftShader's adapter and WebGL on SwiftShader's GL. */
export const CHROMIUM_ARGS = [
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
];

/** Largest |a − b| over two equally shaped nested arrays of numbers. */
export function maxDiff(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b);
  assert.ok(Array.isArray(a) && Array.isArray(b), "arrays to compare");
  assert.equal(a.length, b.length, "same lengths");
  return a.reduce((m: number, v, i) => Math.max(m, maxDiff(v, b[i])), 0);
}

/** A panel's state after loading. */
export interface PanelState {
  model: string;
  state: string;
  backend: string;
  firstMs: number;
  status: string;
}

/** Waits until every panel of the page is ready or broken; returns their states. */
export async function panelStates(page: Page, timeoutMs = 240_000): Promise<PanelState[]> {
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll<HTMLElement>(".nn-live[data-model]")].every((p) =>
        p.dataset.state === "ready" || p.dataset.state === "error"
      ),
    null,
    { timeout: timeoutMs, polling: 250 },
  );
  return await page.$$eval(".nn-live[data-model]", (ps) =>
    ps.map((p) => ({
      model: (p as HTMLElement).dataset.model ?? "",
      state: (p as HTMLElement).dataset.state ?? "",
      backend: (p as HTMLElement).dataset.backend ?? "",
      firstMs: Number((p as HTMLElement).dataset.firstMs),
      status: p.querySelector(".nn-live-status")?.textContent ?? "",
    })));
}

// deno-lint-ignore no-explicit-any
type Result = Record<string, any>;

/** What {@linkcode exercisePanel} measured. */
export interface PanelCheck {
  /** The demo. */
  demo: string;
  /** The input given. */
  input: string;
  /** Largest |browser − Deno| over the panel's numbers. */
  maxAbsDiff: number;
  /** What the panel showed (output text, predicted classes, sampled text). */
  shown: unknown;
}

/**
 * Gives the panel `key` its demo's input, waits for its result and compares it with Deno's
 * (`networks`: the same models in Deno, in `meta.networks` order). Takes a screenshot of the
 * panel to `screenshot` when given.
 */
export async function exercisePanel(
  page: Page,
  key: string,
  meta: LiveMeta,
  networks: tf.LayersModel[],
  screenshot?: string,
): Promise<PanelCheck> {
  const panel = page.locator(`.nn-live[data-model="${key}"]`);
  const result = async (done: (r: Result) => boolean, timeoutMs = 180_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const [state, json] = await panel.evaluate((p) => [
        (p as HTMLElement).dataset.state,
        (p as HTMLElement).dataset.result,
      ]);
      if (state === "error") {
        throw new Error(`${key}: ${await panel.locator(".nn-live-status").textContent()}`);
      }
      if (state === "ready" && json) {
        const r = JSON.parse(json) as Result;
        if (done(r)) return r;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${key}: no result after ${timeoutMs / 1000} s`);
  };
  const output = (i = 0) => meta.networks[i].output as OutputKind;
  const demo = meta.demo;
  let check: PanelCheck;
  switch (demo.demo) {
    case "sentiment": {
      const text = "The staff was great but the food was bad";
      await panel.locator("input.nn-live-input").fill(text);
      const r = await result((r) => r.input === text);
      const d = await predictSentiment(networks[0], demo, text, output());
      assert.deepEqual(r.words, d.words);
      assert.deepEqual(r.ids, d.ids);
      check = {
        demo: demo.demo,
        input: text,
        maxAbsDiff: Math.max(
          maxDiff(r.probabilities, d.probabilities),
          maxDiff(r.contributions, d.contributions),
        ),
        shown: { probability: r.probability },
      };
      break;
    }
    case "seq2seq": {
      const text = "July 4, 1976";
      await panel.locator("select.nn-live-method").selectOption({ index: 1 });
      await panel.locator("input.nn-live-input").fill(text);
      const r = await result((r) => r.input === text && r.beamWidth > 1);
      const parts = nn.seq2seqParts(networks[0]);
      const d = await translate(parts, demo, text, { beamWidth: demo.beamWidth });
      let diff: number;
      if (JSON.stringify(r.tokens) === JSON.stringify(d.tokens)) {
        diff = Math.max(
          maxDiff(r.probs, d.probs),
          maxDiff(r.attention, d.attention),
          Math.abs(r.logProb - d.logProb!),
        );
      } else {
        // two hypotheses within float noise of each other, resolved the other way: the
        // browser's choice must score as well as Deno's, by Deno's own numbers
        assert.ok(
          Math.abs(r.logProb - d.logProb!) < 1e-3,
          `beam outputs differ: ${r.output} (${r.logProb}) vs ${d.output} (${d.logProb})`,
        );
        diff = Math.abs(r.logProb - d.logProb!);
      }
      for (const row of r.attention as number[][]) {
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-3, "weights sum to 1");
      }
      check = { demo: demo.demo, input: text, maxAbsDiff: diff, shown: r.output };
      break;
    }
    case "generate": {
      const alphabet = new Set(demo.inputs.chars);
      const prompt = [..."I would "].every((c) => alphabet.has(c)) ? "I would " : demo.prompt;
      await panel.locator("input.nn-live-input").fill(prompt);
      await panel.locator('input[aria-label="seed"]').fill("3");
      await panel.locator('input[aria-label="temperature"]').fill("0.7");
      await panel.locator("button.nn-live-sample").click();
      const r = await result((r) =>
        r.prompt === prompt && r.seed === 3 && Math.abs(r.temperature - 0.7) < 1e-9
      );
      let worst = 0;
      for (const [i, model] of networks.entries()) {
        const d = await sampleChars(model, demo, {
          prompt,
          length: demo.length,
          temperature: 0.7,
          seed: 3,
        });
        assert.equal(r.results[i].text, d.text, "the same seed samples the same text");
        worst = Math.max(worst, maxDiff(r.results[i].firstProbs, d.firstProbs));
      }
      check = {
        demo: demo.demo,
        input: `${prompt} (temperature 0.7, seed 3)`,
        maxAbsDiff: worst,
        shown: r.results.map((x: Result) => x.text),
      };
      break;
    }
    case "digits": {
      await panel.getByRole("button", { name: "Clear" }).click();
      await result((r) => r.pixels.every((v: number) => v === 0));
      const runs = Number(await panel.getAttribute("data-runs"));
      const canvas = panel.locator("canvas.nn-live-canvas");
      await canvas.scrollIntoViewIfNeeded();
      const box = (await canvas.boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
      await page.mouse.down();
      for (let a = 0; a <= 2 * Math.PI + 0.2; a += 0.25) {
        await page.mouse.move(
          box.x + box.width * (0.5 + 0.22 * Math.sin(a)),
          box.y + box.height * (0.5 - 0.3 * Math.cos(a)),
        );
      }
      await page.mouse.up();
      await result(() => true);
      await page.waitForFunction(
        ([sel, n]) =>
          Number(document.querySelector<HTMLElement>(sel as string)!.dataset.runs) > (n as number),
        [`.nn-live[data-model="${key}"]`, runs] as const,
      );
      const r = JSON.parse((await panel.getAttribute("data-result"))!) as Result;
      assert.ok(
        (r.pixels as number[]).filter((v) => v > 0.5).length > 30,
        "the drawing reached the model",
      );
      const d = await classifyDigit(
        networks.map((model, i) => ({ model, output: output(i) })),
        r.pixels,
      );
      check = {
        demo: demo.demo,
        input: "a 0 drawn with the mouse",
        maxAbsDiff: maxDiff(r.probabilities, d),
        shown: r.predicted,
      };
      break;
    }
  }
  if (screenshot) await panel.screenshot({ path: screenshot });
  return check;
}
