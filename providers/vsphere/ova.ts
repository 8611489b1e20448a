/**
 * Reading an OVA (an uncompressed tar) as a stream: the OVF descriptor from its head, and the
 * members an import needs, each as its own stream, in archive order.
 *
 * Guarantees:
 * - `readDescriptor` reads only up to the end of the `.ovf` member (the OVA standard puts it
 *   first) and then cancels the download; a descriptor over `MAX_OVF_BYTES` is refused.
 * - `splitMembers` never holds more than one source chunk: the next chunk is read only once the
 *   member being fed has been pulled by its consumer (the NFC upload), so memory is flat
 *   whatever the OVA's size. Members nobody asked for are skipped as they pass.
 * - A member stream yields exactly the tar header's size in bytes, or errors (with the
 *   source's error, e.g. an `IntegrityError` from the manifest check, or a truncated archive).
 */
import { IntegrityError, PlatformError } from "../types.ts";
import { type TarEntry, TarReader } from "../../lib/integrity/mod.ts";

/** Largest OVF descriptor accepted. */
export const MAX_OVF_BYTES = 16 * 1024 * 1024;

/** Manifest names are relative to the archive root; some tools store `./name`. */
export function memberName(entry: TarEntry): string {
  return entry.name.replace(/^(\.\/)+/, "");
}

function isRegular(entry: TarEntry): boolean {
  return entry.type === "" || entry.type === "0" || entry.type === "7";
}

/** The OVF descriptor at the head of an OVA stream. */
export async function readDescriptor(
  stream: ReadableStream<Uint8Array>,
  subject: string,
): Promise<{ name: string; text: string }> {
  const reader = stream.getReader();
  let found: { name: string; text: string } | undefined;
  let collecting: { name: string; parts: Uint8Array[]; size: number } | undefined;
  const tar = new TarReader({
    entry(entry) {
      if (found || !isRegular(entry) || !memberName(entry).toLowerCase().endsWith(".ovf")) return;
      if (entry.size > MAX_OVF_BYTES) {
        throw new PlatformError(
          `OVF descriptor "${memberName(entry)}" in ${subject} is ${entry.size} bytes, more than ` +
            `${MAX_OVF_BYTES}`,
          "read OVF",
        );
      }
      collecting = { name: memberName(entry), parts: [], size: entry.size };
    },
    data(chunk) {
      collecting?.parts.push(chunk.slice());
    },
    entryEnd() {
      if (!collecting) return;
      const bytes = new Uint8Array(collecting.size);
      let at = 0;
      for (const part of collecting.parts) {
        bytes.set(part, at);
        at += part.byteLength;
      }
      found = { name: collecting.name, text: new TextDecoder().decode(bytes) };
      collecting = undefined;
    },
  }, subject);
  try {
    while (!found) {
      const { done, value } = await reader.read();
      if (done) {
        tar.end();
        break;
      }
      tar.push(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  if (!found) {
    throw new IntegrityError(`Malformed OVA ${subject}: it holds no .ovf descriptor`);
  }
  return found;
}

/** One member to be handed out: its stream is created when the member's header passes. */
export interface MemberStream {
  name: string;
  size: number;
  body: ReadableStream<Uint8Array>;
}

/**
 * Reads `source` to its end, handing each member named in `wanted` to `onMember` as a stream
 * (in archive order, as its header passes). Resolves when the archive ended and every wanted
 * member was handed out; rejects (and errors the member being fed) on a source or tar error,
 * or when `signal` aborts.
 * @throws {IntegrityError} when a wanted member is not in the archive.
 */
export async function splitMembers(
  source: ReadableStream<Uint8Array>,
  wanted: ReadonlySet<string>,
  onMember: (member: MemberStream) => void,
  subject: string,
  signal: AbortSignal,
): Promise<void> {
  const reader = source.getReader();
  let current: Feed | undefined;
  const seen = new Set<string>();
  const tar = new TarReader({
    entry(entry) {
      current = undefined;
      const name = memberName(entry);
      if (!isRegular(entry) || !wanted.has(name) || seen.has(name)) return;
      seen.add(name);
      current = new Feed();
      onMember({ name, size: entry.size, body: current.stream });
    },
    data(chunk) {
      current?.push(chunk);
    },
    entryEnd() {
      current?.close();
      current = undefined;
    },
  }, subject);
  try {
    for (;;) {
      if (current) await untilAborted(current.demand(), signal);
      const { done, value } = await untilAborted(reader.read(), signal);
      if (done) {
        tar.end();
        break;
      }
      tar.push(value);
    }
  } catch (error) {
    current?.fail(error);
    reader.cancel(error).catch(() => {});
    throw error;
  }
  const absent = [...wanted].filter((name) => !seen.has(name));
  if (absent.length > 0) {
    throw new IntegrityError(
      `Malformed OVA ${subject}: the OVF names ${absent.map((n) => `"${n}"`).join(", ")}, ` +
        `not found in the archive`,
    );
  }
}

/**
 * `promise`, or the signal's reason once it aborts. A listener per call, removed when the
 * promise settles: racing every read against one long-lived abort promise would keep every
 * chunk read alive until the end (its reactions pile up on that promise).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The stream of one member, fed by `splitMembers` as its consumer pulls. */
class Feed {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #wanted?: () => void;
  #pulled = false;
  #done = false;

  constructor() {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        this.#pulled = true;
        this.#wanted?.();
      },
      cancel: () => {
        this.#done = true;
        this.#wanted?.();
      },
    }, { highWaterMark: 0 });
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    this.#pulled = false;
    this.#controller.enqueue(chunk);
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.close();
    this.#wanted?.();
  }

  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.error(error);
  }

  /** Resolves once the consumer asked for more (or went away). */
  demand(): Promise<void> {
    if (this.#done || this.#pulled) return Promise.resolve();
    return new Promise((resolve) => (this.#wanted = resolve));
  }
}
