import assert from "node:assert/strict";
import {
  encodeCommand,
  encodeFrame,
  greeting,
  parseCommand,
  parseGreeting,
  ZmtpError,
  ZmtpSocket,
} from "../../kernel/zmtp.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("greeting is 64 bytes of ZMTP 3.0 NULL, client side", () => {
  const g = greeting();
  assert.equal(g.length, 64);
  assert.equal(g[0], 0xff);
  assert.equal(g[9], 0x7f);
  assert.deepEqual([g[10], g[11]], [3, 0]);
  assert.equal(text(g.subarray(12, 16)), "NULL");
  assert.equal(g[32], 0);
  assert.deepEqual(parseGreeting(g), { major: 3, minor: 0, mechanism: "NULL" });
});

Deno.test("greetings of other versions or mechanisms are refused", () => {
  const old = greeting();
  old[10] = 2;
  assert.throws(() => parseGreeting(old), ZmtpError);
  const curve = greeting();
  curve.set(bytes("CURVE"), 12);
  assert.throws(() => parseGreeting(curve), /CURVE/);
  assert.throws(() => parseGreeting(new Uint8Array(64)), /not send a ZMTP greeting/);
});

Deno.test("frames use a 1-byte size up to 255 and an 8-byte size above", () => {
  const short = encodeFrame(new Uint8Array(255), { more: true });
  assert.equal(short[0], 0x01);
  assert.equal(short[1], 255);
  assert.equal(short.length, 257);
  const long = encodeFrame(new Uint8Array(256), { command: true });
  assert.equal(long[0], 0x06);
  assert.equal(new DataView(long.buffer).getBigUint64(1), 256n);
  assert.equal(long.length, 9 + 256);
});

Deno.test("READY commands round-trip their properties", () => {
  const cmd = parseCommand(encodeCommand("READY", { "Socket-Type": "DEALER", Identity: "" }));
  assert.equal(cmd.name, "READY");
  assert.equal(text(cmd.properties.get("Socket-Type")!), "DEALER");
  assert.equal(cmd.properties.get("Identity")!.length, 0);
  assert.throws(() => parseCommand(new Uint8Array([9, 1])), /truncated/);
});

/** A one-connection fake peer: greets, says READY as `peerType`, then hands frames to `serve`. */
function fakePeer(
  peerType: string,
  serve: (conn: Deno.Conn, read: (n: number) => Promise<Uint8Array>) => Promise<void>,
): { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    let buffered = new Uint8Array(0);
    const read = async (n: number) => {
      while (buffered.length < n) {
        const chunk = new Uint8Array(65536);
        const got = await conn.read(chunk);
        if (got === null) throw new Error("peer: connection closed");
        const next = new Uint8Array(buffered.length + got);
        next.set(buffered);
        next.set(chunk.subarray(0, got), buffered.length);
        buffered = next;
      }
      const out = buffered.slice(0, n);
      buffered = buffered.slice(n);
      return out;
    };
    const server = greeting();
    server[32] = 1;
    await conn.write(server);
    parseGreeting(await read(64));
    await conn.write(
      encodeFrame(encodeCommand("READY", { "Socket-Type": peerType }), { command: true }),
    );
    const flags = (await read(1))[0];
    const size = (await read(1))[0];
    assert.equal(flags, 0x04, "client READY is a short command");
    assert.equal(parseCommand(await read(size)).name, "READY");
    try {
      await serve(conn, read);
    } finally {
      conn.close();
    }
  })();
  return { port, done };
}

async function readMessage(read: (n: number) => Promise<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  while (true) {
    const flags = (await read(1))[0];
    const size = flags & 0x02
      ? Number(new DataView((await read(8)).buffer).getBigUint64(0))
      : (await read(1))[0];
    parts.push(await read(size));
    if (!(flags & 0x01)) return parts;
  }
}

Deno.test("a DEALER sends and receives multipart messages, large frames included", async () => {
  const big = new Uint8Array(3_000_000).fill(7);
  const { port, done } = fakePeer("ROUTER", async (conn, read) => {
    const message = await readMessage(read);
    assert.deepEqual(message.map((p) => p.length), [5, 3_000_000]);
    for (const [i, part] of message.entries()) {
      await conn.write(encodeFrame(part, { more: i < message.length - 1 }));
    }
  });
  const socket = await ZmtpSocket.connect({ port, type: "DEALER" });
  assert.equal(socket.peerType, "ROUTER");
  await socket.send([bytes("hello"), big]);
  const echoed = await socket.receive();
  assert.ok(echoed);
  assert.equal(text(echoed[0]), "hello");
  assert.equal(echoed[1].length, 3_000_000);
  assert.equal(echoed[1][2_999_999], 7);
  await done;
  assert.equal(await socket.receive(), null, "receive returns null once the peer closed");
  socket.close();
});

Deno.test("a SUB subscribes with the ZMTP 3.0 message (first byte 1)", async () => {
  const { port, done } = fakePeer("PUB", async (conn, read) => {
    const [subscription] = await readMessage(read);
    assert.deepEqual([...subscription], [1]);
    await conn.write(encodeFrame(bytes("topic"), { more: true }));
    await conn.write(encodeFrame(bytes("body")));
  });
  const socket = await ZmtpSocket.connect({ port, type: "SUB" });
  await socket.subscribe("");
  const message = await socket.receive();
  assert.deepEqual(message?.map(text), ["topic", "body"]);
  await done;
  socket.close();
});

Deno.test("a REQ adds and strips the empty delimiter frame", async () => {
  const { port, done } = fakePeer("REP", async (conn, read) => {
    const message = await readMessage(read);
    assert.deepEqual(message.map(text), ["", "ping"]);
    await conn.write(encodeFrame(new Uint8Array(0), { more: true }));
    await conn.write(encodeFrame(bytes("ping")));
  });
  const socket = await ZmtpSocket.connect({ port, type: "REQ" });
  await socket.send([bytes("ping")]);
  assert.deepEqual((await socket.receive())?.map(text), ["ping"]);
  await done;
  socket.close();
});

Deno.test("a peer of the wrong socket type is refused", async () => {
  const { port, done } = fakePeer("PUB", async () => {});
  await assert.rejects(ZmtpSocket.connect({ port, type: "DEALER" }), /cannot talk to a PUB/);
  await done.catch(() => {});
});
