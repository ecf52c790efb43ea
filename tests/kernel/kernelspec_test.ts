import assert from "node:assert/strict";
import { join } from "node:path";
import { installKernelspec, KERNEL_NAME, uninstallKernelspec } from "../../kernel/kernelspec.ts";

async function hasJupyter(): Promise<boolean> {
  try {
    const out = await new Deno.Command("jupyter", {
      args: ["kernelspec", "--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}
const jupyter = await hasJupyter();
if (!jupyter) {
  console.log(
    "skipping the `jupyter kernelspec list` check: jupyter is not installed (apt-get install jupyter-client)",
  );
}

Deno.test("kernelspec: kernel.json, logos, uninstall", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { path, kernel } = await installKernelspec({ dataDir: dir });
    assert.equal(path, join(dir, "kernels", KERNEL_NAME));
    const written = JSON.parse(await Deno.readTextFile(join(path, "kernel.json")));
    assert.deepEqual(written, kernel);
    assert.deepEqual(written.argv.slice(1), ["jupyter", "--kernel", "--conn", "{connection_file}"]);
    assert.equal(written.env.NO_COLOR, "1");
    assert.equal(written.language, "typescript");
    const png = await Deno.readFile(join(path, "logo-64x64.png"));
    assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47]);
    assert.equal(await uninstallKernelspec({ dataDir: dir }), path);
    assert.equal(await uninstallKernelspec({ dataDir: dir }), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "kernelspec: `deno task kernel --prefix` is listed by Debian's `jupyter kernelspec list`",
  ignore: !jupyter,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const cli = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../kernel/kernelspec.ts", import.meta.url).pathname,
          "--data-dir",
          dir,
        ],
      }).output();
      assert.ok(cli.success, new TextDecoder().decode(cli.stderr));
      assert.match(
        new TextDecoder().decode(cli.stdout),
        /Installed the kernelspec "neural-notebooks"/,
      );
      const list = await new Deno.Command("jupyter", {
        args: ["kernelspec", "list", "--json"],
        env: { JUPYTER_DATA_DIR: dir },
      }).output();
      assert.ok(list.success, new TextDecoder().decode(list.stderr));
      const specs = JSON.parse(new TextDecoder().decode(list.stdout)).kernelspecs;
      assert.ok(KERNEL_NAME in specs, `listed: ${Object.keys(specs).join(", ")}`);
      assert.equal(specs[KERNEL_NAME].resource_dir, join(dir, "kernels", KERNEL_NAME));
      assert.equal(specs[KERNEL_NAME].spec.display_name, "Neural Notebooks (Deno)");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
