import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { DELIMITER, MessageError, Session } from "../../kernel/messaging.ts";
import {
  connectionPorts,
  createConnectionInfo,
  readConnectionFile,
  releasePorts,
  writeConnectionFile,
} from "../../kernel/connection.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("signatures are hex HMAC-SHA256 of header, parent, metadata and content", async () => {
  const session = new Session({ key: "secret-key" });
  const msg = session.message("execute_request", { code: "1 + 1" });
  const frames = await session.serialize(msg);
  assert.equal(text(frames[0]), DELIMITER);
  const expected = createHmac("sha256", "secret-key");
  for (const part of frames.slice(2, 6)) expected.update(part);
  assert.equal(text(frames[1]), expected.digest("hex"));
  assert.deepEqual(JSON.parse(text(frames[2])).msg_type, "execute_request");
  assert.deepEqual(JSON.parse(text(frames[5])), { code: "1 + 1" });
});

Deno.test("deserialize verifies the signature and keeps routing identities", async () => {
  const session = new Session({ key: "k" });
  const msg = session.message("status", { execution_state: "idle" });
  msg.identities = [new TextEncoder().encode("kernel.1234.status")];
  const frames = await session.serialize(msg);
  const back = await session.deserialize(frames);
  assert.equal(back.header.msg_id, msg.header.msg_id);
  assert.equal(text(back.identities[0]), "kernel.1234.status");
  assert.deepEqual(back.content, { execution_state: "idle" });

  const tampered = [...frames];
  tampered[tampered.length - 1] = new TextEncoder().encode('{"execution_state":"busy"}');
  await assert.rejects(session.deserialize(tampered), MessageError);
  const otherKey = new Session({ key: "other" });
  await assert.rejects(otherKey.deserialize(frames), /signature does not match/);
});

Deno.test("an empty key disables signing, as Jupyter does", async () => {
  const session = new Session({ key: "" });
  const frames = await session.serialize(session.message("kernel_info_request", {}));
  assert.equal(frames[1].length, 0);
  assert.equal((await session.deserialize(frames)).header.msg_type, "kernel_info_request");
});

Deno.test("malformed messages and other signature schemes are refused with a reason", async () => {
  const session = new Session({ key: "k" });
  await assert.rejects(session.deserialize([new Uint8Array(3)]), /no <IDS\|MSG> delimiter/);
  assert.throws(() => new Session({ key: "k", signatureScheme: "hmac-md5" }), /hmac-sha256/);
});

Deno.test("connection files have five distinct free ports and a random key", async () => {
  const a = await createConnectionInfo({ kernelName: "deno" });
  const b = await createConnectionInfo();
  const ports = [...connectionPorts(a), ...connectionPorts(b)];
  assert.equal(new Set(ports).size, 10, "no port is handed out twice in one process");
  assert.match(a.key, /^[0-9a-f]{64}$/);
  assert.notEqual(a.key, b.key);
  const path = await writeConnectionFile(a);
  try {
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await readConnectionFile(path), a);
  } finally {
    await Deno.remove(path);
    releasePorts(ports);
  }
});
