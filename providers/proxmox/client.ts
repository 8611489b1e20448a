/**
 * A small Proxmox VE API client: `https://<host:port>/api2/json`, API-token auth, `{"data": …}`
 * decoding and error mapping at the boundary (see `errors.ts`).
 *
 * Guarantees:
 * - Every request carries `Authorization: PVEAPIToken=<user>@<realm>!<tokenId>=<secret>`; the
 *   secret appears nowhere else (not in URLs, errors or logs).
 * - POST and PUT send `application/x-www-form-urlencoded` bodies; GET and DELETE send their
 *   parameters only in the query (Proxmox answers a DELETE body with 501).
 * - Each request ends within `timeoutMs` (then `ProviderUnavailableError`) or when the caller's
 *   signal aborts (then the signal's reason is thrown unchanged).
 * - Path segments are escaped like Go's `url.PathEscape` (`!` → `%21`, `:` and `@` literal), so a
 *   token-made UPID or a volid with `/` stays one segment.
 */
import type { Secret } from "../../lib/config/secret.ts";
import { type HttpClient, type HttpMethod, HttpTransportError } from "../_http/mod.ts";
import { ProviderUnavailableError } from "../types.ts";
import { errorFromResponse } from "./errors.ts";

export type ProxmoxParams = Record<string, string | number | boolean | undefined>;

export interface ProxmoxClientOptions {
  /** `host:port`, as in values.yaml (no scheme). */
  host: string;
  user: string;
  realm: string;
  tokenId: string;
  secret: Secret;
  /** The platform HTTP client (`providers/_http/`), or a fake in tests. */
  http: HttpClient;
  /** Per-request limit; the Go operator used 30 s. */
  timeoutMs?: number;
}

export class ProxmoxClient {
  /** `https://host:port/api2/json`. */
  readonly baseUrl: string;
  readonly #authorization: string;
  readonly #http: HttpClient;
  readonly #timeoutMs: number;

  constructor(options: ProxmoxClientOptions) {
    this.baseUrl = `https://${options.host}/api2/json`;
    this.#authorization =
      `PVEAPIToken=${options.user}@${options.realm}!${options.tokenId}=${options.secret.reveal()}`;
    this.#http = options.http;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  get<T>(path: string, query: ProxmoxParams | undefined, signal: AbortSignal): Promise<T> {
    return this.#send<T>("GET", path, query, undefined, signal);
  }

  post<T>(path: string, form: ProxmoxParams, signal: AbortSignal): Promise<T> {
    return this.#send<T>("POST", path, undefined, form, signal);
  }

  put<T>(path: string, form: ProxmoxParams, signal: AbortSignal): Promise<T> {
    return this.#send<T>("PUT", path, undefined, form, signal);
  }

  delete<T>(path: string, query: ProxmoxParams | undefined, signal: AbortSignal): Promise<T> {
    return this.#send<T>("DELETE", path, query, undefined, signal);
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  async #send<T>(
    method: HttpMethod,
    path: string,
    query: ProxmoxParams | undefined,
    form: ProxmoxParams | undefined,
    signal: AbortSignal,
  ): Promise<T> {
    signal.throwIfAborted();
    const what = `${method} ${path}`;
    const headers: Record<string, string> = {
      Authorization: this.#authorization,
      Accept: "application/json",
    };
    let body: string | undefined;
    if (form) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = encodeParams(form);
    }
    const qs = query ? encodeParams(query) : "";
    const url = `${this.baseUrl}${path}${qs ? `?${qs}` : ""}`;

    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new ProviderUnavailableError(`timed out after ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    const combined = AbortSignal.any([signal, timeout.signal]);
    let response;
    try {
      response = await this.#http.request({ method, url, headers, body, signal: combined });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const reason = timeout.signal.aborted ? timeout.signal.reason : error;
      throw new ProviderUnavailableError(
        `Cannot reach Proxmox at ${this.baseUrl} (${what}): ${describe(reason)}`,
        { cause: reason },
      );
    } finally {
      clearTimeout(timer);
    }
    if (response.status < 200 || response.status > 299) {
      throw errorFromResponse(what, response.status, response.statusText, response.body);
    }
    try {
      return (JSON.parse(response.body) as { data: T }).data;
    } catch (error) {
      throw new ProviderUnavailableError(
        `Proxmox ${what} answered ${response.status} with a body that is not JSON`,
        { cause: error },
      );
    }
  }
}

/**
 * Escapes one path segment like Go's `url.PathEscape`: RFC 3986 pchar, so `:` and `@` stay
 * literal while `!`, `/` and spaces are escaped.
 */
export function pathSegment(value: string | number): string {
  return encodeURIComponent(String(value))
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%3A/g, ":")
    .replace(/%40/g, "@");
}

/** Builds a path from a template, escaping every interpolated value as one segment. */
export function apiPath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  return strings.reduce(
    (out, s, i) => out + s + (i < values.length ? pathSegment(values[i]) : ""),
    "",
  );
}

function encodeParams(params: ProxmoxParams): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    out.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  return out.toString();
}

function describe(error: unknown): string {
  // The HTTP client's message repeats method and URL, which ours already names.
  if (error instanceof HttpTransportError) return error.detail;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code && !error.message.includes(String(code))
      ? `${error.message} (${code})`
      : error.message;
  }
  return String(error);
}
