/**
 * `--sandbox` (kernel/sandbox.ts) against the real Deno kernel in bubblewrap: a notebook that
 * fetches a URL, writes outside its output folder and reads a file under `$HOME` succeeds
 * without the sandbox and fails in exactly those cells with it; `deno task build --sandbox`
 * does the same; no bubblewrap means one message and exit 2, never a run without it.
 * Skipped, saying so, where bubblewrap cannot make a sandbox.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunReport } from "../../kernel/report.ts";
import { readNotebook } from "../../kernel/notebook.ts";
import { bwrapArgs, checkSandbox, denoDir, sandboxEnv } from "../../kernel/sandbox.ts";
import { FIXTURES, ROOT, runCli, streamText } from "./helpers.ts";
import { leftovers } from "./interrupt_helpers.ts";

const ESCAPE = join(FIXTURES, "sandbox_escape.ipynb");

const sandboxProblem = await checkSandbox().then(() => "", (error) => (error as Error).message);
if (sandboxProblem) console.log(`the --sandbox tests are skipped: ${sandboxProblem}`);

Deno.test("sandboxEnv keeps locale, Deno's and the project's settings, drops secrets", () => {
  const env = sandboxEnv({
    PATH: "/usr/bin",
    HOME: "/home/me",
    LC_ALL: "C.UTF-8",
    NN_BACKEND: "wasm",
    SLURM_ARRAY_TASK_ID: "2",
    DENO_DIR: "/cache",
    DENO_AUTH_TOKENS: "secret@npm.example.com",
    GITHUB_TOKEN: "ghp_x",
    AWS_SECRET_ACCESS_KEY: "x",
    SSH_AUTH_SOCK: "/tmp/ssh-x/agent.1",
    http_proxy: "http://proxy:3128",
  });
  assert.deepEqual(Object.keys(env).sort(), [
    "DENO_DIR",
    "HOME",
    "LC_ALL",
    "NN_BACKEND",
    "PATH",
    "SLURM_ARRAY_TASK_ID",
  ]);
});

Deno.test("bwrapArgs: read-only root, private /tmp, hidden folders, then what is shown on top", () => {
  const args = bwrapArgs({
    readable: ["/home/me/project"],
    writable: ["/home/me/project/out"],
    hidden: ["/home", "/home/me"],
    cwd: "/home/me/project",
  }).join(" ");
  const at = (text: string) => {
    const i = args.indexOf(text);
    assert.ok(i >= 0, `${text} in ${args}`);
    return i;
  };
  assert.ok(at("--ro-bind / /") < at("--tmpfs /home "));
  assert.ok(at("--tmpfs /home/me") < at("--ro-bind-try /home/me/project /home/me/project"));
  assert.ok(at("--ro-bind-try /home/me/project") < at("--bind /home/me/project/out"));
  assert.ok(at("--bind /home/me/project/out") < at("--remount-ro /home "));
  for (const flag of ["--unshare-all", "--die-with-parent", "--cap-drop ALL", "--as-pid-1"]) {
    at(flag);
  }
  assert.doesNotMatch(args, /--share-net/);
});

/** Runs the escape notebook with its probes aimed at `dir`; returns the executed copy's cells. */
async function escapeRun(dir: string, sandbox: boolean) {
  const home = join(dir, "home");
  await Deno.mkdir(home, { recursive: true });
  await Deno.writeTextFile(join(home, "secret.txt"), "a private key");
  // In the project: read-only in the sandbox wherever the checkout is (/tmp is private there).
  const writePath = join(ROOT, `.sandbox-probe-${crypto.randomUUID().slice(0, 8)}.txt`);
  // A server on this machine's loopback: outside the sandbox's own network namespace.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello"),
  );
  const out = join(dir, sandbox ? "sandboxed" : "plain");
  const mark = crypto.randomUUID();
  try {
    const { code, stderr } = await runCli(
      [
        ...(sandbox ? ["--sandbox"] : []),
        "--out",
        out,
        "-p",
        `url="http://127.0.0.1:${server.addr.port}/"`,
        "-p",
        `writePath=${JSON.stringify(writePath)}`,
        "-p",
        'readPath="~/secret.txt"',
        ESCAPE,
      ],
      ROOT,
      // HOME is where the secret is; Deno's cache stays where it was.
      { HOME: home, DENO_DIR: (await denoDir())!, NN_TEST_MARK: mark },
    );
    assert.equal(code, 0, stderr);
    const nb = await readNotebook(join(out, "sandbox_escape.ipynb"));
    const report: RunReport = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
    assert.deepEqual(await leftovers(mark), [], "nothing of the run is left");
    const byId = (id: string) => nb.cells.find((c) => c.id === id)!;
    return {
      fetch: byId("escape-03"),
      write: byId("escape-04"),
      read: byId("escape-05"),
      scratch: byId("escape-06"),
      wrote: await Deno.remove(writePath).then(() => true, () => false),
      report,
      stderr,
    };
  } finally {
    await server.shutdown();
  }
}

Deno.test({
  name: "without --sandbox the escape notebook reaches the network, writes and reads $HOME",
  ignore: sandboxProblem !== "",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nn-sandbox-" });
    try {
      const r = await escapeRun(dir, false);
      assert.match(streamText(r.fetch.outputs, "stdout"), /HTTP 200/);
      assert.match(streamText(r.write.outputs, "stdout"), /wrote /);
      assert.match(streamText(r.read.outputs, "stdout"), /13 characters/);
      assert.ok(r.wrote);
      assert.equal(r.report.options.sandbox, undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "--sandbox: fetching, writing outside out/ and reading $HOME each fail with a clear error",
  ignore: sandboxProblem !== "",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nn-sandbox-" });
    try {
      const r = await escapeRun(dir, true);
      assert.match(r.stderr, /running 1 notebook\(s\), 1 at a time, in a sandbox/);
      const error = (cell: typeof r.fetch) => {
        const e = cell.outputs?.find((o) => o.output_type === "error");
        assert.ok(e, `cell ${cell.id} failed`);
        return `${e.ename}: ${e.evalue}\n${(e.traceback ?? []).join("\n")}`;
      };
      assert.match(error(r.fetch), /TypeError: fetch failed/);
      assert.match(error(r.write), /Read-only file system \(os error 30\)/);
      assert.match(error(r.read), /NotFound: No such file or directory.*secret\.txt/);
      for (const cell of [r.fetch, r.write, r.read]) {
        assert.match(error(cell), /note: this notebook ran in a sandbox \(--sandbox\)/);
      }
      assert.ok(!r.wrote, "nothing was written outside the output folder");
      assert.match(streamText(r.scratch.outputs, "stdout"), /temporary file ok/);
      assert.equal(r.report.options.sandbox, true);
      assert.equal(r.report.notebooks[0].status, "ok", "the probes are expected to fail");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "deno task build --sandbox executes in the sandbox too",
  ignore: sandboxProblem !== "",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nn-sandbox-build-" });
    try {
      const src = join(dir, "src");
      await Deno.mkdir(src);
      await Deno.copyFile(ESCAPE, join(src, "sandbox_escape.ipynb"));
      const out = join(dir, "out");
      const run = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "kernel/site/build.ts",
          "--sandbox",
          "--out",
          out,
          "--site",
          join(dir, "site"),
          src,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const log = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
      assert.equal(run.code, 0, log);
      assert.match(log, /in a sandbox/);
      const nb = await readNotebook(join(out, "sandbox_escape.ipynb"));
      const errors = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
        o.output_type === "error"
      );
      // (its write probe, ../sandbox_escape_probe.txt, lands in the private /tmp here)
      const names = errors.map((e) => e.ename);
      assert.ok(names.includes("TypeError") && names.includes("NotFound"), names.join(", "));
      assert.match(await Deno.readTextFile(join(dir, "site", "index.html")), /sandbox_escape/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("--sandbox without bubblewrap: one message, exit 2, nothing run or written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nn-sandbox-missing-" });
  try {
    const out = join(dir, "out");
    const env = { PATH: join(dir, "empty-bin") }; // no bwrap on this PATH
    const run = await runCli(["--sandbox", "--out", out, ESCAPE], ROOT, env);
    assert.equal(run.code, 2, run.stderr);
    const errors = run.stderr.trim().split("\n");
    assert.equal(errors.length, 1, run.stderr);
    assert.match(errors[0], /^error: --sandbox needs bubblewrap \(bwrap\), which is not installed/);
    assert.match(errors[0], /apt-get install bubblewrap/);
    assert.ok(!await Deno.stat(out).then(() => true, () => false), "nothing written");
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "kernel/site/build.ts", "--sandbox", "--out", out, ESCAPE],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).output();
    const buildErr = new TextDecoder().decode(build.stderr);
    assert.equal(build.code, 2, buildErr);
    assert.match(buildErr, /--sandbox needs bubblewrap.*nothing was built/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
