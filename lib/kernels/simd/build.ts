/**
 * Assembles `kernels.wat` into `kernels_wasm.ts` (the module's bytes, base64, plus the
 * SHA-256 of the source they came from; four builds: a memory of its own, a shared memory
 * imported with relaxed SIMD's fused multiply-add (for helper threads), tfjs-wasm's heap
 * imported, and that one with the fused multiply-add), and `gemm.wat` into `gemm_wasm.ts` (four builds:
 * plain f32x4 and one whose multiply-add is relaxed SIMD's `f32x4.relaxed_madd`, each
 * importing a shared memory, for the multi-threaded GEMM, and with a memory of its own,
 * for runtimes without shared WebAssembly memory): wabt's
 * `wat2wasm` from npm, then Binaryen's optimiser (`-O3` with inlining: the small helpers
 * such as `$exp` are inlined into the loops, which V8 does not do itself; 20–35 % faster
 * kernels). Run it after editing a `.wat` file; `tests/lib/kernels/simd_test.ts` fails
 * while they differ.
 *
 * ```
 * deno task build:wasm          # writes kernels_wasm.ts and gemm_wasm.ts
 * deno task build:wasm --check  # exits 1 if either is out of date
 * ```
 * @module
 */

import wabtInit from "wabt";
import binaryen from "binaryen";
import { encodeBase64 } from "./base64.ts";

const here = new URL(".", import.meta.url);
const SOURCE = new URL("kernels.wat", here);
const TARGET = new URL("kernels_wasm.ts", here);
const GEMM_SOURCE = new URL("gemm.wat", here);
const GEMM_TARGET = new URL("gemm_wasm.ts", here);

/** `gemm.wat`'s plain multiply-add, which {@linkcode relaxedVariant} replaces. */
const PLAIN_MADD = "(f32x4.add (f32x4.mul (local.get $x) (local.get $y)) (local.get $z))";

/** The source with `$madd` as one relaxed-SIMD fused multiply-add. */
export function relaxedVariant(source: string): string {
  if (source.split(PLAIN_MADD).length !== 2) {
    throw new Error(
      `The source must contain \`${PLAIN_MADD}\` exactly once (the body of $madd).`,
    );
  }
  return source.replace(
    PLAIN_MADD,
    "(f32x4.relaxed_madd (local.get $x) (local.get $y) (local.get $z))",
  );
}

/** `gemm.wat`'s shared-memory import, which {@linkcode ownMemoryVariant} replaces. */
const SHARED_MEMORY = '(import "env" "memory" (memory 1 65536 shared))';

/**
 * The source with a memory of its own (exported as `memory`) instead of the imported
 * shared one: the single-threaded build for runtimes without shared WebAssembly memory.
 */
export function ownMemoryVariant(source: string): string {
  if (source.split(SHARED_MEMORY).length !== 2) {
    throw new Error(`gemm.wat must contain \`${SHARED_MEMORY}\` exactly once (its memory).`);
  }
  return source.replace(SHARED_MEMORY, '(memory (export "memory") 1)');
}

/** SHA-256 of `text`, hex. */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Functions Binaryen never inlines (names in the `.wat` files, without `$`). */
const NO_INLINE = ["mm", "transpose", "softmax", "softmax_backward_rows"];

/**
 * The WAT source assembled to a wasm binary (SIMD, multi-value, bulk memory and threads,
 * i.e. shared memory, on), then optimised by Binaryen (optimise level 3, shrink level 0,
 * functions up to 1000 bytes inlined).
 */
export async function assemble(source: string, relaxed = false): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const features = {
    simd: true,
    multi_value: true,
    bulk_memory: true,
    threads: true,
    relaxed_simd: relaxed,
  };
  const parsed = wabt.parseWat("kernels.wat", source, features);
  let plain: Uint8Array;
  try {
    // wabt validates with its default features unless given them (its typings omit the
    // argument): the shared memory needs `threads`
    (parsed as unknown as { validate(f: typeof features): void }).validate(features);
    // the names kept for Binaryen's no-inline pass (its output has no name section)
    plain = parsed.toBinary({ write_debug_names: true }).buffer;
  } finally {
    parsed.destroy();
  }
  const module = binaryen.readBinary(plain);
  try {
    module.setFeatures(
      binaryen.Features.SIMD128 | binaryen.Features.Multivalue | binaryen.Features.BulkMemory |
        binaryen.Features.BulkMemoryOpt | binaryen.Features.NontrappingFPToInt |
        binaryen.Features.Atomics | binaryen.Features.MutableGlobals |
        (relaxed ? binaryen.Features.RelaxedSIMD : 0),
    );
    // the kernels the attention loops call stay calls (inlined at each of their call
    // sites they doubled the module's size, for no measurable gain)
    for (const name of NO_INLINE) {
      binaryen.setPassArgument("no-inline", name); // one name a run: no lists
      module.runPasses(["no-inline"]);
    }
    binaryen.clearPassArguments();
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    binaryen.setAlwaysInlineMaxSize(1000);
    binaryen.setFlexibleInlineMaxSize(2000);
    module.optimize();
    if (!module.validate()) {
      throw new Error("Binaryen produced an invalid module from kernels.wat.");
    }
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

/** `kernels.wat`'s own memory, which {@linkcode heapVariant} replaces. */
const OWN_MEMORY = '(memory (export "memory") 1)';

/**
 * The source with its memory imported (`env.memory`) instead of its own: the same
 * kernels, instantiated on tfjs-backend-wasm's heap, run in place on tensors there
 * (`heapKernels` in `simd.ts`). The kernels keep no data of their own in memory.
 */
export function heapVariant(source: string): string {
  if (source.split(OWN_MEMORY).length !== 2) {
    throw new Error(`kernels.wat must contain \`${OWN_MEMORY}\` exactly once (its memory).`);
  }
  return source.replace(OWN_MEMORY, '(import "env" "memory" (memory 1))');
}

/**
 * The source with a shared memory imported (`env.memory`, up to 4 GiB) instead of its own:
 * the same kernels, which helper threads instantiate on the same memory
 * (`lib/kernels/simd/simd_threads.ts`).
 */
export function sharedVariant(source: string): string {
  if (source.split(OWN_MEMORY).length !== 2) {
    throw new Error(`kernels.wat must contain \`${OWN_MEMORY}\` exactly once (its memory).`);
  }
  return source.replace(OWN_MEMORY, SHARED_MEMORY);
}

/**
 * The text of `kernels_wasm.ts` for a source: its module, the same with a shared memory
 * imported and relaxed SIMD's fused multiply-add (`$madd`: `mm`'s tiles, `exp`'s
 * polynomial), its heap variant's, and the heap variant with the fused multiply-add.
 */
export async function render(source: string): Promise<string> {
  const own = await assemble(source);
  const shared = await assemble(relaxedVariant(sharedVariant(source)), true);
  const heap = await assemble(heapVariant(source));
  const heapRelaxed = await assemble(relaxedVariant(heapVariant(source)), true);
  return [
    "// Generated by `deno task build:wasm` from kernels.wat — do not edit.",
    "",
    "/** SHA-256 of the kernels.wat these bytes were assembled from. */",
    `export const SOURCE_SHA256 = "${await sha256(source)}";`,
    "",
    "/** The assembled module, with a memory of its own, base64. */",
    "export const WASM_BASE64 = [",
    ...base64Lines(own),
    '].join("");',
    "",
    "/**",
    " * The same kernels importing a shared memory (`env.memory`, for threads), with relaxed",
    " * SIMD's fused multiply-add in `$madd`, base64.",
    " */",
    "export const WASM_SHARED_BASE64 = [",
    ...base64Lines(shared),
    '].join("");',
    "",
    "/** The same kernels importing their memory (`env.memory`: tfjs-wasm's heap), base64. */",
    "export const WASM_HEAP_BASE64 = [",
    ...base64Lines(heap),
    '].join("");',
    "",
    "/** The heap variant with relaxed SIMD's fused multiply-add in `$madd`, base64. */",
    "export const WASM_HEAP_RELAXED_BASE64 = [",
    ...base64Lines(heapRelaxed),
    '].join("");',
    "",
  ].join("\n");
}

function base64Lines(bytes: Uint8Array): string[] {
  const b64 = encodeBase64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 96) lines.push(`  "${b64.slice(i, i + 96)}",`);
  return lines;
}

/**
 * The text of `gemm_wasm.ts` for `gemm.wat`: its plain and relaxed-SIMD builds, each with
 * the shared memory imported and with a memory of its own.
 */
export async function renderGemm(source: string): Promise<string> {
  const plain = await assemble(source);
  const relaxed = await assemble(relaxedVariant(source), true);
  const own = ownMemoryVariant(source);
  const ownPlain = await assemble(own);
  const ownRelaxed = await assemble(relaxedVariant(own), true);
  return [
    "// Generated by `deno task build:wasm` from gemm.wat — do not edit.",
    "",
    "/** SHA-256 of the gemm.wat these bytes were assembled from. */",
    "export const GEMM_SOURCE_SHA256 =",
    `  "${await sha256(source)}";`,
    "",
    "/** The module with plain f32x4 multiply and add (imports a shared memory), base64. */",
    "export const GEMM_WASM_BASE64 = [",
    ...base64Lines(plain),
    '].join("");',
    "",
    "/**",
    " * The module with relaxed SIMD's fused multiply-add (`f32x4.relaxed_madd`; imports a",
    " * shared memory), base64.",
    " */",
    "export const GEMM_RELAXED_WASM_BASE64 = [",
    ...base64Lines(relaxed),
    '].join("");',
    "",
    "/** Plain f32x4, with a memory of its own (single-threaded fallback), base64. */",
    "export const GEMM_OWN_MEMORY_WASM_BASE64 = [",
    ...base64Lines(ownPlain),
    '].join("");',
    "",
    "/** Relaxed-SIMD fma, with a memory of its own (single-threaded fallback), base64. */",
    "export const GEMM_OWN_MEMORY_RELAXED_WASM_BASE64 = [",
    ...base64Lines(ownRelaxed),
    '].join("");',
    "",
  ].join("\n");
}

if (import.meta.main) {
  const source = await Deno.readTextFile(SOURCE);
  const gemmSource = await Deno.readTextFile(GEMM_SOURCE);
  const outputs: [URL, string][] = [
    [TARGET, await render(source)],
    [GEMM_TARGET, await renderGemm(gemmSource)],
  ];
  let stale = false;
  for (const [target, text] of outputs) {
    const name = target.pathname.split("/").pop();
    if (Deno.args.includes("--check")) {
      const current = await Deno.readTextFile(target).catch(() => "");
      if (current !== text) {
        console.error(`lib/kernels/simd/${name} is out of date: run \`deno task build:wasm\`.`);
        stale = true;
      } else console.log(`${name} is up to date.`);
    } else {
      await Deno.writeTextFile(target, text);
      console.log(`wrote ${target.pathname} (${text.length} characters)`);
    }
  }
  if (stale) Deno.exit(1);
}
