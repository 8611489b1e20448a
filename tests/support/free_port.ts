/**
 * A free TCP port on 127.0.0.1 for a server a test, bench or the demo starts as a process.
 *
 * Caveat: the port is free when asked; another process could take it before the server binds
 * (harmless here: everything binds at once on a quiet loopback).
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
