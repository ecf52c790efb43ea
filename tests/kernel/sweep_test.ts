/** Sweep points (`--seeds`, `--grid`) and shards from job-engine variables (`--shard auto`). */
import assert from "node:assert/strict";
import { expandSweep, parseGrid, parseSeeds, pointLabel } from "../../kernel/sweep.ts";
import { parseShard, shardFromEnvironment } from "../../kernel/shard.ts";
import { listJobs, parseRunArgs, selectShard, UsageError } from "../../kernel/run.ts";

Deno.test("seed lists: ranges, lists and both; mistakes say how to write them", () => {
  assert.deepEqual(parseSeeds("0-9"), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(parseSeeds("0,3,5"), [0, 3, 5]);
  assert.deepEqual(parseSeeds("0-2,7"), [0, 1, 2, 7]);
  assert.deepEqual(parseSeeds(" 4 "), [4]);
  assert.throws(() => parseSeeds("5-2"), /runs backwards/);
  assert.throws(() => parseSeeds("1,,2"), /"" is not a seed/);
  assert.throws(() => parseSeeds("-1"), /e\.g\. --seeds 0-9/);
  assert.throws(() => parseSeeds("0-3,2"), /seed 2 is listed twice/);
  assert.throws(() => parseSeeds("0-99999"), /more than/);
});

Deno.test("grid values: comma lists read like -p values, a JSON list for values with commas", () => {
  assert.deepEqual(parseGrid("lr=0.1,0.01"), { name: "lr", values: [0.1, 0.01] });
  assert.deepEqual(parseGrid("act=relu,tanh").values, ["relu", "tanh"]);
  assert.deepEqual(parseGrid("units=[[16,8],[32]]").values, [[16, 8], [32]]);
  assert.deepEqual(parseGrid("flag=true,false").values, [true, false]);
  assert.throws(() => parseGrid("seed=1,2"), /--seeds/);
  assert.throws(() => parseGrid("1x=2"), /not a TypeScript identifier/);
  assert.throws(() => parseGrid("lr=1,1"), /listed twice/);
  // A plain -p list stays one list-valued parameter.
  assert.deepEqual(parseRunArgs(["-p", "sizes=[1,2]"], {}).parameters, { sizes: [1, 2] });
});

Deno.test("sweep points: cartesian product, grid first and seeds innermost; jobs and shards", () => {
  const points = expandSweep({ seeds: [0, 1], grid: [parseGrid("lr=0.1,0.01")] });
  assert.deepEqual(points, [
    { lr: 0.1, seed: 0 },
    { lr: 0.1, seed: 1 },
    { lr: 0.01, seed: 0 },
    { lr: 0.01, seed: 1 },
  ]);
  assert.deepEqual(points.map(pointLabel), [
    "lr-0.1_seed-0",
    "lr-0.1_seed-1",
    "lr-0.01_seed-0",
    "lr-0.01_seed-1",
  ]);
  assert.deepEqual(expandSweep({ seeds: [], grid: [] }), []);
  const jobs = listJobs(["a", "b"], points);
  assert.equal(jobs.length, 8);
  assert.deepEqual(jobs.map((j) => j.job), [0, 1, 2, 3, 4, 5, 6, 7]);
  const shards = [1, 2, 3].map((index) => selectShard(jobs, { index, count: 3 }));
  assert.deepEqual(shards.flat().map((j) => j.job).sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(shards[0].map((j) => [j.path, j.point]), [
    ["a", { lr: 0.1, seed: 0 }],
    ["a", { lr: 0.01, seed: 1 }],
    ["b", { lr: 0.01, seed: 0 }],
  ]);
});

Deno.test("--shard auto: Kubernetes, Slurm, GitLab and NN_SHARD_* variables, 1-based result", () => {
  assert.deepEqual(parseShard("2/4", {}), { index: 2, count: 4 });
  const k8s = shardFromEnvironment({ JOB_COMPLETION_INDEX: "0", JOB_COMPLETIONS: "5" });
  assert.deepEqual([k8s.index, k8s.count], [1, 5]);
  assert.throws(
    () => shardFromEnvironment({ JOB_COMPLETION_INDEX: "0" }),
    /JOB_COMPLETIONS is not.*set it in the manifest/,
  );
  assert.throws(
    () => shardFromEnvironment({ JOB_COMPLETION_INDEX: "5", JOB_COMPLETIONS: "5" }),
    /shard 6 of 5, past the last one/,
  );
  const slurm = (id: string, extra: Record<string, string> = {}) =>
    shardFromEnvironment({ SLURM_ARRAY_TASK_ID: id, SLURM_ARRAY_TASK_COUNT: "4", ...extra });
  assert.equal(slurm("0").index, 1);
  assert.equal(slurm("3").index, 4);
  assert.equal(slurm("7", { SLURM_ARRAY_TASK_MIN: "5" }).index, 3, "--array=5-8");
  assert.equal(slurm("6", { SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_STEP: "2" }).index, 4);
  assert.throws(
    () => slurm("3", { SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_STEP: "2" }),
    /evenly/,
  );
  assert.throws(() => slurm("4"), /past the last one/);
  const gitlab = shardFromEnvironment({ CI_NODE_INDEX: "2", CI_NODE_TOTAL: "3" });
  assert.deepEqual([gitlab.index, gitlab.count], [2, 3]);
  const nn = shardFromEnvironment({
    NN_SHARD_INDEX: "3",
    NN_SHARD_COUNT: "3",
    JOB_COMPLETION_INDEX: "0",
    JOB_COMPLETIONS: "3",
  });
  assert.deepEqual([nn.index, nn.count], [3, 3], "NN_SHARD_* wins over the engines");
  assert.throws(() => shardFromEnvironment({ NN_SHARD_INDEX: "0", NN_SHARD_COUNT: "2" }), /≥ 1/);
  assert.throws(() => shardFromEnvironment({}), /no shard variables are set/);
  assert.throws(() => parseRunArgs(["--shard", "auto"], {}), UsageError);
  const options = parseRunArgs(["--shard", "auto"], { NN_SHARD_INDEX: "2", NN_SHARD_COUNT: "3" });
  assert.equal(options.outDir, "out/shard-2", "each auto shard writes its own folder");
  assert.throws(() => parseRunArgs(["--merge", "--seeds", "0-2"], {}), /--merge takes/);
});
