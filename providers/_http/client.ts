/**
 * The production `HttpClient`: undici `request` over one `Agent` (one connection pool per
 * platform endpoint), with our own timeouts, body limits and redirect policy on top.
 *
 * Guarantees (beyond the contract in `types.ts`):
 * - TLS as `HttpTlsOptions` says; verification is never off unless `insecure` or a pin is given.
 * - Timeouts: `connectMs` covers TCP plus TLS (undici's connector); `responseMs` runs from the
 *   last request byte to the response headers; `idleMs` bounds every pause while a stream body
 *   is sent and while the response body is read. undici's own header/body timers are off, so
 *   one watchdog owns the phases and each fires with a message naming its phase.
 * - A stream body goes out with `content-length: contentLength` (never chunked), pulled one
 *   chunk at a time as the socket drains (see `upload.ts`).
 * - Redirects: with `maxRedirects` > 0, 301/302/303/307/308 are followed; 303 (and 301/302 after
 *   a POST) become a GET without body; Authorization and Cookie are dropped when the origin
 *   changes; a stream body cannot be replayed, so its redirect is an error.
 */
import type { Readable } from "node:stream";
import type { Agent, request as undiciRequest } from "undici";
import { describeFailure, HttpTransportError } from "./errors.ts";
import { readWhole } from "./response_body.ts";
import { connectOptions, normaliseFingerprint } from "./tls.ts";
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUTS,
  type HttpClient,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type HttpTimeouts,
  type HttpTlsOptions,
} from "./types.ts";
import { countedBody } from "./upload.ts";
import { RequestTimers } from "./timers.ts";

export interface HttpClientOptions {
  tls?: HttpTlsOptions;
  /** Defaults for every request (`connectMs` applies to the whole client). */
  timeouts?: Partial<HttpTimeouts>;
  /** Connections kept per origin (default 8). */
  connections?: number;
}

/** Builds the production client. */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  return new UndiciHttpClient(options);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

interface Undici {
  agent: Agent;
  request: typeof undiciRequest;
}

export class UndiciHttpClient implements HttpClient {
  readonly #options: HttpClientOptions;
  readonly #timeouts: HttpTimeouts;
  /**
   * undici and the agent, from the first request on: undici costs ~25 MiB resident, and a
   * configured platform with nothing to transfer need not pay for it.
   */
  #undici?: Promise<Undici>;

  constructor(options: HttpClientOptions = {}) {
    this.#options = options;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    // A nonsense pin is refused now, not at the first request.
    if (options.tls?.pinnedFingerprint !== undefined) {
      normaliseFingerprint(options.tls.pinnedFingerprint);
    }
  }

  #load(): Promise<Undici> {
    return this.#undici ??= import("undici").then(({ Agent, buildConnector, request }) => ({
      agent: new Agent({
        connections: this.#options.connections ?? 8,
        connect: connectOptions(this.#options.tls ?? {}, this.#timeouts.connectMs, buildConnector),
        headersTimeout: 0,
        bodyTimeout: 0,
      }),
      request,
    }));
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const max = req.maxRedirects ?? 0;
    let current = req;
    for (let hop = 0;; hop++) {
      const response = await this.#exchange(current);
      if (max === 0 || !REDIRECTS.has(response.status)) return response;
      const location = response.headers.get("location");
      if (!location) return response;
      if (hop >= max) {
        throw new HttpTransportError("redirect", current, `stopped after ${max} redirects`);
      }
      current = redirected(current, response.status, location);
    }
  }

  async close(): Promise<void> {
    if (this.#undici) await (await this.#undici).agent.close();
  }

  async #exchange(req: HttpRequest): Promise<HttpResponse> {
    const url = checkedUrl(req);
    req.signal?.throwIfAborted();
    const timers = new RequestTimers(req, { ...this.#timeouts, ...req.timeouts });
    const headers = { ...req.headers };
    let upload: AsyncGenerator<Uint8Array> | undefined;
    let uploaded = false;
    if (req.body instanceof ReadableStream) {
      const total = req.contentLength!;
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() === "content-length") delete headers[name];
      }
      headers["content-length"] = String(total);
      let sent = 0;
      timers.sending(total, () => sent);
      upload = countedBody(req.body, total, {
        request: req,
        race: (promise) => timers.race(promise),
        activity: () => timers.poke(),
        progress: (n, t) => {
          sent = n;
          req.onUploadProgress?.(n, t);
        },
        finished: () => {
          uploaded = true;
          timers.awaitingResponse();
        },
      });
    } else {
      timers.awaitingResponse();
    }
    const body = upload ?? req.body as string | Uint8Array | undefined;

    try {
      const undici = await this.#load();
      const response = await undici.request(url, {
        method: req.method,
        headers,
        // undici sends async iterables chunk by chunk; its types list only Node streams.
        body: body as string | Uint8Array | Readable | undefined,
        signal: timers.signal,
        dispatcher: undici.agent,
      });
      const maxBytes = req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
      const tooLarge = () =>
        new HttpTransportError(
          "too-large",
          req,
          `the response body is larger than the ${maxBytes} bytes this request accepts`,
        );
      const declared = Number(response.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBytes) {
        response.body.destroy();
        throw tooLarge();
      }
      let received = 0;
      timers.receiving(() => received);
      const bytes = await readWhole(response.body, {
        race: (promise) => timers.race(promise),
        activity: (n) => {
          received = n;
          timers.poke();
        },
        maxBytes,
        tooLarge,
      });
      return {
        status: response.statusCode,
        statusText: response.statusText ?? "",
        headers: toHeaders(response.headers),
        body: new TextDecoder().decode(bytes),
      };
    } catch (error) {
      const failure = this.#failure(req, timers, error);
      timers.stop(failure);
      throw failure;
    } finally {
      timers.disarm();
      // An upload that did not finish (a failure, or an answer before the whole body was sent)
      // must not keep its source open: a body suspended at `yield`, where undici waits for a
      // drain that will not come, finishes now and cancels it; one still reading was released
      // by `stop` or ends with the request.
      if (upload && !uploaded) {
        timers.stop(
          new HttpTransportError("body-length", req, "answered before the whole body was sent"),
        );
        upload.return(undefined).catch(() => {});
      }
    }
  }

  /** The error to throw for a failure from undici or a body read. */
  #failure(req: HttpRequest, timers: RequestTimers, error: unknown): unknown {
    // The caller's abort wins, unchanged; then our own timeouts and checks.
    if (req.signal?.aborted) return req.signal.reason;
    if (timers.timedOut) return timers.timedOut;
    if (error instanceof HttpTransportError) return error;
    const { kind, detail } = describeFailure(error);
    const text = kind === "connect-timeout"
      ? `no connection within ${this.#timeouts.connectMs} ms (${detail})`
      : detail;
    return new HttpTransportError(kind, req, text, { cause: error });
  }
}

function checkedUrl(req: HttpRequest): URL {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new HttpTransportError("invalid-request", req, "the URL cannot be parsed");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new HttpTransportError("invalid-request", req, `unsupported scheme ${url.protocol}`);
  }
  if (req.body instanceof ReadableStream) {
    const n = req.contentLength;
    if (n === undefined || !Number.isSafeInteger(n) || n < 0) {
      throw new HttpTransportError(
        "invalid-request",
        req,
        "a streamed body needs its exact length in contentLength",
      );
    }
  }
  return url;
}

/** The next request of a redirect chain. */
function redirected(req: HttpRequest, status: number, location: string): HttpRequest {
  let next: URL;
  try {
    next = new URL(location, req.url);
  } catch {
    throw new HttpTransportError("redirect", req, `redirected to an unparsable location`);
  }
  if (next.protocol !== "https:" && next.protocol !== "http:") {
    throw new HttpTransportError("redirect", req, `redirected to unsupported ${next.protocol}`);
  }
  const toGet = status === 303 || ((status === 301 || status === 302) && req.method === "POST");
  if (!toGet && req.body instanceof ReadableStream) {
    throw new HttpTransportError(
      "redirect",
      req,
      `answered ${status}, and a streamed body cannot be sent again`,
    );
  }
  const sameOrigin = next.origin === new URL(req.url).origin;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!sameOrigin && CREDENTIAL_HEADERS.has(lower)) continue;
    if (toGet && (lower === "content-type" || lower === "content-length")) continue;
    headers[name] = value;
  }
  const method: HttpMethod = toGet && req.method !== "HEAD" ? "GET" : req.method;
  return {
    ...req,
    method,
    url: next.href,
    headers,
    ...(toGet ? { body: undefined, contentLength: undefined } : {}),
  };
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}
