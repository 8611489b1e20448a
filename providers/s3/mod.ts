/**
 * The S3 image source: the Go operator's public bucket layout by default, plus custom endpoints,
 * path-style, dotted buckets, credentials, presigned URLs and verified streaming.
 *
 * @example
 * ```ts
 * const s3 = new S3Source({ bucket: "images", region: "eu-west-1" });
 * const source = await s3.inspect({ provider: "capv", name: imageName }, signal);
 * const url = await source.url(3_600_000);            // for platforms that download
 * const bytes = await source.open({ signal });        // for platforms we push to
 * s3.close();
 * ```
 */
export { encodeKey, publicObjectUrl, resolveAddressing, type S3Addressing } from "./addressing.ts";
export {
  parseS3CredentialsFile,
  readS3CredentialsFile,
  S3CredentialsFileError,
  type S3StaticKeys,
} from "./credentials_file.ts";
export { S3AccessError } from "./errors.ts";
export { type OpenOptions, S3ImageSource, type S3ImageSourceFields } from "./image_source.ts";
export {
  presigns,
  S3_DEFAULT_REGION,
  S3_DEFAULT_TIMEOUT_MS,
  type S3Credentials,
  type S3SourceOptions,
  type S3UrlMode,
  validateS3Options,
} from "./options.ts";
export { MAX_SIDECAR_BYTES, parseSha256Sidecar, sidecarKeyFor } from "./sidecar.ts";
export { formatOfKey, type ObjectHead, S3Source } from "./source.ts";
