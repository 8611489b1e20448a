/**
 * Reading a (small) response body whole.
 *
 * Under Deno an aborted undici body may never error or end (runtime notes), so every read is
 * raced against the request's abort (`race`); on any failure the body is destroyed, which frees
 * the socket.
 */
import type { Readable } from "node:stream";

export interface ReadLimits {
  /** `promise`, or a rejection once the request is aborted or times out. */
  race<T>(promise: Promise<T>): Promise<T>;
  /** Called with the bytes received so far after each chunk (feeds the idle watchdog). */
  activity(received: number): void;
  /** Largest body accepted. */
  maxBytes: number;
  /** Builds the error thrown when the body exceeds `maxBytes`. */
  tooLarge(): Error;
}

/** All bytes of `body`, or a rejection (see `ReadLimits`). */
export async function readWhole(body: Readable, limits: ReadLimits): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  try {
    for (;;) {
      const { done, value } = await limits.race(iterator.next());
      if (done) break;
      length += value.byteLength;
      if (length > limits.maxBytes) throw limits.tooLarge();
      limits.activity(length);
      chunks.push(value);
    }
  } catch (error) {
    body.destroy();
    throw error;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Drops a body nobody will read (a redirect, an aborted exchange) without waiting. */
export function discard(body: Readable): void {
  body.destroy();
}
