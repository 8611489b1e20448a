/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, issued by
 * `lib/tls/certificate.ts` (no openssl needed, so the demo runs anywhere Deno does). The platform
 * simulators serve the server certificate; the operator trusts the CA through
 * `credentials.caCert`, as it would a private CA in production.
 *
 * Caveats: valid for 30 days.
 */
import { type CertificateAndKey, createCertificate } from "../../lib/tls/certificate.ts";

const DAY_MS = 86_400_000;

/** A CA, and a server certificate for `127.0.0.1` / `localhost` signed by it. */
export async function localCertificates(): Promise<
  { ca: CertificateAndKey; server: CertificateAndKey }
> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 30 * DAY_MS) };
  const ca = await createCertificate({
    commonName: "image-distribution-operator demo CA",
    ca: true,
    ...validity,
  });
  const server = await createCertificate({
    commonName: "127.0.0.1",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    signedBy: ca.signer,
    ...validity,
  });
  return { ca: { cert: ca.cert, key: ca.key }, server: { cert: server.cert, key: server.key } };
}
