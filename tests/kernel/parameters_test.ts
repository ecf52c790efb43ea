import assert from "node:assert/strict";
import {
  declarationKinds,
  injectParameters,
  ParameterError,
  parseParameterArg,
  renderParameters,
} from "../../kernel/parameters.ts";
import type { Notebook } from "../../kernel/notebook.ts";

Deno.test("-p values are JSON when they parse, text otherwise", () => {
  assert.deepEqual(parseParameterArg("epochs=20"), ["epochs", 20]);
  assert.deepEqual(parseParameterArg("lr=1e-3"), ["lr", 0.001]);
  assert.deepEqual(parseParameterArg("on=true"), ["on", true]);
  assert.deepEqual(parseParameterArg('id="20"'), ["id", "20"]);
  assert.deepEqual(parseParameterArg("sizes=[8,16]"), ["sizes", [8, 16]]);
  assert.deepEqual(parseParameterArg("profile=smoke"), ["profile", "smoke"]);
  assert.deepEqual(parseParameterArg("expr=a=b"), ["expr", "a=b"]);
  assert.throws(() => parseParameterArg("epochs"), ParameterError);
  assert.throws(() => parseParameterArg("2x=1"), /not a TypeScript identifier/);
});

Deno.test("declarations are found per statement with their keyword", () => {
  const kinds = declarationKinds(
    'let epochs = 5;\nconst label: string = "x"; var old = 1;\nexport let seed = 2;\n// let commented',
  );
  assert.deepEqual(Object.fromEntries(kinds), {
    epochs: "let",
    label: "const",
    old: "var",
    seed: "let",
  });
});

Deno.test("injected values redeclare with the parameters cell's keyword", () => {
  const source = 'let epochs = 5;\nconst label = "a";';
  assert.equal(
    renderParameters({ epochs: 2, label: "b", extra: [1] }, source),
    '// Parameters\nlet epochs = 2;\nconst label = "b";\nlet extra = [1];\n',
  );
});

function notebook(): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { id: "t", cell_type: "markdown", metadata: {}, source: "# T" },
      { id: "p", cell_type: "code", metadata: { tags: ["parameters"] }, source: "let epochs = 5;" },
      { id: "w", cell_type: "code", metadata: {}, source: "epochs" },
    ],
  };
}

Deno.test("the injected cell goes after the parameters cell and replaces an earlier one", () => {
  const nb = notebook();
  const first = injectParameters(nb, { epochs: 1 });
  assert.equal(first?.index, 2);
  assert.deepEqual(first?.warnings, []);
  assert.deepEqual(nb.cells[2].metadata.tags, ["injected-parameters"]);
  assert.deepEqual(nb.cells[2].source, ["// Parameters\n", "let epochs = 1;\n"]);
  assert.match(String(nb.cells[2].id), /^[0-9a-f]{8}$/);
  injectParameters(nb, { epochs: 3, profile: "smoke" });
  const injected = nb.cells.filter((c) =>
    (c.metadata.tags as string[] | undefined)?.[0] === "injected-parameters"
  );
  assert.equal(injected.length, 1, "re-running replaces the injected cell");
  assert.equal(nb.cells.length, 4);
  assert.match(
    (injected[0].source as string[]).join(""),
    /let epochs = 3;\nlet profile = "smoke";/,
  );
  assert.equal(injectParameters(nb, {}), null, "no parameters, no change");
});

Deno.test("without a parameters cell the values go to the top, with a warning", () => {
  const nb = notebook();
  nb.cells[1].metadata = {};
  const result = injectParameters(nb, { epochs: 1 });
  assert.equal(result?.index, 0);
  assert.match(result!.warnings[0], /no code cell is tagged "parameters"/);
});
