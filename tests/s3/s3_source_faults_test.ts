/**
 * The S3 source against a scripted HTTP endpoint, for what a well-behaved S3 server cannot show:
 * unsigned requests, server errors, stalls, truncated bodies, echoed secrets.
 */
import assert from "node:assert/strict";
import { Secret } from "../../lib/config/secret.ts";
import { IntegrityError, SourceMissingError } from "../../lib/image/provider.ts";
import { S3AccessError, S3Source, type S3SourceOptions } from "../../providers/s3/mod.ts";
import { qcow2, readAll } from "../support/images.ts";

type Handler = (request: Request) => Response | Promise<Response>;

const KEY = "capmox/flatcar-x-gs/flatcar-x.qcow2";
const SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE-SESSION-TOKEN-SECRET";
const SECRET_KEY = "wJalrXUtnFEMI-SECRET-ACCESS-KEY";
const BODY = (() => {
  const data = new Uint8Array(200_000);
  data.set(qcow2().build());
  return data;
})();

function s3Error(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    { status, headers: { "content-type": "application/xml" } },
  );
}

function objectResponse(request: Request, body: Uint8Array, size = body.byteLength): Response {
  const headers = {
    "content-length": String(size),
    etag: '"abc"',
    "last-modified": new Date(0).toUTCString(),
  };
  if (request.method === "HEAD") return new Response(null, { headers });
  if (new URL(request.url).pathname.endsWith(".sha256")) return s3Error(404, "NoSuchKey", "nope");
  return new Response(body.slice(), {
    headers: { ...headers, "content-length": String(body.byteLength) },
  });
}

Deno.test("the S3 source handles a scripted endpoint's faults", async (t) => {
  let handler: Handler = () => new Response(null, { status: 500 });
  const seen: { method: string; url: string; headers: Headers }[] = [];
  const releases: (() => void)[] = [];
  /** A promise the server awaits; resolved at the end so no request outlives the test. */
  const hang = () => new Promise<void>((resolve) => releases.push(resolve));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push({ method: request.method, url: request.url, headers: new Headers(request.headers) });
    return handler(request);
  });
  const endpoint = `http://127.0.0.1:${server.addr.port}`;
  const sources: S3Source[] = [];
  const source = (extra: Partial<S3SourceOptions> = {}) => {
    const s = new S3Source({
      bucket: "images",
      region: "",
      endpoint,
      maxAttempts: 1,
      timeoutMs: 5_000,
      ...extra,
    });
    sources.push(s);
    return s;
  };
  const signal = new AbortController().signal;

  try {
    await t.step("anonymous requests carry no signature at all", async () => {
      seen.length = 0;
      handler = (request) => objectResponse(request, BODY);
      const image = await source().inspectKey(KEY, signal);
      await readAll(await image.open({ signal }));
      assert.deepEqual(seen.map((r) => r.method), ["HEAD", "GET", "GET"]);
      for (const request of seen) {
        assert.equal(request.headers.get("authorization"), null);
        assert.equal(request.headers.get("x-amz-security-token"), null);
        assert.ok(!new URL(request.url).search.includes("X-Amz-Signature"));
      }
      assert.equal(new URL(seen[1].url).pathname, `/images/${KEY}.sha256`);
      assert.equal(await image.url(1000), `${endpoint}/images/${KEY}`);
    });

    await t.step("a server error names the operation, the object and the endpoint", async () => {
      handler = () => s3Error(503, "SlowDown", "Please reduce your request rate.");
      const error = await source().inspectKey(KEY, signal).then(() => undefined, (e) => e);
      assert.ok(error instanceof S3AccessError, String(error));
      assert.equal(error.status, 503);
      assert.match(
        error.message,
        new RegExp(`^S3 HEAD of s3://images/${KEY} at ${endpoint} failed: 503`),
      );
    });

    await t.step("a GET error body is named with its S3 code", async () => {
      handler = (request) =>
        request.method === "HEAD" || request.url.endsWith(".sha256")
          ? objectResponse(request, BODY)
          : s3Error(500, "InternalError", "We encountered an internal error.");
      const image = await source().inspectKey(KEY, signal).catch(() => undefined);
      assert.equal(image, undefined, "the sidecar GET fails too: 500 is not 'absent'");
      const error = await source().getStream(KEY, { signal }).then(() => undefined, (e) => e);
      assert.ok(error instanceof S3AccessError, String(error));
      assert.match(error.message, /failed: 500 InternalError: We encountered an internal error\./);
    });

    await t.step("HEAD 403 on a missing key of a public bucket is SourceMissingError", async () => {
      handler = (request) =>
        request.method === "HEAD"
          ? new Response(null, { status: 403 })
          : s3Error(403, "AccessDenied", "Access Denied");
      const error = await source().inspectKey(KEY, signal).then(() => undefined, (e) => e);
      assert.ok(error instanceof SourceMissingError, String(error));
      assert.match(error.message, new RegExp(`s3://images/${KEY} not found at ${endpoint}`));
    });

    await t.step("a truncated body fails the open stream with a size error", async () => {
      handler = (request) => objectResponse(request, BODY.subarray(0, 150_000), BODY.byteLength);
      const image = await source().inspectKey(KEY, signal);
      const error = await readAll(await image.open({ signal })).then(() => undefined, (e) => e);
      assert.ok(error instanceof IntegrityError, String(error));
      assert.match(error.message, /expected 200000 bytes, got 150000/);
    });

    await t.step("a HEAD without an answer times out naming the endpoint", async () => {
      handler = async () => {
        await hang();
        return new Response(null);
      };
      const error = await source({ timeoutMs: 100 }).head(KEY, signal).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(error instanceof S3AccessError, String(error));
      assert.match(
        error.message,
        new RegExp(`HEAD of s3://images/${KEY} at ${endpoint} timed out`),
      );
    });

    await t.step("a body that stalls fails; a slow consumer does not", async () => {
      handler = (request) => {
        if (request.method === "HEAD") return objectResponse(request, BODY);
        let sent = false;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (!sent) {
              sent = true;
              controller.enqueue(BODY.subarray(0, 1000));
            } else {
              await hang();
              controller.close();
            }
          },
        });
        return new Response(body, {
          headers: { "content-length": String(BODY.byteLength), etag: '"abc"' },
        });
      };
      const stream = await source({ timeoutMs: 300 }).getStream(KEY, { signal });
      const reader = stream.getReader();
      assert.equal((await reader.read()).value?.byteLength, 1000);
      // The consumer dawdles longer than the timeout: that is not a stall of the network.
      await new Promise((resolve) => setTimeout(resolve, 700));
      const error = await reader.read().then(() => undefined, (e) => e);
      assert.ok(error instanceof S3AccessError, String(error));
      assert.match(error.message, /GET \(body\) of s3:\/\/images\/.* timed out/);
    });

    await t.step("secrets echoed by a server never reach an error", async () => {
      handler = (request) =>
        s3Error(
          500,
          "InternalError",
          `proxy saw token ${request.headers.get("x-amz-security-token")} and ${SECRET_KEY}`,
        );
      const s3 = source({
        credentials: {
          source: "static",
          accessKeyId: "AKIAEXAMPLE",
          secretAccessKey: new Secret(SECRET_KEY),
          sessionToken: new Secret(SESSION_TOKEN),
        },
      });
      const error = await s3.getStream(KEY, { signal }).then(() => undefined, (e) => e);
      assert.ok(error instanceof S3AccessError, String(error));
      assert.match(error.message, /proxy saw token \[redacted\]/);
      for (
        const text of [error.message, Deno.inspect(error, { depth: 10 }), JSON.stringify(error)]
      ) {
        assert.ok(!text.includes(SESSION_TOKEN) && !text.includes(SECRET_KEY), text);
      }
    });
  } finally {
    for (const release of releases) release();
    for (const s of sources) s.close();
    await server.shutdown();
  }
});
