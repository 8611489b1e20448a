/**
 * One S3 object as an `ImageSource`: what HEAD and the sidecar said, a URL for platforms that
 * download themselves, and a verified stream for platforms we push to.
 */
import type { ImageSource, SourceDigest } from "../../lib/image/provider.ts";
import { VerificationLog, verifyStream } from "../../lib/integrity/mod.ts";
import type { S3Source } from "./source.ts";

export interface S3ImageSourceFields {
  key: string;
  format: "ova" | "qcow2";
  size: number;
  etag?: string;
  digest?: SourceDigest;
}

export interface OpenOptions {
  signal: AbortSignal;
  /** First byte to read (a resumed transfer); only the size can be verified then. */
  offset?: number;
  /** Receives what was verified, once the stream has been read to its end without error. */
  log?: VerificationLog;
}

export class S3ImageSource implements ImageSource {
  readonly key: string;
  readonly format: "ova" | "qcow2";
  readonly size: number;
  /** From HEAD; GETs require it to be unchanged. */
  readonly etag?: string;
  readonly digest?: SourceDigest;
  readonly #s3: S3Source;
  #verified: string[] = [];

  constructor(s3: S3Source, fields: S3ImageSourceFields) {
    this.#s3 = s3;
    this.key = fields.key;
    this.format = fields.format;
    this.size = fields.size;
    this.etag = fields.etag;
    this.digest = fields.digest;
  }

  /** `s3://bucket/key`, as messages name the object. */
  get subject(): string {
    return `s3://${this.#s3.bucket}/${this.key}`;
  }

  /** Public URL, or a presigned one valid for `ttlMs` when the source presigns. */
  url(ttlMs: number): Promise<string> {
    return this.#s3.presigns
      ? this.#s3.presignedUrl(this.key, ttlMs)
      : Promise.resolve(this.#s3.publicUrl(this.key));
  }

  /**
   * Streams the object from `offset` through the size, sidecar-digest and format verifiers;
   * the stream errors with `IntegrityError` on a mismatch, so a consumer that only keeps what
   * ended cleanly never keeps bad bytes.
   * @throws {RangeError} for an offset outside the object.
   */
  async open(options: OpenOptions): Promise<ReadableStream<Uint8Array>> {
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.size) {
      throw new RangeError(`Cannot open ${this.subject} at offset ${offset}: size is ${this.size}`);
    }
    // A range starting at the end is unsatisfiable (416) in S3; there is nothing to read anyway.
    const raw = offset === this.size
      ? new ReadableStream<Uint8Array>({ start: (c) => c.close() })
      : await this.#s3.getStream(this.key, { signal: options.signal, offset, etag: this.etag });
    const log = new VerificationLog();
    const verified = verifyStream(
      raw,
      { size: this.size, offset, digest: this.digest, format: this.format },
      { subject: this.subject, log },
    );
    return verified.pipeThrough(
      new TransformStream({
        flush: () => {
          this.#verified = log.list();
          for (const statement of this.#verified) options.log?.add(statement);
        },
      }),
    );
  }

  /** What the last stream read to its end verified ("size 123 ok", …); empty before that. */
  verified(): string[] {
    return [...this.#verified];
  }
}
