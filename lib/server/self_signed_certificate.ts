/**
 * A self-signed serving certificate made at start-up, for `/metrics` over HTTPS when no
 * `--metrics-cert-path` is given (controller-runtime generates one in the same case).
 *
 * Neither Deno nor `node:crypto` can issue a certificate (Node's `X509Certificate` only parses),
 * so the certificate is encoded here: a P-256 key from WebCrypto, a DER X.509 v3 structure of
 * a dozen fields, signed with ECDSA-SHA256. No dependency is needed for that.
 *
 * Guarantees: the certificate names `localhost`, the given host names and `127.0.0.1`; it is
 * valid from an hour ago (clock skew) for a year; the key never leaves memory.
 *
 * Caveats: clients cannot verify it against anything but itself; scrapers either pin it or skip
 * verification (the Go chart's ServiceMonitor sets `insecureSkipVerify` for this case).
 */

/** PEM certificate and PKCS#8 private key, as `Deno.serve` takes them. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

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
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const now = options.now ?? new Date();
  const names = ["localhost", ...(options.dnsNames ?? []).filter((n) => n && n !== "localhost")];
  const subject = der.sequence(
    der.set(
      der.sequence(
        der.oid("2.5.4.3"),
        der.utf8(`${names.at(-1)}@${Math.floor(now.getTime() / 1000)}`),
      ),
    ),
  );
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // a positive INTEGER
  const tbs = der.sequence(
    der.explicit(0, der.integer(new Uint8Array([2]))), // v3
    der.integer(serial),
    ECDSA_SHA256,
    subject, // issuer: self-signed
    der.sequence(
      der.time(new Date(now.getTime() - ONE_HOUR_MS)),
      der.time(new Date(now.getTime() + ONE_YEAR_MS)),
    ),
    subject,
    spki,
    der.explicit(
      3,
      der.sequence(
        extension("2.5.29.15", true, der.bitString(new Uint8Array([0x80]), 7)), // digitalSignature
        extension("2.5.29.37", false, der.sequence(der.oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
        extension("2.5.29.19", true, der.sequence()), // basicConstraints: not a CA
        extension(
          "2.5.29.17",
          false,
          der.sequence(
            ...names.map((n) => der.tagged(0x82, new TextEncoder().encode(n))),
            der.tagged(0x87, new Uint8Array([127, 0, 0, 1])),
          ),
        ),
      ),
    ),
  );
  const p1363 = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      keys.privateKey,
      tbs as Uint8Array<ArrayBuffer>,
    ),
  );
  const signature = der.sequence(der.integer(p1363.slice(0, 32)), der.integer(p1363.slice(32)));
  const certificate = der.sequence(tbs, ECDSA_SHA256, der.bitString(signature));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { cert: pem("CERTIFICATE", certificate), key: pem("PRIVATE KEY", pkcs8) };
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return der.sequence(
    der.oid(oid),
    ...(critical ? [der.tagged(0x01, new Uint8Array([0xff]))] : []),
    der.tagged(0x04, value),
  );
}

function pem(label: string, bytes: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...bytes));
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The few DER encodings a certificate needs (X.690). */
const der = {
  tagged(tag: number, content: Uint8Array): Uint8Array {
    const length = content.length;
    let header: number[];
    if (length < 0x80) header = [tag, length];
    else {
      const bytes: number[] = [];
      for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
      header = [tag, 0x80 | bytes.length, ...bytes];
    }
    const out = new Uint8Array(header.length + length);
    out.set(header);
    out.set(content, header.length);
    return out;
  },
  concat(parts: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  },
  sequence(...parts: Uint8Array[]): Uint8Array {
    return der.tagged(0x30, der.concat(parts));
  },
  set(...parts: Uint8Array[]): Uint8Array {
    return der.tagged(0x31, der.concat(parts));
  },
  explicit(n: number, content: Uint8Array): Uint8Array {
    return der.tagged(0xa0 | n, content);
  },
  /** An unsigned big-endian integer: leading zeros dropped, one added before a high bit. */
  integer(bytes: Uint8Array): Uint8Array {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.slice(start);
    const padded = trimmed[0] & 0x80 ? der.concat([new Uint8Array([0]), trimmed]) : trimmed;
    return der.tagged(0x02, padded);
  },
  bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
    return der.tagged(0x03, der.concat([new Uint8Array([unusedBits]), bytes]));
  },
  oid(dotted: string): Uint8Array {
    const [first, second, ...rest] = dotted.split(".").map(Number);
    const bytes = [40 * first + second];
    for (const arc of rest) {
      const groups: number[] = [];
      for (let n = arc;; n = Math.floor(n / 128)) {
        groups.unshift(n % 128);
        if (n < 128) break;
      }
      bytes.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
    }
    return der.tagged(0x06, new Uint8Array(bytes));
  },
  utf8(text: string): Uint8Array {
    return der.tagged(0x0c, new TextEncoder().encode(text));
  },
  /** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5). */
  time(date: Date): Uint8Array {
    const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
    return date.getUTCFullYear() < 2050
      ? der.tagged(0x17, new TextEncoder().encode(iso.slice(2)))
      : der.tagged(0x18, new TextEncoder().encode(iso));
  },
};

const ECDSA_SHA256 = der.sequence(der.oid("1.2.840.10045.4.3.2"));
