/**
 * `deno task test:interrupt`: interrupts real runs at random moments, many times, while busy
 * loops keep every CPU loaded: Ctrl-C, SIGTERM, SIGHUP with the terminal gone, GNU `timeout`
 * (straight and through `deno task`), a second signal after the burst window, and a late
 * duplicate inside it. Every time, the partial executed notebook and the report must be
 * written, every process of the run gone, the source notebook unchanged and the exit code
 * 130. `NN_INTERRUPT_TRIALS` sets the number of runs (default 64: eight per way),
 * `NN_INTERRUPT_MODES` (comma-separated) which ways, `NN_INTERRUPT_SEED` the random moments.
 *
 * Not part of `deno task test` (its file name does not end in `_test.ts`): `.ci/run` runs it
 * as a task of its own.
 */
import { join } from "node:path";
import { FIXTURES } from "./helpers.ts";
import {
  assertInterrupted,
  cpuCount,
  cpuLoad,
  hasTimeout,
  INTERRUPT_MODES,
  interruptRun,
} from "./interrupt_helpers.ts";

const TRIALS = Number(Deno.env.get("NN_INTERRUPT_TRIALS") ?? INTERRUPT_MODES.length * 8);
/** `NN_INTERRUPT_MODES=SIGTERM,timeout` runs only those ways (default: all, in turn). */
const MODES = INTERRUPT_MODES.filter((mode) =>
  (Deno.env.get("NN_INTERRUPT_MODES") ?? "").split(",").every((m) => m.trim() === "") ||
  (Deno.env.get("NN_INTERRUPT_MODES") ?? "").split(",").map((m) => m.trim()).includes(mode)
);
const SOURCE = join(FIXTURES, "interrupt_target.ipynb");
const sourceBytes = await Deno.readFile(SOURCE);
const timeoutInstalled = await hasTimeout();
if (!timeoutInstalled) console.log("GNU timeout is not installed: its trials are skipped");

/** A seeded generator, so that a failing trial can be repeated (NN_INTERRUPT_SEED). */
function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const seed = Number(Deno.env.get("NN_INTERRUPT_SEED") ?? Date.now() % 1_000_000);
console.log(`interruption trials: ${TRIALS}, seed ${seed} (NN_INTERRUPT_SEED to repeat)`);
const random = mulberry32(seed);

const tally = { runs: 0, ok: 0, lost: 0 };
/** Where the interruptions landed: kernel startup, or the cell (1-based over all cells). */
const landed = new Map<string, number>();

for (let i = 0; i < TRIALS; i++) {
  const mode = MODES[i % MODES.length];
  // From the runner's first line: kernel startup, the short cells, the busy cell or the loop.
  const delayMs = Math.floor(random() * 5_000);
  const secondAfterMs = 1_100 + Math.floor(random() * 1_500);
  const needsTimeout = mode.startsWith("timeout");
  Deno.test({
    name: `interruption ${i + 1}/${TRIALS}: ${mode}, ${delayMs} ms in, under CPU load`,
    ignore: needsTimeout && !timeoutInstalled,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const out = await Deno.makeTempDir({ prefix: "nn-interrupt-" });
      const load = cpuLoad(cpuCount());
      tally.runs++;
      try {
        const result = await interruptRun({
          mode,
          delayMs,
          secondAfterMs,
          notebook: SOURCE,
          out,
        });
        try {
          const report = await assertInterrupted(result, { out, source: SOURCE, sourceBytes });
          tally.ok++;
          const index = report.notebooks[0].failure?.index ?? -1;
          const where = index < 0 ? "kernel startup" : `cell ${index + 1}`;
          landed.set(where, (landed.get(where) ?? 0) + 1);
        } catch (error) {
          try {
            await Deno.stat(join(out, "report.json"));
          } catch {
            tally.lost++;
          }
          throw error;
        }
      } finally {
        await load.stop();
        await Deno.remove(out, { recursive: true }).catch(() => {});
      }
    },
  });
}

Deno.test("interruptions: every report written", () => {
  console.log(
    `${tally.runs} interruptions under CPU load: ${tally.ok} left everything in order, ` +
      `${tally.lost} lost the report; they landed in ` +
      [...landed].sort().map(([where, n]) => `${where}: ${n}`).join(", "),
  );
  if (tally.lost > 0) {
    throw new Error(`${tally.lost} of ${tally.runs} interrupted runs lost the report`);
  }
});
