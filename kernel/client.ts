/**
 * A Jupyter kernel client over {@linkcode ZmtpSocket}s: shell and control (DEALER),
 * iopub (SUB) and heartbeat (REQ). It pairs replies with requests by
 * `parent_header.msg_id` and hands every iopub message, stamped with its arrival time,
 * to listeners. It knows nothing about processes; see `kernel_manager.ts`.
 *
 * @example
 * ```ts ignore
 * import { KernelClient } from "./client.ts";
 * import { readConnectionFile } from "./connection.ts";
 * const client = await KernelClient.connect(await readConnectionFile("kernel.json"));
 * const reply = await client.request("shell", "kernel_info_request", {});
 * console.log(reply.content.implementation);
 * client.close();
 * ```
 * @module
 */

import type { ConnectionInfo } from "./connection.ts";
import { type JupyterMessage, type MessageHeader, Session } from "./messaging.ts";
import { ZmtpSocket, type ZmtpSocketType } from "./zmtp.ts";

/** A request channel. */
export type Channel = "shell" | "control";

/** An iopub message with the time it arrived (ms since epoch). */
export interface IopubEvent {
  /**
   * The decoded message. For a corrupt message (see `corrupt`) only what could be parsed:
   * header and parent header when their parts are JSON, empty content.
   */
  message: JupyterMessage;
  /** `Date.now()` when it was decoded. */
  receivedAt: number;
  /**
   * Set when the message failed its signature check or could not be decoded: what it
   * carried is lost, and listeners should say so rather than drop it silently.
   */
  corrupt?: CorruptMessage;
}

/** What is known about an iopub message that failed to decode. */
export interface CorruptMessage {
  /** Total size of its frames in bytes. */
  bytes: number;
  /** Why decoding failed (the {@linkcode MessageError} text). */
  reason: string;
}

/**
 * Best-effort view of a message that failed to decode: the header and parent header when
 * their parts still parse, so that listeners can attribute it to a request.
 */
function salvage(frames: Uint8Array[]): JupyterMessage {
  const decoder = new TextDecoder();
  const at = frames.findIndex((f) => decoder.decode(f) === "<IDS|MSG>");
  const part = (i: number): Record<string, unknown> => {
    if (at < 0 || at + i >= frames.length) return {};
    try {
      const value = JSON.parse(decoder.decode(frames[at + i]));
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch {
      return {};
    }
  };
  const header = part(2) as Partial<MessageHeader>;
  return {
    identities: [],
    header: {
      msg_id: String(header.msg_id ?? ""),
      session: String(header.session ?? ""),
      username: String(header.username ?? ""),
      date: String(header.date ?? ""),
      msg_type: typeof header.msg_type === "string" ? header.msg_type : "unknown",
      version: String(header.version ?? ""),
    },
    parent_header: part(3) as Partial<MessageHeader>,
    metadata: {},
    content: {},
    buffers: [],
  };
}

/** Raised when a request gets no reply in time or the connection ends first. */
export class RequestError extends Error {
  /** Creates a request error with a message saying what went wrong. */
  constructor(message: string) {
    super(message);
    this.name = "RequestError";
  }
}

/** Raised for a request whose reply arrived corrupt (failed its signature check). */
export class CorruptMessageError extends RequestError {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "CorruptMessageError";
  }
}

/** Options for {@linkcode KernelClient.connect}. */
export interface ClientOptions {
  /** Give up connecting after this many ms. Default 30 000. */
  connectTimeoutMs?: number;
  /** Called between connection attempts; return a reason to stop retrying (e.g. the process exited). */
  abortReason?: () => string | undefined;
}

interface Pending {
  resolve: (message: JupyterMessage) => void;
  reject: (error: Error) => void;
}

async function connectWithRetry(
  info: ConnectionInfo,
  port: number,
  type: ZmtpSocketType,
  deadline: number,
  abortReason?: () => string | undefined,
): Promise<ZmtpSocket> {
  let delay = 20;
  while (true) {
    try {
      return await ZmtpSocket.connect({ hostname: info.ip, port, type });
    } catch (error) {
      const reason = abortReason?.();
      if (reason) throw new RequestError(reason);
      const retryable = error instanceof Deno.errors.ConnectionRefused ||
        error instanceof Deno.errors.ConnectionReset ||
        (error instanceof Error && error.name === "ZmtpError" &&
          /closed the connection|did not answer/.test(error.message));
      if (!retryable || Date.now() + delay > deadline) {
        throw new RequestError(
          `could not connect a ${type} socket to ${info.ip}:${port}: ${(error as Error).message}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 250);
    }
  }
}

/**
 * The channels of one kernel connection.
 *
 * @example
 * ```ts ignore
 * import { KernelClient } from "./client.ts";
 * const client = await KernelClient.connect(info);
 * const stop = client.onIopub(({ message }) => console.log(message.header.msg_type));
 * await client.request("shell", "execute_request", { code: "1 + 1", silent: false });
 * stop();
 * ```
 */
export class KernelClient {
  /** The message session (signing key, session id). */
  readonly session: Session;
  /** Arrival time of the latest iopub message, or 0. */
  lastIopubAt = 0;
  /** Messages (any channel) whose signature did not verify or could not be parsed. */
  badMessages = 0;

  #sockets: Record<Channel | "iopub" | "hb", ZmtpSocket>;
  #pending = new Map<string, Pending>();
  #listeners = new Set<(event: IopubEvent) => void>();
  #closed = false;
  #heartbeatQueue: ((ok: boolean) => void)[] = [];

  private constructor(session: Session, sockets: Record<Channel | "iopub" | "hb", ZmtpSocket>) {
    this.session = session;
    this.#sockets = sockets;
    this.#readReplies(sockets.shell);
    this.#readReplies(sockets.control);
    this.#readIopub(sockets.iopub);
    this.#readHeartbeat(sockets.hb);
  }

  /** Connects all channels (retrying while the kernel starts) and subscribes to iopub. */
  static async connect(info: ConnectionInfo, options: ClientOptions = {}): Promise<KernelClient> {
    const session = new Session({ key: info.key, signatureScheme: info.signature_scheme });
    const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
    const opened: ZmtpSocket[] = [];
    const open = async (port: number, type: ZmtpSocketType) => {
      const socket = await connectWithRetry(info, port, type, deadline, options.abortReason);
      opened.push(socket);
      return socket;
    };
    try {
      const iopub = await open(info.iopub_port, "SUB");
      await iopub.subscribe("");
      const shell = await open(info.shell_port, "DEALER");
      const control = await open(info.control_port, "DEALER");
      const hb = await open(info.hb_port, "REQ");
      return new KernelClient(session, { shell, control, iopub, hb });
    } catch (error) {
      for (const socket of opened) socket.close();
      throw error;
    }
  }

  async #readReplies(socket: ZmtpSocket): Promise<void> {
    while (true) {
      const frames = await socket.receive();
      if (frames === null) break;
      let message: JupyterMessage;
      try {
        message = await this.session.deserialize(frames);
      } catch (error) {
        this.badMessages++;
        // A reply that fails its check would leave its request waiting forever: fail the
        // request instead when the parent header still names it.
        const parentId = salvage(frames).parent_header.msg_id;
        const pending = parentId ? this.#pending.get(parentId) : undefined;
        if (pending) {
          this.#pending.delete(parentId!);
          const bytes = frames.reduce((sum, f) => sum + f.length, 0);
          pending.reject(
            new CorruptMessageError(
              `the kernel's reply (${bytes} bytes) was corrupt: ${(error as Error).message}`,
            ),
          );
        }
        continue;
      }
      const parentId = message.parent_header.msg_id;
      const pending = parentId ? this.#pending.get(parentId) : undefined;
      if (pending) {
        this.#pending.delete(parentId!);
        pending.resolve(message);
      }
    }
  }

  async #readIopub(socket: ZmtpSocket): Promise<void> {
    while (true) {
      const frames = await socket.receive();
      if (frames === null) break;
      let event: IopubEvent;
      try {
        event = { message: await this.session.deserialize(frames), receivedAt: Date.now() };
      } catch (error) {
        this.badMessages++;
        const bytes = frames.reduce((sum, f) => sum + f.length, 0);
        const reason = (error as Error).message;
        event = { message: salvage(frames), receivedAt: Date.now(), corrupt: { bytes, reason } };
      }
      this.lastIopubAt = event.receivedAt;
      for (const listener of this.#listeners) listener(event);
    }
  }

  async #readHeartbeat(socket: ZmtpSocket): Promise<void> {
    while (true) {
      const frames = await socket.receive();
      if (frames === null) break;
      this.#heartbeatQueue.shift()?.(true);
    }
    for (const waiter of this.#heartbeatQueue.splice(0)) waiter(false);
  }

  /** Adds an iopub listener; returns a function that removes it. */
  onIopub(listener: (event: IopubEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends a message built by the caller and returns the reply's promise (no timeout). */
  async send(channel: Channel, message: JupyterMessage<unknown>): Promise<JupyterMessage> {
    if (this.#closed) throw new RequestError("the kernel connection is closed");
    const reply = new Promise<JupyterMessage>((resolve, reject) => {
      this.#pending.set(message.header.msg_id, { resolve, reject });
    });
    await this.#sockets[channel].send(await this.session.serialize(message));
    return reply;
  }

  /**
   * Sends a request and waits for its reply.
   * Throws {@linkcode RequestError} after `timeoutMs` (default: wait forever) or on close.
   */
  async request(
    channel: Channel,
    msgType: string,
    content: Record<string, unknown>,
    options: { timeoutMs?: number; parent?: MessageHeader } = {},
  ): Promise<JupyterMessage> {
    const message = this.session.message(msgType, content, { parent: options.parent });
    const reply = this.send(channel, message);
    if (options.timeoutMs === undefined) return await reply;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#pending.delete(message.header.msg_id);
        reject(new RequestError(`no ${msgType} reply within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    });
    try {
      return await Promise.race([reply, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Pings the heartbeat channel; resolves true when the echo comes back within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    if (this.#closed || this.#sockets.hb.isClosed) return false;
    const echoed = new Promise<boolean>((resolve) => this.#heartbeatQueue.push(resolve));
    try {
      await this.#sockets.hb.send([new TextEncoder().encode("ping")]);
    } catch {
      return false;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([echoed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether {@linkcode close} was called or the shell connection ended. */
  get isClosed(): boolean {
    return this.#closed || this.#sockets.shell.isClosed;
  }

  /** Resolves when the shell connection ends (the kernel closed it or died). */
  get shellClosed(): Promise<void> {
    return this.#sockets.shell.closed;
  }

  /** Closes every channel; pending requests fail with {@linkcode RequestError}. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of Object.values(this.#sockets)) socket.close();
    for (const pending of this.#pending.values()) {
      pending.reject(new RequestError("the kernel connection was closed before the reply came"));
    }
    this.#pending.clear();
    this.#listeners.clear();
  }
}
