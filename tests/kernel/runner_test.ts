/** `deno task run` end to end, as a subprocess, against the real Deno kernel. */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunReport } from "../../kernel/report.ts";
import { selectShard } from "../../kernel/run.ts";
import { joinText, type Notebook, readNotebook } from "../../kernel/notebook.ts";
import { FIXTURES, nbformatAvailable, nbformatErrors, runCli, streamText } from "./helpers.ts";

const readReport = async (dir: string): Promise<RunReport> =>
  JSON.parse(await Deno.readTextFile(join(dir, "report.json")));

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runner-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertValid(...paths: string[]): Promise<void> {
  if (nbformatAvailable) assert.equal(await nbformatErrors(...paths), "");
}

Deno.test("--help lists the flags", async () => {
  const { code, stdout } = await runCli(["--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--parameter",
      "--profile",
      "--out",
      "--timeout",
      "--allow-errors",
      "--jobs",
      "--shard",
      "--merge",
    ]
  ) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
});

Deno.test("malformed input: one clear message each, exit code 2, nothing written", async () => {
  await withTempDir(async (dir) => {
    const good = JSON.parse(await Deno.readTextFile(join(FIXTURES, "parameters.ipynb")));
    await Deno.writeTextFile(join(dir, "a_not_json.ipynb"), "{ this is not json");
    await Deno.writeTextFile(
      join(dir, "b_nbformat3.ipynb"),
      JSON.stringify({ ...good, nbformat: 3 }),
    );
    await Deno.writeTextFile(
      join(dir, "c_no_language.ipynb"),
      JSON.stringify({ ...good, metadata: { kernelspec: { name: "deno", display_name: "Deno" } } }),
    );
    await Deno.writeTextFile(
      join(dir, "d_python.ipynb"),
      JSON.stringify({
        ...good,
        metadata: { kernelspec: { name: "python3", language: "python" } },
      }),
    );
    await Deno.copyFile(join(FIXTURES, "parameters.ipynb"), join(dir, "e_good.ipynb"));
    const out = join(dir, "out");
    await Deno.mkdir(out);
    await Deno.writeTextFile(join(out, "report.json"), "earlier report");
    const { code, stderr } = await runCli(["--out", out, dir, join(dir, "f_missing.ipynb")]);
    assert.equal(code, 2);
    const errors = stderr.split("\n").filter((l) => l.startsWith("error: "));
    assert.equal(errors.length, 5, stderr);
    assert.match(errors[0], /a_not_json\.ipynb: not JSON/);
    assert.match(errors[1], /b_nbformat3\.ipynb: nbformat 3; the runner reads nbformat 4/);
    assert.match(errors[2], /c_no_language\.ipynb: the notebook names no kernel language/);
    assert.match(errors[3], /d_python\.ipynb: the notebook is written in python/);
    assert.match(errors[4], /f_missing\.ipynb: cannot read the file \(no such file\)/);
    assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["report.json"]);
    assert.equal(await Deno.readTextFile(join(out, "report.json")), "earlier report");
  });
});

Deno.test("Deno.exit() in a cell: kernel death reported with its cell, partial notebook written", async () => {
  await withTempDir(async (out) => {
    const { code, stderr } = await runCli(["--out", out, join(FIXTURES, "kernel_exit.ipynb")]);
    assert.equal(code, 1, stderr);
    const report = await readReport(out);
    const [entry] = report.notebooks;
    assert.equal(entry.status, "kernel died");
    assert.equal(entry.failure?.index, 2);
    assert.equal(entry.failure?.ename, "DeadKernelError");
    assert.match(entry.failure!.evalue, /exit code 3/);
    const nb = await readNotebook(join(out, "kernel_exit.ipynb"));
    assert.equal(streamText(nb.cells[1].outputs, "stdout"), "before exit\n");
    assert.equal(nb.cells[2].outputs![0].ename, "DeadKernelError");
    assert.deepEqual(nb.cells[3].outputs, [], "cells after the death are not run");
    assert.match(await Deno.readTextFile(join(out, "report.md")), /kernel died in cell 3/);
    assert.match(stderr, /kernel_exit\.ipynb kernel died/);
    await assertValid(join(out, "kernel_exit.ipynb"));
  });
});

Deno.test("an endless loop under --timeout 5: error output, kernel stopped, run stopped", async () => {
  await withTempDir(async (out) => {
    const { code, stderr } = await runCli([
      "--timeout",
      "5",
      "--out",
      out,
      join(FIXTURES, "endless_loop.ipynb"),
    ]);
    assert.equal(code, 1, stderr);
    const [entry] = (await readReport(out)).notebooks;
    assert.equal(entry.status, "timeout");
    assert.equal(entry.failure?.index, 2);
    const nb = await readNotebook(join(out, "endless_loop.ipynb"));
    assert.equal(nb.cells[2].outputs![0].ename, "CellTimeoutError");
    assert.match(nb.cells[2].outputs![0].evalue!, /5 s timeout/);
    assert.deepEqual(nb.cells[3].outputs, []);
    assert.ok(entry.durationMs < 60_000, "the stuck kernel did not hold the run up");
    await assertValid(join(out, "endless_loop.ipynb"));
  });
});

Deno.test("Ctrl-C (SIGINT): the running cell gets RunInterrupted, the partial notebook and report are written, exit 130", async () => {
  await withTempDir(async (out) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "kernel/run.ts", "--out", out, join(FIXTURES, "endless_loop.ipynb")],
      cwd: join(FIXTURES, "../../.."),
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let stderr = "";
    const decoder = new TextDecoder();
    const reader = child.stderr.getReader();
    // Wait until the first code cell is done: the endless loop is then running.
    while (!/cell 1\/3 ok/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    child.kill("SIGINT");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value);
    }
    const { code } = await child.status;
    assert.equal(code, 130, stderr);
    assert.match(stderr, /SIGINT: stopping/);
    const report = await readReport(out);
    const [entry] = report.notebooks;
    assert.equal(entry.status, "interrupted");
    assert.deepEqual(report.interrupted, { signal: "SIGINT", notRun: [] });
    assert.match(await Deno.readTextFile(join(out, "report.md")), /Interrupted by SIGINT/);
    assert.equal(entry.failure?.index, 2);
    const nb = await readNotebook(join(out, "endless_loop.ipynb"));
    assert.equal(streamText(nb.cells[1].outputs, "stdout"), "before loop\n");
    assert.equal(nb.cells[2].outputs![0].ename, "RunInterrupted");
    assert.match(nb.cells[2].outputs![0].evalue!, /interrupted \(SIGINT\)/);
    assert.deepEqual(nb.cells[3].outputs, [], "later cells are not run");
    await assertValid(join(out, "endless_loop.ipynb"));
  });
});

function printed(nb: Notebook): Record<string, unknown> {
  const cell = nb.cells.find((c) => joinText(c.source).includes("JSON.stringify"))!;
  return JSON.parse(streamText(cell.outputs, "stdout"));
}

Deno.test("parameters are injected after the parameters cell and replaced on re-run", async () => {
  await withTempDir(async (dir) => {
    const source = join(FIXTURES, "parameters.ipynb");
    const before = await Deno.readTextFile(source);
    const first = join(dir, "first");
    const r1 = await runCli([
      "--out",
      first,
      "--profile",
      "smoke",
      "-p",
      "epochs=2",
      "-p",
      'label="tuned"',
      source,
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    const nb1 = await readNotebook(join(first, "parameters.ipynb"));
    const tags = nb1.cells.map((c) => (c.metadata.tags as string[] | undefined)?.join(",") ?? "");
    assert.deepEqual(tags, ["", "parameters", "injected-parameters", ""]);
    assert.equal(
      joinText(nb1.cells[2].source),
      '// Parameters\nlet profile = "smoke";\nlet epochs = 2;\nconst label = "tuned";\n',
    );
    assert.deepEqual(printed(nb1), { epochs: 2, profile: "smoke", label: "tuned", seed: 1 });
    assert.equal(nb1.metadata.kernelspec?.name, "deno", "the stock deno kernelspec runs too");
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(source));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    const run = (nb1.metadata["neural-notebooks"] as { run: Record<string, unknown> }).run;
    assert.equal(run.source_sha256, hex, "the source's sha256 is recorded for site builds");

    const second = join(dir, "second");
    const r2 = await runCli(["--out", second, "-p", "epochs=7", join(first, "parameters.ipynb")]);
    assert.equal(r2.code, 0, r2.stderr);
    const nb2 = await readNotebook(join(second, "parameters.ipynb"));
    const injected = nb2.cells.filter((c) =>
      (c.metadata.tags as string[] | undefined)?.includes("injected-parameters")
    );
    assert.equal(injected.length, 1, "the earlier injected cell was replaced");
    assert.deepEqual(printed(nb2), { epochs: 7, profile: "full", label: "baseline", seed: 1 });
    assert.equal(await Deno.readTextFile(source), before, "the source notebook is untouched");
    const report = await readReport(second);
    assert.deepEqual(report.notebooks[0].parameters, { epochs: 7 });
    await assertValid(join(first, "parameters.ipynb"), join(second, "parameters.ipynb"));
  });
});

Deno.test("--shard splits deterministically, --jobs runs kernels in parallel, --merge joins", async () => {
  await withTempDir(async (dir) => {
    const names = ["n1", "n2", "n3", "n4", "n5"];
    const template = JSON.parse(await Deno.readTextFile(join(FIXTURES, "kernel_exit.ipynb")));
    for (const name of names) {
      const nb = structuredClone(template);
      nb.cells = [{ ...nb.cells[1], source: [`console.log(${JSON.stringify(name)});`] }];
      await Deno.writeTextFile(join(dir, `${name}.ipynb`), JSON.stringify(nb));
    }
    const runs = await Promise.all(
      [1, 2].map((i) =>
        runCli(["--shard", `${i}/2`, "--jobs", "2", "--out", join(dir, `shard-${i}`), dir])
      ),
    );
    const all = names.map((n) => join(dir, `${n}.ipynb`));
    for (const [i, run] of runs.entries()) {
      assert.equal(run.code, 0, run.stderr);
      const report = await readReport(join(dir, `shard-${i + 1}`));
      assert.deepEqual(report.shards, [{ index: i + 1, count: 2 }]);
      assert.deepEqual(
        report.notebooks.map((n) => n.notebook),
        selectShard(all, { index: i + 1, count: 2 }),
      );
      for (const n of report.notebooks) {
        const nb = await readNotebook(n.output!);
        assert.equal(streamText(nb.cells[0].outputs, "stdout"), `${n.notebook.slice(-8, -6)}\n`);
      }
    }
    const merged = join(dir, "merged");
    const m = await runCli([
      "--merge",
      "--out",
      merged,
      join(dir, "shard-1", "report.json"),
      join(dir, "shard-2", "report.json"),
    ]);
    assert.equal(m.code, 0, m.stderr);
    const report = await readReport(merged);
    assert.deepEqual(report.notebooks.map((n) => n.notebook), all);
    assert.equal(report.summary.ok, 5);
    assert.match(await Deno.readTextFile(join(merged, "report.md")), /2 shards merged/);
  });
});
