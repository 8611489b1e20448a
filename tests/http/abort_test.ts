/**
 * The caller's AbortSignal ends a request in every phase, with the signal's reason unchanged;
 * timeouts are long here, so only the abort can end these requests (bounded waits only).
 */
import assert from "node:assert/strict";
import { createHttpClient } from "../../providers/_http/mod.ts";
import { byteStream, drain, settled, startServer, until } from "./_servers.ts";

const LONG = { connectMs: 60_000, responseMs: 60_000, idleMs: 60_000 };

Deno.test("an abort while the response body is read rejects at once with the reason", async () => {
  let wrote = false;
  const server = await startServer((_req, res) => {
    res.writeHead(200, { "content-length": "100000" });
    res.write("x".repeat(1000), () => wrote = true); // then stalls
  });
  const client = createHttpClient({ timeouts: LONG });
  const controller = new AbortController();
  const reason = new Error("operator shutting down");
  try {
    const pending = settled(
      client.request({ method: "GET", url: `${server.origin}/x`, signal: controller.signal }),
    );
    await until(() => wrote, 5_000, "the first body bytes");
    controller.abort(reason);
    const { error } = await pending;
    assert.equal(error, reason);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("an abort while waiting for headers rejects with the reason", async () => {
  const server = await startServer(() => {});
  const client = createHttpClient({ timeouts: LONG });
  const controller = new AbortController();
  try {
    const pending = settled(
      client.request({ method: "GET", url: `${server.origin}/x`, signal: controller.signal }),
    );
    await until(() => server.requests.length === 1, 5_000, "the request");
    controller.abort(new Error("stop"));
    const { error } = await pending;
    assert.equal((error as Error).message, "stop");
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("an abort during an upload rejects with the reason and cancels the source", async () => {
  let received = 0;
  const server = await startServer(async (req, res) => {
    received = await drain(req);
    res.end();
  });
  const client = createHttpClient({ timeouts: LONG });
  const controller = new AbortController();
  const total = 1024 * 1024 * 1024;
  // A source that stops producing after 1 MiB, as a stalled S3 download would.
  const source = byteStream(1024 * 1024);
  const stalled = new ReadableStream<Uint8Array>({
    async pull(c) {
      const reader = source.stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        c.enqueue(value);
      }
      await new Promise(() => {}); // never more
    },
    cancel: () => {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  let cancelled = false;
  let progressed = 0;
  try {
    const pending = settled(client.request({
      method: "PUT",
      url: `${server.origin}/upload`,
      body: stalled,
      contentLength: total,
      signal: controller.signal,
      onUploadProgress: (n) => progressed = n,
    }));
    await until(() => progressed === 1024 * 1024, 5_000, "the first MiB to be sent");
    const reason = new DOMException("stopped", "AbortError");
    controller.abort(reason);
    const { error } = await pending;
    assert.equal(error, reason);
    assert.ok(cancelled, "the source was cancelled");
    assert.ok(received <= 1024 * 1024);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("an already aborted signal sends nothing", async () => {
  const server = await startServer((_req, res) => res.end());
  const client = createHttpClient();
  try {
    const reason = new Error("too late");
    const { error } = await settled(
      client.request({
        method: "GET",
        url: `${server.origin}/x`,
        signal: AbortSignal.abort(reason),
      }),
    );
    assert.equal(error, reason);
    assert.equal(server.requests.length, 0);
  } finally {
    await client.close();
    await server.close();
  }
});
