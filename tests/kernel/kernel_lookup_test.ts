import assert from "node:assert/strict";
import { KernelLookupError, notebookLanguage, resolveKernel } from "../../kernel/kernel_lookup.ts";

Deno.test("an installed kernelspec wins over the built-in command", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/kernels/neural-notebooks`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/kernels/neural-notebooks/kernel.json`,
      JSON.stringify({
        argv: ["/opt/deno", "jupyter", "--kernel", "--conn", "{connection_file}"],
        env: { NO_COLOR: "1" },
        display_name: "NN",
        language: "typescript",
      }),
    );
    const { spec, warning } = await resolveKernel(
      { kernelspec: { name: "neural-notebooks", language: "typescript" } },
      [dir],
    );
    assert.equal(warning, undefined);
    assert.equal(spec.argv[0], "/opt/deno");
    assert.equal(spec.source, `${dir}/kernels/neural-notebooks/kernel.json`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without installed kernelspecs the two Deno names have built-in commands", async () => {
  const nn = await resolveKernel({
    kernelspec: { name: "neural-notebooks", language: "typescript" },
  }, []);
  assert.deepEqual(nn.spec.argv, ["deno", "jupyter", "--kernel", "--conn", "{connection_file}"]);
  assert.deepEqual(nn.spec.env, { NO_COLOR: "1" });
  assert.equal(nn.warning, undefined);
  const deno = await resolveKernel({ kernelspec: { name: "deno", language: "typescript" } }, []);
  assert.equal(deno.spec.name, "deno");
  assert.equal(deno.warning, undefined);
});

Deno.test("an unknown TypeScript kernel runs on Deno with a warning; other languages are refused", async () => {
  const other = await resolveKernel({ kernelspec: { name: "tslab", language: "typescript" } }, []);
  assert.equal(other.spec.name, "deno");
  assert.match(other.warning!, /kernel "tslab" is not installed/);
  await assert.rejects(
    resolveKernel({ kernelspec: { name: "python3", language: "python" } }, []),
    (e: Error) => e instanceof KernelLookupError && /written in python/.test(e.message),
  );
  await assert.rejects(
    resolveKernel({ kernelspec: { name: "deno" } }, []),
    /names no kernel language/,
  );
  assert.equal(notebookLanguage({ language_info: { name: "TypeScript" } }), "typescript");
});
