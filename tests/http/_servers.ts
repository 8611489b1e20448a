/**
 * Small servers for the HTTP client tests, on 127.0.0.1, built on `node:http(s)` so a handler
 * can stall, answer half a body, or stop reading; `close()` destroys every socket, so a stalled
 * exchange never outlives its test.
 */
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { AddressInfo, Socket } from "node:net";
import type { TestPki } from "../support/tls.ts";

export interface SeenRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface TestServer {
  /** `http(s)://<hostname>:<port>`. */
  origin: string;
  port: number;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export type Handler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  seen: SeenRequest,
) => unknown;

/**
 * An HTTP server (HTTPS with `tls`, using the PKI's server certificate, which names 127.0.0.1
 * and localhost) on `hostname` (default 127.0.0.1).
 */
export async function startServer(
  handler: Handler,
  options: { tls?: TestPki; hostname?: string } = {},
): Promise<TestServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    requests.push(seen);
    Promise.resolve(handler(req, res, seen)).catch(() => res.destroy());
  };
  const server = options.tls
    ? https.createServer({ cert: options.tls.serverCert, key: options.tls.serverKey }, listener)
    : http.createServer(listener);
  server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // Handshakes refused by the client are expected in the TLS tests.
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, hostname, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${options.tls ? "https" : "http"}://${hostname}:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP listener that accepts connections and never sends a byte (a TLS handshake hangs). */
export async function startSilentListener(): Promise<TestServer & { accepted(): number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    port,
    requests: [],
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Reads and counts a request body. */
export async function drain(req: http.IncomingMessage): Promise<number> {
  let n = 0;
  for await (const chunk of req) n += (chunk as Uint8Array).byteLength;
  return n;
}

/** A stream of `total` bytes in `chunk`-sized pieces, counting what was pulled. */
export function byteStream(
  total: number,
  chunk = 64 * 1024,
): { stream: ReadableStream<Uint8Array>; pulled(): number; cancelled(): boolean } {
  let pulled = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      const n = Math.min(chunk, total - pulled);
      pulled += n;
      controller.enqueue(new Uint8Array(n).fill(0x61));
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => pulled, cancelled: () => cancelled };
}

/** The settled outcome of `promise`, or a failure when it has not settled after `ms`. */
export async function settled<T>(
  promise: Promise<T>,
  ms = 10_000,
): Promise<{ value?: T; error?: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([
      promise.then((value) => ({ value }), (error) => ({ error })),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export { until } from "../support/until.ts";
