/**
 * Every committed notebook follows the project's conventions (DESIGN.md): nbformat 4.5
 * with cell ids, this project's kernelspec, a title cell, a `parameters` cell with
 * `profile` and `seed`, and no outputs or execution counts.
 */
import assert from "node:assert/strict";

const dir = new URL("../../notebooks/", import.meta.url);
const notebooks: string[] = [];
try {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) notebooks.push(entry.name);
  }
} catch (error) {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
notebooks.sort();
if (notebooks.length === 0) console.log("no notebooks in notebooks/ yet: nothing to check");

const text = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);

for (const name of notebooks) {
  Deno.test(`notebook conventions: ${name}`, async () => {
    const nb = JSON.parse(await Deno.readTextFile(new URL(name, dir)));
    assert.equal(nb.nbformat, 4);
    assert.ok(nb.nbformat_minor >= 5, "nbformat 4.5 or later (cell ids)");
    assert.equal(nb.metadata?.kernelspec?.name, "neural-notebooks");
    assert.equal(nb.metadata?.kernelspec?.language, "typescript");
    const cells = nb.cells as Array<Record<string, unknown>>;
    const ids = new Set<string>();
    cells.forEach((c, i) => {
      assert.equal(typeof c.id, "string", `cell ${i} has an id`);
      assert.ok(!ids.has(c.id as string), `cell id ${c.id} is unique`);
      ids.add(c.id as string);
      if (c.cell_type === "code") {
        assert.deepEqual(c.outputs, [], `cell ${i} (${c.id}) has outputs: run \`deno task clean\``);
        assert.equal(c.execution_count, null, `cell ${i} (${c.id}) has an execution count`);
      }
    });
    assert.equal(cells[0].cell_type, "markdown", "first cell: title and what it shows");
    assert.match(text(cells[0].source as string[]), /^# /, "first cell starts with a # title");
    const params = cells[1];
    assert.equal(params.cell_type, "code", "second cell: the parameters cell");
    const tags = ((params.metadata as Record<string, unknown>)?.tags ?? []) as string[];
    assert.ok(tags.includes("parameters"), "second cell is tagged `parameters`");
    const src = text(params.source as string[]);
    assert.match(
      src,
      /^let profile = "full";/m,
      'the parameters cell defaults to profile = "full": Run All shows the lesson\'s experiment',
    );
    const code = cells.filter((c) => c.cell_type === "code").map((c) => text(c.source as string[]));
    assert.ok(
      code.some((c) => /\bnn\.useProfile\(profile\)/.test(c)),
      "a setup cell declares the profile with nn.useProfile(profile) (smoke banner, titles)",
    );
    for (const c of code) {
      assert.doesNotMatch(
        c,
        /\bnn\.(displayable|showClaim|chartBundle)\(|Symbol\.for\("Jupyter\.display"\)/,
        "one display rule: nn.show, nn.claim and nn.publish display at once (no local helpers)",
      );
    }
    assert.match(src, /\bseed\b/, "parameters cell sets `seed`");
  });
}
