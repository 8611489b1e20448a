import assert from "node:assert/strict";
import { createHttpClient, HttpTransportError } from "../../providers/_http/mod.ts";
import { byteStream, settled, startServer } from "./_servers.ts";

/** `/from` redirects (status given in `?s=`) to `target`; everything else answers its path. */
async function redirecting(target: (origin: string) => string, status = 302) {
  const server = await startServer((req, res) => {
    if (req.url?.startsWith("/from")) {
      res.writeHead(status, { location: target(server.origin) });
      return res.end();
    }
    res.end(`at ${req.method} ${req.url}`);
  });
  return server;
}

Deno.test("redirects are not followed by default: the 3xx comes back as it is", async () => {
  const server = await redirecting((o) => `${o}/to`);
  const client = createHttpClient();
  try {
    const response = await client.request({ method: "GET", url: `${server.origin}/from` });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("location"), `${server.origin}/to`);
    assert.deepEqual(server.requests.map((r) => r.url), ["/from"]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("with maxRedirects a redirect is followed", async () => {
  const server = await redirecting((o) => `${o}/to?page=2`, 307);
  const client = createHttpClient();
  try {
    const response = await client.request({
      method: "PUT",
      url: `${server.origin}/from`,
      body: "payload",
      maxRedirects: 1,
    });
    assert.equal(response.status, 200);
    assert.equal(response.body, "at PUT /to?page=2");
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a 303 becomes a GET without body", async () => {
  const server = await redirecting((o) => `${o}/result`, 303);
  const client = createHttpClient();
  try {
    const response = await client.request({
      method: "POST",
      url: `${server.origin}/from`,
      headers: { "Content-Type": "application/xml" },
      body: "<x/>",
      maxRedirects: 2,
    });
    assert.equal(response.body, "at GET /result");
    assert.equal(server.requests[1].headers["content-type"], undefined);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("credentials are not sent to another origin", async () => {
  const other = await startServer((_req, res) => res.end("other"));
  const server = await redirecting(() => `${other.origin}/landing`);
  const client = createHttpClient();
  try {
    const response = await client.request({
      method: "GET",
      url: `${server.origin}/from`,
      headers: { Authorization: "Bearer t0ken", Cookie: "vmware_soap_session=abc", Accept: "x" },
      maxRedirects: 1,
    });
    assert.equal(response.body, "other");
    const seen = other.requests[0].headers;
    assert.equal(seen.authorization, undefined);
    assert.equal(seen.cookie, undefined);
    assert.equal(seen.accept, "x");
    assert.equal(server.requests[0].headers.authorization, "Bearer t0ken");
  } finally {
    await client.close();
    await server.close();
    await other.close();
  }
});

Deno.test("too many redirects is an error naming the request, without its query", async () => {
  const server = await redirecting((o) => `${o}/from?again=1`);
  const client = createHttpClient();
  try {
    const { error } = await settled(
      client.request({ method: "GET", url: `${server.origin}/from?sig=1`, maxRedirects: 3 }),
    );
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "redirect");
    assert.equal(error.message, `GET ${server.origin}/from: stopped after 3 redirects`);
    assert.equal(server.requests.length, 4);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("a streamed body is not replayed to a redirect target", async () => {
  const server = await redirecting((o) => `${o}/to`, 307);
  const client = createHttpClient();
  try {
    const { error } = await settled(client.request({
      method: "PUT",
      url: `${server.origin}/from`,
      body: byteStream(10).stream,
      contentLength: 10,
      maxRedirects: 1,
    }));
    assert.ok(error instanceof HttpTransportError, String(error));
    assert.equal(error.kind, "redirect");
    assert.match(error.message, /a streamed body cannot be sent again/);
  } finally {
    await client.close();
    await server.close();
  }
});
