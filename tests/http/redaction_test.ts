/**
 * No error of the HTTP client carries userinfo, query, fragment or headers, whatever failed.
 */
import assert from "node:assert/strict";
import { createHttpClient, HttpTransportError } from "../../providers/_http/mod.ts";
import { byteStream, settled, startServer, startSilentListener } from "./_servers.ts";

const SECRETS = ["hunter2", "s3cr3t-sig", "AKIAEXAMPLE", "frag-token", "Bearer-abc", "ops:"];

function assertClean(error: unknown, origin: string, path: string): void {
  assert.ok(error instanceof HttpTransportError, String(error));
  const host = new URL(origin).host;
  assert.ok(error.message.includes(host), `names the host: ${error.message}`);
  assert.ok(error.message.includes(path), `names the path: ${error.message}`);
  for (const text of [error.message, error.detail, error.target, Deno.inspect(error)]) {
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} in ${text}`);
  }
}

function withCredentials(origin: string, path: string): string {
  const url = new URL(`${origin}${path}`);
  url.username = "ops";
  url.password = "hunter2";
  url.search = "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=s3cr3t-sig";
  url.hash = "#frag-token";
  return url.href;
}

Deno.test("errors of every kind name method, host and path but no credentials", async (t) => {
  const headers = { Authorization: "Bearer-abc" };
  await t.step("connection refused", async () => {
    const listener = await startSilentListener();
    const origin = `http://127.0.0.1:${listener.port}`;
    await listener.close(); // nothing listens there any more
    const client = createHttpClient();
    try {
      const { error } = await settled(
        client.request({ method: "GET", url: withCredentials(origin, "/a/b"), headers }),
      );
      assertClean(error, origin, "/a/b");
      assert.equal((error as HttpTransportError).kind, "network");
    } finally {
      await client.close();
    }
  });
  await t.step("timeout", async () => {
    const server = await startServer(() => {});
    const client = createHttpClient({ timeouts: { responseMs: 50 } });
    try {
      const { error } = await settled(
        client.request({ method: "GET", url: withCredentials(server.origin, "/c"), headers }),
      );
      assertClean(error, server.origin, "/c");
    } finally {
      await client.close();
      await server.close();
    }
  });
  await t.step("server closes the connection", async () => {
    const server = await startServer((req) => req.socket.destroy());
    const client = createHttpClient();
    try {
      const { error } = await settled(
        client.request({ method: "DELETE", url: withCredentials(server.origin, "/d"), headers }),
      );
      assertClean(error, server.origin, "/d");
    } finally {
      await client.close();
      await server.close();
    }
  });
  await t.step("body length", async () => {
    const server = await startServer((_req, res) => res.end());
    const client = createHttpClient();
    try {
      const { error } = await settled(client.request({
        method: "PUT",
        url: withCredentials(server.origin, "/e"),
        headers,
        body: byteStream(20).stream,
        contentLength: 10,
      }));
      assertClean(error, server.origin, "/e");
    } finally {
      await client.close();
      await server.close();
    }
  });
  await t.step("unparsable URL", async () => {
    const client = createHttpClient();
    try {
      const { error } = await settled(
        client.request({ method: "GET", url: "https://ops:hunter2@[bad/x?s3cr3t-sig" }),
      );
      assert.ok(error instanceof HttpTransportError);
      assert.equal(error.message, "GET <invalid URL>: the URL cannot be parsed");
    } finally {
      await client.close();
    }
  });
});

Deno.test("a secret path is shown only as its origin", async () => {
  const server = await startServer(() => {});
  const client = createHttpClient({ timeouts: { responseMs: 50 } });
  try {
    const { error } = await settled(client.request({
      method: "POST",
      url: `${server.origin}/nfc/52a1b3-ticket/disk-0.vmdk`,
      secretPath: true,
    }));
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.target, `${server.origin}/…`);
    assert.ok(!error.message.includes("ticket"));
  } finally {
    await client.close();
    await server.close();
  }
});
