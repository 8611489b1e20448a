/**
 * The S3 side of an image transfer: HEAD for existence and size, the optional `.sha256`
 * sidecar, public or presigned GET URLs, and streaming (optionally ranged) GETs.
 *
 * Guarantees:
 * - HEAD 404, or 403 (what S3 answers for a missing key without `s3:ListBucket`), is a
 *   `SourceMissingError` naming bucket, key and endpoint; a missing or unreadable sidecar just
 *   means "no digest".
 * - Every other failure is an `S3AccessError` naming the operation, `s3://bucket/key` and the
 *   endpoint; credentials never appear in it. Caller aborts pass through as the signal's reason.
 * - Each request has a deadline until its headers (`timeoutMs`); a streaming body fails when
 *   the network is silent for `timeoutMs` (time spent waiting for the consumer does not count).
 * - Nothing touches the disk; bodies are streamed.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type ImageLayout,
  type ImageSpec,
  type SourceDigest,
  SourceMissingError,
} from "../types.ts";
import { IntegrityError } from "../../lib/image/provider.ts";
import { s3KeyFor } from "../../lib/release/derive.ts";
import { RequestDeadline } from "./_deadline.ts";
import { publicObjectUrl, resolveAddressing, type S3Addressing } from "./addressing.ts";
import { createS3Client, SecretScrubber } from "./client.ts";
import { describeSdkError, S3AccessError, statusOf } from "./errors.ts";
import { S3ImageSource } from "./image_source.ts";
import {
  presigns,
  S3_DEFAULT_TIMEOUT_MS,
  type S3SourceOptions,
  validateS3Options,
} from "./options.ts";
import { MAX_SIDECAR_BYTES, parseSha256Sidecar, sidecarKeyFor } from "./sidecar.ts";

/** What HEAD says about an object. */
export interface ObjectHead {
  size: number;
  etag?: string;
}

/** S3's longest presigned URL lifetime (SigV4): seven days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** One bucket as an image source. Create once per configuration; `close()` when replaced. */
export class S3Source {
  readonly #options: S3SourceOptions;
  readonly #addressing: S3Addressing;
  /** Built on first use: the SDK costs ~26 MiB resident, the presigner ~18 MiB more. */
  #client?: Promise<S3Client>;
  readonly #scrubber = new SecretScrubber();
  readonly #timeoutMs: number;

  /** @throws {RangeError} when the options are inconsistent (see `validateS3Options`). */
  constructor(options: S3SourceOptions) {
    validateS3Options(options);
    this.#options = options;
    this.#addressing = resolveAddressing(options);
    this.#timeoutMs = options.timeoutMs ?? S3_DEFAULT_TIMEOUT_MS;
  }

  /** The SDK client, importing the SDK on the first call (a transfer or inspection is due). */
  #sdk(): Promise<S3Client> {
    return this.#client ??= createS3Client(this.#options, this.#addressing, this.#scrubber);
  }

  /** The endpoint requests go to, for messages: `https://s3.eu-west-1.amazonaws.com`. */
  get endpoint(): string {
    return this.#addressing.endpoint;
  }

  get bucket(): string {
    return this.#options.bucket;
  }

  /** The Go operator's key for an image (`capv/<name>/<base>.ova`, `capmox/…/<base>.qcow2`). */
  keyFor(image: Pick<ImageSpec, "name">, layout: ImageLayout): string {
    return s3KeyFor(image.name, layout);
  }

  /** The unsigned URL of `key` (the Go operator's URL with the default options). */
  publicUrl(key: string): string {
    return publicObjectUrl(this.#options, key);
  }

  /** Whether `ImageSource.url()` hands out presigned URLs. */
  get presigns(): boolean {
    return presigns(this.#options);
  }

  /**
   * HEADs the image's object and reads its sidecar; the result streams and hands out URLs.
   * @throws {SourceMissingError} when the object does not exist.
   * @throws {IntegrityError} when the sidecar exists but is malformed or names another file.
   * @throws {S3AccessError} on any other failure.
   */
  inspect(
    image: Pick<ImageSpec, "name">,
    layout: ImageLayout,
    signal: AbortSignal,
  ): Promise<S3ImageSource> {
    return this.inspectKey(this.keyFor(image, layout), signal);
  }

  /** `inspect` for an explicit key; the format comes from its extension (`.ova`, `.qcow2`). */
  async inspectKey(key: string, signal: AbortSignal): Promise<S3ImageSource> {
    const format = formatOfKey(key);
    const head = await this.head(key, signal);
    const digest = await this.readSidecar(key, signal);
    return new S3ImageSource(this, { key, format, size: head.size, etag: head.etag, digest });
  }

  /** HEAD: existence, size and ETag. */
  async head(key: string, signal: AbortSignal): Promise<ObjectHead> {
    const deadline = new RequestDeadline(signal, this.#timeoutMs);
    try {
      const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
      const out = await (await this.#sdk()).send(
        new HeadObjectCommand({ Bucket: this.#options.bucket, Key: key }),
        { abortSignal: deadline.signal },
      );
      if (out.ContentLength === undefined) {
        throw new S3AccessError(`S3 HEAD of ${this.#where(key)} returned no Content-Length`);
      }
      return { size: out.ContentLength, etag: out.ETag };
    } catch (error) {
      if (error instanceof S3AccessError) throw error;
      const status = statusOf(error);
      if (!signal.aborted && !deadline.timedOut && status === 404) {
        throw new SourceMissingError(
          `Image s3://${this.#options.bucket}/${key} not found at ${this.endpoint} (HTTP 404)`,
        );
      }
      if (!signal.aborted && !deadline.timedOut && status === 403) {
        throw await this.#explain403(key, signal);
      }
      throw this.#failure("HEAD", key, error, deadline, signal);
    } finally {
      deadline.dispose();
    }
  }

  /** The `<key>.sha256` digest, or undefined when there is no readable sidecar. */
  async readSidecar(key: string, signal: AbortSignal): Promise<SourceDigest | undefined> {
    const sidecar = sidecarKeyFor(key);
    const deadline = new RequestDeadline(signal, this.#timeoutMs);
    try {
      const { GetObjectCommand } = await import("@aws-sdk/client-s3");
      const out = await (await this.#sdk()).send(
        new GetObjectCommand({ Bucket: this.#options.bucket, Key: sidecar }),
        { abortSignal: deadline.signal },
      );
      const body = out.Body as ReadableStream<Uint8Array> | undefined;
      if ((out.ContentLength ?? 0) > MAX_SIDECAR_BYTES) {
        await body?.cancel();
        throw new IntegrityError(
          `Sidecar ${this.#where(sidecar)} is ${out.ContentLength} bytes, not a checksum line`,
        );
      }
      const text = body ? await new Response(body).text() : "";
      return parseSha256Sidecar(text, key, this.#where(sidecar));
    } catch (error) {
      if (error instanceof IntegrityError) throw error;
      // Public buckets answer 403 AccessDenied for missing keys; a sidecar is optional.
      if (!signal.aborted && !deadline.timedOut && isMissing(error)) {
        return undefined;
      }
      throw this.#failure("GET", sidecar, error, deadline, signal);
    } finally {
      deadline.dispose();
    }
  }

  /** A presigned GET URL valid for `ttlMs` (clamped to 1 s … 7 days). */
  async presignedUrl(key: string, ttlMs: number): Promise<string> {
    const seconds = Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.ceil(ttlMs / 1000)));
    try {
      const [{ GetObjectCommand }, { getSignedUrl }] = await Promise.all([
        import("@aws-sdk/client-s3"),
        import("@aws-sdk/s3-request-presigner"),
      ]);
      return await getSignedUrl(
        await this.#sdk(),
        new GetObjectCommand({ Bucket: this.#options.bucket, Key: key }),
        { expiresIn: seconds },
      );
    } catch (error) {
      throw new S3AccessError(
        this.#scrubber.scrub(
          `Cannot presign GET of ${this.#where(key)}: ${describeSdkError(error).text}`,
        ),
      );
    }
  }

  /**
   * Streams the object's bytes from `offset`, unverified (`S3ImageSource.open` adds the
   * verifiers). With `etag`, a changed object fails instead of mixing two versions.
   */
  async getStream(
    key: string,
    options: { signal: AbortSignal; offset?: number; etag?: string },
  ): Promise<ReadableStream<Uint8Array>> {
    const { signal, offset = 0, etag } = options;
    const deadline = new RequestDeadline(signal, this.#timeoutMs);
    let out;
    try {
      const { GetObjectCommand } = await import("@aws-sdk/client-s3");
      out = await (await this.#sdk()).send(
        new GetObjectCommand({
          Bucket: this.#options.bucket,
          Key: key,
          Range: offset > 0 ? `bytes=${offset}-` : undefined,
          IfMatch: etag,
        }),
        { abortSignal: deadline.signal },
      );
    } catch (error) {
      deadline.dispose();
      const status = statusOf(error);
      if (!signal.aborted && !deadline.timedOut && status === 412) {
        throw new IntegrityError(`Object ${this.#where(key)} changed since it was inspected`);
      }
      if (!signal.aborted && !deadline.timedOut && isMissing(error)) {
        throw new SourceMissingError(
          `Image s3://${this.#options.bucket}/${key} disappeared from ${this.endpoint} ` +
            `(HTTP ${status})`,
        );
      }
      throw this.#failure("GET", key, error, deadline, signal);
    }
    const body = out.Body as ReadableStream<Uint8Array> | undefined;
    if (etag !== undefined && out.ETag !== undefined && out.ETag !== etag) {
      deadline.dispose();
      await body?.cancel();
      throw new IntegrityError(
        `Object ${this.#where(key)} changed since it was inspected (ETag ${etag}, now ${out.ETag})`,
      );
    }
    if (!body) {
      deadline.dispose();
      return new ReadableStream({ start: (c) => c.close() });
    }
    return this.#guard(body, key, deadline, signal);
  }

  /** Releases the SDK client's connections. */
  close(): void {
    void this.#client?.then((client) => client.destroy(), () => {});
  }

  /** Maps a failure to the caller's abort reason or a credential-free `S3AccessError`. */
  #failure(
    operation: string,
    key: string,
    error: unknown,
    deadline: RequestDeadline,
    signal: AbortSignal,
  ): unknown {
    if (signal.aborted) return signal.reason;
    if (deadline.timedOut) {
      return new S3AccessError(
        `S3 ${operation} of ${this.#where(key)} timed out: no response for ` +
          `${this.#timeoutMs / 1000}s`,
      );
    }
    const { text, status, code } = describeSdkError(error);
    return new S3AccessError(
      this.#scrubber.scrub(`S3 ${operation} of ${this.#where(key)} failed: ${text}`),
      status,
      code,
    );
  }

  /**
   * HEAD answers carry no body, so a 403 cannot say whether the key is missing (S3 says
   * AccessDenied for missing keys without `s3:ListBucket`) or our credentials are refused. A
   * one-byte GET tells them apart; only the latter is an access error.
   */
  async #explain403(key: string, signal: AbortSignal): Promise<unknown> {
    const deadline = new RequestDeadline(signal, this.#timeoutMs);
    try {
      const { GetObjectCommand } = await import("@aws-sdk/client-s3");
      const out = await (await this.#sdk()).send(
        new GetObjectCommand({ Bucket: this.#options.bucket, Key: key, Range: "bytes=0-0" }),
        { abortSignal: deadline.signal },
      );
      await (out.Body as ReadableStream | undefined)?.cancel();
      return new S3AccessError(
        `S3 HEAD of ${this.#where(key)} failed: 403, though GET is allowed`,
        403,
      );
    } catch (error) {
      if (!signal.aborted && !deadline.timedOut && isMissing(error)) {
        return new SourceMissingError(
          `Image s3://${this.#options.bucket}/${key} not found at ${this.endpoint} ` +
            `(HTTP 403 AccessDenied: missing, or not readable with the configured access)`,
        );
      }
      return this.#failure("HEAD", key, error, deadline, signal);
    } finally {
      deadline.dispose();
    }
  }

  /** `s3://bucket/key at <endpoint>`. */
  #where(key: string): string {
    return `s3://${this.#options.bucket}/${key} at ${this.endpoint}`;
  }

  /**
   * Re-emits `body` one chunk per pull, timing only the waits on the network, and maps its
   * errors. The deadline ends with the stream (done, failed or cancelled).
   */
  #guard(
    body: ReadableStream<Uint8Array>,
    key: string,
    deadline: RequestDeadline,
    signal: AbortSignal,
  ): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    deadline.pause();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        deadline.reset();
        try {
          const { done, value } = await reader.read();
          deadline.pause();
          if (done) {
            deadline.dispose();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          deadline.dispose();
          controller.error(this.#failure("GET (body)", key, error, deadline, signal));
        }
      },
      cancel: async (reason) => {
        deadline.dispose();
        await reader.cancel(reason).catch(() => {});
      },
    }, { highWaterMark: 0 });
  }
}

/**
 * 404, or 403 AccessDenied (S3's answer for a missing key when listing is not allowed); other
 * 403 codes (InvalidAccessKeyId, SignatureDoesNotMatch, ExpiredToken) are credential problems.
 */
function isMissing(error: unknown): boolean {
  const status = statusOf(error);
  if (status === 404) return true;
  if (status !== 403) return false;
  const { code } = describeSdkError(error);
  return code === undefined || code === "AccessDenied" || code === "Forbidden";
}

/** `ova` or `qcow2` from the key's extension. */
export function formatOfKey(key: string): "ova" | "qcow2" {
  if (key.endsWith(".ova")) return "ova";
  if (key.endsWith(".qcow2")) return "qcow2";
  throw new RangeError(`Cannot tell the image format of S3 key "${key}": expected .ova or .qcow2`);
}
