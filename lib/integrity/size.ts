/**
 * Byte-count verification against the size HEAD reported.
 *
 * Guarantees: more bytes than expected error the stream at the chunk that overshoots (the
 * mismatch is certain then); fewer error it when the input closes. Bytes pass unchanged.
 */
import { IntegrityError } from "../image/provider.ts";
import type { VerifierOptions } from "./verification_log.ts";

/**
 * A pass-through stream that errors with `IntegrityError` unless exactly `expected` bytes flow.
 *
 * @example
 * ```ts
 * const checked = body.pipeThrough(sizeVerifier(head.size, { subject: "s3://b/k", log }));
 * ```
 */
export function sizeVerifier(
  expected: number,
  options: VerifierOptions,
): TransformStream<Uint8Array, Uint8Array> {
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new RangeError(`Cannot verify size of ${options.subject}: invalid size ${expected}`);
  }
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > expected) {
        throw new IntegrityError(
          `Size mismatch for ${options.subject}: expected ${expected} bytes, got more ` +
            `(at least ${seen})`,
        );
      }
      controller.enqueue(chunk);
    },
    flush() {
      if (seen !== expected) {
        throw new IntegrityError(
          `Size mismatch for ${options.subject}: expected ${expected} bytes, got ${seen} ` +
            `(stream ended early)`,
        );
      }
      options.log?.add(`size ${expected} ok`);
    },
  });
}
