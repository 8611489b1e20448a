/**
 * The one HTTP contract under every Kubernetes call: `fetch(request) → Response`.
 *
 * The real implementation takes connection and auth settings from a client-node `KubeConfig`
 * (kubeconfig files, in-cluster service account, exec plugins, client certificates) and sends
 * the request with Deno's own fetch. Deno's fetch is used rather than undici's because an
 * aborted undici response body under Deno never errors (runtime-notes: the silent dead watch).
 *
 * Guarantees: auth is re-applied per request, so rotated service-account tokens (client-node's
 * FileAuth re-reads the file) and expiring exec credentials are picked up without a restart.
 * Caveats: `skipTLSVerify` clusters go through undici, since Deno's HTTP client cannot turn
 * verification off per client; watches there rely on our inactivity watchdog, not on the body
 * erroring.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { Agent, fetch as undiciFetch } from "undici";

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

interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  insecure: boolean;
}

type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/** A transport driven by a loaded client-node `KubeConfig`. */
export class KubeConfigTransport implements KubeTransport {
  readonly server: string;
  readonly #config: KubeConfig;
  #fetcher?: { fingerprint: string; fetch: Fetcher; close: () => void };

  constructor(config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error("Cannot use kubeconfig: the current context names no cluster");
    this.server = cluster.server.replace(/\/+$/, "");
    this.#config = config;
  }

  async fetch(request: KubeRequest): Promise<Response> {
    // client-node fills ca/cert/key/headers; its agent is ignored (we use Deno's fetch).
    const opts: {
      headers?: Record<string, string>;
      ca?: Uint8Array | string;
      cert?: Uint8Array | string;
      key?: Uint8Array | string;
      rejectUnauthorized?: boolean;
      auth?: string;
      agent?: unknown;
    } = { headers: {} };
    await this.#config.applyToHTTPSOptions(opts as never);
    const headers = new Headers(opts.headers);
    if (opts.auth) headers.set("Authorization", `Basic ${btoa(opts.auth)}`);
    headers.set("Accept", "application/json");
    let body: string | undefined;
    if (request.body !== undefined) {
      body = typeof request.body === "string" ? request.body : JSON.stringify(request.body);
      headers.set("Content-Type", request.contentType ?? "application/json");
    }
    const fetcher = this.#fetcherFor({
      ca: pem(opts.ca),
      cert: pem(opts.cert),
      key: pem(opts.key),
      insecure: opts.rejectUnauthorized === false,
    });
    return await fetcher(`${this.server}${request.path}${queryString(request.query)}`, {
      method: request.method,
      headers,
      body,
      signal: request.signal,
    });
  }

  /** Reuses one HTTP client while the TLS material stays the same (certs can rotate). */
  #fetcherFor(tls: TlsMaterial): Fetcher {
    const fingerprint = JSON.stringify(tls);
    if (this.#fetcher?.fingerprint === fingerprint) return this.#fetcher.fetch;
    this.#fetcher?.close();
    if (tls.insecure) {
      const agent = new Agent({
        connect: { rejectUnauthorized: false, ca: tls.ca, cert: tls.cert, key: tls.key },
      });
      this.#fetcher = {
        fingerprint,
        fetch: (url, init) =>
          undiciFetch(url, { ...init, dispatcher: agent } as never) as unknown as Promise<
            Response
          >,
        close: () => void agent.close().catch(() => {}),
      };
    } else {
      const client = Deno.createHttpClient({
        caCerts: tls.ca ? [tls.ca] : undefined,
        ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
      });
      this.#fetcher = {
        fingerprint,
        fetch: (url, init) => fetch(url, { ...init, client }),
        close: () => client.close(),
      };
    }
    return this.#fetcher.fetch;
  }

  /** Releases pooled connections. */
  close(): void {
    this.#fetcher?.close();
    this.#fetcher = undefined;
  }
}

function pem(value: Uint8Array | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}
