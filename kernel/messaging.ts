/**
 * The Jupyter wire protocol (messaging spec 5.3): message construction, the
 * `<IDS|MSG>` delimiter, and HMAC-SHA256 signatures computed and checked with WebCrypto.
 *
 * @example
 * ```ts
 * import { Session } from "./messaging.ts";
 * const session = new Session({ key: "secret" });
 * const msg = session.message("kernel_info_request", {});
 * const frames = await session.serialize(msg);
 * const back = await session.deserialize(frames);
 * console.log(back.header.msg_type); // "kernel_info_request"
 * ```
 * @module
 */

/** The delimiter between routing identities and the signed message. */
export const DELIMITER = "<IDS|MSG>";
/** Messaging protocol version this client speaks. */
export const PROTOCOL_VERSION = "5.3";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DELIMITER_BYTES = encoder.encode(DELIMITER);

/** A Jupyter message header. */
export interface MessageHeader {
  /** Unique id of this message. */
  msg_id: string;
  /** Session id of the sender. */
  session: string;
  /** User name of the sender. */
  username: string;
  /** ISO 8601 timestamp. */
  date: string;
  /** Message type, e.g. `execute_request`. */
  msg_type: string;
  /** Protocol version. */
  version: string;
}

/** A decoded Jupyter message. */
export interface JupyterMessage<C = Record<string, unknown>> {
  /** Routing identities that preceded the delimiter (for ROUTER/PUB topics). */
  identities: Uint8Array[];
  /** This message's header. */
  header: MessageHeader;
  /** The header of the request this message answers, or `{}`. */
  parent_header: Partial<MessageHeader>;
  /** Message metadata. */
  metadata: Record<string, unknown>;
  /** Message content; its shape depends on `msg_type`. */
  content: C;
  /** Extra binary buffers. */
  buffers: Uint8Array[];
}

/** Raised when a message cannot be decoded or its signature does not match. */
export class MessageError extends Error {
  /** Creates a message error with a message saying what went wrong. */
  constructor(message: string) {
    super(message);
    this.name = "MessageError";
  }
}

/** Options for {@linkcode Session}. */
export interface SessionOptions {
  /** The HMAC key from the connection file; empty disables signing. */
  key: string;
  /** Signature scheme; only `hmac-sha256` is supported. */
  signatureScheme?: string;
  /** User name written in headers. Default `neural-notebooks`. */
  username?: string;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 2 !== 0 || /[^0-9a-fA-F]/.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Signs, verifies, builds and parses messages for one client session.
 *
 * @example
 * ```ts
 * import { Session } from "./messaging.ts";
 * const session = new Session({ key: "k" });
 * const signature = await session.sign([new TextEncoder().encode("{}")]);
 * console.log(signature.length); // 64 hex digits
 * ```
 */
export class Session {
  /** This session's id, written in every header. */
  readonly id: string = crypto.randomUUID();
  /** User name written in headers. */
  readonly username: string;
  #key: Promise<CryptoKey> | null;

  /** Creates a session; throws for a signature scheme other than `hmac-sha256`. */
  constructor(options: SessionOptions) {
    const scheme = options.signatureScheme ?? "hmac-sha256";
    if (scheme !== "hmac-sha256") {
      throw new MessageError(
        `signature scheme "${scheme}" is not supported; use "hmac-sha256" in the connection file`,
      );
    }
    this.username = options.username ?? "neural-notebooks";
    this.#key = options.key === "" ? null : crypto.subtle.importKey(
      "raw",
      encoder.encode(options.key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  }

  /** Hex HMAC-SHA256 of the concatenated parts (header, parent, metadata, content). */
  async sign(parts: Uint8Array[]): Promise<string> {
    if (this.#key === null) return "";
    const signature = await crypto.subtle.sign("HMAC", await this.#key, joinParts(parts));
    return hex(signature);
  }

  /** Whether `signature` (hex) is the HMAC of `parts`; always true when signing is off. */
  async verify(parts: Uint8Array[], signature: string): Promise<boolean> {
    if (this.#key === null) return true;
    const raw = unhex(signature);
    if (raw === null) return false;
    return await crypto.subtle.verify("HMAC", await this.#key, raw, joinParts(parts));
  }

  /** Builds a new message, optionally as a child of `parent`. */
  message<C extends Record<string, unknown>>(
    msgType: string,
    content: C,
    options: { parent?: MessageHeader; metadata?: Record<string, unknown> } = {},
  ): JupyterMessage<C> {
    return {
      identities: [],
      header: {
        msg_id: crypto.randomUUID(),
        session: this.id,
        username: this.username,
        date: new Date().toISOString(),
        msg_type: msgType,
        version: PROTOCOL_VERSION,
      },
      parent_header: options.parent ?? {},
      metadata: options.metadata ?? {},
      content,
      buffers: [],
    };
  }

  /** Encodes a message as ZeroMQ frames: identities, delimiter, signature, four JSON parts, buffers. */
  async serialize(message: JupyterMessage<unknown>): Promise<Uint8Array[]> {
    const parts = [
      message.header,
      message.parent_header,
      message.metadata,
      message.content,
    ].map((part) => encoder.encode(JSON.stringify(part)));
    const signature = encoder.encode(await this.sign(parts));
    return [...message.identities, DELIMITER_BYTES, signature, ...parts, ...message.buffers];
  }

  /** Decodes frames into a message, checking the signature; throws {@linkcode MessageError}. */
  async deserialize(frames: Uint8Array[]): Promise<JupyterMessage> {
    const at = frames.findIndex((frame) => equalBytes(frame, DELIMITER_BYTES));
    if (at < 0) throw new MessageError("message has no <IDS|MSG> delimiter");
    if (frames.length < at + 6) {
      throw new MessageError(
        `message has ${frames.length - at - 1} parts after the delimiter, needs 5`,
      );
    }
    const signature = decoder.decode(frames[at + 1]);
    const parts = frames.slice(at + 2, at + 6);
    if (!(await this.verify(parts, signature))) {
      throw new MessageError(
        "message signature does not match: the kernel signs with another key than the " +
          "connection file's, or the message was altered",
      );
    }
    let json: unknown[];
    try {
      json = parts.map((part) => JSON.parse(decoder.decode(part)));
    } catch (error) {
      throw new MessageError(`message part is not JSON: ${(error as Error).message}`);
    }
    const [header, parent, metadata, content] = json as [
      MessageHeader,
      Partial<MessageHeader>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    if (typeof header?.msg_type !== "string") {
      throw new MessageError("message header has no msg_type");
    }
    return {
      identities: frames.slice(0, at),
      header,
      parent_header: parent ?? {},
      metadata: metadata ?? {},
      content: content ?? {},
      buffers: frames.slice(at + 6),
    };
  }
}

function joinParts(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
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
