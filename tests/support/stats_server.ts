/**
 * A side door for fakes run as processes (`deno task demo`, benches): a plain HTTP server on
 * 127.0.0.1 that answers `GET /` with a JSON snapshot of what the fake saw (request counts, its
 * catalog). It listens on its own port so the fake's API stays exactly the platform's.
 */

/** A running stats server. */
export interface StatsServer {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  close(): Promise<void>;
}

/** Serves `snapshot()` as JSON on a free loopback port. */
export function serveStats(snapshot: () => unknown): StatsServer {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json(snapshot()),
  );
  return { url: `http://127.0.0.1:${server.addr.port}/`, close: () => server.shutdown() };
}

/** Counts of `items` by `keyOf`, sorted by key (stable JSON for people and tests). */
export function countBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Record<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}
