/**
 * The OVF manifest (`.mf`, DSP0243 §5.1): one line per file, `SHA256(flatcar.ovf)= <hex>`.
 * SHA1 (OVF 1.x, ovftool's default for years), SHA256 and SHA512 are accepted.
 */
import { IntegrityError, type SourceDigest } from "../image/provider.ts";
import { DIGEST_HEX_LENGTH, type DigestAlgorithm } from "./digest.ts";

/** Bound on the manifest we read into memory; real ones are under a kilobyte. */
export const MAX_MANIFEST_BYTES = 1 << 20;

const LINE = /^(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$/;

/** Digests by member name, in manifest order. */
export type OvaManifest = Map<string, SourceDigest>;

/**
 * Parses manifest text.
 * @param where Names the manifest in errors, e.g. `flatcar.mf in s3://bucket/key`.
 * @throws {IntegrityError} on a malformed line, a digest of the wrong length, or a file listed twice.
 */
export function parseOvaManifest(text: string, where: string): OvaManifest {
  const manifest: OvaManifest = new Map();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const match = LINE.exec(line);
    if (!match) {
      throw new IntegrityError(
        `Malformed manifest ${where}: line ${i + 1} "${line.slice(0, 120)}" is not ` +
          `"SHA256(<file>)= <hex>"`,
      );
    }
    const algorithm = match[1].toLowerCase() as DigestAlgorithm;
    const [, , file, hex] = match;
    if (hex.length !== DIGEST_HEX_LENGTH[algorithm]) {
      throw new IntegrityError(
        `Malformed manifest ${where}: line ${i + 1} has a ${hex.length}-digit ${match[1]} ` +
          `digest for "${file}", expected ${DIGEST_HEX_LENGTH[algorithm]}`,
      );
    }
    if (manifest.has(file)) {
      throw new IntegrityError(`Malformed manifest ${where}: "${file}" is listed twice`);
    }
    manifest.set(file, { algorithm, hex: hex.toLowerCase() });
  }
  return manifest;
}
