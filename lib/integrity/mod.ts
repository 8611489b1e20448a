/**
 * Streaming integrity verifiers, usable by any image source: each is a pass-through
 * `TransformStream` that errors with `IntegrityError` on a mismatch and records what it verified
 * in a `VerificationLog`. Pure: no network, no disk.
 */
export { type IntegrityExpectations, verifyStream } from "./chain.ts";
export {
  createHasher,
  DIGEST_HEX_LENGTH,
  type DigestAlgorithm,
  digestVerifier,
  type DigestVerifierOptions,
} from "./digest.ts";
export { ovaManifestVerifier } from "./ova.ts";
export { MAX_MANIFEST_BYTES, type OvaManifest, parseOvaManifest } from "./ova_manifest.ts";
export { QCOW2_MAGIC, qcow2Verifier } from "./qcow2.ts";
export { sizeVerifier } from "./size.ts";
export { VerificationLog, type VerifierOptions } from "./verification_log.ts";
export { type TarEntry, type TarHandler, TarReader } from "./_tar.ts";
