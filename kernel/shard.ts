/**
 * Which shard of a run this process is: `--shard I/N` (1-based), or `--shard auto`, read
 * from the environment a job engine sets for each of its tasks:
 *
 * | engine | index | count |
 * | --- | --- | --- |
 * | this project (any CI matrix) | `NN_SHARD_INDEX` (1-based) | `NN_SHARD_COUNT` |
 * | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` (0-based) | `JOB_COMPLETIONS`, which the manifest must set (Kubernetes does not expose `completions` to the pod) |
 * | Slurm job array | `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, divided by `SLURM_ARRAY_TASK_STEP` | `SLURM_ARRAY_TASK_COUNT` |
 * | GitLab CI `parallel: N` | `CI_NODE_INDEX` (1-based) | `CI_NODE_TOTAL` |
 *
 * The first engine in this order whose index variable is set wins.
 *
 * @example
 * ```ts
 * import { parseShard } from "./shard.ts";
 * console.log(parseShard("auto", { JOB_COMPLETION_INDEX: "2", JOB_COMPLETIONS: "4" }));
 * // { index: 3, count: 4, source: "Kubernetes Indexed Job (JOB_COMPLETION_INDEX=2, JOB_COMPLETIONS=4)" }
 * ```
 * @module
 */

/** A shard: 1-based index of count, and where it came from. */
export interface Shard {
  /** 1-based index. */
  index: number;
  /** Number of shards. */
  count: number;
  /** Where `auto` found it, in words (absent for `I/N`). */
  source?: string;
}

/** Raised when the shard cannot be worked out; the message says what to set. */
export class ShardError extends Error {
  /** Creates a shard error. */
  constructor(message: string) {
    super(message);
    this.name = "ShardError";
  }
}

function whole(env: Record<string, string | undefined>, name: string, min: number): number {
  const text = env[name];
  if (text === undefined || text.trim() === "") {
    throw new ShardError(`--shard auto: ${name} is not set`);
  }
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new ShardError(`--shard auto: ${name}=${text} is not a whole number ≥ ${min}`);
  }
  return n;
}

function checked(index0: number, count: number, source: string): Shard {
  if (index0 >= count) {
    throw new ShardError(
      `--shard auto: ${source} gives shard ${index0 + 1} of ${count}, past the last one`,
    );
  }
  return { index: index0 + 1, count, source };
}

/**
 * The shard of this task from the environment (see the module doc); throws
 * {@linkcode ShardError} when no engine's variables are set or they do not add up.
 *
 * @example
 * ```ts
 * import { shardFromEnvironment } from "./shard.ts";
 * const env = { SLURM_ARRAY_TASK_ID: "5", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "8" };
 * console.log(shardFromEnvironment(env).index); // 5
 * ```
 */
export function shardFromEnvironment(env: Record<string, string | undefined>): Shard {
  const set = (name: string) => env[name] !== undefined && env[name]!.trim() !== "";
  if (set("NN_SHARD_INDEX") || set("NN_SHARD_COUNT")) {
    const index = whole(env, "NN_SHARD_INDEX", 1);
    const count = whole(env, "NN_SHARD_COUNT", 1);
    return checked(
      index - 1,
      count,
      `NN_SHARD_INDEX=${index}, NN_SHARD_COUNT=${count}`,
    );
  }
  if (set("JOB_COMPLETION_INDEX")) {
    const index = whole(env, "JOB_COMPLETION_INDEX", 0);
    if (!set("JOB_COMPLETIONS")) {
      throw new ShardError(
        `--shard auto: JOB_COMPLETION_INDEX=${index} is set but JOB_COMPLETIONS is not: ` +
          "Kubernetes does not tell a pod its Job's completions, so set it in the manifest " +
          "(env: - name: JOB_COMPLETIONS, value: the Job's spec.completions)",
      );
    }
    const count = whole(env, "JOB_COMPLETIONS", 1);
    return checked(
      index,
      count,
      `Kubernetes Indexed Job (JOB_COMPLETION_INDEX=${index}, JOB_COMPLETIONS=${count})`,
    );
  }
  if (set("SLURM_ARRAY_TASK_ID")) {
    const id = whole(env, "SLURM_ARRAY_TASK_ID", 0);
    const count = whole(env, "SLURM_ARRAY_TASK_COUNT", 1);
    const min = set("SLURM_ARRAY_TASK_MIN") ? whole(env, "SLURM_ARRAY_TASK_MIN", 0) : 0;
    const step = set("SLURM_ARRAY_TASK_STEP") ? whole(env, "SLURM_ARRAY_TASK_STEP", 1) : 1;
    const offset = (id - min) / step;
    const source = `Slurm array (SLURM_ARRAY_TASK_ID=${id}, SLURM_ARRAY_TASK_MIN=${min}, ` +
      `SLURM_ARRAY_TASK_STEP=${step}, SLURM_ARRAY_TASK_COUNT=${count})`;
    if (!Number.isInteger(offset) || offset < 0) {
      throw new ShardError(
        `--shard auto: ${source} is not an evenly spaced array: submit it as ` +
          `--array=0-${count - 1} (or give --shard I/N yourself)`,
      );
    }
    return checked(offset, count, source);
  }
  if (set("CI_NODE_INDEX")) {
    const index = whole(env, "CI_NODE_INDEX", 1);
    const count = whole(env, "CI_NODE_TOTAL", 1);
    return checked(index - 1, count, `GitLab CI (CI_NODE_INDEX=${index}, CI_NODE_TOTAL=${count})`);
  }
  throw new ShardError(
    "--shard auto: no shard variables are set. Set NN_SHARD_INDEX (1-based) and " +
      "NN_SHARD_COUNT (e.g. from a CI matrix), or run as a Kubernetes Indexed Job " +
      "(JOB_COMPLETION_INDEX, with JOB_COMPLETIONS set in the manifest), a Slurm array " +
      "(SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or GitLab CI parallel (CI_NODE_INDEX, " +
      "CI_NODE_TOTAL); or give --shard I/N",
  );
}

/**
 * Parses the `--shard` argument: `I/N` (1 ≤ I ≤ N) or `auto`.
 *
 * @example
 * ```ts
 * import { parseShard } from "./shard.ts";
 * console.log(parseShard("2/4", {})); // { index: 2, count: 4 }
 * ```
 */
export function parseShard(text: string, env: Record<string, string | undefined>): Shard {
  if (text === "auto") return shardFromEnvironment(env);
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new ShardError(
      `--shard ${text}: expected I/N with 1 ≤ I ≤ N, e.g. --shard 2/4, or --shard auto`,
    );
  }
  return { index, count };
}
