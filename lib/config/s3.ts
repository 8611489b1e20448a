/**
 * The `s3` section: the Go operator's `bucket`, `region`, `http`, `timeout` (§4), plus what the
 * Go operator lacked (issue 5): a custom `endpoint` (MinIO, Ceph RGW), path-style addressing,
 * presigned GET URLs, and static credentials from a mounted file.
 *
 * The credentials file is YAML with `accessKeyId`, `secretAccessKey` and optional
 * `sessionToken`. Without it the S3 client uses the SDK's default credential chain (or anonymous
 * public URLs, as the Go operator did).
 *
 * Caveats: with a custom `endpoint` its scheme wins over `http`. A bucket name with dots is
 * accepted, but over HTTPS the virtual-hosted name `<a.b>.<host>` does not match the server's
 * wildcard certificate, so such buckets need `forcePathStyle: true`.
 */
import { type Decoder, field, join, type YamlObject } from "./_decode.ts";
import type { YamlValue } from "./_yaml.ts";
import { type DecodedFile, decodeMountedFile, type ReadTextFile } from "./mounted_files.ts";
import { Secret } from "./secret.ts";
import { httpUrlProblem, USERINFO_PROBLEM } from "./address_checks.ts";

/** Static S3 keys read from `s3.credentialsFile`. */
export interface S3Credentials {
  /** Identifies the key pair; not secret (it appears in S3 access logs), shown in logs. */
  accessKeyId: string;
  secretAccessKey: Secret;
  /** For temporary (STS) credentials. */
  sessionToken?: Secret;
}

export interface S3Config {
  bucket: string;
  region: string;
  /** Plain HTTP instead of HTTPS in object URLs. */
  http: boolean;
  /** Per-request timeout; `s3.timeout` (seconds or a Go duration), default 90 s. */
  timeoutMs: number;
  /** A custom S3 endpoint URL (`http://minio:9000`); absent means AWS. */
  endpoint?: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`); absent means false. */
  forcePathStyle?: boolean;
  /** Hand platforms presigned GET URLs instead of public ones; absent means false. */
  presign?: boolean;
  /** The mounted credentials file, when configured. */
  credentialsFile?: string;
  /** Its contents, once a loader has read it (`parseOperatorConfig` alone does not read files). */
  credentials?: S3Credentials;
}

export const S3_DEFAULTS = { timeoutMs: 90_000 } as const;

/** Reads the `s3` mapping (absent is `{}`); problems go to `d` under `path`. */
export function parseS3Section(raw: YamlObject, d: Decoder, path: string): S3Config {
  const s3: S3Config = {
    bucket: d.optionalString(raw, "bucket", path, ""),
    region: d.optionalString(raw, "region", path, ""),
    http: d.boolean(raw, "http", path, false),
    timeoutMs: s3Timeout(raw, d, path),
  };
  const bucketIssue = s3BucketProblem(s3.bucket);
  if (bucketIssue) d.issue(join(path, "bucket"), bucketIssue);
  // Optional keys are only set when given, so configs without them compare equal to the
  // Go operator's shape.
  const endpoint = d.optionalString(raw, "endpoint", path, "");
  if (endpoint !== "") {
    const problem = s3EndpointProblem(endpoint);
    if (problem) d.issue(join(path, "endpoint"), problem);
    s3.endpoint = endpoint;
  }
  if (hasValue(field(raw, "forcePathStyle"))) {
    s3.forcePathStyle = d.boolean(raw, "forcePathStyle", path, false);
  }
  if (hasValue(field(raw, "presign"))) s3.presign = d.boolean(raw, "presign", path, false);
  const credentialsFile = d.optionalString(raw, "credentialsFile", path, "");
  if (credentialsFile !== "") s3.credentialsFile = credentialsFile;
  return s3;
}

/** Reads the credentials file's mapping (its top level); problems go to `d` under `path`. */
export function parseS3Credentials(raw: YamlObject, d: Decoder, path: string): S3Credentials {
  const credentials: S3Credentials = {
    accessKeyId: d.requiredString(raw, "accessKeyId", path),
    secretAccessKey: d.requiredSecret(raw, "secretAccessKey", path),
  };
  const token = d.optionalString(raw, "sessionToken", path, "");
  if (token !== "") credentials.sessionToken = new Secret(token);
  return credentials;
}

/**
 * Why `endpoint` is unusable, or undefined when it is fine. The value is never quoted: a URL
 * may carry user info.
 */
export function s3EndpointProblem(endpoint: string): string | undefined {
  const problem = httpUrlProblem(endpoint);
  if (problem === USERINFO_PROBLEM) {
    return "must not contain user info; use s3.credentialsFile for keys";
  }
  if (problem) return problem;
  const url = new URL(endpoint);
  if (url.username !== "" || url.password !== "") {
    return "must not contain user info; use s3.credentialsFile for keys";
  }
  if (url.search !== "" || url.hash !== "") return "must not have a query or fragment";
  return undefined;
}

/**
 * Why `bucket` is unusable, or undefined when it is fine. Only characters that would break the
 * URL are rejected: dots are allowed (issue 5), and legacy AWS names may hold capitals or `_`.
 * An empty bucket is allowed here (the chart's default); the S3 source reports it when used.
 */
export function s3BucketProblem(bucket: string): string | undefined {
  if (bucket === "" || /^[A-Za-z0-9._-]+$/.test(bucket)) return undefined;
  return `expected a bucket name (letters, digits, ".", "-", "_"), got "${bucket}"`;
}

/** `s3.timeout`: whole seconds (the Go flag's unit) or a Go duration; "" means the default. */
function s3Timeout(raw: YamlObject, d: Decoder, path: string): number {
  const text = d.optionalString(raw, "timeout", path, "");
  if (/^[0-9]+$/.test(text)) {
    const seconds = Number(text);
    if (seconds > 0) return seconds * 1000;
    d.issue(join(path, "timeout"), "must be more than 0 seconds");
    return S3_DEFAULTS.timeoutMs;
  }
  return d.duration(raw, "timeout", path, S3_DEFAULTS.timeoutMs);
}

function hasValue(value: YamlValue | undefined): boolean {
  return value !== undefined && value !== null;
}

/**
 * Reads `s3.credentialsFile`, when set, into `credentials`. Problems name the credentials file.
 */
export async function loadS3Credentials(
  s3: S3Config,
  read: ReadTextFile,
): Promise<DecodedFile<S3Config>> {
  if (s3.credentialsFile === undefined) return { value: s3, issues: [] };
  const decoded = await decodeMountedFile(
    s3.credentialsFile,
    read,
    (root, d) => parseS3Credentials(d.object(root, "") ?? {}, d, ""),
  );
  return { value: { ...s3, credentials: decoded.value }, issues: decoded.issues };
}
