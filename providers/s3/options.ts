/**
 * Options of the S3 image source. The defaults reproduce the Go operator exactly (anonymous
 * access to a public bucket at `<scheme>://<bucket>.s3.<region>.amazonaws.com/<key>`); every
 * other field is an opt-in extension (reference spec §4, §11.16).
 */
import type { Secret } from "../../lib/config/secret.ts";

/** Where request credentials come from. */
export type S3Credentials =
  /** No signing at all: public buckets, like the Go operator. */
  | { source: "anonymous" }
  /** Keys given directly (from a validated config). */
  | { source: "static"; accessKeyId: string; secretAccessKey: Secret; sessionToken?: Secret }
  /**
   * Keys from a mounted file (see `credentials_file.ts` for the format), re-read every
   * `refreshMs` (default 60 s) so a rotated Secret takes effect without a restart.
   */
  | { source: "file"; path: string; profile?: string; refreshMs?: number }
  /** The AWS SDK's default chain: env, shared config, web identity (IRSA), container, IMDS. */
  | { source: "default-chain" };

/** Which URL `ImageSource.url()` hands to platforms that download themselves. */
export type S3UrlMode =
  /** Presigned when credentials are configured, else the public URL. */
  | "auto"
  /** Always the unsigned URL (the bucket must be public). */
  | "public"
  /** Always presigned (needs credentials). */
  | "presigned";

export interface S3SourceOptions {
  bucket: string;
  /** AWS region; for custom endpoints any value the server accepts (default `us-east-1`). */
  region: string;
  /** `s3.http`: plain HTTP to the AWS endpoint. Ignored with `endpoint` (its scheme wins). */
  http?: boolean;
  /** A custom endpoint, e.g. `http://minio.storage:9000` (MinIO, s3rver, Ceph RGW). */
  endpoint?: string;
  /**
   * Path-style addressing (`<endpoint>/<bucket>/<key>`). Default: on with a custom endpoint,
   * off for AWS. Forced on for dotted bucket names over HTTPS, whose virtual-hosted names fail
   * TLS verification against the `*.s3.<region>.amazonaws.com` certificate.
   */
  pathStyle?: boolean;
  /** Default anonymous. */
  credentials?: S3Credentials;
  /** Default `auto`. */
  urlMode?: S3UrlMode;
  /** Deadline of each request until its response headers, and the longest silence while streaming a body. Default 90 s. */
  timeoutMs?: number;
  /** SDK attempts per request (its own retry with backoff for 5xx and throttling); default 3. */
  maxAttempts?: number;
}

export const S3_DEFAULT_TIMEOUT_MS = 90_000;
export const S3_DEFAULT_REGION = "us-east-1";

/** Whether `url()` presigns with these options. */
export function presigns(options: S3SourceOptions): boolean {
  const anonymous = (options.credentials?.source ?? "anonymous") === "anonymous";
  const mode = options.urlMode ?? "auto";
  return mode === "presigned" || (mode === "auto" && !anonymous);
}

/**
 * Checks the options make sense together.
 * @throws {RangeError} naming the field and value.
 */
export function validateS3Options(options: S3SourceOptions): void {
  if (!options.bucket) throw new RangeError("S3 bucket is empty: set s3.bucket");
  // As permissive as the Go operator (which also took legacy upper-case names), plus dots.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/.test(options.bucket)) {
    throw new RangeError(
      `S3 bucket "${options.bucket}" is not a valid bucket name: expected 3-255 letters, ` +
        `digits, dots, hyphens and underscores`,
    );
  }
  if (!options.endpoint && !options.region) {
    throw new RangeError("S3 region is empty: set s3.region (or s3.endpoint for a custom server)");
  }
  if (options.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new RangeError(`S3 endpoint "${options.endpoint}" is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new RangeError(`S3 endpoint "${options.endpoint}" must be http:// or https://`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new RangeError(
        `S3 endpoint "${url.origin}" must not carry user info, a query or a fragment`,
      );
    }
  }
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
    throw new RangeError(`S3 timeout ${options.timeoutMs} ms must be positive`);
  }
  const anonymous = (options.credentials?.source ?? "anonymous") === "anonymous";
  if (options.urlMode === "presigned" && anonymous) {
    throw new RangeError("S3 presigned URLs need credentials, but none are configured");
  }
}
