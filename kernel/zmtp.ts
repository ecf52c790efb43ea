/**
 * A minimal ZMTP 3.0 client over TCP: just enough ZeroMQ to talk to a Jupyter kernel,
 * written against the wire protocol (https://rfc.zeromq.org/spec/23/) instead of a
 * native addon.
 *
 * - NULL security mechanism (Jupyter signs messages itself with HMAC).
 * - Client-side socket types: `DEALER` (shell, control, stdin), `SUB` (iopub) and
 *   `REQ` (heartbeat). One connection per socket, no reconnection: a Jupyter kernel
 *   lives exactly as long as the connection, and a lost connection is a dead kernel.
 * - Subscriptions use the ZMTP 3.0 form (a message whose first byte is 1), which both
 *   3.0 and 3.1 peers accept.
 *
 * @example
 * ```ts ignore
 * import { ZmtpSocket } from "./zmtp.ts";
 * const hb = await ZmtpSocket.connect({ port: 45005, type: "REQ" });
 * await hb.send([new TextEncoder().encode("ping")]);
 * console.log(await hb.receive()); // [Uint8Array "ping"]
 * hb.close();
 * ```
 * @module
 */

/** Socket types this client can play. */
export type ZmtpSocketType = "DEALER" | "SUB" | "REQ";

/** Which peer socket types each client type may talk to (ZMTP 3.0 section "Socket types"). */
const COMPATIBLE: Record<ZmtpSocketType, readonly string[]> = {
  DEALER: ["ROUTER", "DEALER", "REP"],
  SUB: ["PUB", "XPUB"],
  REQ: ["REP", "ROUTER"],
};

const FLAG_MORE = 0x01;
const FLAG_LONG = 0x02;
const FLAG_COMMAND = 0x04;
const GREETING_LENGTH = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Raised when the peer breaks the ZMTP protocol or the connection ends mid-frame. */
export class ZmtpError extends Error {
  /** Creates a protocol error with a message saying what went wrong. */
  constructor(message: string) {
    super(message);
    this.name = "ZmtpError";
  }
}

/** Options for {@linkcode ZmtpSocket.connect}. */
export interface ZmtpConnectOptions {
  /** Host to connect to. Default `127.0.0.1`. */
  hostname?: string;
  /** TCP port. */
  port: number;
  /** The socket type this side plays. */
  type: ZmtpSocketType;
  /** Identity announced in READY (DEALER/REQ only). Default: none, the peer picks one. */
  identity?: Uint8Array;
}

/**
 * Builds the 64-byte ZMTP 3.0 greeting for the NULL mechanism, as a client.
 *
 * @example
 * ```ts
 * import { greeting } from "./zmtp.ts";
 * console.log(greeting().length); // 64
 * ```
 */
export function greeting(): Uint8Array {
  const g = new Uint8Array(GREETING_LENGTH);
  g[0] = 0xff; // signature: 0xFF, 8 bytes padding, 0x7F
  g[9] = 0x7f;
  g[10] = 3; // version major
  g[11] = 0; // version minor
  g.set(encoder.encode("NULL"), 12); // mechanism, zero padded to 20 bytes
  g[32] = 0; // as-server: false
  return g;
}

/** What a peer said in its greeting. */
export interface PeerGreeting {
  /** ZMTP major version. */
  major: number;
  /** ZMTP minor version. */
  minor: number;
  /** Security mechanism name. */
  mechanism: string;
}

/**
 * Parses and checks a peer's 64-byte greeting.
 *
 * @example
 * ```ts
 * import { greeting, parseGreeting } from "./zmtp.ts";
 * console.log(parseGreeting(greeting())); // { major: 3, minor: 0, mechanism: "NULL" }
 * ```
 */
export function parseGreeting(bytes: Uint8Array): PeerGreeting {
  if (bytes.length < GREETING_LENGTH || bytes[0] !== 0xff || bytes[9] !== 0x7f) {
    throw new ZmtpError("peer did not send a ZMTP greeting (is this port a ZeroMQ socket?)");
  }
  const major = bytes[10];
  const minor = bytes[11];
  if (major < 3) {
    throw new ZmtpError(`peer speaks ZMTP ${major}.${minor}; this client needs ZMTP 3.x`);
  }
  const mechanism = decoder.decode(bytes.subarray(12, 32)).replace(/\0+$/, "");
  if (mechanism !== "NULL") {
    throw new ZmtpError(
      `peer wants the ${mechanism} security mechanism; only NULL is supported`,
    );
  }
  return { major, minor, mechanism };
}

/**
 * Encodes one frame (a message part or a command) with its flags and length.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./zmtp.ts";
 * console.log(encodeFrame(new Uint8Array([1, 2]), { more: true })); // Uint8Array [1, 2, 1, 2]
 * ```
 */
export function encodeFrame(
  body: Uint8Array,
  options: { more?: boolean; command?: boolean } = {},
): Uint8Array {
  const long = body.length > 255;
  const header = long ? 9 : 2;
  const out = new Uint8Array(header + body.length);
  out[0] = (options.more ? FLAG_MORE : 0) | (options.command ? FLAG_COMMAND : 0) |
    (long ? FLAG_LONG : 0);
  if (long) new DataView(out.buffer).setBigUint64(1, BigInt(body.length));
  else out[1] = body.length;
  out.set(body, header);
  return out;
}

/**
 * Encodes a command body: name length, name, then properties
 * (name length, name, 4-byte value length, value).
 *
 * @example
 * ```ts
 * import { encodeCommand } from "./zmtp.ts";
 * const ready = encodeCommand("READY", { "Socket-Type": "DEALER" });
 * console.log(ready[0]); // 5, the length of "READY"
 * ```
 */
export function encodeCommand(
  name: string,
  properties: Record<string, string | Uint8Array> = {},
): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([name.length]), encoder.encode(name)];
  for (const [key, raw] of Object.entries(properties)) {
    const value = typeof raw === "string" ? encoder.encode(raw) : raw;
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, value.length);
    parts.push(new Uint8Array([key.length]), encoder.encode(key), len, value);
  }
  return concat(parts);
}

/** A parsed ZMTP command. */
export interface ZmtpCommand {
  /** Command name, e.g. `READY` or `ERROR`. */
  name: string;
  /** Properties (for READY) as raw bytes. */
  properties: Map<string, Uint8Array>;
  /** The bytes after the name (for commands other than READY). */
  data: Uint8Array;
}

/**
 * Parses a command body produced by {@linkcode encodeCommand}.
 *
 * @example
 * ```ts
 * import { encodeCommand, parseCommand } from "./zmtp.ts";
 * const cmd = parseCommand(encodeCommand("READY", { "Socket-Type": "SUB" }));
 * console.log(cmd.name, new TextDecoder().decode(cmd.properties.get("Socket-Type"))); // READY SUB
 * ```
 */
export function parseCommand(body: Uint8Array): ZmtpCommand {
  if (body.length < 1 || body.length < 1 + body[0]) {
    throw new ZmtpError("peer sent a truncated command");
  }
  const name = decoder.decode(body.subarray(1, 1 + body[0]));
  const data = body.subarray(1 + body[0]);
  const properties = new Map<string, Uint8Array>();
  if (name === "READY") {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let i = 0;
    while (i < data.length) {
      const keyLen = data[i];
      const key = decoder.decode(data.subarray(i + 1, i + 1 + keyLen));
      i += 1 + keyLen;
      if (i + 4 > data.length) throw new ZmtpError("peer sent a malformed READY property");
      const valueLen = view.getUint32(i);
      i += 4;
      if (i + valueLen > data.length) throw new ZmtpError("peer sent a malformed READY property");
      properties.set(key, data.slice(i, i + valueLen));
      i += valueLen;
    }
  }
  return { name, properties, data };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Buffered exact-length reads from a TCP connection. */
class ByteReader {
  #chunks: Uint8Array[] = [];
  #available = 0;
  #eof = false;
  #conn: Deno.Conn;
  #buf = new Uint8Array(256 * 1024);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads exactly `n` bytes, or returns null at a clean end of stream with nothing buffered. */
  async read(n: number): Promise<Uint8Array | null> {
    while (this.#available < n) {
      if (this.#eof) {
        if (this.#available === 0) return null;
        throw new ZmtpError("connection closed in the middle of a frame");
      }
      let got: number | null;
      try {
        got = await this.#conn.read(this.#buf);
      } catch (error) {
        if (
          error instanceof Deno.errors.BadResource ||
          error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.Interrupted
        ) {
          got = null;
        } else throw error;
      }
      if (got === null) {
        this.#eof = true;
        continue;
      }
      this.#chunks.push(this.#buf.slice(0, got));
      this.#available += got;
    }
    return this.#take(n);
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length === n) {
      this.#chunks.shift();
      this.#available -= n;
      return first;
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      this.#available -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length, n - offset);
      out.set(chunk.subarray(0, take), offset);
      offset += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#available -= n;
    return out;
  }
}

/** One decoded frame. */
interface Frame {
  more: boolean;
  command: boolean;
  body: Uint8Array;
}

async function readFrame(reader: ByteReader): Promise<Frame | null> {
  const flags = await reader.read(1);
  if (flags === null) return null;
  const long = (flags[0] & FLAG_LONG) !== 0;
  const sizeBytes = await reader.read(long ? 8 : 1);
  if (sizeBytes === null) throw new ZmtpError("connection closed in the middle of a frame");
  const size = long
    ? Number(new DataView(sizeBytes.buffer, sizeBytes.byteOffset, 8).getBigUint64(0))
    : sizeBytes[0];
  const body = size === 0 ? new Uint8Array(0) : await reader.read(size);
  if (body === null) throw new ZmtpError("connection closed in the middle of a frame");
  return {
    more: (flags[0] & FLAG_MORE) !== 0,
    command: (flags[0] & FLAG_COMMAND) !== 0,
    body,
  };
}

/** An unbounded async queue of messages, closed when the connection ends. */
class MessageQueue {
  #items: Uint8Array[][] = [];
  #waiters: ((value: Uint8Array[] | null) => void)[] = [];
  #closed = false;

  push(item: Uint8Array[]): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }

  next(): Promise<Uint8Array[] | null> {
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/**
 * One ZMTP connection playing a client socket type.
 *
 * @example
 * ```ts ignore
 * import { ZmtpSocket } from "./zmtp.ts";
 * const iopub = await ZmtpSocket.connect({ port: 45002, type: "SUB" });
 * await iopub.subscribe("");
 * const frames = await iopub.receive();
 * iopub.close();
 * ```
 */
export class ZmtpSocket {
  /** The socket type this side plays. */
  readonly type: ZmtpSocketType;
  /** The peer's socket type from its READY command. */
  readonly peerType: string;
  /** The peer's ZMTP version, e.g. `3.0`. */
  readonly peerVersion: string;
  /** Resolves when the connection has ended (peer closed, error, or {@linkcode close}). */
  readonly closed: Promise<void>;

  #conn: Deno.Conn;
  #reader: ByteReader;
  #queue = new MessageQueue();
  #writing: Promise<void> = Promise.resolve();
  #isClosed = false;
  #closeError: Error | undefined;
  #resolveClosed!: () => void;

  private constructor(
    conn: Deno.Conn,
    reader: ByteReader,
    type: ZmtpSocketType,
    peerType: string,
    peerVersion: string,
  ) {
    this.#conn = conn;
    this.#reader = reader;
    this.type = type;
    this.peerType = peerType;
    this.peerVersion = peerVersion;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#readLoop();
  }

  /**
   * Connects, exchanges greetings and READY commands, and checks the peer's socket type.
   * Throws `Deno.errors.ConnectionRefused` when nothing listens yet (callers retry).
   */
  static async connect(options: ZmtpConnectOptions): Promise<ZmtpSocket> {
    const conn = await Deno.connect({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      transport: "tcp",
    });
    try {
      conn.setNoDelay(true);
      await writeAll(conn, greeting());
      const reader = new ByteReader(conn);
      const peerGreeting = await reader.read(GREETING_LENGTH);
      if (peerGreeting === null) {
        throw new ZmtpError(`port ${options.port} closed the connection during the greeting`);
      }
      const peer = parseGreeting(peerGreeting);
      const properties: Record<string, string | Uint8Array> = { "Socket-Type": options.type };
      if (options.identity && options.type !== "SUB") properties["Identity"] = options.identity;
      await writeAll(conn, encodeFrame(encodeCommand("READY", properties), { command: true }));
      const frame = await readFrame(reader);
      if (frame === null || !frame.command) {
        throw new ZmtpError(`port ${options.port} did not answer the handshake with READY`);
      }
      const command = parseCommand(frame.body);
      if (command.name === "ERROR") {
        const reason = decoder.decode(command.data.subarray(1, 1 + (command.data[0] ?? 0)));
        throw new ZmtpError(`peer refused the handshake: ${reason}`);
      }
      if (command.name !== "READY") {
        throw new ZmtpError(`expected READY from the peer, got ${command.name}`);
      }
      const peerType = decoder.decode(command.properties.get("Socket-Type") ?? new Uint8Array());
      if (!COMPATIBLE[options.type].includes(peerType)) {
        throw new ZmtpError(
          `a ${options.type} socket cannot talk to a ${peerType || "nameless"} socket ` +
            `(port ${options.port})`,
        );
      }
      return new ZmtpSocket(conn, reader, options.type, peerType, `${peer.major}.${peer.minor}`);
    } catch (error) {
      try {
        conn.close();
      } catch { /* already closed */ }
      throw error;
    }
  }

  async #readLoop(): Promise<void> {
    let parts: Uint8Array[] = [];
    try {
      while (true) {
        const frame = await readFrame(this.#reader);
        if (frame === null) break;
        if (frame.command) continue; // PING/PONG etc. (ZMTP 3.1); nothing to do for 3.0 peers
        parts.push(frame.body);
        if (frame.more) continue;
        const message = parts;
        parts = [];
        if (this.type === "REQ") {
          // REP replies carry the empty delimiter of the request envelope.
          const at = message.findIndex((p) => p.length === 0);
          this.#queue.push(at >= 0 ? message.slice(at + 1) : message);
        } else this.#queue.push(message);
      }
    } catch (error) {
      if (!this.#isClosed) this.#closeError = error as Error;
    } finally {
      this.#finish();
    }
  }

  #finish(): void {
    if (!this.#isClosed) {
      this.#isClosed = true;
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }
    this.#queue.close();
    this.#resolveClosed();
  }

  /** The error that ended the connection, if it did not end cleanly. */
  get error(): Error | undefined {
    return this.#closeError;
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /**
   * Sends one multipart message. Sends are serialised, so concurrent calls never interleave.
   * REQ sockets add the empty delimiter frame themselves.
   */
  send(parts: Uint8Array[]): Promise<void> {
    const frames = this.type === "REQ" ? [new Uint8Array(0), ...parts] : parts;
    const bytes = concat(
      frames.map((part, i) => encodeFrame(part, { more: i < frames.length - 1 })),
    );
    const write = this.#writing.then(() => {
      if (this.#isClosed) throw new ZmtpError("cannot send: the connection is closed");
      return writeAll(this.#conn, bytes);
    });
    this.#writing = write.catch(() => {});
    return write;
  }

  /** Subscribes a SUB socket to a topic prefix (`""` for everything), ZMTP 3.0 style. */
  subscribe(topic: string | Uint8Array = ""): Promise<void> {
    if (this.type !== "SUB") throw new ZmtpError("only SUB sockets subscribe");
    const bytes = typeof topic === "string" ? encoder.encode(topic) : topic;
    return this.send([concat([new Uint8Array([1]), bytes])]);
  }

  /** The next multipart message, or null once the connection has ended. */
  receive(): Promise<Uint8Array[] | null> {
    return this.#queue.next();
  }

  /** Closes the connection; pending and later {@linkcode receive} calls return null. */
  close(): void {
    this.#finish();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}
