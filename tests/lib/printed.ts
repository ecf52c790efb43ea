/**
 * Test helper: what a call prints with `console.log` while it runs (the library's displays
 * print their `text/plain` line outside Jupyter).
 *
 * @example
 * ```ts ignore
 * import { printedBy } from "./printed.ts";
 * console.log(printedBy(() => console.log("hi"))); // ["hi"]
 * ```
 * @module
 */

/** Runs `fn` with `console.log` captured; returns the printed lines. */
export function printedBy(fn: () => unknown): string[] {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    fn();
  } finally {
    console.log = log;
  }
  return lines;
}
