/**
 * A configuration's identity for change detection: SHA-256 of a canonical JSON form in which
 * secrets count by value. A rotated password is a change; rewriting the same file, reordering
 * keys or moving a setting from values.yaml to a flag is not.
 *
 * Only the digest leaves this module; the canonical text holding the secrets lives just long
 * enough to be hashed.
 */
import { OperatorConfig } from "./operator_config.ts";
import { Secret } from "./secret.ts";

/**
 * The fingerprint of a configuration (or of any part of one, e.g. `config.providers.capv`).
 * For an `OperatorConfig`, where it was loaded from (`file`, `files`) does not count.
 */
export async function configFingerprint(value: unknown): Promise<string> {
  const subject = value instanceof OperatorConfig
    ? {
      s3: value.s3,
      retentionMs: value.retentionMs,
      clientSetup: value.clientSetup,
      providers: value.providerSections(),
    }
    : value;
  const bytes = new TextEncoder().encode(canonical(subject));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** JSON with sorted keys, absent (`undefined`) fields dropped, and secrets tagged by value. */
function canonical(value: unknown): string {
  if (value instanceof Secret) return `{"$secret":${JSON.stringify(value.reveal())}}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`);
    return `{${entries.join(",")}}`;
  }
  if (typeof value === "bigint") return `"${value}n"`;
  return JSON.stringify(value) ?? "null";
}
