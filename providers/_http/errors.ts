/**
 * Transport failures of the platform HTTP client, one class with the kind of failure.
 *
 * Guarantees: the message is `<METHOD> <scheme://host:port/path>: <detail>`; the target never
 * carries userinfo, query or fragment (and with `secretPath` not the path either), and the
 * detail (built from the underlying error) goes through `redactUrlsIn`, so a URL echoed by a
 * lower layer loses its query too. Headers and bodies never appear.
 */
import { redactUrl, redactUrlsIn, redactUrlToOrigin } from "../../lib/redact.ts";
import type { HttpMethod } from "./types.ts";

/**
 * - `connect-timeout`, `response-timeout`, `idle-timeout`: a timeout of `HttpTimeouts` fired;
 * - `tls`: the server's certificate was refused (unknown CA, wrong name, wrong pin, expired);
 * - `network`: refused, reset, DNS, socket closed;
 * - `too-large`: the response body exceeded `maxResponseBytes`;
 * - `body-length`: a stream body yielded more or fewer bytes than `contentLength`;
 * - `redirect`: a redirect that cannot or may not be followed;
 * - `invalid-request`: the request itself is unusable (bad URL, stream without length).
 */
export type HttpFailureKind =
  | "connect-timeout"
  | "response-timeout"
  | "idle-timeout"
  | "tls"
  | "network"
  | "too-large"
  | "body-length"
  | "redirect"
  | "invalid-request";

/** A request failed before a whole answer arrived. */
export class HttpTransportError extends Error {
  override name = "HttpTransportError";
  readonly kind: HttpFailureKind;
  readonly method: HttpMethod;
  /** `scheme://host:port/path` (or only the origin for a secret path). */
  readonly target: string;
  /** What went wrong, without the method and target. */
  readonly detail: string;

  constructor(
    kind: HttpFailureKind,
    request: { method: HttpMethod; url: string; secretPath?: boolean },
    detail: string,
    options?: ErrorOptions,
  ) {
    const target = request.secretPath
      ? `${redactUrlToOrigin(request.url)}/…`
      : redactUrl(request.url);
    const clean = redactUrlsIn(detail);
    super(`${request.method} ${target}: ${clean}`, options);
    this.kind = kind;
    this.method = request.method;
    this.target = target;
    this.detail = clean;
  }

  /** True for the three timeouts. */
  get isTimeout(): boolean {
    return this.kind.endsWith("-timeout");
  }
}

/** Node/undici error codes that mean the certificate was refused. */
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_PINNED_CERT_MISMATCH",
]);

/** Classifies a lower layer's error and describes it in one line. */
export function describeFailure(error: unknown): { kind: HttpFailureKind; detail: string } {
  const chain: unknown[] = [];
  for (let e: unknown = error; e && chain.length < 5; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
  }
  const codes = chain.map((e) => String((e as { code?: unknown }).code ?? ""));
  const messages = chain.map((e) => (e instanceof Error ? e.message : String(e)));
  const text = messages.join(" ");
  const code = codes.find((c) => c !== "" && c !== "undefined") ?? "";
  let kind: HttpFailureKind = "network";
  if (
    codes.some((c) => TLS_CODES.has(c)) ||
    /certificate|self[- ]signed|UnknownIssuer|invalid peer certificate/i.test(text)
  ) {
    kind = "tls";
  } else if (codes.includes("UND_ERR_CONNECT_TIMEOUT")) {
    kind = "connect-timeout";
  }
  // Show the innermost useful message once, with its code when the message lacks it.
  const message = messages.find((m) => m && m !== "fetch failed") ?? "unknown error";
  const detail = code && !message.includes(code) ? `${message} (${code})` : message;
  return { kind, detail };
}
