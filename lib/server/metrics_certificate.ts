/**
 * The certificate `/metrics` is served with over HTTPS: `<dir>/<certName>` and `<dir>/<keyName>`
 * from `--metrics-cert-path` (`tls.crt` and `tls.key` by default, the names of a
 * kubernetes.io/tls Secret, as controller-runtime reads them), or a self-signed one made at start
 * when no directory is given.
 *
 * Caveats: the files are read once at start; a rotated certificate (cert-manager renews before
 * expiry) takes effect at the next restart. controller-runtime watches the files instead.
 */
import type { CertificateAndKey } from "../tls/certificate.ts";
import { selfSignedCertificate } from "./self_signed_certificate.ts";

/** The certificate files cannot be used; the message names the flag and the file. */
export class MetricsCertificateError extends Error {
  override name = "MetricsCertificateError";
}

export interface MetricsCertificateOptions {
  /** `--metrics-cert-path`; empty or undefined generates a self-signed certificate. */
  certPath?: string;
  /** `--metrics-cert-name`, default `tls.crt`. */
  certName?: string;
  /** `--metrics-cert-key`, default `tls.key`. */
  keyName?: string;
  /** Names for the self-signed certificate besides `localhost` (the pod's host name). */
  dnsNames?: string[];
  /** Reads a file; injected in tests. */
  readTextFile?: (path: string) => Promise<string>;
}

/** Where the certificate came from, for the start-up log. */
export interface MetricsCertificate extends CertificateAndKey {
  source: "files" | "self-signed";
}

/**
 * Loads the certificate and key from the directory, or generates a self-signed pair.
 * @throws {MetricsCertificateError} when a file is missing, unreadable or not PEM, or the key
 *   is not the certificate's.
 */
export async function loadMetricsCertificate(
  options: MetricsCertificateOptions,
): Promise<MetricsCertificate> {
  if (!options.certPath) {
    return {
      ...await selfSignedCertificate({ dnsNames: options.dnsNames }),
      source: "self-signed",
    };
  }
  const read = options.readTextFile ?? Deno.readTextFile;
  const dir = options.certPath.replace(/\/+$/, "");
  const load = async (flag: string, name: string, label: RegExp) => {
    const path = `${dir}/${name}`;
    let text: string;
    try {
      text = await read(path);
    } catch (error) {
      throw new MetricsCertificateError(
        `Cannot read ${flag} file "${path}" (from --metrics-cert-path): ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    if (!label.test(text)) {
      throw new MetricsCertificateError(
        `${flag} file "${path}" (from --metrics-cert-path) holds no PEM block of the expected kind`,
      );
    }
    return text;
  };
  const certName = options.certName || "tls.crt";
  const keyName = options.keyName || "tls.key";
  const cert = await load("--metrics-cert-name", certName, /-----BEGIN CERTIFICATE-----/);
  const key = await load("--metrics-cert-key", keyName, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  // Checked here so a wrong pair is a start-up error naming the files, not a failed listener.
  if (!await keyMatches(cert, key)) {
    throw new MetricsCertificateError(
      `--metrics-cert-key file "${dir}/${keyName}" is not the key of --metrics-cert-name file ` +
        `"${dir}/${certName}" (from --metrics-cert-path), or one of them cannot be parsed`,
    );
  }
  return { cert, key, source: "files" };
}

async function keyMatches(cert: string, key: string): Promise<boolean> {
  // Imported here: only mounted certificates need it, and every import costs resident memory.
  const { createPrivateKey, X509Certificate } = await import("node:crypto");
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}
