/**
 * `--shard auto` on a real Slurm: the test starts munge, slurmctld and slurmd as a
 * single-node cluster of its own (own key, socket, ports, state and log folders; SlurmUser
 * root, proctrack/linuxproc, one partition), submits README's `notebooks.sbatch` (a 3-task
 * array of `deno task run --shard auto`) over two notebooks × two seeds in the smoke profile,
 * merges the shards and checks that the merged report equals an unsharded run's. Every
 * daemon it started is stopped, and nothing of the jobs is left running.
 *
 * Skipped, saying so, without Debian's munge, slurmctld, slurmd and slurm-client, or when not
 * root (`.ci/run` installs them and runs as root).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunReport } from "../../kernel/report.ts";
import { comparable, FIXTURES, ROOT, runCli } from "./helpers.ts";
import { killMarked, leftovers } from "./interrupt_helpers.ts";

const NOTEBOOKS = [join(FIXTURES, "parameters.ipynb"), join(FIXTURES, "seed_claims.ipynb")];
const TOOLS = ["munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel"];

function which(name: string): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
    } catch { /* not here */ }
  }
  return undefined;
}

const tools = Object.fromEntries(TOOLS.map((name) => [name, which(name)]));
const missing = TOOLS.filter((name) => !tools[name]);
const skip = Deno.build.os !== "linux"
  ? "Slurm runs on Linux only"
  : missing.length > 0
  ? `${missing.join(", ")} not installed (apt-get install munge slurmctld slurmd slurm-client)`
  : Deno.uid() !== 0
  ? "the single-node cluster runs its daemons as root (SlurmUser=root): run as root"
  : "";
if (skip) console.log(`the Slurm test is skipped: ${skip}`);

/** README's sbatch script, exactly as it stands there. */
async function readmeScript(): Promise<string> {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const match = readme.match(/```bash\n(#!\/bin\/bash\n#SBATCH[\s\S]*?)```/);
  assert.ok(
    match,
    "README.md shows the sbatch script (a ```bash block starting #!/bin/bash, #SBATCH)",
  );
  return match[1];
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a Slurm client command with the cluster's config; returns its output. */
async function client(
  name: string,
  args: string[],
  env: Record<string, string>,
  cwd = ROOT,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(tools[name]!, {
    args,
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** A daemon in the foreground, its output in `log`. */
function daemon(path: string, args: string[], log: string, env: Record<string, string>) {
  const file = Deno.openSync(log, { write: true, create: true, append: true });
  const child = new Deno.Command(path, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) file.writeSync(chunk);
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]).catch(() => {});
  return {
    child,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already ended */ }
      const ended = await Promise.race([child.status.then(() => true), sleep(10_000)]);
      if (!ended) {
        try {
          child.kill("SIGKILL");
        } catch { /* ended meanwhile */ }
      }
      await child.status;
      await drained;
      file.close();
    },
  };
}

async function readLogs(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const text = await Deno.readTextFile(join(dir, entry.name)).catch(() => "");
    parts.push(`--- ${entry.name} ---\n${text.split("\n").slice(-30).join("\n")}`);
  }
  return parts.join("\n");
}

Deno.test({
  name: "Slurm: a 3-task sbatch array of --shard auto, merged, equals the unsharded run",
  ignore: skip !== "",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "nn-slurm-" });
    const logs = join(dir, "log");
    for (const sub of ["log", "state", "spool", "results"]) await Deno.mkdir(join(dir, sub));
    const key = join(dir, "munge.key");
    await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o600 });
    const socket = join(dir, "munge.sock");
    const host = Deno.hostname().split(".")[0];
    const conf = join(dir, "slurm.conf");
    await Deno.writeTextFile(
      conf,
      [
        "ClusterName=nntest",
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${freePort()}`,
        `SlurmdPort=${freePort()}`,
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        `AuthInfo=socket=${socket}`,
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "MpiDefault=none",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        `StateSaveLocation=${join(dir, "state")}`,
        `SlurmdSpoolDir=${join(dir, "spool")}`,
        `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
        `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
        `SlurmctldLogFile=${join(logs, "slurmctld.log")}`,
        `SlurmdLogFile=${join(logs, "slurmd.log")}`,
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "JobAcctGatherType=jobacct_gather/none",
        `PlugStackConfig=${join(dir, "plugstack.conf")}`,
        `NodeName=nn-node NodeHostname=${host} NodeAddr=127.0.0.1 ` +
        `CPUs=${navigator.hardwareConcurrency || 1} State=UNKNOWN`,
        "PartitionName=nn Nodes=nn-node Default=YES MaxTime=INFINITE State=UP",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(join(dir, "plugstack.conf"), "");
    const mark = crypto.randomUUID();
    const env = {
      SLURM_CONF: conf,
      NO_COLOR: "1",
      PATH: `${join(Deno.execPath(), "..")}:${Deno.env.get("PATH")}`,
      NN_RESULTS: join(dir, "results"),
      NN_TEST_MARK: mark,
    };
    const daemons: { stop: () => Promise<void> }[] = [];
    let jobId = "";
    try {
      daemons.push(daemon(
        tools.munged!,
        [
          "--foreground",
          "--force",
          `--socket=${socket}`,
          `--key-file=${key}`,
          `--log-file=${join(logs, "munged.log")}`,
          `--pid-file=${join(dir, "munged.pid")}`,
          `--seed-file=${join(dir, "munged.seed")}`,
        ],
        join(logs, "munged.out"),
        env,
      ));
      for (let i = 0; i < 100 && !await Deno.stat(socket).then(() => true, () => false); i++) {
        await sleep(100);
      }
      daemons.push(daemon(tools.slurmctld!, ["-D", "-i", "-f", conf], join(logs, "ctld.out"), env));
      daemons.push(
        daemon(tools.slurmd!, ["-D", "-f", conf, "-N", "nn-node"], join(logs, "d.out"), env),
      );
      let state = "";
      for (let i = 0; i < 120 && state !== "idle"; i++) {
        await sleep(500);
        state = (await client("sinfo", ["-h", "-o", "%T"], env)).stdout.trim();
      }
      assert.equal(state, "idle", `the node came up:\n${await readLogs(logs)}`);

      const script = join(dir, "notebooks.sbatch");
      await Deno.writeTextFile(script, await readmeScript());
      const submit = await client("sbatch", [
        "--parsable",
        "--wait",
        `--output=${join(logs, "%A_%a.log")}`,
        script,
        ...NOTEBOOKS,
      ], env);
      jobId = submit.stdout.trim().split(";")[0];
      // sbatch --wait exits with the tasks' worst code: 1, since seed_claims has a claim that
      // never holds. What counts is what each task wrote.
      assert.match(jobId, /^\d+$/, `sbatch: ${submit.stderr}\n${await readLogs(logs)}`);
      const shards = [1, 2, 3].map((i) => join(dir, "results", `shard-${i}`, "report.json"));
      for (const shard of shards) {
        assert.ok(
          await Deno.stat(shard).then(() => true, () => false),
          `${shard} written:\n${await readLogs(logs)}`,
        );
      }
      const taskLog = await Deno.readTextFile(join(logs, `${jobId}_2.log`));
      assert.match(taskLog, /shard 2\/3 of 4, from Slurm array/);

      const merged = join(dir, "merged");
      const m = await runCli(["--merge", "--out", merged, ...shards]);
      assert.equal(m.code, 1, m.stderr); // the claim that never holds
      const whole = join(dir, "whole");
      const w = await runCli([
        "--profile",
        "smoke",
        "--seeds",
        "0,1",
        "--quiet",
        "--out",
        whole,
        ...NOTEBOOKS,
      ]);
      assert.equal(w.code, 1, w.stderr);
      const mergedReport: RunReport = JSON.parse(
        await Deno.readTextFile(join(merged, "report.json")),
      );
      assert.deepEqual(mergedReport.shards.map((s) => `${s.index}/${s.count}`).sort(), [
        "1/3",
        "2/3",
        "3/3",
      ]);
      assert.equal(mergedReport.notebooks.length, 4, "two notebooks × two seeds");
      const got = comparable(mergedReport, "") as { notebooks: { output: string }[] };
      for (const n of got.notebooks) n.output = n.output.replace(/^.*?[\\/](?=seed-)/, "/");
      const expected = comparable(
        JSON.parse(await Deno.readTextFile(join(whole, "report.json"))),
        whole,
      );
      assert.deepEqual(got, expected, "the merged shards equal the unsharded run");
    } finally {
      if (jobId) await client("scancel", ["--full", jobId], env);
      for (let i = 0; i < 40; i++) {
        const queue = await client("squeue", ["-h"], env);
        if (queue.code !== 0 || queue.stdout.trim() === "") break;
        await sleep(250);
      }
      for (const d of daemons.reverse()) await d.stop();
      const left = await leftovers(mark, 10_000);
      killMarked(mark);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      assert.deepEqual(left, [], "nothing of the jobs is left running");
    }
  },
});
