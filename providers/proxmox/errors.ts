/**
 * Proxmox API faults mapped to the provider error classes at the client boundary.
 *
 * | Proxmox answer | class |
 * |---|---|
 * | no connection, TLS refused, timeout, 502/503/504/595/596 | `ProviderUnavailableError` |
 * | 401 (no ticket, bad token) | `ProxmoxAuthError` (a `ProviderUnavailableError`) |
 * | 400 with an `errors` map, 403, 500 handler errors, 501 | `ProxmoxApiError` (a `PlatformError`) |
 *
 * Messages name the method and path and carry Proxmox's own text (from the JSON `message`, or
 * from the reason phrase of servers older than libpve-http-server-perl 5.2.0). They never carry
 * the token secret: it only ever travels in the Authorization header.
 */
import { redactUrlsIn } from "../../lib/redact.ts";
import { PlatformError, ProviderUnavailableError } from "../types.ts";

/** Proxmox refused our API token (HTTP 401). */
export class ProxmoxAuthError extends ProviderUnavailableError {
  override name = "ProxmoxAuthError";
}

/** Proxmox answered a request with an error status. */
export class ProxmoxApiError extends PlatformError {
  override name = "ProxmoxApiError";
  /** The HTTP status. */
  readonly status: number;
  /** Proxmox's message without its trailing newline. */
  readonly detail: string;
  /** Per-parameter problems of a 400 (`{"name": "invalid format - …"}`). */
  readonly errors: Readonly<Record<string, string>>;

  constructor(
    what: string,
    status: number,
    detail: string,
    errors: Record<string, string> = {},
  ) {
    // Proxmox echoes the download URL in its messages; a presigned S3 URL is a bearer
    // credential for the object, so it must not reach status, Events or logs.
    detail = redactUrlsIn(detail);
    errors = Object.fromEntries(
      Object.entries(errors).map(([k, v]) => [k, redactUrlsIn(v)]),
    );
    const params = Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join("; ");
    super(`Proxmox ${what} failed: ${status} ${detail}${params ? ` (${params})` : ""}`);
    this.status = status;
    this.detail = detail;
    this.errors = errors;
  }

  /** The VM, volume or task named in the request does not exist (Proxmox says 500, not 404). */
  get isMissing(): boolean {
    return this.status === 500 && /does not exist|no such/i.test(this.detail);
  }

  /** A VMID given to create is taken (a race with another client after `nextid`). */
  get isVmidTaken(): boolean {
    return (this.status === 500 && /already exists/i.test(this.detail)) ||
      /already exists/i.test(this.errors.vmid ?? "");
  }
}

/** Statuses that mean "the API is not there right now", not "the request was wrong". */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504, 595, 596]);

/** Turns a non-2xx answer into the matching error. */
export function errorFromResponse(
  what: string,
  status: number,
  statusText: string,
  body: string,
): Error {
  const { message, errors } = decodeErrorBody(body);
  // Servers before libpve-http-server-perl 5.2.0 put the message only in the reason phrase.
  const detail = redactUrlsIn((message || statusText || "no message").trim());
  if (status === 401) {
    return new ProxmoxAuthError(
      `Proxmox ${what} failed: 401 ${detail}: the API token was refused (check user, realm, ` +
        `tokenId and secret)`,
    );
  }
  if (UNAVAILABLE_STATUSES.has(status)) {
    return new ProviderUnavailableError(`Proxmox ${what} failed: ${status} ${detail}`);
  }
  return new ProxmoxApiError(what, status, detail, errors);
}

function decodeErrorBody(body: string): { message: string; errors: Record<string, string> } {
  try {
    const parsed = JSON.parse(body);
    const errors: Record<string, string> = {};
    if (parsed?.errors && typeof parsed.errors === "object") {
      for (const [k, v] of Object.entries(parsed.errors)) errors[k] = String(v).trim();
    }
    return { message: typeof parsed?.message === "string" ? parsed.message : "", errors };
  } catch {
    // 501 and some proxies answer plain text.
    return { message: body.length <= 300 ? body : "", errors: {} };
  }
}
