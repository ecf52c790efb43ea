/**
 * Rebuilds the Fashion-MNIST subset shipped in this folder from Debian's
 * `dataset-fashion-mnist` package (`apt-get install dataset-fashion-mnist`, files under
 * /usr/share/datasets/fashion-mnist/). Only needed to regenerate the data: the notebooks
 * read the committed files and need no system package.
 *
 * Recipe: from the package's training file take, for each class 0 … 9, its first
 * `TRAIN_PER_CLASS` images in file order; from its test file (t10k) the first
 * `TEST_PER_CLASS` of each class. Images keep the file's order (classes interleaved as in
 * the original). Written as IDX files (the original format: big-endian magic, dimensions,
 * then uint8 pixels / labels), gzip-compressed with the Web `CompressionStream`.
 *
 *     deno run -A data/fashion_mnist/make_subset.ts [/usr/share/datasets/fashion-mnist]
 *
 * then update data/manifest.json and data/README.md with the printed sha256 values. The
 * gzip bytes may differ between Deno versions; the printed sha256 of the *decompressed*
 * IDX bytes identify the content and are recorded in data/README.md.
 */

const TRAIN_PER_CLASS = 800;
const TEST_PER_CLASS = 200;
const source = Deno.args[0] ?? "/usr/share/datasets/fashion-mnist";
const here = new URL(".", import.meta.url);

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

async function subset(part: "train" | "t10k", perClass: number, name: string) {
  const images = await gunzip(await Deno.readFile(`${source}/${part}-images-idx3-ubyte.gz`));
  const labels = await gunzip(await Deno.readFile(`${source}/${part}-labels-idx1-ubyte.gz`));
  const n = new DataView(labels.buffer).getUint32(4);
  const taken = new Array(10).fill(0);
  const keep: number[] = [];
  for (let i = 0; i < n && keep.length < 10 * perClass; i++) {
    const y = labels[8 + i];
    if (taken[y] < perClass) {
      taken[y]++;
      keep.push(i);
    }
  }
  const px = new Uint8Array(keep.length * 784);
  const ys = new Uint8Array(keep.length);
  keep.forEach((i, k) => {
    px.set(images.subarray(16 + i * 784, 16 + (i + 1) * 784), k * 784);
    ys[k] = labels[8 + i];
  });
  for (
    const [file, raw] of [
      [`${name}-images-idx3-ubyte.gz`, idx(0x803, [keep.length, 28, 28], px)],
      [`${name}-labels-idx1-ubyte.gz`, idx(0x801, [keep.length], ys)],
    ] as const
  ) {
    const packed = await gzip(raw);
    await Deno.writeFile(new URL(file, here), packed);
    console.log(
      `${file}: ${packed.length} bytes, sha256 ${await sha256(packed)}; ` +
        `decompressed ${raw.length} bytes, sha256 ${await sha256(raw)}; ` +
        `source indices ${keep[0]} … ${keep.at(-1)}`,
    );
  }
}

await subset("train", TRAIN_PER_CLASS, "train");
await subset("t10k", TEST_PER_CLASS, "test");
