/**
 * A stream request body as undici consumes it: an async iterable that counts bytes, reports
 * progress, keeps the idle watchdog fed and enforces the declared length.
 *
 * Guarantees:
 * - At most one chunk is pulled from the source ahead of the socket: undici asks for the next
 *   chunk only after the previous one was written (and waits for `drain` when the socket is
 *   full), so memory stays flat whatever the body's size.
 * - More bytes than `total` fails before the extra chunk is sent; fewer fails when the source
 *   ends; both with an `HttpTransportError` of kind `body-length`.
 * - Waiting for the source ends when the request aborts or times out (`race`); then, and on any
 *   failure, the source is cancelled, so an S3 download behind it stops too.
 */
import { HttpTransportError } from "./errors.ts";
import type { HttpMethod } from "./types.ts";

export interface UploadHooks {
  /** What the request is, for error messages. */
  request: { method: HttpMethod; url: string; secretPath?: boolean };
  /** `promise`, or a rejection once the request is aborted or times out. */
  race<T>(promise: Promise<T>): Promise<T>;
  /** Called for each chunk handed over (feeds the idle watchdog). */
  activity(): void;
  /** Called with bytes sent so far after each chunk was written. */
  progress?(sent: number, total: number): void;
  /** Called once every byte was handed over. */
  finished(): void;
}

/** Wraps `source` for undici; see the module comment. */
export async function* countedBody(
  source: ReadableStream<Uint8Array>,
  total: number,
  hooks: UploadHooks,
): AsyncGenerator<Uint8Array> {
  const reader = source.getReader();
  let sent = 0;
  let complete = false;
  try {
    for (;;) {
      const { done, value } = await hooks.race(reader.read());
      if (done) break;
      if (value.byteLength === 0) continue;
      if (sent + value.byteLength > total) {
        throw new HttpTransportError(
          "body-length",
          hooks.request,
          `the body is longer than its declared Content-Length of ${total} bytes`,
        );
      }
      sent += value.byteLength;
      hooks.activity();
      yield value;
      hooks.activity();
      hooks.progress?.(sent, total);
    }
    if (sent !== total) {
      throw new HttpTransportError(
        "body-length",
        hooks.request,
        `the body ended after ${sent} of its declared ${total} bytes`,
      );
    }
    complete = true;
    hooks.finished();
  } finally {
    if (complete) reader.releaseLock();
    else reader.cancel().catch(() => {});
  }
}
