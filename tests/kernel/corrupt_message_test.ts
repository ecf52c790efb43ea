/**
 * Corrupt messages (failed HMAC check) never vanish silently: the executor files them to
 * the cell as a `CorruptMessageError` output, fails the cell and does not wait forever for
 * a status or reply the corrupt message may have carried. A scripted stand-in for the
 * kernel delivers exactly the messages each case needs.
 */
import assert from "node:assert/strict";
import { CorruptMessageError, type IopubEvent } from "../../kernel/client.ts";
import { executeNotebook } from "../../kernel/executor.ts";
import type { KernelManager } from "../../kernel/kernel_manager.ts";
import { type JupyterMessage, Session } from "../../kernel/messaging.ts";
import { notebookOf } from "./helpers.ts";

type Script = (
  request: JupyterMessage<unknown>,
  emit: (event: Omit<IopubEvent, "receivedAt">) => void,
) => Promise<Record<string, unknown> | CorruptMessageError>;

/** The parts of {@linkcode KernelManager} the executor uses, driven by a script per cell. */
function scriptedKernel(cellScript: Script): KernelManager {
  const session = new Session({ key: "" });
  const listeners = new Set<(event: IopubEvent) => void>();
  const client = { session, lastIopubAt: 0 };
  const emit = (event: Omit<IopubEvent, "receivedAt">) => {
    client.lastIopubAt = Date.now();
    for (const listener of listeners) listener({ ...event, receivedAt: client.lastIopubAt });
  };
  const reply = (request: JupyterMessage<unknown>, content: Record<string, unknown>) => ({
    ...session.message("execute_reply", content, { parent: request.header }),
  });
  const fake = {
    info: {},
    restarts: 0,
    death: undefined,
    stderrMark: 0,
    client,
    onIopub(listener: (event: IopubEvent) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stderrSince: () => "",
    restart: () => Promise.resolve(),
    async send(_channel: string, request: JupyterMessage<unknown>) {
      const content = request.content as { code: string; silent: boolean };
      const status = (state: string) =>
        emit({
          message: session.message("status", { execution_state: state }, {
            parent: request.header,
          }),
        });
      if (content.silent) { // the runner's flush barrier: echo its markers
        const marker = /console\.log\(("[^"]*")\)/.exec(content.code)![1];
        const text = JSON.parse(marker) + "\n";
        status("busy");
        for (const name of ["stdout", "stderr"]) {
          emit({ message: session.message("stream", { name, text }, { parent: request.header }) });
        }
        emit({
          message: session.message("display_data", {
            data: { "text/plain": JSON.parse(marker) },
            metadata: {},
          }, { parent: request.header }),
        });
        status("idle");
        return reply(request, { status: "ok", execution_count: 0 });
      }
      status("busy");
      const result = await cellScript(request, emit);
      if (result instanceof CorruptMessageError) throw result;
      return reply(request, result);
    },
  };
  return fake as unknown as KernelManager;
}

/** A salvaged corrupt message as the client reports it. */
function corrupt(
  parent: JupyterMessage<unknown> | null,
  msgType: string,
  bytes: number,
): Omit<IopubEvent, "receivedAt"> {
  const session = new Session({ key: "" });
  const message = session.message(msgType, {}, parent ? { parent: parent.header } : {});
  return { message, corrupt: { bytes, reason: "message signature does not match" } };
}

function stream(request: JupyterMessage<unknown>, text: string): Omit<IopubEvent, "receivedAt"> {
  const session = new Session({ key: "" });
  return {
    message: session.message("stream", { name: "stdout", text }, { parent: request.header }),
  };
}

function idle(request: JupyterMessage<unknown>): Omit<IopubEvent, "receivedAt"> {
  const session = new Session({ key: "" });
  return {
    message: session.message("status", { execution_state: "idle" }, { parent: request.header }),
  };
}

const options = { timeoutMs: 20_000, settleMs: 20, flushTimeoutMs: 300 };

Deno.test("a corrupt display becomes a CorruptMessageError output; the other outputs stay", async () => {
  const kernel = scriptedKernel((request, emit) => {
    emit(stream(request, "before\n"));
    emit(corrupt(request, "display_data", 5_000_321));
    emit(stream(request, "after\n"));
    emit(idle(request));
    return Promise.resolve({ status: "ok", execution_count: 1 });
  });
  const nb = notebookOf(["big()", "1 + 1"]);
  const result = await executeNotebook(nb, kernel, options);
  const outputs = nb.cells[0].outputs!;
  assert.equal(outputs[0].text, "before\nafter\n");
  const error = outputs.find((o) => o.output_type === "error")!;
  assert.equal(error.ename, "CorruptMessageError");
  assert.match(
    String(error.evalue),
    /1 corrupt output message\(s\) for this cell \(display_data \(5\.0 MB\)\)/,
  );
  assert.equal(result.status, "error");
  assert.equal(result.cells[0].status, "error");
  assert.equal(result.cells[1].status, "not run", "the run stops like for any failing cell");
});

Deno.test("a corrupt message that names no request goes to the running cell, even if it carried the idle status", async () => {
  const kernel = scriptedKernel((_request, emit) => {
    emit(corrupt(null, "unknown", 4_200_000)); // and no idle status ever comes
    return Promise.resolve({ status: "ok", execution_count: 1 });
  });
  const nb = notebookOf(["big()"]);
  const result = await executeNotebook(nb, kernel, options);
  const error = nb.cells[0].outputs!.find((o) => o.output_type === "error")!;
  assert.equal(error.ename, "CorruptMessageError");
  assert.match(String(error.evalue), /unknown \(4\.2 MB\)/);
  assert.equal(result.cells[0].status, "error");
});

Deno.test("a corrupt execute_reply fails the cell instead of waiting for ever", async () => {
  const kernel = scriptedKernel((request, emit) => {
    emit(idle(request));
    return Promise.resolve(new CorruptMessageError("the kernel's reply (812 bytes) was corrupt"));
  });
  const nb = notebookOf(["1"]);
  const result = await executeNotebook(nb, kernel, options);
  const error = nb.cells[0].outputs!.find((o) => o.output_type === "error")!;
  assert.equal(error.ename, "CorruptMessageError");
  assert.match(String(error.evalue), /reply \(812 bytes\) was corrupt/);
  assert.equal(result.status, "error");
});
