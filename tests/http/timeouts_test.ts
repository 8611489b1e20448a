/**
 * Each timeout phase fires with an error naming method, host, path and the phase, without the
 * query. Waits are bounded (`settled`), durations are never asserted.
 */
import assert from "node:assert/strict";
import { createHttpClient, HttpTransportError } from "../../providers/_http/mod.ts";
import { byteStream, settled, startServer, startSilentListener } from "./_servers.ts";

const SHORT = 150;

Deno.test("a server that never completes the TLS handshake fails the connect timeout", async () => {
  const listener = await startSilentListener();
  const client = createHttpClient({ timeouts: { connectMs: SHORT } });
  try {
    const { error } = await settled(
      client.request({ method: "GET", url: `${listener.origin}/api/x?sig=s3cr3t` }),
    );
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "connect-timeout");
    assert.ok(error.isTimeout);
    assert.ok(error.message.startsWith(`GET ${listener.origin}/api/x: no connection within`));
    assert.ok(!error.message.includes("s3cr3t"));
    assert.equal(listener.accepted(), 1, "the TCP connection itself was made");
  } finally {
    await client.close();
    await listener.close();
  }
});

Deno.test("response headers that never come fail the response timeout", async () => {
  const server = await startServer(() => {/* never answers */});
  const client = createHttpClient({ timeouts: { responseMs: SHORT } });
  try {
    const { error } = await settled(
      client.request({ method: "POST", url: `${server.origin}/sdk?x=1`, body: "<Envelope/>" }),
    );
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "response-timeout");
    assert.equal(
      error.message,
      `POST ${server.origin}/sdk: no response headers within ${SHORT} ms of sending the request`,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a response body that stalls half-way fails the idle timeout", async () => {
  const server = await startServer((_req, res) => {
    res.writeHead(200, { "content-length": "1000" });
    res.write("x".repeat(400)); // and nothing more
  });
  const client = createHttpClient({ timeouts: { idleMs: SHORT } });
  try {
    const { error } = await settled(
      client.request({ method: "GET", url: `${server.origin}/task/log?start=0` }),
    );
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "idle-timeout");
    assert.equal(
      error.message,
      `GET ${server.origin}/task/log: the response body stalled: nothing received for ` +
        `${SHORT} ms after 400 bytes`,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a server that stops reading an upload fails the idle timeout and cancels the source", async () => {
  // The handler never reads the body, so the socket buffers fill and sending stops.
  const server = await startServer(() => {});
  const client = createHttpClient({ timeouts: { idleMs: SHORT } });
  const total = 512 * 1024 * 1024;
  const source = byteStream(total);
  try {
    const { error } = await settled(
      client.request({
        method: "PUT",
        url: `${server.origin}/transfer/disk.vmdk`,
        body: source.stream,
        contentLength: total,
      }),
    );
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "idle-timeout");
    assert.match(
      error.message,
      new RegExp(
        `^PUT ${server.origin}/transfer/disk\\.vmdk: sending stalled: no progress ` +
          `for ${SHORT} ms after \\d+ of ${total} bytes$`,
      ),
    );
    assert.ok(source.pulled() < total, "the source was not read to the end");
    assert.ok(source.cancelled(), "the source was cancelled");
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a per-request timeout overrides the client's", async () => {
  const server = await startServer(() => {});
  const client = createHttpClient({ timeouts: { responseMs: 60_000 } });
  try {
    const { error } = await settled(
      client.request({ method: "GET", url: `${server.origin}/x`, timeouts: { responseMs: SHORT } }),
    );
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "response-timeout");
  } finally {
    await client.close();
    await server.close();
  }
});
