/**
 * Whole-stream digest verification (the `<key>.sha256` sidecar), streaming.
 *
 * `crypto.subtle.digest` needs the whole input in memory, so hashing uses `node:crypto`'s
 * incremental `createHash`, which Deno implements natively.
 */
import { createHash, type Hash } from "node:crypto";
import { IntegrityError, type SourceDigest } from "../image/provider.ts";
import type { VerifierOptions } from "./verification_log.ts";

export type DigestAlgorithm = SourceDigest["algorithm"];

/** Hex length of each algorithm's digest, for validating parsed digests. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha512: 128,
};

/** An incremental hash of one algorithm. */
export function createHasher(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export interface DigestVerifierOptions extends VerifierOptions {
  /** Where the expected digest came from, for messages and the log ("sidecar"). */
  origin?: string;
}

/**
 * A pass-through stream that hashes every byte and errors with `IntegrityError` at the end when
 * the digest differs from `expected`. The message carries both digests.
 *
 * @example
 * ```ts
 * body.pipeThrough(digestVerifier({ algorithm: "sha256", hex }, { subject, log, origin: "sidecar" }));
 * ```
 */
export function digestVerifier(
  expected: SourceDigest,
  options: DigestVerifierOptions,
): TransformStream<Uint8Array, Uint8Array> {
  const want = expected.hex.toLowerCase();
  if (want.length !== DIGEST_HEX_LENGTH[expected.algorithm] || !/^[0-9a-f]+$/.test(want)) {
    throw new RangeError(
      `Cannot verify ${options.subject}: "${expected.hex}" is not a ${expected.algorithm} digest`,
    );
  }
  const hash = createHasher(expected.algorithm);
  const origin = options.origin ? ` (${options.origin})` : "";
  return new TransformStream({
    transform(chunk, controller) {
      hash.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      const actual = hash.digest("hex");
      if (actual !== want) {
        throw new IntegrityError(
          `${expected.algorithm} mismatch for ${options.subject}: expected ${want}${origin}, ` +
            `got ${actual}`,
        );
      }
      options.log?.add(`${expected.algorithm} ok${origin}`);
    },
  });
}
