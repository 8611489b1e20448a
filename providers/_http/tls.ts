/**
 * TLS for the undici client: system roots by default, a PEM bundle instead when given,
 * no verification only with `insecure`, or one pinned server certificate.
 *
 * Pinning: the handshake runs without chain verification, then the peer certificate's SHA-1 or
 * SHA-256 fingerprint must equal the pin before the socket is handed to undici, so not one byte
 * of the request (or its headers) reaches a server that fails the check. TLS session resumption
 * is off for pinned clients, so every connection shows its certificate.
 */
import type { TLSSocket } from "node:tls";
import type { buildConnector } from "undici";
import type { HttpTlsOptions } from "./types.ts";

/**
 * The `connect` value for an undici `Agent`. undici's `buildConnector` is passed in because the
 * client imports undici only when it sends its first request.
 */
export function connectOptions(
  tls: HttpTlsOptions,
  connectTimeoutMs: number,
  build: typeof buildConnector,
): buildConnector.BuildOptions | buildConnector.connector {
  // undici reads 0 as "no connect timeout".
  const timeout = Math.max(0, connectTimeoutMs);
  if (tls.pinnedFingerprint !== undefined) {
    const pin = normaliseFingerprint(tls.pinnedFingerprint);
    const base = build({ rejectUnauthorized: false, maxCachedSessions: 0, timeout });
    return (options, callback) =>
      base(options, (error, socket) => {
        if (error) return callback(error, null);
        const problem = pinProblem(socket as TLSSocket, pin);
        if (!problem) return callback(null, socket!);
        socket!.destroy();
        callback(problem, null);
      });
  }
  return {
    ...(tls.ca ? { ca: tls.ca } : {}),
    rejectUnauthorized: !tls.insecure,
    timeout,
  };
}

/** Upper-case hex pairs joined by `:`, as node's `fingerprint` fields; throws on nonsense. */
export function normaliseFingerprint(value: string): string {
  const hex = value.replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || (hex.length !== 40 && hex.length !== 64)) {
    throw new TypeError(
      `Cannot use "${value}" as a certificate fingerprint: expected SHA-1 (40 hex digits) or ` +
        `SHA-256 (64 hex digits), colons optional`,
    );
  }
  return hex.match(/../g)!.join(":");
}

/** A certificate that does not match the pin (node's own error shape for the same check). */
export class PinnedCertificateError extends Error {
  override name = "PinnedCertificateError";
  readonly code = "ERR_TLS_PINNED_CERT_MISMATCH";
}

function pinProblem(socket: TLSSocket, pin: string): Error | undefined {
  if (typeof socket.getPeerCertificate !== "function") {
    return new PinnedCertificateError("cannot pin a certificate on a connection without TLS");
  }
  const cert = socket.getPeerCertificate(false);
  const got = pin.length === 59 ? cert?.fingerprint : cert?.fingerprint256;
  if (got && got.toUpperCase() === pin) return undefined;
  return new PinnedCertificateError(
    `server certificate fingerprint ${got ?? "(none)"} does not match the pinned ${pin}`,
  );
}
