/**
 * Certificates from `lib/tls/certificate.ts` are accepted by Deno's TLS client exactly when it
 * trusts their issuer (a CA, or the certificate itself when self-signed) and the name it dialled
 * is among their subjectAltNames; the fields read back with node:crypto are the ones asked for.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { type CertificateAndKey, createCertificate } from "../../lib/tls/certificate.ts";

const HOUR_MS = 3600_000;
const now = Date.now();
const validity = { notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + 24 * HOUR_MS) };
const GREETING = "hello over TLS";

/**
 * Serves `server` on 127.0.0.1 with `Deno.listenTls` and dials it as `hostname` with
 * `Deno.connectTls` trusting only `caCerts`; resolves to what the client read, or rejects with
 * the client's handshake error.
 */
async function greetingOverTls(
  server: CertificateAndKey,
  hostname: string,
  caCerts: string[],
): Promise<string> {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: server.cert,
    key: server.key,
  });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await conn.handshake();
      await conn.write(new TextEncoder().encode(GREETING));
    } catch {
      // The client refused the certificate; its side reports why.
    } finally {
      conn.close();
    }
  })();
  try {
    const conn = await Deno.connectTls({ hostname, port: listener.addr.port, caCerts });
    try {
      await conn.handshake();
      const buffer = new Uint8Array(GREETING.length);
      let read = 0;
      while (read < buffer.length) {
        const n = await conn.read(buffer.subarray(read));
        if (n === null) break;
        read += n;
      }
      return new TextDecoder().decode(buffer.subarray(0, read));
    } finally {
      conn.close();
    }
  } finally {
    await served;
    listener.close();
  }
}

Deno.test("a CA-issued server certificate is trusted through the CA alone, for its names", async (t) => {
  const ca = await createCertificate({ commonName: "test CA", ca: true, ...validity });
  const server = await createCertificate({
    commonName: "test server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    signedBy: ca.signer,
    ...validity,
  });
  const otherCa = await createCertificate({ commonName: "test CA", ca: true, ...validity });

  await t.step(
    "the client trusting the CA completes the handshake by IP and by DNS name",
    async () => {
      assert.equal(await greetingOverTls(server, "127.0.0.1", [ca.cert]), GREETING);
      assert.equal(await greetingOverTls(server, "localhost", [ca.cert]), GREETING);
    },
  );
  await t.step("a client trusting another CA of the same name refuses it", async () => {
    await assert.rejects(greetingOverTls(server, "127.0.0.1", [otherCa.cert]), /BadSignature/);
  });
  await t.step("a certificate for other names is refused for 127.0.0.1", async () => {
    const elsewhere = await createCertificate({
      commonName: "127.0.0.1", // only subjectAltName counts
      dnsNames: ["elsewhere.example"],
      signedBy: ca.signer,
      ...validity,
    });
    await assert.rejects(
      greetingOverTls(elsewhere, "127.0.0.1", [ca.cert]),
      /not valid for name "127.0.0.1"/,
    );
  });
  await t.step("the fields: CA flag, issuer, signature", () => {
    const caX509 = new X509Certificate(ca.cert);
    const serverX509 = new X509Certificate(server.cert);
    assert.equal(caX509.ca, true);
    assert.equal(serverX509.ca, false);
    assert.equal(caX509.subject, "CN=test CA");
    assert.equal(serverX509.subject, "CN=test server");
    assert.equal(serverX509.issuer, "CN=test CA");
    assert.ok(serverX509.checkIssued(caX509));
    assert.ok(serverX509.verify(caX509.publicKey), "signed by the CA's key");
    assert.ok(!serverX509.verify(new X509Certificate(otherCa.cert).publicKey));
    assert.equal(serverX509.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");
  });
});

Deno.test("a self-signed certificate is trusted through itself alone", async () => {
  const self = await createCertificate({
    commonName: "self",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    ...validity,
  });
  const x509 = new X509Certificate(self.cert);
  assert.equal(x509.issuer, x509.subject);
  assert.ok(x509.verify(x509.publicKey), "signed by its own key");
  assert.equal(await greetingOverTls(self, "127.0.0.1", [self.cert]), GREETING);
  assert.equal(await greetingOverTls(self, "localhost", [self.cert]), GREETING);
  const stranger = await createCertificate({ commonName: "stranger", ca: true, ...validity });
  await assert.rejects(greetingOverTls(self, "127.0.0.1", [stranger.cert]), /UnknownIssuer/);
});

Deno.test("validity, IPv6 addresses and serial numbers are as asked", async () => {
  const notBefore = new Date("2049-06-01T00:00:00Z");
  const notAfter = new Date("2051-06-01T00:00:00Z"); // GeneralizedTime from 2050 on
  const [a, b] = await Promise.all([0, 1].map(() =>
    createCertificate({
      commonName: "v6",
      ipAddresses: ["::1", "fd00:1::ab", "2001:db8:0:0:0:0:2:1"],
      notBefore,
      notAfter,
    })
  ));
  const x509 = new X509Certificate(a.cert);
  assert.equal(new Date(x509.validFrom).getTime(), notBefore.getTime());
  assert.equal(new Date(x509.validTo).getTime(), notAfter.getTime());
  assert.equal(
    x509.subjectAltName,
    "IP Address:::1, IP Address:fd00:1::ab, IP Address:2001:db8::2:1",
  );
  assert.notEqual(x509.serialNumber, new X509Certificate(b.cert).serialNumber);
  assert.notEqual(a.key, b.key);
});

Deno.test("bad input is refused with an error naming the value", async (t) => {
  for (const ip of ["256.0.0.1", "1.2.3", "::1::", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "host"]) {
    await t.step(ip, async () => {
      await assert.rejects(
        createCertificate({ commonName: "x", ipAddresses: [ip], ...validity }),
        (error: Error) => error instanceof TypeError && error.message.includes(`"${ip}"`),
      );
    });
  }
  await t.step("notAfter before notBefore", async () => {
    await assert.rejects(
      createCertificate({
        commonName: "backwards",
        notBefore: validity.notAfter,
        notAfter: validity.notBefore,
      }),
      (error: Error) => error instanceof RangeError && /"backwards".*notAfter/.test(error.message),
    );
  });
});
