/**
 * The optional `<key>.sha256` sidecar object: `sha256sum` output for the image, i.e. `<hex>` or
 * `<hex>  <filename>` (`<hex> *<filename>` in binary mode).
 */
import { IntegrityError, type SourceDigest } from "../../lib/image/provider.ts";

/** Sidecars are one line; anything larger is not a sidecar. */
export const MAX_SIDECAR_BYTES = 4096;

/** The sidecar's key for an image key. */
export function sidecarKeyFor(key: string): string {
  return `${key}.sha256`;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Parses sidecar text for the object `key`.
 * @throws {IntegrityError} when the text is not a SHA-256 line, or names another file (a sidecar
 *   copied next to the wrong image must not vouch for it).
 */
export function parseSha256Sidecar(text: string, key: string, where: string): SourceDigest {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "")?.trim() ?? "";
  const match = /^([0-9a-fA-F]{64})(?:\s+\*?(.+))?$/.exec(line);
  if (!match) {
    throw new IntegrityError(
      `Malformed sidecar ${where}: expected "<sha256 hex>" or "<sha256 hex>  <file>", ` +
        `got "${line.slice(0, 100)}"`,
    );
  }
  const named = match[2]?.trim();
  if (named !== undefined && basename(named) !== basename(key)) {
    throw new IntegrityError(
      `Sidecar ${where} is for "${named}", not for "${basename(key)}"`,
    );
  }
  return { algorithm: "sha256", hex: match[1].toLowerCase() };
}
