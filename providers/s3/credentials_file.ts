/**
 * Static S3 keys from a mounted file, in the AWS shared-credentials format (what `aws configure`
 * writes, and what a Kubernetes Secret usually holds):
 *
 * ```ini
 * [default]
 * aws_access_key_id = AKIA...
 * aws_secret_access_key = ...
 * # optional, for temporary keys
 * aws_session_token = ...
 * ```
 *
 * Lines before any `[section]` belong to `default`; `key: value` works as well as `key = value`,
 * and the camel-case names `accessKeyId`, `secretAccessKey`, `sessionToken` are accepted too, so a
 * two-line YAML file also loads. Comments start with `#` or `;`.
 *
 * Guarantees: errors name the file, profile and missing field, never a value.
 */
import { Secret } from "../../lib/config/secret.ts";

export interface S3StaticKeys {
  accessKeyId: string;
  secretAccessKey: Secret;
  sessionToken?: Secret;
}

/** The file could not be read or lacks a field. */
export class S3CredentialsFileError extends Error {
  override name = "S3CredentialsFileError";
}

const FIELDS: Record<string, keyof S3StaticKeys> = {
  aws_access_key_id: "accessKeyId",
  accesskeyid: "accessKeyId",
  aws_secret_access_key: "secretAccessKey",
  secretaccesskey: "secretAccessKey",
  aws_session_token: "sessionToken",
  sessiontoken: "sessionToken",
};

function unquote(value: string): string {
  const quoted = /^"(.*)"$|^'(.*)'$/.exec(value);
  return quoted ? (quoted[1] ?? quoted[2]) : value;
}

/**
 * Parses credentials file text.
 * @param file Named in errors.
 * @throws {S3CredentialsFileError} when the profile or a required field is missing.
 */
export function parseS3CredentialsFile(
  text: string,
  file: string,
  profile = "default",
): S3StaticKeys {
  const sections = new Map<string, Record<string, string>>();
  let section = "default";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const pair = /^([A-Za-z_]+)\s*[=:]\s*(.*)$/.exec(line);
    if (!pair) continue;
    const field = FIELDS[pair[1].toLowerCase()];
    if (!field) continue;
    const values = sections.get(section) ?? {};
    values[field] = unquote(pair[2].trim());
    sections.set(section, values);
  }
  const values = sections.get(profile);
  if (!values) {
    throw new S3CredentialsFileError(
      `S3 credentials file ${file} has no profile "${profile}"` +
        (sections.size ? ` (found: ${[...sections.keys()].join(", ")})` : " (no keys found)"),
    );
  }
  for (
    const [field, name] of [["accessKeyId", "aws_access_key_id"], [
      "secretAccessKey",
      "aws_secret_access_key",
    ]] as const
  ) {
    if (!values[field]) {
      throw new S3CredentialsFileError(
        `S3 credentials file ${file}, profile "${profile}": ${name} is missing or empty`,
      );
    }
  }
  return {
    accessKeyId: values.accessKeyId,
    secretAccessKey: new Secret(values.secretAccessKey),
    sessionToken: values.sessionToken ? new Secret(values.sessionToken) : undefined,
  };
}

/** Reads and parses a credentials file; read failures become `S3CredentialsFileError`. */
export async function readS3CredentialsFile(
  file: string,
  profile?: string,
): Promise<S3StaticKeys> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new S3CredentialsFileError(
      `Cannot read S3 credentials file ${file}: ${(error as Error).message}`,
    );
  }
  return parseS3CredentialsFile(text, file, profile);
}
