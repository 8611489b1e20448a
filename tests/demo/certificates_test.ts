/**
 * The demo's certificates, made without openssl, are accepted by a TLS client that trusts the
 * demo's CA for 127.0.0.1 and localhost, and refused by one that does not.
 */
import assert from "node:assert/strict";
import { localCertificates } from "../../demo/tls/certificates.ts";

Deno.test("a server with the demo's certificate is trusted through the demo's CA only", async () => {
  const { ca, server } = await localCertificates();
  assert.match(ca.cert, /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(server.key, /^-----BEGIN PRIVATE KEY-----\n/);
  const https = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: server.cert, key: server.key, onListen() {} },
    () => new Response("hello over TLS"),
  );
  const trusting = Deno.createHttpClient({ caCerts: [ca.cert] });
  const other = Deno.createHttpClient({ caCerts: [(await localCertificates()).ca.cert] });
  try {
    for (const host of ["127.0.0.1", "localhost"]) {
      const response = await fetch(`https://${host}:${https.addr.port}/`, { client: trusting });
      assert.equal(await response.text(), "hello over TLS", host);
    }
    await assert.rejects(fetch(`https://127.0.0.1:${https.addr.port}/`, { client: other }));
  } finally {
    trusting.close();
    other.close();
    await https.shutdown();
  }
});
