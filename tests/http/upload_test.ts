/**
 * Stream bodies: sent with exactly `contentLength` bytes (never chunked), progress counted, a
 * body longer or shorter than declared refused.
 */
import assert from "node:assert/strict";
import { createHttpClient, HttpTransportError } from "../../providers/_http/mod.ts";
import { byteStream, drain, settled, startServer, until } from "./_servers.ts";

async function countingServer() {
  const received: number[] = [];
  const server = await startServer(async (req, res) => {
    const n = await drain(req);
    received.push(n);
    res.writeHead(201, { "content-type": "text/plain" });
    res.end(`got ${n}`);
  });
  return { server, received };
}

Deno.test("a streamed body is sent with its Content-Length and progress counts every byte", async () => {
  const { server, received } = await countingServer();
  const client = createHttpClient();
  const total = 5 * 1024 * 1024 + 123;
  const source = byteStream(total);
  const progress: [number, number][] = [];
  try {
    const response = await client.request({
      method: "PUT",
      url: `${server.origin}/transfer/abc/disk-1.vmdk`,
      headers: { "Content-Type": "application/octet-stream", "Content-Length": "1" },
      body: source.stream,
      contentLength: total,
      onUploadProgress: (sent, of) => progress.push([sent, of]),
    });
    assert.equal(response.status, 201);
    assert.equal(response.body, `got ${total}`);
    assert.deepEqual(received, [total]);
    const seen = server.requests[0].headers;
    assert.equal(seen["content-length"], String(total), "the declared length, not the caller's");
    assert.equal(seen["transfer-encoding"], undefined, "never chunked");
    assert.equal(seen["content-type"], "application/octet-stream");
    assert.deepEqual(progress.at(-1), [total, total]);
    assert.ok(progress.length > 1, "progress is reported per chunk");
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] > progress[i - 1][0]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a body longer than its declared length fails, and no extra byte is sent", async () => {
  const { server, received } = await countingServer();
  const client = createHttpClient();
  const declared = 1_000_000;
  const source = byteStream(declared + 1);
  try {
    const { error } = await settled(client.request({
      method: "PUT",
      url: `${server.origin}/upload?X-Amz-Signature=abc`,
      body: source.stream,
      contentLength: declared,
    }));
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "body-length");
    assert.equal(
      error.message,
      `PUT ${server.origin}/upload: the body is longer than its declared Content-Length of ` +
        `${declared} bytes`,
    );
    assert.ok(source.cancelled(), "the source was cancelled");
    assert.ok(received.every((n) => n <= declared), `server got ${received}`);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a body shorter than its declared length fails instead of hanging", async () => {
  const { server } = await countingServer();
  const client = createHttpClient();
  try {
    const { error } = await settled(client.request({
      method: "PUT",
      url: `${server.origin}/upload`,
      body: byteStream(999).stream,
      contentLength: 1000,
    }));
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "body-length");
    assert.match(error.message, /the body ended after 999 of its declared 1000 bytes$/);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a streamed body without contentLength is refused before connecting", async () => {
  const { server } = await countingServer();
  const client = createHttpClient();
  try {
    const { error } = await settled(client.request({
      method: "PUT",
      url: `${server.origin}/upload`,
      body: byteStream(10).stream,
    }));
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "invalid-request");
    assert.match(error.message, /needs its exact length in contentLength/);
    assert.equal(server.requests.length, 0);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("string and byte bodies are sent as they are", async () => {
  const bodies: string[] = [];
  const server = await startServer(async (req, res) => {
    let text = "";
    for await (const c of req) text += new TextDecoder().decode(c as Uint8Array);
    bodies.push(text);
    res.end();
  });
  const client = createHttpClient();
  try {
    await client.request({ method: "POST", url: `${server.origin}/sdk`, body: "<Envelope/>" });
    await client.request({
      method: "PUT",
      url: `${server.origin}/x`,
      body: new TextEncoder().encode("bytes"),
    });
    assert.deepEqual(bodies, ["<Envelope/>", "bytes"]);
    assert.equal(server.requests[0].headers["content-length"], "11");
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("an answer before the whole body was sent releases the source", async () => {
  // VCD and ESXi answer 401 or 404 at once, without reading an upload.
  const server = await startServer((_req, res) => {
    res.writeHead(401, { connection: "close" });
    res.end("session expired");
  });
  const client = createHttpClient();
  const total = 256 * 1024 * 1024;
  const source = byteStream(total);
  try {
    const outcome = await settled(client.request({
      method: "PUT",
      url: `${server.origin}/transfer/x`,
      body: source.stream,
      contentLength: total,
    }));
    // Depending on when the server's close reaches the client, the 401 arrives or the
    // connection reset does; either way the request ends and the source is let go.
    if (outcome.error) {
      assert.ok(outcome.error instanceof HttpTransportError, String(outcome.error));
    } else assert.equal(outcome.value?.status, 401);
    await until(() => source.cancelled(), 5_000, "the source to be cancelled");
    assert.ok(source.pulled() < total);
  } finally {
    await client.close();
    await server.close();
  }
});
