/**
 * Jupyter connection files: free TCP ports on 127.0.0.1, a random HMAC key, and the
 * JSON file a kernel reads with `--conn FILE` (or `-f FILE`).
 *
 * @example
 * ```ts
 * import { createConnectionInfo, writeConnectionFile } from "./connection.ts";
 * const info = await createConnectionInfo({ kernelName: "deno" });
 * const path = await writeConnectionFile(info);
 * console.log(info.shell_port > 0, path.endsWith(".json")); // true true
 * await Deno.remove(path);
 * ```
 * @module
 */

/** The contents of a Jupyter connection file. */
export interface ConnectionInfo {
  /** Interface the kernel binds, always `127.0.0.1` here. */
  ip: string;
  /** Transport, always `tcp` here. */
  transport: "tcp";
  /** ROUTER port for requests and replies. */
  shell_port: number;
  /** PUB port for outputs and status. */
  iopub_port: number;
  /** ROUTER port for input requests. */
  stdin_port: number;
  /** ROUTER port for shutdown and interrupt. */
  control_port: number;
  /** REP port for the heartbeat. */
  hb_port: number;
  /** HMAC key. */
  key: string;
  /** Always `hmac-sha256`. */
  signature_scheme: "hmac-sha256";
  /** Name of the kernelspec, for information. */
  kernel_name: string;
}

/** Ports handed out by this process and not yet released, so parallel kernels never share. */
const reserved = new Set<number>();

/**
 * Finds `count` distinct free TCP ports on `hostname` by binding port 0.
 *
 * @example
 * ```ts
 * import { freePorts } from "./connection.ts";
 * const ports = await freePorts(5);
 * console.log(new Set(ports).size); // 5
 * ```
 */
export function freePorts(count: number, hostname = "127.0.0.1"): Promise<number[]> {
  const ports: number[] = [];
  const listeners: Deno.Listener[] = [];
  try {
    while (ports.length < count) {
      const listener = Deno.listen({ hostname, port: 0, transport: "tcp" });
      listeners.push(listener);
      const port = (listener.addr as Deno.NetAddr).port;
      if (reserved.has(port)) continue;
      reserved.add(port);
      ports.push(port);
    }
  } finally {
    for (const listener of listeners) listener.close();
  }
  return Promise.resolve(ports);
}

/**
 * Returns ports obtained with {@linkcode freePorts} so that they may be handed out again.
 *
 * @example
 * ```ts
 * import { freePorts, releasePorts } from "./connection.ts";
 * releasePorts(await freePorts(2));
 * ```
 */
export function releasePorts(ports: Iterable<number>): void {
  for (const port of ports) reserved.delete(port);
}

/** A random 32-byte key, hex encoded. */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Options for {@linkcode createConnectionInfo}. */
export interface ConnectionOptions {
  /** Kernelspec name written into the file. Default `deno`. */
  kernelName?: string;
  /** Interface to bind. Default `127.0.0.1`. */
  ip?: string;
  /** HMAC key. Default: 32 random bytes, hex. */
  key?: string;
}

/**
 * Builds connection info with five fresh ports and a random key.
 *
 * @example
 * ```ts
 * import { createConnectionInfo } from "./connection.ts";
 * const info = await createConnectionInfo();
 * console.log(info.signature_scheme, info.key.length); // hmac-sha256 64
 * ```
 */
export async function createConnectionInfo(
  options: ConnectionOptions = {},
): Promise<ConnectionInfo> {
  const ip = options.ip ?? "127.0.0.1";
  const [shell, iopub, stdin, control, hb] = await freePorts(5, ip);
  return {
    ip,
    transport: "tcp",
    shell_port: shell,
    iopub_port: iopub,
    stdin_port: stdin,
    control_port: control,
    hb_port: hb,
    key: options.key ?? randomKey(),
    signature_scheme: "hmac-sha256",
    kernel_name: options.kernelName ?? "deno",
  };
}

/**
 * The five ports of a connection.
 *
 * @example
 * ```ts
 * import { connectionPorts, createConnectionInfo } from "./connection.ts";
 * console.log(connectionPorts(await createConnectionInfo()).length); // 5
 * ```
 */
export function connectionPorts(info: ConnectionInfo): number[] {
  return [info.shell_port, info.iopub_port, info.stdin_port, info.control_port, info.hb_port];
}

/**
 * Writes connection info to `path` (default: a fresh temporary file) with mode 0600,
 * and returns the path.
 *
 * @example
 * ```ts
 * import { createConnectionInfo, readConnectionFile, writeConnectionFile } from "./connection.ts";
 * const path = await writeConnectionFile(await createConnectionInfo());
 * console.log((await readConnectionFile(path)).transport); // tcp
 * await Deno.remove(path);
 * ```
 */
export async function writeConnectionFile(info: ConnectionInfo, path?: string): Promise<string> {
  const target = path ?? await Deno.makeTempFile({ prefix: "kernel-", suffix: ".json" });
  await Deno.writeTextFile(target, JSON.stringify(info, null, 2) + "\n", { mode: 0o600 });
  return target;
}

/**
 * Reads and checks a connection file.
 *
 * @example
 * ```ts ignore
 * import { readConnectionFile } from "./connection.ts";
 * const info = await readConnectionFile("kernel-1234.json");
 * ```
 */
export async function readConnectionFile(path: string): Promise<ConnectionInfo> {
  const info = JSON.parse(await Deno.readTextFile(path)) as Partial<ConnectionInfo>;
  for (const field of ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"]) {
    if (typeof info[field as keyof ConnectionInfo] !== "number") {
      throw new Error(`connection file ${path} has no numeric ${field}`);
    }
  }
  if (info.transport !== undefined && info.transport !== "tcp") {
    throw new Error(`connection file ${path} uses transport ${info.transport}; only tcp works`);
  }
  return {
    ip: info.ip ?? "127.0.0.1",
    transport: "tcp",
    signature_scheme: "hmac-sha256",
    kernel_name: info.kernel_name ?? "",
    key: info.key ?? "",
    ...info,
  } as ConnectionInfo;
}
