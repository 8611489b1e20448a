/**
 * The one HTTP contract under every platform client: `request(req) → {status, statusText,
 * headers, body}`.
 *
 * Platform clients build URLs, headers and bodies and map statuses to their own errors; an
 * `HttpClient` only moves bytes. A test fake is an object with a `request` function.
 *
 * Guarantees of every implementation:
 * - Any answer that arrives resolves, whatever its status (3xx included: redirects are followed
 *   only when `maxRedirects` asks for it). Only transport failures reject: with an
 *   `HttpTransportError` (see `errors.ts`), or with the caller's `signal.reason` unchanged when
 *   the caller aborted.
 * - Error messages name the method, host and path, never userinfo, query or fragment.
 * - A streamed body is sent with exactly `contentLength` bytes or the request fails.
 */

/** Methods the platforms use. */
export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH";

/**
 * A request body: small bodies as text or bytes; large ones as a stream, sent with a
 * Content-Length of `contentLength` (never chunked: ESXi NFC and VCD transfer URLs want it).
 */
export type HttpBody = string | Uint8Array | ReadableStream<Uint8Array>;

/** One exchange as a platform client wants it. */
export interface HttpRequest {
  method: HttpMethod;
  /** Absolute `http(s)` URL, query included. */
  url: string;
  /** Per-request headers (Authorization, Cookie, Content-Type, Content-Range, SOAPAction…). */
  headers?: Record<string, string>;
  body?: HttpBody;
  /** Required for a stream body: the exact number of bytes it yields. */
  contentLength?: number;
  /** Called after each chunk of a stream body is handed to the socket: bytes so far, total. */
  onUploadProgress?: (sent: number, total: number) => void;
  /** Aborting rejects with `signal.reason`, also while the response body is being read. */
  signal?: AbortSignal;
  /** Follow up to this many redirects (default 0: a 3xx is returned as it is). */
  maxRedirects?: number;
  /** Largest response body read, in bytes; more is an `HttpTransportError` (default 32 MiB). */
  maxResponseBytes?: number;
  /** Overrides of the client's response and idle timeouts for this request. */
  timeouts?: Partial<Omit<HttpTimeouts, "connectMs">>;
  /**
   * The path is a capability (an ESXi NFC device URL with its ticket): errors then show only
   * `scheme://host:port/…`.
   */
  secretPath?: boolean;
}

/** The answer, whatever its status. */
export interface HttpResponse {
  status: number;
  /** The reason phrase; some servers (older Proxmox) put their error message only here. */
  statusText: string;
  /** Response headers; `getSetCookie()` gives every `Set-Cookie` line. */
  headers: Headers;
  /** The whole body decoded as UTF-8 (platform APIs answer JSON or XML). */
  body: string;
}

/**
 * Timeouts, each in ms; 0 disables one.
 * - `connectMs`: TCP connect plus TLS handshake.
 * - `responseMs`: from the request being fully sent to the response headers.
 * - `idleMs`: longest pause between two chunks, while sending a stream body and while reading
 *   the response body.
 */
export interface HttpTimeouts {
  connectMs: number;
  responseMs: number;
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<HttpTimeouts> = {
  connectMs: 10_000,
  responseMs: 60_000,
  idleMs: 60_000,
};

/** Default `maxResponseBytes`. */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** What every platform client holds: one per platform endpoint (one connection pool). */
export interface HttpClient {
  /** Sends one request. Non-2xx answers resolve; only transport failures reject. */
  request(request: HttpRequest): Promise<HttpResponse>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/**
 * TLS settings of a client. Verification against the system roots is the default.
 * - `ca`: PEM bundle that replaces the system roots.
 * - `insecure`: skip verification (the values' `insecure: true`); only when asked.
 * - `pinnedFingerprint`: accept exactly the server certificate with this SHA-1 or SHA-256
 *   fingerprint (hex, colons optional), whoever signed it and whatever names it carries: how
 *   vSphere NFC leases identify ESXi hosts. Replaces chain and name verification.
 */
export interface HttpTlsOptions {
  ca?: string;
  insecure?: boolean;
  pinnedFingerprint?: string;
}
