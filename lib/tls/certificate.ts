/**
 * Issues X.509 v3 certificates: a P-256 key from WebCrypto and a DER structure of a dozen
 * fields signed with ECDSA-SHA256, either by its own key (self-signed) or by an issuer's.
 * Neither Deno nor `node:crypto` can issue a certificate (Node's `X509Certificate` only parses)
 * and the image has no openssl, so the encoding is done here; no dependency is needed.
 *
 * Two kinds: a CA (`ca: true`: basicConstraints CA, keyCertSign and cRLSign) that signs others,
 * and a TLS server certificate (not a CA, digitalSignature, extended key usage serverAuth).
 *
 * Guarantees: a fresh key and a random positive 128-bit serial number for every certificate;
 * DNS names and IP addresses go into subjectAltName (what TLS clients check), the common name
 * only into the subject; the private key is exported only as the PEM returned.
 *
 * Caveats: no key identifiers, CRL or OCSP locations, which the clients here do not need.
 */
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./der.ts";

/** PEM certificate and PKCS#8 private key, as `Deno.serve` and `Deno.listenTls` take them. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

/** What signs a certificate: the issuer's subject name (DER) and private key. */
export interface CertificateSigner {
  readonly subject: Uint8Array;
  readonly privateKey: CryptoKey;
}

export interface CertificateOptions {
  /** The subject's common name. */
  commonName: string;
  /** A CA that signs other certificates; otherwise a TLS server certificate. */
  ca?: boolean;
  /** subjectAltName DNS names. */
  dnsNames?: string[];
  /** subjectAltName IP addresses, IPv4 (`127.0.0.1`) or IPv6 (`::1`). */
  ipAddresses?: string[];
  notBefore: Date;
  notAfter: Date;
  /** The issuer (a CA's `signer`); the certificate signs itself when absent. */
  signedBy?: CertificateSigner;
}

export interface IssuedCertificate extends CertificateAndKey {
  /** Signs further certificates with this one's key and name (for a CA). */
  signer: CertificateSigner;
}

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));
const KEY_USAGE_DIGITAL_SIGNATURE = bitString(new Uint8Array([0x80]), 7);
const KEY_USAGE_CERT_AND_CRL_SIGN = bitString(new Uint8Array([0x06]), 1);

/**
 * Generates a key and a certificate for it.
 *
 * @throws {TypeError} when an IP address cannot be parsed.
 * @throws {RangeError} when `notAfter` is not after `notBefore`.
 * @example
 * ```ts
 * const now = Date.now();
 * const validity = { notBefore: new Date(now), notAfter: new Date(now + 86_400_000) };
 * const ca = await createCertificate({ commonName: "test CA", ca: true, ...validity });
 * const server = await createCertificate({
 *   commonName: "localhost",
 *   dnsNames: ["localhost"],
 *   ipAddresses: ["127.0.0.1"],
 *   signedBy: ca.signer,
 *   ...validity,
 * });
 * Deno.serve({ cert: server.cert, key: server.key, port: 8443 }, () => new Response("ok"));
 * ```
 */
export async function createCertificate(options: CertificateOptions): Promise<IssuedCertificate> {
  if (!(options.notAfter.getTime() > options.notBefore.getTime())) {
    throw new RangeError(
      `Cannot issue certificate "${options.commonName}": notAfter ${options.notAfter.toISOString()} is not after notBefore ${options.notBefore.toISOString()}`,
    );
  }
  const altNames = [
    ...(options.dnsNames ?? []).map((n) => implicitPrimitive(2, new TextEncoder().encode(n))),
    ...(options.ipAddresses ?? []).map((ip) => implicitPrimitive(7, ipAddressBytes(ip))),
  ];
  const keys = await crypto.subtle.generateKey(ECDSA_P256, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const subject = sequence(set(sequence(oid("2.5.4.3"), utf8String(options.commonName))));
  const signer = options.signedBy ?? { subject, privateKey: keys.privateKey };
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // a positive INTEGER
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    ECDSA_WITH_SHA256,
    signer.subject,
    sequence(time(options.notBefore), time(options.notAfter)),
    subject,
    new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)),
    explicit(
      3,
      sequence(
        ...(options.ca
          ? [
            extension("2.5.29.19", true, sequence(boolean(true))), // basicConstraints: CA
            extension("2.5.29.15", true, KEY_USAGE_CERT_AND_CRL_SIGN),
          ]
          : [
            extension("2.5.29.19", true, sequence()), // basicConstraints: not a CA
            extension("2.5.29.15", true, KEY_USAGE_DIGITAL_SIGNATURE),
            extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
          ]),
        ...(altNames.length ? [extension("2.5.29.17", false, sequence(...altNames))] : []),
      ),
    ),
  );
  const p1363 = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      signer.privateKey,
      tbs as Uint8Array<ArrayBuffer>,
    ),
  );
  // WebCrypto gives r‖s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
  const signature = sequence(
    unsignedInteger(p1363.subarray(0, 32)),
    unsignedInteger(p1363.subarray(32)),
  );
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    cert: pem("CERTIFICATE", certificate),
    key: pem("PRIVATE KEY", pkcs8),
    signer: { subject, privateKey: keys.privateKey },
  };
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

function pem(label: string, der: Uint8Array): string {
  const lines = btoa(String.fromCharCode(...der)).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The 4 or 16 bytes of an IPv4 dotted quad or an IPv6 address (`::` shorthand allowed). */
function ipAddressBytes(text: string): Uint8Array {
  const quad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const octets = quad.slice(1).map(Number);
    if (octets.every((o) => o <= 255)) return new Uint8Array(octets);
  } else if (text.includes(":")) {
    const halves = text.split("::");
    const groups = (part: string) => part ? part.split(":") : [];
    const head = groups(halves[0]);
    const tail = halves.length === 2 ? groups(halves[1]) : [];
    const missing = 8 - head.length - tail.length;
    const fits = halves.length === 1 ? missing === 0 : halves.length === 2 && missing >= 1;
    if (fits && [...head, ...tail].every((g) => /^[0-9a-f]{1,4}$/i.test(g))) {
      const all = [...head, ...Array(missing).fill("0"), ...tail].map((g) => parseInt(g, 16));
      return new Uint8Array(all.flatMap((g) => [g >> 8, g & 0xff]));
    }
  }
  throw new TypeError(
    `Cannot put IP address "${text}" in a certificate: expected an IPv4 dotted quad or an IPv6 address`,
  );
}
