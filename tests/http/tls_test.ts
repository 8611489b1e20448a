import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createHttpClient, HttpTransportError } from "../../providers/_http/mod.ts";
import { opensslAvailable, opensslMissing, testPki } from "../support/tls.ts";
import { startServer, type TestServer } from "./_servers.ts";

const ignore = !opensslAvailable();
const pki = ignore ? undefined : await testPki();
if (pki) addEventListener("unload", () => Deno.removeSync(pki.dir, { recursive: true }));
if (ignore) console.warn(`HTTP client TLS tests ignored: ${opensslMissing}`);

async function withServer(fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer((_req, res) => res.end("hello"), { tls: pki });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

Deno.test({
  name: "certificates are verified by default: a server from an unknown CA is refused",
  ignore,
  fn: () =>
    withServer(async (server) => {
      const client = createHttpClient();
      try {
        const error = await client.request({
          method: "GET",
          url: `${server.origin}/api/version?token=abc`,
        }).then(() => assert.fail("accepted"), (e) => e);
        assert.ok(error instanceof HttpTransportError, String(error));
        assert.equal(error.kind, "tls");
        assert.ok(
          error.message.startsWith(`GET ${server.origin}/api/version: `),
          error.message,
        );
        assert.ok(!error.message.includes("token=abc"));
        assert.equal(server.requests.length, 0, "no request reached the server");
      } finally {
        await client.close();
      }
    }),
});

Deno.test({
  name: "a PEM CA bundle makes the server trusted",
  ignore,
  fn: () =>
    withServer(async (server) => {
      const client = createHttpClient({ tls: { ca: pki!.caCert } });
      try {
        const response = await client.request({ method: "GET", url: `${server.origin}/x` });
        assert.equal(response.status, 200);
        assert.equal(response.body, "hello");
      } finally {
        await client.close();
      }
    }),
});

Deno.test({
  name: "with a CA bundle the server's name is still checked",
  ignore,
  fn: async () => {
    // The certificate names 127.0.0.1 and localhost; the same server on 127.0.0.2 is refused.
    const server = await startServer((_req, res) => res.end("hello"), {
      tls: pki,
      hostname: "127.0.0.2",
    });
    const client = createHttpClient({ tls: { ca: pki!.caCert } });
    try {
      const error = await client.request({ method: "GET", url: `${server.origin}/x` })
        .catch((e) => e);
      assert.ok(error instanceof HttpTransportError, String(error));
      assert.equal(error.kind, "tls", error.message);
      assert.equal(server.requests.length, 0);
    } finally {
      await client.close();
      await server.close();
    }
  },
});

Deno.test({
  name: "insecure skips verification only when asked",
  ignore,
  fn: () =>
    withServer(async (server) => {
      const client = createHttpClient({ tls: { insecure: true } });
      try {
        const response = await client.request({ method: "GET", url: `${server.origin}/x` });
        assert.equal(response.body, "hello");
      } finally {
        await client.close();
      }
    }),
});

Deno.test({
  name: "a pinned SHA-1 or SHA-256 fingerprint accepts exactly that certificate",
  ignore,
  fn: () =>
    withServer(async (server) => {
      const cert = new X509Certificate(pki!.serverCert);
      const pins = {
        "SHA-1 with colons": cert.fingerprint,
        "SHA-1 without colons, lower case": cert.fingerprint.replaceAll(":", "").toLowerCase(),
        "SHA-256": cert.fingerprint256,
      };
      for (const [what, pin] of Object.entries(pins)) {
        const client = createHttpClient({ tls: { pinnedFingerprint: pin } });
        try {
          const response = await client.request({ method: "POST", url: `${server.origin}/nfc` });
          assert.equal(response.body, "hello", what);
        } finally {
          await client.close();
        }
      }
    }),
});

Deno.test({
  name: "a wrong pin is refused before any request byte is sent",
  ignore,
  fn: () =>
    withServer(async (server) => {
      const wrong = new X509Certificate(pki!.caCert).fingerprint; // the CA's, not the server's
      const client = createHttpClient({ tls: { pinnedFingerprint: wrong } });
      try {
        const error = await client.request({
          method: "PUT",
          url: `${server.origin}/nfc/52a1-ticket/disk-0.vmdk`,
          body: "x",
          secretPath: true,
        }).catch((e) => e);
        assert.ok(error instanceof HttpTransportError, String(error));
        assert.equal(error.kind, "tls");
        assert.match(error.message, /does not match the pinned/);
        assert.ok(error.message.startsWith(`PUT ${server.origin}/…: `), error.message);
        assert.ok(!error.message.includes("ticket"));
        assert.equal(server.requests.length, 0);
      } finally {
        await client.close();
      }
    }),
});

Deno.test("a fingerprint that is not SHA-1 or SHA-256 hex is refused when the client is built", () => {
  assert.throws(
    () => createHttpClient({ tls: { pinnedFingerprint: "AB:CD" } }),
    (e: unknown) => e instanceof TypeError && /"AB:CD".*SHA-1/.test(e.message),
  );
});
