/**
 * A TCP proxy that slows what the upstream sends back (the response bodies), so that a transfer
 * streamed from S3 stays under way long enough for a fault to hit it, whatever the machine's
 * speed. Requests pass at full speed; `bytesPerSecond` applies to each connection and can be
 * changed (or set to Infinity) while connections are open.
 */

export interface SlowProxy {
  /** `http://127.0.0.1:port`, to use as the upstream's endpoint. */
  endpoint: string;
  bytesPerSecond: number;
  /** Requests whose request line matched `countRequests` so far. */
  matchingRequests: number;
  close(): Promise<void>;
}

/** Chunks are small so that a throttled stream advances steadily. */
const CHUNK = 16 * 1024;

export function startSlowProxy(
  upstream: string,
  options: { bytesPerSecond: number; countRequests?: RegExp },
): SlowProxy {
  const target = new URL(upstream);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const decoder = new TextDecoder();
  const proxy: SlowProxy = {
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    bytesPerSecond: options.bytesPerSecond,
    matchingRequests: 0,
    close: async () => {
      listener.close();
      for (const conn of open) closeQuietly(conn);
      await accepting;
    },
  };

  async function upstreamToClient(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(CHUNK);
    const start = performance.now();
    let sent = 0;
    for (;;) {
      const n = await from.read(buffer).catch(() => null);
      if (n === null) break;
      await writeAll(to, buffer.subarray(0, n));
      sent += n;
      // Sleep until the bytes sent so far fit the rate (read each time: it may change).
      const due = (sent / proxy.bytesPerSecond) * 1000 - (performance.now() - start);
      if (due > 0) await new Promise((r) => setTimeout(r, Math.min(due, 1000)));
    }
  }

  async function clientToUpstream(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(CHUNK);
    for (;;) {
      const n = await from.read(buffer).catch(() => null);
      if (n === null) break;
      const head = decoder.decode(buffer.subarray(0, Math.min(n, 512)));
      if (options.countRequests?.test(head.split("\r\n", 1)[0])) proxy.matchingRequests++;
      await writeAll(to, buffer.subarray(0, n));
    }
  }

  async function serve(client: Deno.Conn): Promise<void> {
    open.add(client);
    let server: Deno.Conn | undefined;
    try {
      server = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
      open.add(server);
      // Either side closing ends the pair.
      await Promise.race([
        upstreamToClient(server, client).catch(() => {}),
        clientToUpstream(client, server).catch(() => {}),
      ]);
    } catch {
      // A reset on either side only ends this connection.
    } finally {
      closeQuietly(client);
      open.delete(client);
      if (server) {
        closeQuietly(server);
        open.delete(server);
      }
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch {
      // The listener was closed.
    }
  })();
  return proxy;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
