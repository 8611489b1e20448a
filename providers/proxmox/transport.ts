/**
 * The one HTTP contract under the Proxmox client: `request(opts) → {status, statusText, body}`.
 *
 * The client builds URLs, headers and bodies; a transport only moves bytes, so a test fake is a
 * function. The real one uses undici (DEVELOPERS: "providers speak raw REST over undici") with
 * one connection pool per provider; TLS settings go to the pool's `connect` options.
 *
 * Guarantees: TLS is verified against the system roots, or against `ca` alone when given;
 * verification is off only with `insecure: true`. Aborting `signal` rejects promptly, also
 * while the body is being read. Bodies are read whole (Proxmox answers are small JSON).
 */
import { Agent, request } from "undici";
import { interruption } from "../../lib/abort.ts";

export type ProxmoxMethod = "GET" | "POST" | "PUT" | "DELETE";

/** One HTTP exchange as the client wants it. */
export interface ProxmoxHttpRequest {
  method: ProxmoxMethod;
  /** Absolute URL including the query. */
  url: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/** The answer, whatever its status. */
export interface ProxmoxHttpResponse {
  status: number;
  /** The reason phrase; older Proxmox servers put their error message only here. */
  statusText: string;
  body: string;
}

export interface ProxmoxTransport {
  /** Sends one request. Non-2xx answers resolve; only transport failures reject. */
  request(request: ProxmoxHttpRequest): Promise<ProxmoxHttpResponse>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

export interface UndiciTransportOptions {
  /** PEM CA bundle that replaces the system roots. */
  ca?: string;
  /** Skip certificate verification (the values' `insecure: true`). */
  insecure?: boolean;
  /** Connections kept per origin. */
  connections?: number;
}

/** The production transport: undici `request` over one `Agent`. */
export class UndiciTransport implements ProxmoxTransport {
  readonly #agent: Agent;

  constructor(options: UndiciTransportOptions = {}) {
    this.#agent = new Agent({
      connections: options.connections ?? 8,
      connect: {
        ...(options.ca ? { ca: options.ca } : {}),
        rejectUnauthorized: !options.insecure,
      },
    });
  }

  async request(req: ProxmoxHttpRequest): Promise<ProxmoxHttpResponse> {
    const response = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: req.signal,
      dispatcher: this.#agent,
    });
    // Under Deno an aborted undici body may never error (runtime notes); race the signal.
    let body: string;
    try {
      body = await Promise.race([response.body.text(), interruption(req.signal)]);
    } catch (error) {
      response.body.destroy();
      throw error;
    }
    return { status: response.statusCode, statusText: response.statusText ?? "", body };
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
