/**
 * A self-signed serving certificate made at start-up, for `/metrics` over HTTPS when no
 * `--metrics-cert-path` is given (controller-runtime generates one in the same case). The
 * certificate itself is encoded by `lib/tls/certificate.ts`; this module chooses its names and
 * validity.
 *
 * Guarantees: the certificate names `localhost`, the given host names and `127.0.0.1`; it is
 * valid from an hour ago (clock skew) for a year; the key never leaves memory.
 *
 * Caveats: clients cannot verify it against anything but itself; scrapers either pin it or skip
 * verification (the Go chart's ServiceMonitor sets `insecureSkipVerify` for this case).
 */
import { type CertificateAndKey, createCertificate } from "../tls/certificate.ts";

export interface SelfSignedOptions {
  /** DNS names besides `localhost`, e.g. the pod's host name. */
  dnsNames?: string[];
  /** Start of validity; default now. */
  now?: Date;
}

const ONE_HOUR_MS = 3600_000;
const ONE_YEAR_MS = 365 * 24 * ONE_HOUR_MS;

/**
 * Generates a P-256 key and a self-signed serving certificate for it.
 *
 * @example
 * ```ts
 * const { cert, key } = await selfSignedCertificate({ dnsNames: [Deno.hostname()] });
 * Deno.serve({ cert, key, port: 8443 }, () => new Response("ok"));
 * ```
 */
export async function selfSignedCertificate(
  options: SelfSignedOptions = {},
): Promise<CertificateAndKey> {
  const now = options.now ?? new Date();
  const names = ["localhost", ...(options.dnsNames ?? []).filter((n) => n && n !== "localhost")];
  const { cert, key } = await createCertificate({
    // client-go's self-signed certificates are named `<host>@<unix seconds>` too.
    commonName: `${names.at(-1)}@${Math.floor(now.getTime() / 1000)}`,
    dnsNames: names,
    ipAddresses: ["127.0.0.1"],
    notBefore: new Date(now.getTime() - ONE_HOUR_MS),
    notAfter: new Date(now.getTime() + ONE_YEAR_MS),
  });
  return { cert, key };
}
