/**
 * The one HTTP contract under every Kubernetes call: `fetch(request) → Response`.
 *
 * The real implementation takes connection and auth settings from a loaded kubeconfig (our
 * `KubeClientConfig`, or client-node's `KubeConfig`, which has the same methods) and sends
 * the request with Deno's own fetch. Deno's fetch is used rather than undici's because an
 * aborted undici response body under Deno never errors (runtime-notes: the silent dead watch).
 *
 * Guarantees:
 * - Auth is re-applied per request, so rotated tokens, expiring exec credentials and rewritten
 *   certificate files are picked up without a restart.
 * - Aborting `signal` ends a streaming body with an error on both paths (a pending `read()`
 *   rejects), so a watch can never hang on a response its caller gave up on.
 * - Failures before an answer become `ConnectionError` (naming the server URL) or
 *   `CredentialsError`; an abort rethrows the signal's reason unchanged. No message carries a
 *   token or key.
 *
 * Caveats: `insecure-skip-tls-verify` clusters go through undici, since Deno's HTTP client cannot
 * turn verification off per client; their bodies are re-wrapped so aborts still error them.
 * undici is imported only then (it costs ~25 MiB resident).
 * `tls-server-name` and `proxy-url` are not applied (Deno's client has no SNI override); the
 * proxy environment variables Deno honours still apply.
 */
import { ConnectionError, CredentialsError } from "./errors.ts";
import type { ConnectionOptions } from "./kubeconfig.ts";

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, e.g. `/api/v1/namespaces`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON-encoded when present. */
  body?: unknown;
  /** Content type of the body; `application/json` unless a patch type is given. */
  contentType?: string;
  signal?: AbortSignal;
}

export interface KubeTransport {
  /** Sends one request; the caller must read or cancel the body. Non-2xx is not thrown here. */
  fetch(request: KubeRequest): Promise<Response>;
  /** The API server URL, for logs and messages. */
  readonly server: string;
}

/** Builds `?a=b` from a query record, dropping undefined values. */
export function queryString(query: KubeRequest["query"]): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

export interface KubeConfigTransportOptions {
  /** Sent as User-Agent; API server audit logs and metrics group clients by it. */
  userAgent?: string;
}

/**
 * What the transport needs of a loaded kubeconfig: our `KubeClientConfig` and client-node's
 * `KubeConfig` both have these methods (client-node's `applyOptions` is private, hence optional).
 */
export interface KubeConnectionConfig {
  getCurrentContext(): string;
  getCurrentCluster(): { server: string } | null;
  getCurrentUser(): { name: string; username?: string; password?: string } | null;
  applyToHTTPSOptions(opts: never): Promise<unknown>;
}

interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  insecure: boolean;
}

type Fetcher = (url: string, init: RequestInit) => Promise<Response>;
interface PooledFetcher {
  fingerprint: string;
  fetch: Fetcher;
  close: () => void;
}

/** Old HTTP clients kept open so in-flight watches survive a credential rotation. */
const RETIRED_CLIENTS_KEPT = 4;

/** A transport driven by a loaded kubeconfig. Call `close()` when done. */
export class KubeConfigTransport implements KubeTransport {
  readonly server: string;
  readonly #config: KubeConnectionConfig;
  readonly #userAgent: string;
  #current?: PooledFetcher;
  #retired: PooledFetcher[] = [];

  constructor(config: KubeConnectionConfig, options: KubeConfigTransportOptions = {}) {
    const cluster = config.getCurrentCluster();
    if (!cluster) {
      throw new Error(
        `Cannot use kubeconfig context "${config.getCurrentContext()}": it names no known cluster`,
      );
    }
    this.server = cluster.server.replace(/\/+$/, "");
    this.#config = config;
    this.#userAgent = options.userAgent ?? "image-distribution-operator";
  }

  async fetch(request: KubeRequest): Promise<Response> {
    const opts = await this.#connectionOptions();
    const headers = new Headers(opts.headers);
    const user = this.#config.getCurrentUser();
    if (user?.username && !headers.has("Authorization")) {
      headers.set("Authorization", `Basic ${base64(`${user.username}:${user.password ?? ""}`)}`);
    }
    headers.set("Accept", "application/json");
    headers.set("User-Agent", this.#userAgent);
    let body: string | undefined;
    if (request.body !== undefined) {
      body = typeof request.body === "string" ? request.body : JSON.stringify(request.body);
      headers.set("Content-Type", request.contentType ?? "application/json");
    }
    let fetcher: Fetcher;
    try {
      fetcher = this.#fetcherFor({
        ca: pem(opts.ca),
        cert: pem(opts.cert),
        key: pem(opts.key),
        insecure: opts.rejectUnauthorized === false && this.server.startsWith("https:"),
      });
    } catch (error) {
      // A malformed CA, certificate or key is refused when the HTTP client is built.
      throw new CredentialsError(this.server, this.#userName(), error);
    }
    const url = `${this.server}${request.path}${queryString(request.query)}`;
    try {
      return await fetcher(url, { method: request.method, headers, body, signal: request.signal });
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason;
      throw new ConnectionError(this.server, `${request.method} ${request.path}`, error);
    }
  }

  /**
   * Lets the configuration fill in TLS material and auth headers (token, token file, exec
   * plugin, auth providers, impersonation). `applyOptions` is preferred: client-node's public
   * `applyToHTTPSOptions` also builds a Node agent we do not use and refuses plain `http://`
   * servers (kubectl allows them, e.g. `kubectl proxy`); the public one is the fallback should
   * a later client-node drop its private method.
   */
  async #connectionOptions(): Promise<ConnectionOptions> {
    const opts: ConnectionOptions = { headers: {} };
    const config = this.#config as unknown as {
      applyOptions?: (opts: ConnectionOptions) => Promise<void>;
    };
    try {
      if (typeof config.applyOptions === "function") await config.applyOptions(opts);
      else await this.#config.applyToHTTPSOptions(opts as never);
    } catch (error) {
      throw new CredentialsError(this.server, this.#userName(), error);
    }
    return opts;
  }

  #userName(): string {
    return this.#config.getCurrentUser()?.name ?? "(none)";
  }

  /** Reuses one HTTP client while the TLS material stays the same (certs can rotate). */
  #fetcherFor(tls: TlsMaterial): Fetcher {
    const fingerprint = JSON.stringify(tls);
    if (this.#current?.fingerprint === fingerprint) return this.#current.fetch;
    const reused = this.#retired.findIndex((f) => f.fingerprint === fingerprint);
    const next = reused >= 0 ? this.#retired.splice(reused, 1)[0] : createFetcher(fingerprint, tls);
    if (this.#current) this.#retired.push(this.#current);
    while (this.#retired.length > RETIRED_CLIENTS_KEPT) this.#retired.shift()!.close();
    this.#current = next;
    return next.fetch;
  }

  /** Releases pooled connections. Requests still streaming may fail afterwards. */
  close(): void {
    this.#current?.close();
    for (const fetcher of this.#retired) fetcher.close();
    this.#current = undefined;
    this.#retired = [];
  }
}

function createFetcher(fingerprint: string, tls: TlsMaterial): PooledFetcher {
  if (tls.insecure) {
    const undici = import("undici").then(({ Agent, fetch }) => ({
      fetch,
      agent: new Agent({
        connect: { rejectUnauthorized: false, ca: tls.ca, cert: tls.cert, key: tls.key },
      }),
    }));
    return {
      fingerprint,
      fetch: async (url, init) => {
        const { agent, fetch } = await undici;
        const response = await fetch(url, { ...init, dispatcher: agent } as never);
        return nativeResponse(response as unknown as Response, init.signal ?? undefined);
      },
      close: () => void undici.then(({ agent }) => agent.close()).catch(() => {}),
    };
  }
  const client = Deno.createHttpClient({
    caCerts: tls.ca ? [tls.ca] : undefined,
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
  });
  return {
    fingerprint,
    fetch: (url, init) => fetch(url, { ...init, client }),
    close: () => client.close(),
  };
}

/**
 * Re-wraps an undici response as a Deno `Response` whose body errors when `signal` aborts.
 * Under Deno, undici leaves a pending `read()` of an aborted body hanging forever.
 */
function nativeResponse(response: Response, signal: AbortSignal | undefined): Response {
  const init = {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
  };
  const source = response.body;
  if (!source || [101, 204, 205, 304].includes(response.status)) {
    void source?.cancel().catch(() => {});
    return new Response(null, init);
  }
  const reader = source.getReader();
  let onAbort: (() => void) | undefined;
  const release = () => signal?.removeEventListener("abort", onAbort!);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (!signal) return;
      onAbort = () => {
        release();
        controller.error(signal.reason);
        reader.cancel(signal.reason).catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (signal?.aborted) return;
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        release();
        if (!signal?.aborted) controller.error(error);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, init);
}

function pem(value: Uint8Array | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}
