/**
 * Reading the Go operator's mounted config files: `/home/.<provider>/credentials` (a Secret key)
 * and `/home/.<provider>/locations` (a ConfigMap key), each holding exactly the YAML of one values
 * subtree as the Helm chart renders it (§8.2), and the S3 credentials file.
 *
 * Problems are returned as issues naming the mounted file and the field path inside it
 * (`password: required`), never thrown one at a time, so one load reports every problem.
 */
import { Decoder } from "./_decode.ts";
import { parseYaml, type YamlValue } from "./_yaml.ts";
import type { ConfigIssue } from "./errors.ts";

/** Reads a file's text; injected in tests. */
export type ReadTextFile = (path: string) => Promise<string>;

/** The real filesystem. */
export const readTextFileFromDisk: ReadTextFile = (path) => Deno.readTextFile(path);

/** What one file decoded to, and what was wrong with it. */
export interface DecodedFile<T> {
  value: T;
  issues: ConfigIssue[];
}

/**
 * Reads `file` as YAML and decodes its top-level value with `decode`. When the file cannot be
 * read or parsed, `decode` still runs on an empty document (so callers always get a value), but
 * only the read or syntax problem is reported, not the "required" noise that follows from it.
 */
export async function decodeMountedFile<T>(
  file: string,
  read: ReadTextFile,
  decode: (root: YamlValue, d: Decoder) => T,
): Promise<DecodedFile<T>> {
  let text: string;
  try {
    text = await read(file);
  } catch (error) {
    return { value: decode(null, new Decoder(file)), issues: [unreadable(file, error)] };
  }
  return decodeText(text, file, decode);
}

/** `decodeMountedFile` for text already read. */
export function decodeText<T>(
  text: string,
  file: string,
  decode: (root: YamlValue, d: Decoder) => T,
): DecodedFile<T> {
  const parsed = parseYaml(text, file);
  if (parsed.issues.length > 0) {
    return { value: decode(null, new Decoder(file)), issues: parsed.issues };
  }
  const d = new Decoder(file);
  const value = decode(parsed.value, d);
  return { value, issues: d.issues };
}

/**
 * The issue for a file that cannot be read; the error's class says why (NotFound, …). A file
 * outside the paths Deno may read (the container's `--allow-read`) keeps Deno's own message,
 * which says so: the class alone, NotCapable, would not tell the user what to change.
 */
export function unreadable(file: string, error: unknown): ConfigIssue {
  const reason = error instanceof Error ? error.name : "unknown error";
  const detail = error instanceof Deno.errors.NotCapable ? `: ${error.message}` : "";
  return { file, path: "", message: `cannot read the file (${reason}${detail})` };
}
