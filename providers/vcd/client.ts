/**
 * A small VCD API client on the platform HTTP client: authenticated XML calls, paged queries,
 * a keep-alive, and ranged PUTs to transfer URLs.
 *
 * Guarantees:
 * - Every API call carries a session that `VcdSession` considers fresh; a 401 drops it and the
 *   call is sent once more with a new session (expired and idled-out sessions answer 401).
 * - Non-2xx answers become `VcdApiError` (with VCD's error codes) or
 *   `ProviderUnavailableError` (502/503/504, transport failures); the caller's abort is thrown
 *   unchanged.
 * - Transfer PUTs carry `Content-Range` and an exact `Content-Length`, and name only the
 *   transfer host in errors (the path is a capability).
 */
import { type Clock, realClock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/log.ts";
import {
  type HttpClient,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  HttpTransportError,
} from "../_http/mod.ts";
import { IntegrityError, ProviderUnavailableError } from "../types.ts";
import { errorFromResponse, VcdAuthError } from "./errors.ts";
import { API_VERSION, type SessionState, type VcdAuth, VcdSession } from "./session.ts";
import { attr, children, parseXml, type XmlNode } from "./xml.ts";

export interface VcdClientOptions {
  /** `https://host` or `https://host/api` (as in the credentials). */
  url: string;
  auth: VcdAuth;
  http: HttpClient;
  clock?: Clock;
  refreshThresholdMs: number;
  log?: Logger;
}

/** An API answer: status, headers and the parsed root element (when there is a body). */
export interface ApiResponse {
  status: number;
  headers: Headers;
  name: string;
  node: XmlNode;
}

export interface ApiCall {
  body?: string;
  contentType?: string;
  signal: AbortSignal;
  /** Names the step in errors ("create catalog item"). */
  step?: string;
  /** Overrides the HTTP client's response timeout (ms). */
  responseMs?: number;
}

/** A record of a query result (`<VAppTemplateRecord …/>`): its attributes. */
export type QueryRecord = Record<string, string>;

const XML_ACCEPT = `application/*+xml;version=${API_VERSION}`;
/** VCD's largest page for record queries (the default server setting). */
const PAGE_SIZE = 128;
/** A query with more pages than this is cut off, not looped on. */
const MAX_PAGES = 200;

export class VcdClient {
  /** `https://host`, without `/api`. */
  readonly base: string;
  readonly session: VcdSession;
  readonly #http: HttpClient;
  readonly #clock: Clock;

  constructor(options: VcdClientOptions) {
    this.base = options.url.replace(/\/+$/, "").replace(/\/api$/, "");
    this.#http = options.http;
    this.#clock = options.clock ?? realClock;
    this.session = new VcdSession({
      base: this.base,
      auth: options.auth,
      http: options.http,
      clock: this.#clock,
      refreshThresholdMs: options.refreshThresholdMs,
      log: options.log,
    });
  }

  /** An absolute URL for an API path (`/api/org`). */
  url(path: string): string {
    return `${this.base}${path}`;
  }

  /** One authenticated XML call; see the module doc for errors. */
  async api(method: HttpMethod, url: string, call: ApiCall): Promise<ApiResponse> {
    const what = `${method} ${pathOf(url)}`;
    for (let attempt = 1;; attempt++) {
      const state = await this.session.current(call.signal);
      const headers: Record<string, string> = {
        ...this.session.headers(state),
        Accept: XML_ACCEPT,
        "X-VMWARE-VCLOUD-CLIENT-REQUEST-ID": crypto.randomUUID(),
      };
      if (call.contentType) headers["Content-Type"] = call.contentType;
      const response = await this.#send(
        {
          method,
          url,
          headers,
          body: call.body,
          signal: call.signal,
          ...(call.responseMs ? { timeouts: { responseMs: call.responseMs } } : {}),
        },
        what,
        call.signal,
      );
      if (response.status === 401) {
        this.session.invalidate(state);
        if (attempt === 1) continue;
        throw new VcdAuthError(
          `VCD ${what} failed: 401 even with a new session (the user may lack rights for the API)`,
        );
      }
      this.session.used(state);
      if (response.status < 200 || response.status > 299) {
        throw errorFromResponse(
          what,
          response.status,
          response.statusText,
          response.body,
          call.step,
        );
      }
      if (response.body.trim() === "") {
        return { status: response.status, headers: response.headers, name: "", node: {} };
      }
      try {
        return { status: response.status, headers: response.headers, ...parseXml(response.body) };
      } catch (error) {
        throw new ProviderUnavailableError(
          `VCD ${what} answered ${response.status} with a body that is not XML`,
          { cause: error },
        );
      }
    }
  }

  /**
   * Every record of a query (`/api/query?type=…&format=records`), page by page. `filter` is
   * VCD's FIQL-like filter; values are URL-encoded and `filterEncoded=true` tells VCD so, so
   * names with `;`, `,` or `=` stay whole.
   */
  async query(
    type: string,
    filter: [string, string][],
    signal: AbortSignal,
  ): Promise<QueryRecord[]> {
    const records: QueryRecord[] = [];
    const recordName = `${type[0].toUpperCase()}${type.slice(1)}Record`;
    for (let page = 1; page <= MAX_PAGES; page++) {
      const params = new URLSearchParams({
        type,
        format: "records",
        page: String(page),
        pageSize: String(PAGE_SIZE),
      });
      if (filter.length) {
        params.set("filter", filter.map(([k, v]) => `${k}==${encodeURIComponent(v)}`).join(";"));
        params.set("filterEncoded", "true");
      }
      const { node } = await this.api("GET", this.url(`/api/query?${params}`), {
        signal,
        step: `query ${type}`,
      });
      for (const record of children(node, recordName)) records.push(attributesOf(record));
      const total = Number(attr(node, "total"));
      const size = Number(attr(node, "pageSize")) || PAGE_SIZE;
      if (!Number.isFinite(total) || page * size >= total) break;
    }
    return records;
  }

  /**
   * Keeps the API session from idling out during a long transfer (`/transfer` PUTs do not
   * count as use, §B.3): a cheap task query when the session has been unused for a while.
   */
  async keepAlive(signal: AbortSignal): Promise<void> {
    const state: SessionState = await this.session.current(signal);
    if (this.#clock.now() - state.lastUse < this.session.keepAliveMs(state)) return;
    await this.api(
      "GET",
      this.url("/api/query?type=task&format=records&page=1&pageSize=5"),
      { signal, step: "keep the session alive" },
    );
  }

  /**
   * One ranged PUT of `contentLength` bytes at `start` of a file of `total` bytes to a transfer
   * URL. Resolves on 2xx; other answers become errors (416: not where VCD expects the next byte).
   */
  async transfer(
    url: string,
    piece: {
      body: Uint8Array | ReadableStream<Uint8Array>;
      start: number;
      contentLength: number;
      total: number;
      signal: AbortSignal;
      onProgress?: (sent: number) => void;
    },
  ): Promise<void> {
    const end = piece.start + piece.contentLength - 1;
    const what = `PUT transfer bytes ${piece.start}-${end}/${piece.total}`;
    const state = await this.session.current(piece.signal);
    const response = await this.#send(
      {
        method: "PUT",
        url,
        // The official clients send the session with transfer PUTs too.
        headers: {
          ...this.session.headers(state),
          "Content-Range": `bytes ${piece.start}-${end}/${piece.total}`,
          "Content-Type": "application/octet-stream",
        },
        body: piece.body,
        contentLength: piece.contentLength,
        onUploadProgress: piece.onProgress,
        signal: piece.signal,
        secretPath: true,
        // VCD acknowledges a piece once it has stored it.
        timeouts: { responseMs: 300_000 },
      },
      what,
      piece.signal,
      true,
    );
    if (response.status < 200 || response.status > 299) {
      throw errorFromResponse(what, response.status, response.statusText, response.body, "upload");
    }
  }

  /** PUTs an OVF descriptor whole to its transfer URL (`Content-Type: text/xml`, §B.1). */
  async putDescriptor(url: string, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
    const what = "PUT transfer descriptor";
    const state = await this.session.current(signal);
    const response = await this.#send(
      {
        method: "PUT",
        url,
        headers: { ...this.session.headers(state), "Content-Type": "text/xml" },
        body: bytes,
        signal,
        secretPath: true,
      },
      what,
      signal,
      true,
    );
    if (response.status < 200 || response.status > 299) {
      throw errorFromResponse(
        what,
        response.status,
        response.statusText,
        response.body,
        "upload descriptor",
      );
    }
  }

  async close(): Promise<void> {
    await this.session.logout();
    await this.#http.close();
  }

  async #send(
    request: HttpRequest,
    what: string,
    signal: AbortSignal,
    secretPath = false,
  ): Promise<HttpResponse> {
    signal.throwIfAborted();
    try {
      return await this.#http.request(request);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      // A streamed body's own failure (the source's verifiers) is not VCD's.
      const integrity = findInChain(error, IntegrityError);
      if (integrity) throw integrity;
      const detail = error instanceof HttpTransportError ? error.detail : (error as Error).message;
      const where = secretPath ? new URL(request.url).origin : this.base;
      throw new ProviderUnavailableError(`Cannot reach VCD at ${where} (${what}): ${detail}`, {
        cause: error,
      });
    }
  }
}

/** The path of a URL, for messages (no query: filters may name things at length). */
export function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function attributesOf(node: XmlNode): QueryRecord {
  const out: QueryRecord = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("@")) out[key.slice(1)] = String(value);
  }
  return out;
}

/** The first error in `error`'s cause chain that is a `type`. */
function findInChain<T>(error: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let e = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}
