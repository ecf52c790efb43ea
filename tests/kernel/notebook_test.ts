import assert from "node:assert/strict";
import {
  type Notebook,
  NotebookError,
  parseNotebook,
  readNotebook,
  serializeNotebook,
  splitLines,
  writeFileAtomic,
} from "../../kernel/notebook.ts";
import { normalizeStreamText } from "../../kernel/executor.ts";

const valid = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
  cells: [{
    id: "a1",
    cell_type: "code",
    metadata: {},
    source: "1",
    outputs: [],
    execution_count: null,
  }],
};

Deno.test("broken notebooks get one clear message each", () => {
  const cases: [string, RegExp][] = [
    ["{not json", /x\.ipynb: not JSON .*really a \.ipynb/],
    ["[1, 2]", /not a Jupyter notebook \(the JSON is not an object\)/],
    [JSON.stringify({ ...valid, nbformat: 3 }), /nbformat 3; the runner reads nbformat 4/],
    [JSON.stringify({ cells: [] }), /no nbformat field/],
    [JSON.stringify({ ...valid, cells: undefined }), /no "cells" list/],
    [
      JSON.stringify({ ...valid, cells: [{ cell_type: "code" }] }),
      /cell 1 has no cell_type or source/,
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseNotebook(text, "x.ipynb"), (e: Error) => {
      assert.ok(e instanceof NotebookError);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.equal(parseNotebook(JSON.stringify(valid), "ok.ipynb").cells.length, 1);
});

Deno.test("unreadable files are reported, not thrown as raw errors", async () => {
  await assert.rejects(
    readNotebook("/no/such/notebook.ipynb"),
    /cannot read the file \(no such file\)/,
  );
  const dir = await Deno.makeTempDir({ suffix: ".ipynb" });
  try {
    await assert.rejects(readNotebook(dir), /cannot read the file/);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("notebooks serialise like nbformat: sorted keys, 1-space indent, lines split", () => {
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{
      id: "c",
      cell_type: "code",
      metadata: {},
      source: "a\nb",
      execution_count: 1,
      outputs: [
        { output_type: "stream", name: "stdout", text: "x\ny\n" },
        {
          output_type: "display_data",
          metadata: {},
          data: { "text/html": "<p>\n</p>", "application/vnd.plotly.v1+json": { data: [] } },
        },
      ],
    }],
  };
  const text = serializeNotebook(nb);
  assert.ok(text.startsWith('{\n "cells": [\n  {\n   "cell_type": "code",'));
  assert.ok(text.endsWith("}\n"));
  const back = JSON.parse(text);
  assert.deepEqual(back.cells[0].source, ["a\n", "b"]);
  assert.deepEqual(back.cells[0].outputs[0].text, ["x\n", "y\n"]);
  assert.deepEqual(back.cells[0].outputs[1].data["text/html"], ["<p>\n", "</p>"]);
  assert.deepEqual(back.cells[0].outputs[1].data["application/vnd.plotly.v1+json"], { data: [] });
  assert.equal(nb.cells[0].source, "a\nb", "the notebook object itself is not changed");
  assert.deepEqual(splitLines(""), []);
});

Deno.test("atomic writes leave no temporary file behind and replace the target whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFileAtomic(`${dir}/sub/out.ipynb`, "first");
    await writeFileAtomic(`${dir}/sub/out.ipynb`, "second");
    assert.equal(await Deno.readTextFile(`${dir}/sub/out.ipynb`), "second");
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name);
    assert.deepEqual(names, ["out.ipynb"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream text: \\r overwrites the line, \\b deletes, both in linear time", () => {
  assert.equal(normalizeStreamText("10%\r50%\r100%\n"), "100%\n");
  assert.equal(normalizeStreamText("a\rb\r\nc"), "b\r\nc");
  assert.equal(normalizeStreamText("abc\r"), "abc\r", "a trailing \\r waits for the next chunk");
  assert.equal(normalizeStreamText("ab\bc\n\bd"), "ac\nd", "\\b never deletes a line end");
  const long = "x".repeat(2_000_000);
  assert.equal(normalizeStreamText(long + "\rdone"), "done");
});
