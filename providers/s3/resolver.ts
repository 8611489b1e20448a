/**
 * The S3 source as the image controller sees it: an `ImageSourceResolver` built from the
 * operator's `s3` configuration, replaceable on config reload.
 */
import type { S3Config } from "../../lib/config/mod.ts";
import type { ImageSourceResolver } from "../../lib/image/source.ts";
import type { ImageLayout, ImageSource, ImageSpec } from "../types.ts";
import type { S3SourceOptions } from "./options.ts";
import { S3Source } from "./source.ts";

/** Maps the values.yaml / flags `s3` section onto the S3 client's options. */
export function s3OptionsFromConfig(s3: S3Config): S3SourceOptions {
  return {
    bucket: s3.bucket,
    region: s3.region,
    http: s3.http,
    endpoint: s3.endpoint,
    pathStyle: s3.forcePathStyle,
    timeoutMs: s3.timeoutMs,
    // A mounted credentials file is re-read by the client itself, so rotations apply at once.
    credentials: s3.credentialsFile
      ? { source: "file", path: s3.credentialsFile }
      : s3.credentials
      ? {
        source: "static",
        accessKeyId: s3.credentials.accessKeyId,
        secretAccessKey: s3.credentials.secretAccessKey,
        sessionToken: s3.credentials.sessionToken,
      }
      : { source: "anonymous" },
    urlMode: s3.presign ? "presigned" : "auto",
  };
}

/** Resolves NodeImages to S3 objects; `update` swaps the client when the `s3` section changes. */
export class S3Resolver implements ImageSourceResolver {
  /** The client, or why the `s3` section cannot make one (e.g. an empty bucket). */
  #source: S3Source | Error;
  #fingerprint: string;

  constructor(s3: S3Config) {
    this.#source = build(s3);
    this.#fingerprint = fingerprintOf(s3);
  }

  resolve(image: ImageSpec, layout: ImageLayout, signal: AbortSignal): Promise<ImageSource> {
    // An unusable s3 section fails each lookup (the location shows why) rather than the
    // process: Releases and NodeImages are still managed, as in the Go operator.
    if (this.#source instanceof Error) return Promise.reject(this.#source);
    return this.#source.inspect(image, layout, signal);
  }

  /** Applies a reloaded `s3` section; an unchanged one keeps the current client. */
  update(s3: S3Config): void {
    const fingerprint = fingerprintOf(s3);
    if (fingerprint === this.#fingerprint) return;
    this.close();
    this.#source = build(s3);
    this.#fingerprint = fingerprint;
  }

  close(): void {
    if (!(this.#source instanceof Error)) this.#source.close();
  }
}

function build(s3: S3Config): S3Source | Error {
  try {
    return new S3Source(s3OptionsFromConfig(s3));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return new Error(`S3 is not usable: ${error.message}`);
  }
}

function fingerprintOf(s3: S3Config): string {
  const { credentials, ...rest } = s3;
  return JSON.stringify({
    ...rest,
    // Compared by value so a rotated key replaces the client; never logged.
    credentials: credentials && [
      credentials.accessKeyId,
      credentials.secretAccessKey.reveal(),
      credentials.sessionToken?.reveal(),
    ],
  });
}
