/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with WebCrypto
 * (ECDSA P-256, SHA-256) and a small DER encoder: no openssl needed, so the demo runs anywhere
 * Deno does. The platform simulators serve the server certificate; the operator trusts the CA
 * through `credentials.caCert`, as it would a private CA in production.
 *
 * Caveats: valid for 30 days; no key identifiers, CRLs or OCSP, which nobody here checks.
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
  unsignedInteger,
  utcTime,
  utf8String,
} from "./der.ts";

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));
const DAY_MS = 86_400_000;

export interface CertificatePem {
  cert: string;
  key: string;
}

/** A CA, and a server certificate for `127.0.0.1` / `localhost` signed by it. */
export async function localCertificates(): Promise<{ ca: CertificatePem; server: CertificatePem }> {
  const caKeys = await generate();
  const serverKeys = await generate();
  const caName = name("image-distribution-operator demo CA");
  const ca = await certificate({
    subject: caName,
    issuer: caName,
    publicKey: caKeys.publicKey,
    signer: caKeys.privateKey,
    extensions: [
      extension("2.5.29.19", true, sequence(boolean(true))), // basicConstraints: CA
      extension("2.5.29.15", true, bitString(new Uint8Array([0x06]), 1)), // keyCertSign, cRLSign
    ],
  });
  const server = await certificate({
    subject: name("127.0.0.1"),
    issuer: caName,
    publicKey: serverKeys.publicKey,
    signer: caKeys.privateKey,
    extensions: [
      extension("2.5.29.19", true, sequence()), // basicConstraints: not a CA
      extension("2.5.29.15", true, bitString(new Uint8Array([0x80]), 7)), // digitalSignature
      extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
      extension(
        "2.5.29.17", // subjectAltName
        false,
        sequence(
          implicitPrimitive(7, new Uint8Array([127, 0, 0, 1])),
          implicitPrimitive(2, new TextEncoder().encode("localhost")),
        ),
      ),
    ],
  });
  return {
    ca: { cert: pem("CERTIFICATE", ca), key: pem("PRIVATE KEY", await pkcs8(caKeys.privateKey)) },
    server: {
      cert: pem("CERTIFICATE", server),
      key: pem("PRIVATE KEY", await pkcs8(serverKeys.privateKey)),
    },
  };
}

function generate(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
}

async function pkcs8(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", key));
}

function name(commonName: string): Uint8Array {
  return sequence(set(sequence(oid("2.5.4.3"), utf8String(commonName))));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

async function certificate(options: {
  subject: Uint8Array;
  issuer: Uint8Array;
  publicKey: CryptoKey;
  signer: CryptoKey;
  extensions: Uint8Array[];
}): Promise<Uint8Array> {
  const now = Date.now();
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // positive
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    ECDSA_WITH_SHA256,
    options.issuer,
    sequence(utcTime(new Date(now - DAY_MS)), utcTime(new Date(now + 30 * DAY_MS))),
    options.subject,
    new Uint8Array(await crypto.subtle.exportKey("spki", options.publicKey)),
    explicit(3, sequence(...options.extensions)),
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      options.signer,
      tbs as Uint8Array<ArrayBuffer>,
    ),
  );
  // WebCrypto gives r‖s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
  const signature = sequence(
    unsignedInteger(raw.subarray(0, 32)),
    unsignedInteger(raw.subarray(32)),
  );
  return sequence(tbs, ECDSA_WITH_SHA256, bitString(signature));
}

function pem(label: string, der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN ${label}-----\n${
    base64.match(/.{1,64}/g)!.join("\n")
  }\n-----END ${label}-----\n`;
}
