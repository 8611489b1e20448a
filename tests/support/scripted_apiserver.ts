/**
 * A scripted fake API server for watcher tests: each test queues the answers to the next list
 * and watch requests, down to the bytes and the TCP connection.
 *
 * It speaks HTTP/1.1 by hand over `Deno.listen`, so a script can do what a real server or a
 * network does and an HTTP framework would hide: stay silent forever, end a chunked stream
 * cleanly, drop the socket mid-stream, or send a half line.
 *
 * Every response carries `Connection: close`: one request per connection, so a dropped
 * socket affects exactly one request.
 *
 * Unscripted requests: a list gets 500 (so a missing script shows up as errors); a watch
 * gets a silent open stream until the client gives up.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigTransport, type KubeTransport } from "../../lib/kube/transport.ts";
import { ExponentialBackoff } from "../../lib/kube/backoff.ts";
import type { KubeObject, ResourceType } from "../../lib/kube/resource.ts";
import { type Change, Store } from "../../lib/kube/store.ts";
import { watcher, type WatcherOptions, type WatchEvent } from "../../lib/kube/watcher.ts";

/** One request as the server saw it. */
export interface ScriptedRequest {
  kind: "list" | "watch";
  method: string;
  path: string;
  query: URLSearchParams;
}

export type ScriptedHandler = (
  request: ScriptedRequest,
  response: ScriptedResponse,
) => Promise<void> | void;

const encoder = new TextEncoder();
const REASONS: Record<number, string> = {
  200: "OK",
  404: "Not Found",
  410: "Gone",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

/** The server side of one connection; write methods resolve false once the client is gone. */
export class ScriptedResponse {
  /** Resolves when the client closed or reset the connection. */
  readonly closed: Promise<void>;
  readonly #conn: Deno.Conn;
  #gone = false;
  #streaming = false;

  constructor(conn: Deno.Conn, closed: Promise<void>) {
    this.#conn = conn;
    this.closed = closed.then(() => {
      this.#gone = true;
    });
  }

  /** Answers with a complete JSON body, then closes the connection. */
  async json(status: number, body: unknown, headers: Record<string, string> = {}): Promise<void> {
    const bytes = encoder.encode(JSON.stringify(body));
    const head = [
      `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}`,
      "Content-Type: application/json",
      `Content-Length: ${bytes.length}`,
      "Connection: close",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ].join("\r\n") + "\r\n\r\n";
    await this.#write(concat(encoder.encode(head), bytes));
    this.drop();
  }

  /** Answers 200 with a chunked body that stays open; follow with `event`/`raw`/`end`. */
  async startStream(): Promise<boolean> {
    this.#streaming = true;
    return await this.#write(encoder.encode(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" +
        "Connection: close\r\n\r\n",
    ));
  }

  /** Sends one watch event as a line. */
  async event(type: string, object: unknown): Promise<boolean> {
    return await this.raw(JSON.stringify({ type, object }) + "\n");
  }

  /** Sends arbitrary text as one chunk (may hold half a line, or several lines). */
  async raw(text: string): Promise<boolean> {
    return await this.rawBytes(encoder.encode(text));
  }

  /** Sends bytes as one chunk, e.g. half of a multi-byte character. */
  async rawBytes(bytes: Uint8Array): Promise<boolean> {
    if (!this.#streaming) throw new Error("Cannot send stream data before startStream()");
    const size = encoder.encode(`${bytes.length.toString(16)}\r\n`);
    return await this.#write(concat(size, bytes, encoder.encode("\r\n")));
  }

  /** Ends the stream cleanly (terminating chunk), as a server-side timeout does. */
  async end(): Promise<void> {
    await this.#write(encoder.encode("0\r\n\r\n"));
    this.drop();
  }

  /** Closes the socket at once, mid-stream: the client sees a broken body. */
  drop(): void {
    if (this.#gone) return;
    this.#gone = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the other side.
    }
  }

  /** Waits `ms`, or less if the client goes away first. */
  async wait(ms: number): Promise<void> {
    let id: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (id = setTimeout(resolve, ms))),
      this.closed,
    ]);
    clearTimeout(id);
  }

  async #write(bytes: Uint8Array): Promise<boolean> {
    if (this.#gone) return false;
    try {
      let written = 0;
      while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
      return true;
    } catch {
      this.#gone = true;
      return false;
    }
  }
}

/** See the module doc. */
export class ScriptedApiServer {
  /** Every request received, in order. */
  readonly requests: ScriptedRequest[] = [];
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #lists: ScriptedHandler[] = [];
  readonly #watches: ScriptedHandler[] = [];
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #transports: KubeConfigTransport[] = [];
  readonly #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept();
  }

  static start(): Promise<ScriptedApiServer> {
    return Promise.resolve(new ScriptedApiServer(Deno.listen({ hostname: "127.0.0.1", port: 0 })));
  }

  /** Queues the answer to the next list request. */
  onList(handler: ScriptedHandler): this {
    this.#lists.push(handler);
    return this;
  }

  /** Queues the answer to the next watch request. */
  onWatch(handler: ScriptedHandler): this {
    this.#watches.push(handler);
    return this;
  }

  /** Requests of one kind, in order. */
  requestsOf(kind: "list" | "watch"): ScriptedRequest[] {
    return this.requests.filter((r) => r.kind === kind);
  }

  /** A transport pointed at this server (plain HTTP); closed by `close()`. */
  transport(): KubeConfigTransport {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{
        name: "scripted",
        server: `http://127.0.0.1:${this.port}`,
        skipTLSVerify: false,
      }],
      users: [{ name: "scripted" }],
      contexts: [{ name: "scripted", cluster: "scripted", user: "scripted" }],
      currentContext: "scripted",
    });
    const transport = new KubeConfigTransport(config);
    this.#transports.push(transport);
    return transport;
  }

  /** Stops listening, drops every connection and waits for all handlers to finish. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#accepting;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    for (const transport of this.#transports) transport.close();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const task = this.#serve(conn).finally(() => this.#tasks.delete(task));
        this.#tasks.add(task);
      }
    } catch {
      // The listener was closed.
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    try {
      const head = await readHead(conn);
      if (head === undefined) return;
      const [method, target] = head.split("\r\n")[0].split(" ");
      const url = new URL(target, "http://scripted");
      const kind = url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1"
        ? "watch"
        : "list";
      const request: ScriptedRequest = {
        kind,
        method,
        path: url.pathname,
        query: url.searchParams,
      };
      this.requests.push(request);
      const response = new ScriptedResponse(conn, untilClosed(conn));
      const handler = (kind === "watch" ? this.#watches : this.#lists).shift() ??
        (kind === "watch" ? silentWatch : unscriptedList);
      try {
        await handler(request, response);
      } finally {
        response.drop();
        await response.closed;
      }
    } finally {
      this.#conns.delete(conn);
    }
  }
}

const silentWatch: ScriptedHandler = async (_request, response) => {
  await response.startStream();
  await response.closed;
};

const unscriptedList: ScriptedHandler = async (request, response) => {
  await response.json(
    500,
    status(500, "InternalError", `No scripted answer to list ${request.path}`),
  );
};

/** Reads the request line and headers (GET requests only: no body). */
async function readHead(conn: Deno.Conn): Promise<string | undefined> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      return undefined;
    }
    if (n === null) return undefined;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

/** Resolves once the peer closes or resets the connection (or we close it). */
async function untilClosed(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024);
  try {
    while ((await conn.read(buffer)) !== null) {
      // Requests carry no body; anything else is ignored.
    }
  } catch {
    // Reset or closed locally: gone either way.
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// Builders for script bodies.

/** A minimal namespaced test object. */
export function testObject(
  name: string,
  resourceVersion: string,
  namespace = "default",
): KubeObject {
  return {
    apiVersion: "example.com/v1",
    kind: "Widget",
    metadata: { name, namespace, resourceVersion, uid: `uid-${name}` },
  };
}

/** A list body; pass `continueToken` for a page that has more after it. */
export function listOf(items: KubeObject[], resourceVersion: string, continueToken?: string) {
  return {
    kind: "WidgetList",
    apiVersion: "example.com/v1",
    metadata: { resourceVersion, ...(continueToken ? { continue: continueToken } : {}) },
    items,
  };
}

/** A Status object, as in error bodies and ERROR watch events. */
export function status(code: number, reason: string, message: string) {
  return { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message };
}

/** A BOOKMARK event's object: only the resourceVersion matters. */
export function bookmark(resourceVersion: string) {
  return { kind: "Widget", apiVersion: "example.com/v1", metadata: { resourceVersion } };
}

// Driving a watcher in tests.

/** The custom resource type the scripts pretend to serve. */
export const WIDGETS: ResourceType = {
  group: "example.com",
  version: "v1",
  plural: "widgets",
  kind: "Widget",
  namespaced: true,
};

/**
 * Runs a watcher of `type` (default `WIDGETS`) over `transport` into a `Store`, recording every
 * event and change, until `stop()`. Retries are fast (10 ms → 100 ms) so recovery tests finish
 * quickly. Works against the scripted server (`server.transport()`) or any other transport.
 */
export class WatchRecording {
  readonly events: WatchEvent<KubeObject>[] = [];
  readonly changes: Change<KubeObject>[] = [];
  readonly store = new Store<KubeObject>();
  readonly #abort = new AbortController();
  readonly #waiters = new Set<() => void>();
  readonly #pumping: Promise<void>;

  constructor(transport: KubeTransport, options: WatcherOptions = {}, type = WIDGETS) {
    const events = watcher<KubeObject>(transport, type, {
      inactivityTimeoutMs: 5_000,
      backoff: new ExponentialBackoff({ initialMs: 10, maxMs: 100 }),
      ...options,
      signal: this.#abort.signal,
    });
    this.#pumping = this.#pump(events);
  }

  /** Errors yielded so far. */
  get errors(): Error[] {
    return this.events.flatMap((e) => (e.type === "Error" ? [e.error] : []));
  }

  /**
   * Waits until `condition()` holds, checked after every event and every 10 ms (for conditions
   * on the server side); fails after `deadlineMs`.
   */
  async until(condition: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
    if (condition()) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let poll: ReturnType<typeof setInterval> | undefined;
    let check: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        check = () => condition() && resolve();
        this.#waiters.add(check);
        poll = setInterval(check, 10);
        timer = setTimeout(() => {
          const seen = this.events.map((e) =>
            e.type === "Error" ? `Error(${e.error.message})` : e.type
          );
          reject(new Error(`Timed out waiting for ${what}; events seen: ${seen.join(", ")}`));
        }, deadlineMs);
      });
    } finally {
      clearTimeout(timer);
      clearInterval(poll);
      if (check) this.#waiters.delete(check);
    }
  }

  /** Aborts the watcher and waits for it to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#pumping;
  }

  async #pump(events: AsyncGenerator<WatchEvent<KubeObject>>): Promise<void> {
    for await (const event of events) {
      this.events.push(event);
      this.changes.push(...this.store.apply(event));
      for (const waiter of [...this.#waiters]) waiter();
    }
  }
}
