/**
 * VCD faults mapped to the provider error classes at the client boundary.
 *
 * | VCD answer | class |
 * |---|---|
 * | no connection, TLS refused, timeout, 502/503/504 | `ProviderUnavailableError` |
 * | 401 after one fresh login (credentials refused, session not accepted) | `VcdAuthError` (a `ProviderUnavailableError`) |
 * | any other non-2xx, with its `<Error>` (or cloudapi JSON) body | `VcdApiError` (a `PlatformError`) |
 *
 * Messages name the method and path and carry VCD's `minorErrorCode`, `majorErrorCode` and
 * `message`. Credentials never appear: passwords travel only in the login's Authorization
 * header, refresh tokens only in the token request's body, and neither is ever echoed.
 */
import { redactUrlsIn } from "../../lib/redact.ts";
import { PlatformError, ProviderUnavailableError } from "../types.ts";
import { attr, parseXml } from "./xml.ts";

/** VCD refused our credentials or session (HTTP 401 even after a fresh login). */
export class VcdAuthError extends ProviderUnavailableError {
  override name = "VcdAuthError";
}

/** VCD answered a request with an error status. */
export class VcdApiError extends PlatformError {
  override name = "VcdApiError";
  readonly status: number;
  /** `majorErrorCode` (VCD repeats the HTTP status here). */
  readonly majorErrorCode: string;
  /** `minorErrorCode`, e.g. `ACCESS_TO_RESOURCE_IS_FORBIDDEN`, `DUPLICATE_NAME`. */
  readonly minorErrorCode: string;
  /** VCD's `message`. */
  readonly detail: string;

  constructor(what: string, status: number, fault: VcdFault, step?: string) {
    const codes = [fault.minorErrorCode, fault.majorErrorCode && `major ${fault.majorErrorCode}`]
      .filter(Boolean).join(", ");
    super(
      `VCD ${what} failed: ${status}${codes ? ` (${codes})` : ""}: ${
        fault.message || "no message"
      }`,
      step,
    );
    this.status = status;
    this.majorErrorCode = fault.majorErrorCode;
    this.minorErrorCode = fault.minorErrorCode;
    this.detail = fault.message;
  }

  /**
   * The entity does not exist. VCD answers 403 `ACCESS_TO_RESOURCE_IS_FORBIDDEN` for ids that
   * do not exist or that we may not see (wire facts §B.3), 404 on some paths.
   */
  get isMissing(): boolean {
    return this.status === 404 || this.minorErrorCode === "RESOURCE_NOT_FOUND" ||
      (this.status === 403 && this.minorErrorCode === "ACCESS_TO_RESOURCE_IS_FORBIDDEN");
  }
}

/** The three fields of a VCD `<Error>` (or of a cloudapi JSON error). */
export interface VcdFault {
  majorErrorCode: string;
  minorErrorCode: string;
  message: string;
}

/** Statuses that mean "the API is not there right now", not "the request was wrong". */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);

/** Turns a non-2xx answer (other than a 401, which the session handles) into an error. */
export function errorFromResponse(
  what: string,
  status: number,
  statusText: string,
  body: string,
  step?: string,
): Error {
  const fault = decodeFault(body, statusText);
  if (UNAVAILABLE_STATUSES.has(status)) {
    return new ProviderUnavailableError(
      `VCD ${what} failed: ${status} ${fault.message || statusText || "unavailable"}`,
    );
  }
  return new VcdApiError(what, status, fault, step);
}

/** Reads an `<Error>` or cloudapi JSON error body; falls back to the reason phrase. */
export function decodeFault(body: string, statusText = ""): VcdFault {
  const text = body.trim();
  const fallback = { majorErrorCode: "", minorErrorCode: "", message: statusText };
  let fault = fallback;
  try {
    if (text.startsWith("{")) {
      const json = JSON.parse(text) as Record<string, unknown>;
      fault = {
        majorErrorCode: String(json.majorErrorCode ?? ""),
        minorErrorCode: String(json.minorErrorCode ?? ""),
        // cloudapi errors say `message`; the OAuth token endpoint `error_description`.
        message: String(json.message ?? json.error_description ?? json.error ?? statusText),
      };
    } else if (text.startsWith("<")) {
      const { name, node } = parseXml(text);
      if (name === "Error") {
        fault = {
          majorErrorCode: attr(node, "majorErrorCode"),
          minorErrorCode: attr(node, "minorErrorCode"),
          message: attr(node, "message") || statusText,
        };
      }
    } else if (text !== "" && text.length <= 300) {
      fault = { ...fallback, message: text };
    }
  } catch {
    // Not the body we expected (a proxy's HTML page): the status line is all we have.
  }
  return { ...fault, message: redactUrlsIn(fault.message.trim()) };
}
