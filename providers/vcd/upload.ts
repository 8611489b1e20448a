/**
 * Uploading the files of a vApp template to their VCD transfer URLs in ranged PUTs, from the
 * OVA stream as its members pass by, and from S3 byte ranges for what could not be sent then.
 *
 * How the bytes flow (see `create.ts` for the whole sequence):
 * - Pass 1 reads the OVA once from its first byte. A member that continues its file where VCD
 *   expects the next byte is streamed straight into PUTs of `pieceBytes`, except its file's
 *   last `TAIL_BYTES`: those wait until the whole OVA has been read and verified (size, sidecar
 *   digest, every manifest digest), so no file is complete at VCD before its bytes are known to
 *   be good — not even when the manifest comes last, or the operator dies in between.
 * - Everything else (the tails, members that came before the descriptor, chunks of a split file
 *   out of order, the rest of a file after a failed PUT) is recorded as where it lies in the
 *   object, and `complete` re-reads exactly those byte ranges from S3 afterwards. S3 GETs carry
 *   the ETag from HEAD (If-Match), so a re-read sees the bytes pass 1 verified.
 *
 * Guarantees:
 * - Memory: a piece is a stream of the source's own chunks (views, never copied or gathered);
 *   nothing is buffered beyond the chunk in hand.
 * - PUTs for a file are sequential and contiguous (VCD answers 416 otherwise, §B.3). After a
 *   failed PUT the file's position is read back from VCD (`bytesTransferred`) and the upload
 *   resumes from there, up to `maxFailures` times per file.
 * - A source error (`IntegrityError`, a broken S3 stream) is thrown as it is, never retried.
 */
import { IntegrityError, PlatformError } from "../types.ts";
import type { Logger } from "../../lib/log.ts";
import type { VcdClient } from "./client.ts";
import { getTemplate } from "./tasks.ts";

/** Bytes of each file held back until the whole OVA is verified. */
export const TAIL_BYTES = 64 * 1024;

/** Where bytes of a file lie in the object. */
interface Segment {
  fileOffset: number;
  objectOffset: number;
  length: number;
}

/** One file VCD waits for. */
export interface UploadTarget {
  /** VCD's file name, the OVF `References/File@href`. */
  name: string;
  /** Total bytes. */
  size: number;
  url: string;
  /** Bytes per `<name>.000000000`-style member, for split files. */
  chunkSize?: number;
  /** Bytes VCD holds, as far as we know. */
  uploaded: number;
  /** A PUT failed: `uploaded` must be read back from VCD first. */
  uncertain: boolean;
  failures: number;
  /** The members of the OVA that hold this file's bytes. */
  layout: Segment[];
}

/** Bytes from somewhere, at most `max` per call; undefined at the end. */
export interface ByteSource {
  read(max: number): Promise<Uint8Array | undefined>;
}

export interface UploaderOptions {
  client: VcdClient;
  templateHref: string;
  pieceBytes: number;
  maxFailures: number;
  signal: AbortSignal;
  /** Bytes VCD holds across all files (plus a fixed base) and the total to reach. */
  progress(done: number): void;
  log?: Logger;
}

export class FileUploader {
  readonly targets: UploadTarget[];
  readonly #options: UploaderOptions;
  /** Bytes of PUTs in flight, for progress. */
  #inFlight = 0;

  constructor(targets: UploadTarget[], options: UploaderOptions) {
    this.targets = targets;
    this.#options = options;
  }

  /** The target and offset within it of an OVA member, or undefined for other members. */
  match(memberName: string): { target: UploadTarget; fileOffset: number } | undefined {
    for (const target of this.targets) {
      if (target.chunkSize === undefined) {
        if (memberName === target.name) return { target, fileOffset: 0 };
        continue;
      }
      const prefix = `${target.name}.`;
      if (!memberName.startsWith(prefix)) continue;
      const index = memberName.slice(prefix.length);
      if (/^\d{9}$/.test(index)) return { target, fileOffset: Number(index) * target.chunkSize };
    }
    return undefined;
  }

  /**
   * Pass 1 for one member: records where its bytes are, and streams them from `source` into
   * PUTs when they continue the file (keeping the file's tail back); without a source (a member
   * that passed before the upload links were known) only records them. The caller skips
   * whatever the member has left afterwards.
   * @throws {IntegrityError} when the member's size contradicts the descriptor.
   */
  async fromMember(
    member: { name: string; size: number; dataOffset: number },
    source: ByteSource | undefined,
  ): Promise<void> {
    const found = this.match(member.name);
    if (!found) return;
    const { target, fileOffset } = found;
    // A descriptor may leave sizes out; the member then says it.
    if (target.size < 0 && target.chunkSize === undefined) target.size = member.size;
    const expected = target.chunkSize === undefined
      ? target.size
      : Math.min(target.chunkSize, target.size - fileOffset);
    if (member.size !== expected || fileOffset >= target.size) {
      throw new IntegrityError(
        `OVA member "${member.name}" is ${member.size} bytes; the descriptor declares ` +
          `${expected} bytes for it (file "${target.name}" of ${target.size} bytes)`,
      );
    }
    if (target.layout.some((s) => s.fileOffset === fileOffset)) {
      throw new IntegrityError(`OVA member "${member.name}" appears twice`);
    }
    target.layout.push({ fileOffset, objectOffset: member.dataOffset, length: member.size });
    if (!source || target.uncertain || target.uploaded !== fileOffset) return;
    const end = fileOffset + member.size;
    const send = end === target.size
      ? member.size - Math.min(TAIL_BYTES, member.size)
      : member.size;
    if (send > 0) await this.#tryPut(target, source, send);
  }

  /**
   * Sends whatever `target` still lacks, re-reading each missing byte range from the object
   * through `open(offset)` (a stream from that byte on; it is cancelled once read far enough).
   */
  async complete(
    target: UploadTarget,
    open: (offset: number) => Promise<ReadableStream<Uint8Array>>,
  ): Promise<void> {
    for (;;) {
      if (target.uncertain) await this.#readBack(target);
      if (target.uploaded >= target.size) return;
      const at = target.uploaded;
      const segment = target.layout.find((s) => s.fileOffset <= at && at < s.fileOffset + s.length);
      if (!segment) {
        throw new IntegrityError(
          `The OVA has no member with bytes ${at}-${target.size - 1} of "${target.name}", which ` +
            `its descriptor references`,
        );
      }
      const within = at - segment.fileOffset;
      const bytes = new StreamBytes(await open(segment.objectOffset + within));
      try {
        await this.#tryPut(target, bytes, segment.length - within);
      } finally {
        await bytes.cancel();
      }
    }
  }

  /** `#put`, turning a platform failure into a retry (bounded) instead of an error. */
  async #tryPut(target: UploadTarget, source: ByteSource, count: number): Promise<void> {
    try {
      await this.#put(target, source, count);
    } catch (error) {
      if (this.#options.signal.aborted || error instanceof IntegrityError) throw error;
      target.uncertain = true;
      target.failures++;
      if (target.failures > this.#options.maxFailures) {
        throw new PlatformError(
          `Uploading "${target.name}" failed ${target.failures} times; the last failure: ` +
            `${(error as Error).message}`,
          "upload",
          { cause: error },
        );
      }
      this.#options.log?.warn("a VCD upload piece failed; resuming from what VCD holds", {
        file: target.name,
        error: (error as Error).message,
      });
    }
  }

  /** Sends `count` bytes of `source` at `target.uploaded`, in pieces. */
  async #put(target: UploadTarget, source: ByteSource, count: number): Promise<void> {
    const { client, signal } = this.#options;
    let left = count;
    while (left > 0) {
      const length = Math.min(this.#options.pieceBytes, left);
      await client.keepAlive(signal);
      const body = new PieceBody(source, length);
      try {
        await client.transfer(target.url, {
          body: body.stream,
          start: target.uploaded,
          contentLength: length,
          total: target.size,
          signal,
          onProgress: (sent) => {
            this.#inFlight = sent;
            this.#report();
          },
        });
      } catch (error) {
        // The PUT may have ended while a read was pending: the source must be idle again
        // before anyone reads it, and its own failure explains the PUT's.
        await body.settled();
        throw body.sourceError ?? error;
      } finally {
        this.#inFlight = 0;
      }
      target.uploaded += length;
      left -= length;
      this.#report();
    }
  }

  /** Reads the file's position back from VCD after a failed PUT. */
  async #readBack(target: UploadTarget): Promise<void> {
    const template = await getTemplate(
      this.#options.client,
      this.#options.templateHref,
      this.#options.signal,
      "read upload progress",
    );
    const file = template.files.find((f) => f.name === target.name);
    if (!file) {
      throw new PlatformError(
        `VCD no longer lists "${target.name}" for the template being uploaded`,
        "upload",
      );
    }
    target.uploaded = file.bytesTransferred;
    if (file.uploadHref) target.url = file.uploadHref;
    target.uncertain = false;
    this.#report();
  }

  #report(): void {
    const done = this.targets.reduce((n, t) => n + t.uploaded, 0) + this.#inFlight;
    this.#options.progress(done);
  }
}

/**
 * A stream of exactly `length` bytes of `source`, pulled only when the HTTP client asks (no
 * read-ahead). `settled()` waits for a read still in progress after the request ended.
 */
class PieceBody {
  readonly stream: ReadableStream<Uint8Array>;
  sourceError?: unknown;
  #pending: Promise<void> = Promise.resolve();
  #cancelled = false;

  constructor(source: ByteSource, length: number) {
    let left = length;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        this.#pending = (async () => {
          const bytes = await source.read(left);
          if (this.#cancelled) return;
          if (!bytes) throw new IntegrityError(`the source ended ${left} bytes early`);
          left -= bytes.byteLength;
          controller.enqueue(bytes);
          if (left === 0) controller.close();
        })().catch((error) => {
          this.sourceError ??= error;
          if (!this.#cancelled) controller.error(error);
        });
        return this.#pending;
      },
      cancel: () => {
        this.#cancelled = true;
      },
    }, { highWaterMark: 0 });
  }

  settled(): Promise<void> {
    return this.#pending;
  }
}

/** A `ByteSource` over a plain stream (a re-read byte range). */
class StreamBytes implements ByteSource {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #held: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async read(max: number): Promise<Uint8Array | undefined> {
    if (this.#held.byteLength === 0) {
      const { done, value } = await this.#reader.read();
      if (done) return undefined;
      this.#held = value;
    }
    const out = this.#held.subarray(0, max);
    this.#held = this.#held.subarray(out.byteLength);
    return out;
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
