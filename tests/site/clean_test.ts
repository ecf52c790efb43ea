/**
 * kernel/clean.ts: dirty notebooks come out clean (outputs, counts, volatile metadata
 * gone; tags, ids, kernelspec and attachments kept), cleaning is idempotent, `--check`
 * reports without writing, and every committed notebook is clean.
 */
import assert from "node:assert/strict";
import { cleanFile, cleanNotebook, findNotebooks, main } from "../../kernel/clean.ts";
import { parseNotebook, serializeNotebook } from "../../kernel/notebook.ts";

const fixtures = new URL("../fixtures/site/", import.meta.url);
const executedFixture = new URL("project.out.ipynb", fixtures).pathname;
const cleanFixture = new URL("project.ipynb", fixtures).pathname;

async function tempCopy(path: string): Promise<{ dir: string; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nn-clean-" });
  const file = `${dir}/nb.ipynb`;
  await Deno.copyFile(path, file);
  return { dir, file };
}

/** Runs `main` with console.log/error captured. */
async function run(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { code: await main(args), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("clean: an executed notebook becomes exactly its clean source", async () => {
  const { dir, file } = await tempCopy(executedFixture);
  try {
    const result = await cleanFile(file);
    assert.equal(result.dirty, true);
    assert.ok(result.changes.some((c) => /outputs? removed/.test(c)), result.changes.join("; "));
    assert.ok(result.changes.some((c) => /execution counts? reset/.test(c)));
    assert.ok(result.changes.some((c) => c.includes("execution")), "cell timings removed");
    assert.ok(result.changes.some((c) => c.includes("language_info")));
    assert.equal(await Deno.readTextFile(file), await Deno.readTextFile(cleanFixture));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("clean: idempotent, and tags, ids, kernelspec and attachments are kept", async () => {
  const dirty = parseNotebook(await Deno.readTextFile(executedFixture), "fixture");
  dirty.cells[0].attachments = { "a.png": { "image/png": "AAAA" } };
  dirty.cells[1].metadata.jupyter = { outputs_hidden: true, source_hidden: true };
  dirty.cells[2].metadata.collapsed = true;
  dirty.cells[2].metadata.editable = false;
  dirty.metadata.widgets = { state: {} };
  dirty.metadata["neural-notebooks"] = { source_sha256: "x" };
  const once = cleanNotebook(dirty);
  const twice = cleanNotebook(once.notebook);
  assert.deepEqual(twice.changes, [], "a clean notebook has nothing to clean");
  assert.equal(serializeNotebook(twice.notebook), serializeNotebook(once.notebook));

  const nb = once.notebook;
  assert.deepEqual(nb.cells.map((c) => c.id), dirty.cells.map((c) => c.id));
  assert.deepEqual(nb.cells[1].metadata, {
    jupyter: { source_hidden: true },
    tags: ["parameters"],
  });
  assert.deepEqual(nb.cells[2].metadata, { editable: false });
  assert.deepEqual(nb.cells[0].attachments, { "a.png": { "image/png": "AAAA" } });
  assert.equal(nb.metadata.kernelspec?.name, "neural-notebooks");
  assert.deepEqual(Object.keys(nb.metadata).sort(), ["kernelspec", "language_info"]);
  assert.deepEqual(nb.metadata.language_info, { name: "typescript" }, "only the name is kept");
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    assert.deepEqual(cell.outputs, []);
    assert.equal(cell.execution_count, null);
  }
  assert.deepEqual(cellTagsOf(nb.cells.find((c) => c.id === "error")!), ["raises-exception"]);
  // The input was not modified.
  assert.ok((dirty.cells[2].outputs ?? []).length > 0);
});

function cellTagsOf(cell: { metadata: Record<string, unknown> }): unknown {
  return cell.metadata.tags;
}

Deno.test("clean: injected parameters go, missing ids are added in nbformat 4.5", () => {
  const { notebook, changes } = cleanNotebook({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: "code", metadata: { tags: ["parameters"] }, source: "seed = 1", outputs: [] },
      {
        id: "inj",
        cell_type: "code",
        metadata: { tags: ["injected-parameters"] },
        source: "seed = 2",
        outputs: [],
        execution_count: null,
      },
    ],
  });
  assert.equal(notebook.cells.length, 1);
  assert.match(String(notebook.cells[0].id), /^[0-9a-f]{8}$/);
  assert.equal(notebook.cells[0].execution_count, null);
  assert.ok(changes.some((c) => c.includes("injected-parameters")));
  assert.ok(changes.some((c) => c.includes("missing cell id")));
});

Deno.test("clean: --check writes nothing and exits 1 listing dirty notebooks", async () => {
  const { dir, file } = await tempCopy(executedFixture);
  try {
    await Deno.copyFile(cleanFixture, `${dir}/clean.ipynb`);
    const before = await Deno.readTextFile(file);
    const checked = await run(["--check", dir]);
    assert.equal(checked.code, 1);
    assert.match(checked.out, /not clean: .*nb\.ipynb/);
    assert.doesNotMatch(checked.out, /not clean: .*clean\.ipynb/);
    assert.equal(await Deno.readTextFile(file), before, "--check wrote nothing");

    const cleaned = await run([dir]);
    assert.equal(cleaned.code, 0);
    assert.match(cleaned.out, /cleaned: .*nb\.ipynb/);
    const again = await run(["--check", dir]);
    assert.equal(again.code, 0, again.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("clean: a broken notebook is reported, exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nn-clean-" });
  try {
    await Deno.writeTextFile(`${dir}/broken.ipynb`, "{ not json");
    const result = await run([dir]);
    assert.equal(result.code, 2);
    assert.match(result.out, /broken\.ipynb: not JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const committed = await findNotebooks([new URL("../../notebooks/", import.meta.url).pathname])
  .catch(() => [] as string[]);

Deno.test("clean: every committed notebook is clean (run `deno task clean`)", async () => {
  if (committed.length === 0) console.log("no notebooks in notebooks/ yet: nothing to check");
  const dirty: string[] = [];
  for (const path of committed) {
    const result = await cleanFile(path, { check: true });
    if (result.dirty) dirty.push(`${path} (${result.changes.join("; ")})`);
  }
  assert.deepEqual(dirty, [], "run `deno task clean` and commit");
});
