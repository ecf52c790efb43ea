/**
 * Shared body of the notebook smoke tests: run one notebook of notebooks/ headless in the
 * smoke profile through the project's runner (`kernel/run.ts`, a real Deno kernel) and
 * check that no cell raised, exactly the expected claims were stated and all hold, they
 * carry the notebook's backend, enough charts were drawn, every `nn.show` call left its
 * chart and no cell's result is a raw object dump (display_check.ts), the smoke banner is
 * shown, the models it publishes (if any) are complete where the site build looks for them,
 * and the source is untouched.
 * The backend is the automatic choice unless NN_BACKEND says otherwise. Where bubblewrap
 * works, the default pass runs each notebook with `--sandbox`, as a reviewer runs a notebook
 * they did not write (`NN_TEST_SANDBOX=0`: without).
 *
 * `NN_TEST_BACKEND=webgpu` (the `deno task test:webgpu` pass) runs the same notebooks with
 * `-p backend=webgpu` — on a machine without a GPU, Mesa's software adapter — asserts that
 * every claim was checked on that backend, and passes the notebook's `webgpuSizes` (smaller
 * sizes for the same cells and code paths, since a software adapter is slow) as `sizes`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Notebook, readNotebook } from "../../kernel/notebook.ts";
import { extractBackend, extractClaims, extractModels } from "../../kernel/report.ts";
import { checkSandbox } from "../../kernel/sandbox.ts";
import { modelScript, modelsDirFor } from "../../kernel/site/live.ts";
import { displayProblems } from "./display_check.ts";

const root = new URL("../../", import.meta.url).pathname;

/**
 * The default pass runs every notebook as a reviewer runs one they did not write: with
 * `--sandbox` (no network, read-only file system but the output folder, no $HOME), where
 * bubblewrap works; `NN_TEST_SANDBOX=0` turns that off. The webgpu pass runs unsandboxed.
 */
const sandboxed = testBackend() === undefined && Deno.env.get("NN_TEST_SANDBOX") !== "0" &&
  await checkSandbox().then(() => true, (error) => {
    console.log(`notebooks run without --sandbox: ${(error as Error).message}`);
    return false;
  });

/** What one notebook's smoke run must show. */
export interface SmokeExpectations {
  /** Ids of the claims the smoke profile states. */
  claims: string[];
  /** Least number of Plotly chart outputs. */
  minCharts: number;
  /**
   * Which outputs count as charts: "results" (cell results only, not the live training
   * displays) or "all" (results and displays). Default "all".
   */
  chartsFrom?: "results" | "all";
  /**
   * Size overrides (the notebook's `sizes` parameter) for the webgpu pass on a software
   * adapter: the same cells and code paths, smaller.
   */
  webgpuSizes?: Record<string, unknown>;
  /** Names of the models the notebook publishes for the site's live panels (default none). */
  models?: string[];
}

/** The backend the smoke tests force (`NN_TEST_BACKEND`), or undefined for the default. */
export function testBackend(): string | undefined {
  const name = Deno.env.get("NN_TEST_BACKEND")?.trim();
  return name ? name : undefined;
}

/** Runs `notebooks/<file>` in the smoke profile, asserts the expectations, returns it executed. */
export async function runSmoke(file: string, expect: SmokeExpectations): Promise<Notebook> {
  const source = join(root, "notebooks", file);
  const before = await Deno.readTextFile(source);
  const out = await Deno.makeTempDir({ prefix: "nn-smoke-" });
  const backendName = testBackend();
  const parameters = backendName ? ["-p", `backend=${backendName}`] : [];
  if (backendName === "webgpu" && expect.webgpuSizes) {
    parameters.push("-p", `sizes=${JSON.stringify(expect.webgpuSizes)}`);
  }
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "kernel/run.ts",
        "--profile",
        "smoke",
        "--quiet",
        ...(sandboxed ? ["--sandbox"] : []),
        // llvmpipe compiles each WebGPU shader on first use: a cell may take minutes
        ...(backendName === "webgpu" ? ["--timeout", "1800"] : []),
        ...parameters,
        "--out",
        out,
        source,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `the runner failed:\n${log}${await failedClaims(out)}`);
    const nb = await readNotebook(join(out, file));
    if (sandboxed) {
      const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
      assert.equal(report.options.sandbox, true, "the notebook ran in the sandbox");
    }
    const errors = nb.cells.flatMap((c) => c.cell_type === "code" ? (c.outputs ?? []) : [])
      .filter((o) => o.output_type === "error");
    assert.deepEqual(errors, [], "no cell raised");
    assert.deepEqual(
      displayProblems(nb),
      [],
      "every nn.show call has its chart output, and no cell's result is a raw object dump",
    );
    const smokeBanner = nb.cells.flatMap((c) => c.outputs ?? []).find((o) =>
      o.data?.["application/vnd.neural-notebooks.profile+json"]
    );
    assert.ok(smokeBanner, "the smoke profile says so in a banner");
    const claims = extractClaims(nb);
    assert.deepEqual(claims.map((c) => c.id).sort(), [...expect.claims].sort());
    for (const c of claims) {
      assert.ok(c.pass, `claim ${c.id} failed: ${JSON.stringify(c.value)} ${c.ruleText ?? ""}`);
    }
    const backend = extractBackend(nb) as { backend?: string } | null;
    assert.ok(backend?.backend, "the notebook reports its backend");
    if (backendName) assert.equal(backend.backend, backendName, "the forced backend ran");
    assert.ok(claims.every((c) => c.backend === backend.backend), "claims carry the backend");
    const kinds = (expect.chartsFrom ?? "all") === "all"
      ? ["execute_result", "display_data"]
      : ["execute_result"];
    const charts = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
      kinds.includes(o.output_type) &&
      ["application/vnd.plotly.v1+json", "application/vnd.neural-notebooks.figure-note+json"]
        .some((mime) => (o as { data?: Record<string, unknown> }).data?.[mime])
    );
    assert.ok(charts.length >= expect.minCharts, `${charts.length} charts`);
    // every published model is complete where the site build looks for it
    const published = extractModels(nb).map((m) => m.name);
    assert.deepEqual(published, expect.models ?? [], "the models the notebook publishes");
    for (const name of published) {
      const stem = file.replace(/\.ipynb$/, "");
      await modelScript(`${stem}/${name}`, join(modelsDirFor(join(out, file)), name));
    }
    assert.equal(await Deno.readTextFile(source), before, "the source notebook is untouched");
    return nb;
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/** The failed claims of the report in `out`, one line each (value, rule, backend), or "". */
async function failedClaims(out: string): Promise<string> {
  try {
    const report = JSON.parse(await Deno.readTextFile(join(out, "report.json"))) as {
      notebooks: {
        claims: {
          id: string;
          value: unknown;
          ruleText?: string;
          pass: boolean;
          backend?: string;
        }[];
      }[];
    };
    const failed = report.notebooks.flatMap((n) => n.claims).filter((c) => !c.pass);
    return failed.map((c) =>
      `\nclaim ${c.id} failed: ${JSON.stringify(c.value)} (rule ${c.ruleText ?? "?"}, ${
        c.backend ?? "?"
      })`
    ).join("");
  } catch {
    return ""; // no report (the runner stopped before writing one): the log says why
  }
}
