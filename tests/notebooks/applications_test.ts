/**
 * The applications notebook (06) runs headless in the smoke profile through the project's
 * runner with every claim holding (see ./smoke.ts), and keeps its models, training and
 * update rules in its own cells.
 */
import assert from "node:assert/strict";
import { runSmoke } from "./smoke.ts";

// Smoke-profile claims. Four check weaker statements than the full profile's and carry their
// own ids: the full profile states residual-cnn-beats-mlp (paired z ≥ 2),
// spoken-digits-held-out-voices (≥ 0.5), cartpole-far-above-random (≥ 100 steps) and its
// sparse-vs-dense finding (pruned-explanations-more-concentrated, paired z ≥ 2).
const EXPECTED_CLAIMS = [
  "image-models-comparable-size",
  "residual-cnn-within-5-points-of-mlp",
  "spoken-digits-above-chance",
  "cartpole-above-random",
  "integrated-gradients-complete",
  "pruned-explanations-not-less-concentrated",
];

Deno.test("06 builds and trains its models, and writes REINFORCE, in its own cells", async () => {
  const nb = JSON.parse(
    await Deno.readTextFile(new URL("../../notebooks/06_applications.ipynb", import.meta.url)),
  ) as { cells: Array<{ cell_type: string; id: string; source: string[] }> };
  const code = nb.cells.filter((c) => c.cell_type === "code")
    .map((c) => ({ id: c.id, text: c.source.join("") }));
  const cell = (id: string) => code.find((c) => c.id === id)!.text;
  assert.match(cell("images-models"), /nn\.mlp\([\s\S]*nn\.imageCnn\([\s\S]*nn\.residualCnn\(/);
  assert.match(cell("images-train-fn"), /async function trainImageModel\([\s\S]*nn\.train\(/);
  assert.match(cell("sound-model"), /nn\.imageCnn\([\s\S]*nn\.train\(/);
  // the policy-gradient update with its baseline is a cell, not a library call
  assert.match(cell("control-train"), /returnsToGo[\s\S]*minimize\([\s\S]*logSoftmax/);
  assert.match(cell("attrib-images"), /nn\.integratedGradients\([\s\S]*nn\.gradientTimesInput\(/);
  assert.match(cell("sparse-train"), /MagnitudePruner[\s\S]*onBatchEnd/);
  for (const lib of ["applications.ts"]) {
    const text = await Deno.readTextFile(new URL(`../../lib/experiments/${lib}`, import.meta.url));
    assert.doesNotMatch(text, /\btrain\(|\.compile\(|\.fit\(|minimize\(/);
  }
  const markdown = nb.cells.filter((c) => c.cell_type === "markdown").map((c) => c.source.join(""));
  assert.ok(markdown.join("\n").split("$$").length - 1 >= 2 * 5, "at least five display equations");
  for (
    const term of [
      "卷积神经网络",
      "残差网络",
      "声谱图",
      "强化学习",
      "策略梯度",
      "可解释性",
      "积分梯度",
    ]
  ) {
    assert.ok(markdown.some((m) => m.includes(term)), term);
  }
  assert.ok(markdown.some((m) => m.startsWith("## About the claims")));
  const last = nb.cells.at(-1)!;
  assert.equal(last.cell_type, "code");
  assert.match(last.source.join(""), /What this run showed[\s\S]*nn\.publish\(/);
});

Deno.test("06_applications runs in the smoke profile with every claim holding", async () => {
  // 11 charts (pictures, accuracy, filters, feature maps, spectrograms, confusion, CartPole,
  // image attributions, word attributions, dense/pruned attributions, histogram) and 6 live
  // training displays (three image models, the spectrogram CNN, the text CNN, the dense LeNet)
  const nb = await runSmoke("06_applications.ipynb", {
    claims: EXPECTED_CLAIMS,
    minCharts: 17,
    // on the software adapter: the spectrogram CNN for 2 epochs (0.905 on held-out voices on
    // wasm at seed 0), the text CNN for 1; the images and CartPole stay at the smoke sizes, which
    // their smoke claims need (300 pictures for 1 epoch and 4 updates failed both)
    webgpuSizes: { sound: { epochs: 2 }, attribution: { textEpochs: 1 } },
  });
  const html = nb.cells.flatMap((c) => c.outputs ?? []).map((o) =>
    String((o as { data?: Record<string, unknown> }).data?.["text/html"] ?? "")
  );
  assert.ok(
    html.some((h) => h.includes("Integrated gradients of the") && h.includes("<span")),
    "word attributions",
  );
});
