/**
 * Wraps a byte stream in every verifier that applies to it, in a fixed order: size first (so a
 * truncated download is reported as such, not as a digest mismatch), then the whole-object
 * digest, then the format check (OVA manifest or qcow2 magic).
 */
import type { SourceDigest } from "../image/provider.ts";
import { digestVerifier } from "./digest.ts";
import { ovaManifestVerifier } from "./ova.ts";
import { qcow2Verifier } from "./qcow2.ts";
import { sizeVerifier } from "./size.ts";
import { VerificationLog, type VerifierOptions } from "./verification_log.ts";

/** What is known about the object before reading it. */
export interface IntegrityExpectations {
  /** Total object size (from HEAD). */
  size: number;
  /** First byte of the stream within the object; digest and format checks need 0. */
  offset?: number;
  /** Whole-object digest (from the sidecar), when known. */
  digest?: SourceDigest;
  /** Enables the OVA manifest or qcow2 magic check. */
  format?: "ova" | "qcow2";
}

/**
 * Returns `stream` piped through the verifiers `expected` allows. A stream that starts at an
 * offset can only be size-checked; the log says so, so a status never claims more than was done.
 *
 * @example
 * ```ts
 * const log = new VerificationLog();
 * const verified = verifyStream(body, { size, digest, format: "ova" }, { subject, log });
 * ```
 */
export function verifyStream(
  stream: ReadableStream<Uint8Array>,
  expected: IntegrityExpectations,
  options: VerifierOptions,
): ReadableStream<Uint8Array> {
  const offset = expected.offset ?? 0;
  // Each verifier logs into its own log; the statements reach the caller's log in the fixed
  // order above, and only once every verifier has passed.
  const logs: VerificationLog[] = [];
  const stage = () => {
    const log = new VerificationLog();
    logs.push(log);
    return { subject: options.subject, log };
  };
  if (offset > 0 && (expected.digest || expected.format)) {
    logs.push(new VerificationLog());
    logs[0].add(`resumed at byte ${offset}: digest and format not checked`);
  }
  let out = stream.pipeThrough(sizeVerifier(expected.size - offset, stage()));
  if (offset === 0 && expected.digest) {
    out = out.pipeThrough(digestVerifier(expected.digest, { ...stage(), origin: "sidecar" }));
  }
  if (offset === 0 && expected.format === "ova") {
    out = out.pipeThrough(ovaManifestVerifier(stage()));
  }
  if (offset === 0 && expected.format === "qcow2") out = out.pipeThrough(qcow2Verifier(stage()));
  return out.pipeThrough(
    new TransformStream({
      flush() {
        for (const log of logs) for (const statement of log.list()) options.log?.add(statement);
      },
    }),
  );
}
