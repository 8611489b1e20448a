import assert from "node:assert/strict";
import { createHttpClient, HttpTransportError } from "../../providers/_http/mod.ts";
import { settled, startServer } from "./_servers.ts";

Deno.test("status, reason phrase, headers and body come back whole, whatever the status", async () => {
  const server = await startServer((_req, res) => {
    res.writeHead(500, "Configuration file does not exist", {
      "Set-Cookie": ["vmware_soap_session=abc; Path=/", "other=1"],
      "X-VMWARE-VCLOUD-ACCESS-TOKEN": "eyJ0",
      "Content-Type": "application/json",
    });
    res.end(JSON.stringify({ data: null, message: "grüße" }));
  });
  const client = createHttpClient();
  try {
    const response = await client.request({
      method: "GET",
      url: `${server.origin}/x`,
      headers: { Accept: "application/json" },
    });
    assert.equal(response.status, 500);
    assert.equal(response.statusText, "Configuration file does not exist");
    assert.deepEqual(response.headers.getSetCookie(), [
      "vmware_soap_session=abc; Path=/",
      "other=1",
    ]);
    assert.equal(response.headers.get("x-vmware-vcloud-access-token"), "eyJ0");
    assert.deepEqual(JSON.parse(response.body), { data: null, message: "grüße" });
    assert.equal(server.requests[0].headers.accept, "application/json");
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a response larger than maxResponseBytes is refused, declared or not", async (t) => {
  const server = await startServer((req, res) => {
    if (req.url === "/declared") res.writeHead(200, { "content-length": "5000" });
    else res.writeHead(200); // chunked, length unknown until read
    res.end("x".repeat(5000));
  });
  const client = createHttpClient();
  try {
    for (const path of ["/declared", "/chunked"]) {
      await t.step(path, async () => {
        const { error } = await settled(client.request({
          method: "GET",
          url: `${server.origin}${path}?q=1`,
          maxResponseBytes: 4096,
        }));
        assert.ok(error instanceof HttpTransportError, String(error));
        assert.equal(error.kind, "too-large");
        assert.equal(
          error.message,
          `GET ${server.origin}${path}: the response body is larger than the 4096 bytes this ` +
            `request accepts`,
        );
      });
    }
    // The connection pool is still usable afterwards.
    const ok = await client.request({ method: "GET", url: `${server.origin}/declared` });
    assert.equal(ok.body.length, 5000);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("many requests share a small pool", async () => {
  const server = await startServer((req, res) => res.end(req.url));
  const client = createHttpClient({ connections: 2 });
  try {
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => client.request({ method: "GET", url: `${server.origin}/${i}` }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.body), Array.from({ length: 20 }, (_, i) => `/${i}`));
  } finally {
    await client.close();
    await server.close();
  }
});
