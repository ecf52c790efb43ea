/** `deno task run` end to end, as a subprocess, against the real Deno kernel. */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunReport } from "../../kernel/report.ts";
import { selectShard } from "../../kernel/run.ts";
import { interruptAction, SIGNAL_BURST_MS } from "../../kernel/interrupts.ts";
import { joinText, type Notebook, readNotebook } from "../../kernel/notebook.ts";
import {
  comparable,
  FIXTURES,
  nbformatAvailable,
  nbformatErrors,
  notebookOf,
  ROOT,
  runCli,
  streamText,
} from "./helpers.ts";
import { assertInterrupted, interruptRun, leftovers } from "./interrupt_helpers.ts";

/** Whether bubblewrap can make a user namespace here (for the full-disk test). */
async function bwrapWorks(): Promise<boolean> {
  try {
    const out = await new Deno.Command("bwrap", {
      args: ["--unshare-user", "--dev-bind", "/", "/", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.success) return true;
  } catch { /* not installed */ }
  console.log(
    "bubblewrap cannot run here: the full-disk test is skipped (apt-get install bubblewrap)",
  );
  return false;
}

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

/**
 * Waits until the endless-loop fixture's first code cell is done (the loop then runs), sends
 * `signal` to `child`, and collects its stderr until it exits.
 */
async function signalDuringLoop(
  child: Deno.ChildProcess,
  signal: Deno.Signal,
): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  const readAll = async (until?: RegExp) => {
    while (!until?.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value);
    }
  };
  await readAll(/cell 1\/3 ok/);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  child.kill(signal);
  await readAll();
  const { code } = await child.status;
  return { code, stderr };
}

Deno.test("Ctrl-C (SIGINT): the running cell gets RunInterrupted, the partial notebook and report are written, exit 130", async () => {
  await withTempDir(async (out) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "kernel/run.ts", "--out", out, join(FIXTURES, "endless_loop.ipynb")],
      cwd: join(FIXTURES, "../../.."),
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const { code, stderr } = await signalDuringLoop(child, "SIGINT");
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

const SEED_CLAIMS = join(FIXTURES, "seed_claims.ipynb");

Deno.test("--seeds: one run per seed, each copy in out/seed-S/, claims aggregated with a verdict", async () => {
  await withTempDir(async (out) => {
    const { code, stderr, stdout } = await runCli([
      "--seeds",
      "0-1,3",
      "--jobs",
      "2",
      "--out",
      out,
      SEED_CLAIMS,
    ]);
    assert.equal(code, 1, stderr); // "never" fails on every seed
    const report = await readReport(out);
    assert.deepEqual(report.notebooks.map((n) => n.sweep), [{ seed: 0 }, { seed: 1 }, { seed: 3 }]);
    for (const seed of [0, 1, 3]) {
      const nb = await readNotebook(join(out, `seed-${seed}`, "seed_claims.ipynb"));
      const injected = nb.cells.find((c) =>
        (c.metadata.tags as string[] | undefined)?.includes("injected-parameters")
      );
      assert.equal(joinText(injected!.source), `// Parameters\nlet seed = ${seed};\n`);
    }
    const byId = new Map(report.aggregate!.map((a) => [a.id, a]));
    assert.deepEqual(
      [...byId.values()].map((a) => [a.id, a.passes, a.runs, a.verdict]),
      [["always", 3, 3, "robust"], ["not-multiple-of-3", 1, 3, "fragile"], [
        "never",
        0,
        3,
        "fails",
      ]],
    );
    const always = byId.get("always")!;
    assert.deepEqual(always.values.map((v) => [v.seed, v.value]), [[0, 1], [1, 2], [3, 4]]);
    assert.equal(always.stats!.median, 2);
    assert.equal(always.stats!.min, 1);
    assert.equal(always.stats!.max, 4);
    assert.ok(Math.abs(always.stats!.mean - 7 / 3) < 1e-12);
    const md = await Deno.readTextFile(join(out, "report.md"));
    assert.match(md, /## Claims across runs/);
    assert.match(md, /\| not-multiple-of-3 \| 1\/3 \| .* \| \*\*fragile\*\* \|/);
    assert.match(md, /seed_claims\.ipynb \(seed=3\) \| claims failed/);
    assert.match(stdout, /Claims across runs: 1 robust, 1 fragile, 1 fails\./);
  });
});

Deno.test("sweep mistakes: one clear message, exit code 2, nothing written", async () => {
  await withTempDir(async (out) => {
    for (
      const [args, message] of [
        [["--seeds", "3-1"], /--seeds 3-1: the range 3-1 runs backwards/],
        [["--seeds", "0,x"], /"x" is not a seed or a range/],
        [["--seeds", "1,1"], /seed 1 is listed twice/],
        [["--seeds", "0-2", "-p", "seed=4"], /contradicts -p seed=4/],
        [["--grid", "seed=1,2"], /sweep seeds with --seeds/],
        [["--grid", "lr"], /write --grid name=v1,v2/],
        [["--grid", "lr=0.1", "-p", "lr=0.2"], /contradicts -p lr=0\.2/],
        [["--grid", "act=a/b,a_b"], /would share the folder act-a_b/],
      ] as [string[], RegExp][]
    ) {
      const { code, stderr } = await runCli([...args, "--out", out, SEED_CLAIMS]);
      assert.equal(code, 2, stderr);
      const errors = stderr.split("\n").filter((l) => l.startsWith("error: "));
      assert.equal(errors.length, 1, stderr);
      assert.match(errors[0], message);
    }
    assert.deepEqual([...Deno.readDirSync(out)], [], "nothing written");
  });
});

Deno.test("--shard auto: Kubernetes and Slurm task variables, merged shards equal the unsharded run", async () => {
  await withTempDir(async (dir) => {
    const args = ["--seeds", "0-2", "--quiet", SEED_CLAIMS];
    const whole = join(dir, "whole");
    const runs = [runCli(["--jobs", "2", "--out", whole, ...args])];
    // Kubernetes Indexed Job with completions 3: JOB_COMPLETION_INDEX 0..2, JOB_COMPLETIONS set
    // by the manifest. Slurm array --array=1-2: ids 1 and 2, SLURM_ARRAY_TASK_MIN=1.
    const k8s = [0, 1, 2].map((i) => ({ JOB_COMPLETION_INDEX: String(i), JOB_COMPLETIONS: "3" }));
    const slurm = [1, 2].map((id) => ({
      SLURM_ARRAY_TASK_ID: String(id),
      SLURM_ARRAY_TASK_MIN: "1",
      SLURM_ARRAY_TASK_COUNT: "2",
    }));
    const shards: { env: Record<string, string>; out: string }[] = [
      ...k8s.map((env, i) => ({ env, out: join(dir, `k8s-${i}`) })),
      ...slurm.map((env, i) => ({ env, out: join(dir, `slurm-${i}`) })),
    ];
    runs.push(
      ...shards.map((s) => runCli(["--shard", "auto", "--out", s.out, ...args], ROOT, s.env)),
    );
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.code, 1, r.stderr); // "never" fails
    assert.match(results[1].stderr, /shard 1\/3 of 3, from Kubernetes Indexed Job/);
    assert.match(results[5].stderr, /shard 2\/2 of 3, from Slurm array/);
    const expected = comparable(await readReport(whole), whole);
    for (const [name, count] of [["k8s", 3], ["slurm", 2]] as const) {
      const merged = join(dir, `${name}-merged`);
      const reports = Array.from(
        { length: count },
        (_, i) => join(dir, `${name}-${i}`, "report.json"),
      );
      const m = await runCli(["--merge", "--out", merged, ...reports]);
      assert.equal(m.code, 1, m.stderr);
      const report = await readReport(merged);
      assert.equal(report.shards.length, count);
      const got = comparable(report, "") as { notebooks: { output: string }[] };
      for (const n of got.notebooks) n.output = n.output.replace(/^.*?[\\/](?=seed-)/, "/");
      assert.deepEqual(got, expected, `${name}: merged shards equal the unsharded run`);
    }
    // The same shard twice is a mistake; a missing shard only a warning.
    const first = join(dir, "k8s-0", "report.json");
    const twice = await runCli(["--merge", "--out", join(dir, "twice"), first, first]);
    assert.equal(twice.code, 2);
    assert.equal(twice.stderr.trim().split("\n").length, 1, twice.stderr);
    assert.match(twice.stderr, /both hold 1 run\(s\).*give each shard's report once/);
    const partial = await runCli(["--merge", "--out", join(dir, "partial"), first]);
    assert.match(partial.stderr, /warning: merging 1 of 3 shards; absent: 2\/3, 3\/3/);
  });
});

Deno.test("--shard auto with no engine variables: a usage error naming them, nothing written", async () => {
  await withTempDir(async (out) => {
    const { code, stderr } = await runCli(["--shard", "auto", "--out", out, SEED_CLAIMS]);
    assert.equal(code, 2);
    assert.match(stderr, /no shard variables are set.*JOB_COMPLETION_INDEX.*SLURM_ARRAY_TASK_ID/);
    assert.deepEqual([...Deno.readDirSync(out)], []);
  });
});

/**
 * Runs the endless-loop fixture under GNU timeout (through `deno task run` or straight),
 * and once its loop runs, sends SIGTERM to timeout: timeout then does exactly what it does
 * when its time is up, signalling the command and the whole process group.
 */
async function underTimeout(
  viaTask: boolean,
  out: string,
): Promise<{ code: number; stderr: string }> {
  const runner = viaTask
    ? ["deno", "task", "run"]
    : [Deno.execPath(), "run", "-A", "kernel/run.ts"];
  const child = new Deno.Command("timeout", {
    args: ["300", ...runner, "--out", out, join(FIXTURES, "endless_loop.ipynb")],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", PATH: `${join(Deno.execPath(), "..")}:${Deno.env.get("PATH")}` },
  }).spawn();
  return await signalDuringLoop(child, "SIGTERM");
}

for (const viaTask of [false, true]) {
  Deno.test(`under timeout${viaTask ? " and deno task" : ""}: one SIGTERM burst is one request, partial notebook and report written`, async () => {
    await withTempDir(async (out) => {
      const { stderr } = await underTimeout(viaTask, out);
      assert.match(stderr, /SIGTERM: stopping; writing the partial notebooks/);
      assert.doesNotMatch(stderr, /again/);
      // deno task may return before the runner finishes writing: wait for the report.
      for (let i = 0; i < 100; i++) {
        try {
          await Deno.stat(join(out, "report.md"));
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const report = await readReport(out);
      assert.equal(report.interrupted?.signal, "SIGTERM");
      assert.equal(report.notebooks[0].status, "interrupted");
      const nb = await readNotebook(join(out, "endless_loop.ipynb"));
      assert.equal(nb.cells[2].outputs![0].ename, "RunInterrupted");
      await assertValid(join(out, "endless_loop.ipynb"));
    });
  });
}

Deno.test("signals: a burst within SIGNAL_BURST_MS is one request; a deliberate second one stops now", () => {
  assert.equal(interruptAction(null, 10_000), "stop", "the first signal stops the run");
  // timeout and deno task deliver one SIGTERM twice within milliseconds
  assert.equal(interruptAction(10_000, 10_000), "same request");
  assert.equal(interruptAction(10_000, 10_000 + SIGNAL_BURST_MS - 1), "same request");
  // a second Ctrl-C pressed after the burst window: kill the kernels at once (still writing)
  assert.equal(interruptAction(10_000, 10_000 + SIGNAL_BURST_MS), "stop now");
  assert.equal(interruptAction(10_000, 60_000), "stop now");
});

const INTERRUPT_TARGET = join(FIXTURES, "interrupt_target.ipynb");

for (
  const [mode, why] of [
    ["SIGHUP, terminal gone", "a closed terminal: stderr gone, then SIGHUP"],
    ["signal storm", "SIGTERM every 10 ms until the runner ends (the lost-report regression)"],
    ["second signal after the burst", "a deliberate second signal kills the kernels at once"],
  ] as const
) {
  Deno.test(`${mode} (${why}): the partial notebook and the report are written, exit 130, nothing left running`, async () => {
    await withTempDir(async (out) => {
      const sourceBytes = await Deno.readFile(INTERRUPT_TARGET);
      const result = await interruptRun({
        mode,
        delayMs: 2_500,
        notebook: INTERRUPT_TARGET,
        out,
      });
      await assertInterrupted(result, { out, source: INTERRUPT_TARGET, sourceBytes });
      // (The second signal kills the kernels at once when the runner is still stopping.)
      assert.doesNotMatch(result.stderr, /without writing/);
    });
  });
}

Deno.test("a kernel killed with SIGKILL mid-cell: one clear message, partial notebook and report, nothing left", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "killed.ipynb");
    await Deno.writeTextFile(
      source,
      JSON.stringify(notebookOf([
        'new Deno.Command("sleep", { args: ["600"] }).spawn();\nconsole.log("before");',
        'Deno.kill(Deno.pid, "SIGKILL");',
        'console.log("never");',
      ])),
    );
    const mark = crypto.randomUUID();
    const out = join(dir, "out");
    const { code, stderr } = await runCli(["--out", out, source], ROOT, { NN_TEST_MARK: mark });
    assert.equal(code, 1, stderr);
    const [entry] = (await readReport(out)).notebooks;
    assert.equal(entry.status, "kernel died");
    assert.equal(entry.failure?.index, 1);
    assert.match(entry.failure!.evalue, /signal SIGKILL\): SIGKILL comes from outside the kernel/);
    const nb = await readNotebook(join(out, "killed.ipynb"));
    assert.equal(streamText(nb.cells[0].outputs, "stdout"), "before\n");
    assert.deepEqual(await leftovers(mark), [], "the kernel's child died with it");
  });
});

Deno.test("a kernel out of memory: the cell says so, partial notebook and report written", async () => {
  await withTempDir(async (dir) => {
    const source = join(dir, "oom.ipynb");
    await Deno.writeTextFile(
      source,
      JSON.stringify(notebookOf([
        'console.log("before");',
        "const keep: number[][] = [];\nwhile (true) keep.push(new Array(1e5).fill(Math.random()));",
        'console.log("never");',
      ])),
    );
    const out = join(dir, "out");
    const { code, stderr } = await runCli(["--out", out, source], ROOT, {
      DENO_V8_FLAGS: "--max-old-space-size=256",
    });
    assert.equal(code, 1, stderr);
    const [entry] = (await readReport(out)).notebooks;
    assert.equal(entry.status, "kernel died");
    assert.equal(entry.failure?.index, 1, stderr);
    assert.match(entry.failure!.evalue, /ran out of memory \(the V8 heap reached its limit\)/);
    const nb = await readNotebook(join(out, "oom.ipynb"));
    assert.equal(nb.cells[1].outputs![0].ename, "DeadKernelError");
  });
});

Deno.test("--out not writable: one clear message before anything runs, exit 2", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "");
    const mark = crypto.randomUUID();
    const { code, stderr } = await runCli(
      ["--out", join(file, "out"), join(FIXTURES, "parameters.ipynb")],
      ROOT,
      { NN_TEST_MARK: mark },
    );
    assert.equal(code, 2, stderr);
    const errors = stderr.split("\n").filter((l) => l.startsWith("error: "));
    assert.equal(errors.length, 1, stderr);
    assert.match(errors[0], /--out .*a-file\/out: cannot write there \(.*\).*nothing was run/);
    assert.doesNotMatch(stderr, /running/);
  });
});

Deno.test(
  "--out full: the notebook's write fails with a clear message, the report still lands somewhere",
  {
    ignore: !await bwrapWorks(),
  },
  async () => {
    await withTempDir(async (dir) => {
      const source = join(dir, "big.ipynb");
      await Deno.writeTextFile(
        source,
        JSON.stringify(notebookOf(['console.log("x".repeat(100000));'])),
      );
      const out = join(dir, "out");
      await Deno.mkdir(out);
      const mark = crypto.randomUUID();
      // A 4 KiB file system mounted on out/ (bubblewrap, in a user namespace).
      const run = await new Deno.Command("bwrap", {
        args: [
          "--unshare-user",
          "--dev-bind",
          "/",
          "/",
          "--size",
          "4096",
          "--tmpfs",
          out,
          "--",
          Deno.execPath(),
          "run",
          "-A",
          join(ROOT, "kernel/run.ts"),
          "--out",
          out,
          source,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", NN_TEST_MARK: mark },
      }).output();
      const stderr = new TextDecoder().decode(run.stderr);
      assert.equal(run.code, 1, stderr);
      assert.match(
        stderr,
        /could not write .*big\.ipynb: No space left on device.*the disk is full/,
      );
      const moved = stderr.match(/the report was written to (\S+) instead/);
      const where = moved ? moved[1] : undefined;
      assert.ok(where, `the report went elsewhere, and says where:\n${stderr}`);
      const report: RunReport = JSON.parse(await Deno.readTextFile(join(where, "report.json")));
      assert.equal(report.notebooks[0].status, "error");
      assert.match(report.notebooks[0].warnings.join("\n"), /No space left on device/);
      await Deno.remove(where, { recursive: true });
      assert.deepEqual(await leftovers(mark), []);
    });
  },
);
