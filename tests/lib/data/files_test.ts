import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DataFileError,
  defaultDataDir,
  loadJson,
  loadText,
  readDataFile,
  readManifest,
  sha256Hex,
} from "../../../lib/data/mod.ts";

const encoder = new TextEncoder();

/** A temporary data folder holding `hello.txt` and a manifest that lists it. */
async function tempDataDir(): Promise<{ dir: string; sha: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nn_data_test_" });
  const bytes = encoder.encode("hello, data\n");
  await Deno.writeFile(join(dir, "hello.txt"), bytes);
  const sha = await sha256Hex(bytes);
  const manifest = {
    files: {
      "hello.txt": {
        sha256: sha,
        bytes: bytes.length,
        source: "written by the test",
        licence: "CC0-1.0",
      },
      "gone.txt": {
        sha256: sha,
        bytes: bytes.length,
        source: "https://example.org/gone.txt",
        licence: "CC0-1.0",
      },
    },
  };
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  return { dir, sha };
}

Deno.test("sha256Hex matches the FIPS 180-2 test vector for 'abc'", async () => {
  assert.equal(
    await sha256Hex(encoder.encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("readDataFile returns the bytes of a file whose hash matches", async () => {
  const { dir } = await tempDataDir();
  try {
    assert.equal(await loadText("hello.txt", { dataDir: dir }), "hello, data\n");
    assert.equal(
      (await readDataFile("hello.txt", { dataDir: new URL(`file://${dir}`) })).length,
      12,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a changed file gives one error naming the file, both hashes and the fix", async () => {
  const { dir, sha } = await tempDataDir();
  try {
    const tampered = encoder.encode("hello, DATA\n");
    await Deno.writeFile(join(dir, "hello.txt"), tampered);
    const actual = await sha256Hex(tampered);
    const error = await readDataFile("hello.txt", { dataDir: dir }).then(
      () => assert.fail("expected a DataFileError"),
      (e) => e,
    );
    assert.ok(error instanceof DataFileError);
    assert.equal(error.file, "hello.txt");
    assert.equal(error.expected, sha);
    assert.equal(error.actual, actual);
    assert.match(error.message, /Data file "hello\.txt" failed its sha256 check/);
    assert.ok(error.message.includes(`expected ${sha}`), error.message);
    assert.ok(error.message.includes(`actual ${actual}`), error.message);
    assert.match(error.message, /git checkout -- data\/hello\.txt/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing file gives the error with actual 'missing' and its source", async () => {
  const { dir, sha } = await tempDataDir();
  try {
    await assert.rejects(loadText("gone.txt", { dataDir: dir }), (e: unknown) => {
      assert.ok(e instanceof DataFileError);
      assert.equal(e.actual, "missing");
      assert.equal(e.expected, sha);
      assert.ok(e.message.includes(`expected ${sha}, actual missing`), e.message);
      assert.ok(e.message.includes("https://example.org/gone.txt"), e.message);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file not in the manifest is refused even when it exists", async () => {
  const { dir } = await tempDataDir();
  try {
    await Deno.writeTextFile(join(dir, "extra.txt"), "x");
    await assert.rejects(readDataFile("extra.txt", { dataDir: dir }), (e: unknown) => {
      assert.ok(e instanceof DataFileError);
      assert.equal(e.expected, "unlisted");
      assert.match(e.message, /not listed in .*manifest\.json.*Known files: hello\.txt, gone\.txt/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder without a manifest says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nn_data_test_" });
  try {
    await assert.rejects(
      readDataFile("x", { dataDir: dir }),
      /No data manifest at .*manifest\.json/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the default data folder is found from the library, not the current directory", async () => {
  const before = Deno.cwd();
  const elsewhere = await Deno.makeTempDir({ prefix: "nn_data_cwd_" });
  try {
    Deno.chdir(elsewhere);
    assert.ok(defaultDataDir().href.endsWith("/data/"));
    const rows = await loadJson<unknown[]>("sentiment/yelp.json");
    assert.equal(rows.length, 1001);
  } finally {
    Deno.chdir(before);
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("every shipped file matches the manifest, and data/README.md records each hash", async () => {
  const manifest = await readManifest();
  const readme = await Deno.readTextFile(new URL("README.md", defaultDataDir()));
  const names = Object.keys(manifest.files);
  // Every file under data/ (but the manifest and README) is listed, and nothing else.
  const onDisk: string[] = [];
  const walk = async (dir: URL, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
      else if (prefix !== "" || !["README.md", "manifest.json"].includes(entry.name)) {
        onDisk.push(`${prefix}${entry.name}`);
      }
    }
  };
  await walk(defaultDataDir(), "");
  assert.deepEqual(names.slice().sort(), onDisk.sort());
  assert.ok(names.includes("sentiment/imdb.json"));
  for (const name of names) {
    const entry = manifest.files[name];
    const bytes = await readDataFile(name);
    assert.equal(bytes.length, entry.bytes, name);
    assert.ok(readme.includes(entry.sha256), `data/README.md lacks the sha256 of ${name}`);
    assert.ok(entry.licence.length > 0 && entry.source.length > 0, name);
  }
});
