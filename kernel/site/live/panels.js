// The live panels of a Neural Notebooks page: each `.nn-live` element is a model published by
// the notebook (`nn.publishModel`); this script loads its weights from the script file named in
// `data-src` (no fetch, so `file://` works), starts a tfjs backend in the reader's browser and
// runs the demo. Bundled with `lib/live/browser.ts` into `live/nn-live.js` by `deno task build`.
//
// For tests and curious readers, each panel keeps its state in data attributes: `data-state`
// (loading, ready, busy, error), `data-runs` (predictions so far), `data-result` (the last
// result as JSON), `data-backend` and `data-first-ms` (milliseconds from the page's start to
// its first prediction).
import {
  classifyDigit,
  digitPixels,
  loadScriptNetworks,
  predictSentiment,
  sampleChars,
  seq2seqParts,
  startBackend,
  translate,
} from "../../../lib/live/browser.ts";

const script = document.currentScript;
const liveBase = script && script.src ? new URL(".", script.src) : new URL("live/", location.href);

/** Runs a script file once; resolves when it ran, rejects when it cannot be loaded. */
function loadScript(url) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = url;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.appendChild(s);
  });
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

const params = new URLSearchParams(location.search);
let backendPromise;
function backend() {
  backendPromise ??= startBackend({
    asked: params.get("backend"),
    loadScript: (file) => loadScript(new URL(file, liveBase).href),
  });
  return backendPromise;
}

function backendText(b) {
  const where = b.backend === "webgpu"
    ? ` (${b.adapter}${b.fallback ? ", software fallback adapter" : ""})`
    : b.backend === "wasm"
    ? ` (${b.wasmBinary})`
    : "";
  return `runs in your browser on tfjs's ${b.backend} backend${where}: ${b.reason}`;
}

function backendChooser(current) {
  const select = el("select", { "aria-label": "backend", class: "nn-live-backend-choice" });
  for (const name of ["auto", "webgpu", "webgl", "wasm", "cpu"]) {
    const o = el("option", { value: name, text: name === "auto" ? "auto" : name });
    if ((params.get("backend") ?? "auto") === name) o.selected = true;
    select.append(o);
  }
  select.addEventListener("change", () => {
    const p = new URLSearchParams(location.search);
    if (select.value === "auto") p.delete("backend");
    else p.set("backend", select.value);
    const query = p.toString();
    location.search = query ? `?${query}` : "";
  });
  select.title = `running: ${current}`;
  return select;
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

const percent = (p) => `${(100 * p).toFixed(1)} %`;

/** Runs `task` for a panel, one at a time; records the result and the first prediction's time. */
function runner(panel, status) {
  let runs = 0;
  let queued = null;
  let running = false;
  async function go(task) {
    if (running) {
      queued = task;
      return;
    }
    running = true;
    panel.dataset.state = "busy";
    try {
      const result = await task();
      runs += 1;
      if (runs === 1) panel.dataset.firstMs = String(Math.round(performance.now()));
      panel.dataset.result = JSON.stringify(result);
      panel.dataset.runs = String(runs);
      panel.dataset.state = "ready";
      status.textContent = "";
    } catch (error) {
      panel.dataset.state = "error";
      status.textContent = `${error?.message ?? error}`;
    } finally {
      running = false;
      if (queued) {
        const next = queued;
        queued = null;
        go(next);
      }
    }
  }
  return go;
}

function sentimentPanel(body, meta, [net], go) {
  const input = el("input", {
    type: "text",
    class: "nn-live-input",
    "aria-label": "sentence",
    value: meta.examples[0] ?? "",
  });
  const probability = el("div", { class: "nn-live-probability" });
  const words = el("p", { class: "nn-live-words" });
  const examples = el("div", { class: "nn-live-examples" });
  for (const text of meta.examples.slice(0, 4)) {
    const b = el("button", { type: "button", text });
    b.addEventListener("click", () => {
      input.value = text;
      run();
    });
    examples.append(b);
  }
  const label = meta.demo.labels[meta.demo.positive];
  const run = () => {
    const text = input.value;
    go(async () => {
      const r = await predictSentiment(net.model, meta.demo, text, net.output);
      probability.replaceChildren(
        el("span", { text: `P(${label}) = ${percent(r.probability)}` }),
        el(
          "span",
          { class: "nn-live-bar" },
          el("span", { style: `width:${100 * r.probability}%` }),
        ),
      );
      const scale = Math.max(1e-6, ...r.contributions.map(Math.abs));
      words.replaceChildren(...r.words.flatMap((w, i) => {
        const c = r.contributions[i];
        const a = Math.min(1, Math.abs(c) / scale) * 0.6;
        const color = c >= 0 ? `rgba(26,127,55,${a})` : `rgba(207,34,46,${a})`;
        const span = el("span", {
          class: `nn-live-word${r.known[i] ? "" : " unknown"}${r.seen[i] ? "" : " unseen"}`,
          style: `background:${color}`,
          title: `${c >= 0 ? "+" : ""}${(100 * c).toFixed(2)} points of P(${label})` +
            (r.known[i] ? "" : " (not in the vocabulary: read as <oov>)"),
          text: w,
        });
        return [span, " "];
      }));
      return { input: text, ...r };
    });
  };
  input.addEventListener("input", debounce(run, 200));
  body.append(
    el("label", {}, el("span", { text: "Sentence: " }), input),
    examples,
    probability,
    words,
    el("p", {
      class: "nn-live-hint",
      text: `Each word is coloured by how much it moves P(${label}): green raises it, red ` +
        "lowers it (the sentence's probability minus the probability with that word left out).",
    }),
  );
  run();
}

function heatmap(target, r) {
  const Plotly = globalThis.Plotly;
  const z = r.attention.slice(0, [...r.output].length || 1);
  const x = r.source.map((c, i) => `${i + 1}:${c === " " ? "␣" : c}`);
  const y = [...r.output].map((c, i) => `${i + 1}:${c}`);
  if (!Plotly) {
    target.textContent = "plotly.min.js did not load: the cross-attention is not drawn.";
    return;
  }
  Plotly.react(target, [{ type: "heatmap", z, x, y, colorscale: "Viridis", zmin: 0 }], {
    title: { text: "Cross-attention, last decoder block, mean of heads" },
    height: 320,
    margin: { l: 60, r: 10, t: 40, b: 60 },
    xaxis: { title: { text: "input character (read)" } },
    yaxis: { title: { text: "output character (written)" }, autorange: "reversed" },
  }, { displaylogo: false, responsive: true });
}

function seq2seqPanel(body, meta, [net], go) {
  const parts = seq2seqParts(net.model);
  const input = el("input", {
    type: "text",
    class: "nn-live-input",
    "aria-label": "input",
    maxlength: String(meta.demo.inputs.source.length),
    value: meta.examples[0] ?? "",
  });
  const method = el("select", { "aria-label": "decoding", class: "nn-live-method" });
  method.append(
    el("option", { value: "1", text: "greedy" }),
    el("option", { value: String(meta.demo.beamWidth), text: `beam (${meta.demo.beamWidth})` }),
  );
  const output = el("output", { class: "nn-live-output" });
  const plot = el("div", { class: "nn-live-heatmap" });
  const examples = el("div", { class: "nn-live-examples" });
  for (const text of meta.examples.slice(0, 5)) {
    const b = el("button", { type: "button", text });
    b.addEventListener("click", () => {
      input.value = text;
      run();
    });
    examples.append(b);
  }
  const run = () => {
    const text = input.value;
    const beamWidth = Number(method.value);
    go(async () => {
      const r = await translate(parts, meta.demo, text, { beamWidth });
      output.textContent = r.output;
      heatmap(plot, r);
      return { input: text, beamWidth, ...r };
    });
  };
  input.addEventListener("input", debounce(run, 200));
  method.addEventListener("change", run);
  body.append(
    el("label", {}, el("span", { text: "Input: " }), input),
    el("label", {}, el("span", { text: " decoding: " }), method),
    examples,
    el("p", {}, el("span", { text: "Output: " }), output),
    plot,
  );
  run();
}

function generatePanel(body, meta, nets, go) {
  const d = meta.demo;
  const prompt = el("input", {
    type: "text",
    class: "nn-live-input",
    "aria-label": "prompt",
    value: d.prompt,
  });
  const temperature = el("input", {
    type: "range",
    min: "0.1",
    max: "2",
    step: "0.1",
    value: String(d.temperature),
    "aria-label": "temperature",
  });
  const tValue = el("output", { text: String(d.temperature) });
  const seed = el("input", { type: "number", value: "0", min: "0", "aria-label": "seed" });
  const button = el("button", { type: "button", class: "nn-live-sample", text: "Sample" });
  const outs = nets.map((n) => el("pre", { class: "nn-live-text", "data-network": n.label }));
  const grid = el(
    "div",
    { class: "nn-live-columns" },
    ...nets.map((n, i) => el("div", {}, el("strong", { text: n.label }), outs[i])),
  );
  const run = () => {
    const options = {
      prompt: prompt.value,
      length: d.length,
      temperature: Number(temperature.value),
      seed: Number(seed.value) || 0,
    };
    go(async () => {
      const results = [];
      for (const [i, n] of nets.entries()) {
        const r = await sampleChars(n.model, d, {
          ...options,
          onProgress: (sampled) =>
            outs[i].replaceChildren(el("b", { text: options.prompt }), sampled),
        });
        outs[i].replaceChildren(el("b", { text: options.prompt }), r.sampled);
        results.push({ network: n.label, ...r });
      }
      return { ...options, results };
    });
  };
  temperature.addEventListener("input", () => (tValue.textContent = temperature.value));
  temperature.addEventListener("change", run);
  button.addEventListener("click", run);
  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter") run();
  });
  body.append(
    el("label", {}, el("span", { text: "Prompt: " }), prompt),
    el("label", {}, el("span", { text: " temperature " }), temperature, tValue),
    el("label", {}, el("span", { text: " seed " }), seed),
    button,
    grid,
  );
  run();
}

function digitsPanel(body, meta, nets, go) {
  const size = 280;
  const canvas = el("canvas", {
    width: String(size),
    height: String(size),
    class: "nn-live-canvas",
    "aria-label": "draw a digit here",
  });
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const preview = el("canvas", { width: "28", height: "28", class: "nn-live-preview" });
  const clear = el("button", { type: "button", text: "Clear" });
  const bars = nets.map(() => el("div", { class: "nn-live-bars" }));
  const grid = el(
    "div",
    { class: "nn-live-columns" },
    ...nets.map((n, i) => el("div", {}, el("strong", { text: n.label }), bars[i])),
  );
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = size / 13;
  ctx.strokeStyle = "#000";
  const run = () => {
    const image = ctx.getImageData(0, 0, size, size).data;
    const ink = new Float32Array(size * size);
    for (let i = 0; i < ink.length; i++) ink[i] = image[4 * i + 3] / 255;
    go(async () => {
      const { width, height, flatten } = meta.demo.inputs;
      const pixels = digitPixels(ink, size, size, { size: width });
      const p = preview.getContext("2d");
      const img = p.createImageData(28, 28);
      for (let i = 0; i < 784; i++) {
        img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = 255 * (1 - pixels[i]);
        img.data[4 * i + 3] = 255;
      }
      p.putImageData(img, 0, 0);
      const probs = await classifyDigit(nets, pixels, { flatten, width, height });
      probs.forEach((row, k) => {
        const best = row.indexOf(Math.max(...row));
        bars[k].replaceChildren(...row.map((v, c) =>
          el(
            "div",
            { class: `nn-live-barrow${c === best ? " best" : ""}` },
            el("span", { text: meta.demo.labels[c] }),
            el("span", { class: "nn-live-bar" }, el("span", { style: `width:${100 * v}%` })),
            el("span", { text: percent(v) }),
          )
        ));
      });
      return {
        pixels: Array.from(pixels),
        probabilities: probs,
        predicted: probs.map((row) => row.indexOf(Math.max(...row))),
      };
    });
  };
  let drawing = false;
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture?.(e.pointerId);
    ctx.beginPath();
    ctx.moveTo(...point(e));
    ctx.lineTo(...point(e));
    ctx.stroke();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    ctx.lineTo(...point(e));
    ctx.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    run();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointerleave", end);
  clear.addEventListener("click", () => {
    ctx.clearRect(0, 0, size, size);
    run();
  });
  // a first digit, so that the reader sees the panel work: a 7
  ctx.beginPath();
  ctx.moveTo(size * 0.3, size * 0.25);
  ctx.lineTo(size * 0.7, size * 0.25);
  ctx.lineTo(size * 0.45, size * 0.8);
  ctx.stroke();
  body.append(
    el(
      "div",
      { class: "nn-live-draw" },
      canvas,
      el("div", {}, el("p", { text: "as the network sees it:" }), preview, el("p", {}, clear)),
    ),
    grid,
  );
  run();
}

const PANELS = {
  sentiment: sentimentPanel,
  seq2seq: seq2seqPanel,
  generate: generatePanel,
  digits: digitsPanel,
};

async function start(panel) {
  const status = panel.querySelector(".nn-live-status") ?? el("p", { class: "nn-live-status" });
  const body = el("div", { class: "nn-live-body" });
  const facts = panel.querySelector(".nn-live-backend") ?? el("p", { class: "nn-live-backend" });
  panel.append(facts, body, status);
  panel.dataset.state = "loading";
  status.textContent = "Loading the model…";
  try {
    const src = panel.dataset.src;
    const key = panel.dataset.model;
    if (!src || !key) throw new Error("this panel names no model file");
    try {
      await loadScript(src);
    } catch {
      throw new Error(
        `The model file ${src} is missing beside this page, so this panel cannot run. ` +
          "Rebuild the site with `deno task build` (it copies every published model), and " +
          "publish the whole site folder.",
      );
    }
    const entry = globalThis.nnLiveModels?.[key];
    if (!entry) throw new Error(`${src} does not hold the model "${key}": rebuild the site.`);
    const b = await backend();
    panel.dataset.backend = b.backend;
    facts.replaceChildren(
      el("span", { class: "nn-live-backend-text", text: backendText(b) }),
      " ",
      backendChooser(b.backend),
    );
    const models = await loadScriptNetworks(entry);
    const nets = entry.meta.networks.map((n, i) => ({ ...n, model: models[i] }));
    const make = PANELS[entry.meta.demo.demo];
    if (!make) throw new Error(`unknown demo "${entry.meta.demo.demo}"`);
    status.textContent = "";
    make(body, entry.meta, nets, runner(panel, status));
  } catch (error) {
    panel.dataset.state = "error";
    panel.classList.add("nn-live-broken");
    status.textContent = `${error?.message ?? error}`;
  }
}

function init() {
  for (const panel of document.querySelectorAll(".nn-live[data-model]")) start(panel);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
