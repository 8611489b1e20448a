import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  loadMetricsCertificate,
  MetricsCertificateError,
  selfSignedCertificate,
} from "../../lib/server/mod.ts";

Deno.test("the self-signed certificate is a valid serving certificate for its names", async () => {
  const now = new Date("2026-12-04T12:00:00Z");
  const { cert, key } = await selfSignedCertificate({ dnsNames: ["operator-pod-7f9c"], now });
  const x509 = new X509Certificate(cert);
  assert.equal(x509.subjectAltName, "DNS:localhost, DNS:operator-pod-7f9c, IP Address:127.0.0.1");
  assert.ok(x509.verify(x509.publicKey), "signed by its own key");
  assert.equal(x509.ca, false);
  assert.deepEqual(x509.keyUsage, ["DigitalSignature"]);
  assert.equal(new Date(x509.validFrom).getTime(), now.getTime() - 3600_000);
  assert.equal(new Date(x509.validTo).getTime(), now.getTime() + 365 * 24 * 3600_000);
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/);

  // A TLS client that trusts exactly this certificate completes a handshake with it.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen: () => {} },
    () => new Response("served"),
  );
  const client = Deno.createHttpClient({ caCerts: [cert] });
  try {
    const response = await fetch(`https://localhost:${server.addr.port}/`, { client });
    assert.equal(await response.text(), "served");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("two certificates never share a key or serial number", async () => {
  const [a, b] = await Promise.all([selfSignedCertificate(), selfSignedCertificate()]);
  assert.notEqual(a.key, b.key);
  assert.notEqual(
    new X509Certificate(a.cert).serialNumber,
    new X509Certificate(b.cert).serialNumber,
  );
});

Deno.test("--metrics-cert-path reads tls.crt and tls.key, or the names given", async (t) => {
  const pair = await selfSignedCertificate();
  const stranger = await selfSignedCertificate();
  const files: Record<string, string> = {
    "/certs/tls.crt": pair.cert,
    "/certs/tls.key": pair.key,
    "/certs/other.pem": pair.cert,
    "/certs/other.key": stranger.key,
  };
  const readTextFile = (path: string) =>
    path in files
      ? Promise.resolve(files[path])
      : Promise.reject(new Deno.errors.NotFound(`No such file: ${path}`));

  await t.step("defaults", async () => {
    const loaded = await loadMetricsCertificate({ certPath: "/certs/", readTextFile });
    assert.deepEqual(loaded, { ...pair, source: "files" });
  });
  await t.step("a missing file names the flag and the path", async () => {
    await assert.rejects(
      loadMetricsCertificate({ certPath: "/certs", keyName: "absent.key", readTextFile }),
      (error: Error) => {
        assert.ok(error instanceof MetricsCertificateError);
        assert.match(error.message, /--metrics-cert-key file "\/certs\/absent\.key"/);
        return true;
      },
    );
  });
  await t.step("a certificate where the key should be is refused", async () => {
    await assert.rejects(
      loadMetricsCertificate({ certPath: "/certs", keyName: "other.pem", readTextFile }),
      /--metrics-cert-key file "\/certs\/other\.pem" .* no PEM block of the expected kind/,
    );
  });
  await t.step("a key that is not the certificate's is refused, naming both files", async () => {
    await assert.rejects(
      loadMetricsCertificate({ certPath: "/certs", keyName: "other.key", readTextFile }),
      (error: Error) => {
        assert.ok(error instanceof MetricsCertificateError);
        assert.match(
          error.message,
          /"\/certs\/other\.key" is not the key of .*"\/certs\/tls\.crt"/,
        );
        return true;
      },
    );
  });
  await t.step("no directory: self-signed", async () => {
    const loaded = await loadMetricsCertificate({ readTextFile });
    assert.equal(loaded.source, "self-signed");
    assert.ok(new X509Certificate(loaded.cert).checkHost("localhost"));
  });
});
