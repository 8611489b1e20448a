/**
 * Reads an OVA stream member by member, pulling: the caller asks for the next member and for
 * bytes of the current one, and the source is read only as fast as the caller consumes.
 *
 * Built on the integrity module's push-style tar reader: each source chunk is pushed through
 * it and its callbacks are queued as events holding views into that chunk, so at most one
 * source chunk is held at a time and member data is never copied.
 *
 * Guarantees:
 * - `read` returns at most `max` bytes of the current member and `undefined` at its end.
 * - `next` skips what is left of the current member and returns the next one (with the offset
 *   of its data in the stream), or `undefined` after the last.
 * - `drain` reads the stream to its very end, so the source's verifiers (size, digest,
 *   manifest) run their final checks; their errors, like a malformed archive, reject the call.
 * - `readHead` takes the descriptor (and the manifest right after it) into memory, bounded.
 */
import { type TarEntry, TarReader } from "../../lib/integrity/_tar.ts";
import { MAX_MANIFEST_BYTES } from "../../lib/integrity/mod.ts";
import { IntegrityError } from "../types.ts";
import { MAX_OVF_BYTES } from "./ovf.ts";

/** One member of the OVA. */
export interface OvaMember {
  /** Path in the archive without a leading `./`. */
  name: string;
  size: number;
  /** Offset of the member's data from the start of the stream. */
  dataOffset: number;
  /** A regular file (other types carry no data we use). */
  regular: boolean;
}

type Event =
  | { kind: "entry"; member: OvaMember }
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "end" };

export class OvaMemberReader {
  readonly #source: ReadableStreamDefaultReader<Uint8Array>;
  readonly #tar: TarReader;
  #events: Event[] = [];
  #head = 0;
  #done = false;
  /** Inside a member whose `end` event has not been consumed yet. */
  #inMember = false;

  constructor(stream: ReadableStream<Uint8Array>, subject: string) {
    this.#source = stream.getReader();
    this.#tar = new TarReader({
      entry: (entry: TarEntry) => this.#events.push({ kind: "entry", member: memberOf(entry) }),
      data: (bytes) => this.#events.push({ kind: "data", bytes }),
      entryEnd: () => this.#events.push({ kind: "end" }),
    }, subject);
  }

  /** The next member, or undefined after the last one. */
  async next(): Promise<OvaMember | undefined> {
    for (;;) {
      const event = await this.#peek();
      if (!event) return undefined;
      this.#head++;
      if (event.kind === "entry") {
        this.#inMember = true;
        return event.member;
      }
      if (event.kind === "end") this.#inMember = false;
    }
  }

  /** Up to `max` bytes of the current member; undefined once it has been read whole. */
  async read(max: number): Promise<Uint8Array | undefined> {
    if (!this.#inMember) return undefined;
    const event = await this.#peek();
    if (!event || event.kind === "entry") {
      this.#inMember = false;
      return undefined;
    }
    if (event.kind === "end") {
      this.#head++;
      this.#inMember = false;
      return undefined;
    }
    if (event.bytes.byteLength <= max) {
      this.#head++;
      return event.bytes;
    }
    const part = event.bytes.subarray(0, max);
    event.bytes = event.bytes.subarray(max);
    return part;
  }

  /** Reads everything that is left, so the stream ends (and its verifiers conclude). */
  async drain(): Promise<void> {
    while (await this.next()) { /* skip */ }
  }

  /** Stops reading; the source is cancelled. */
  async cancel(reason?: unknown): Promise<void> {
    this.#done = true;
    await this.#source.cancel(reason).catch(() => {});
  }

  async #peek(): Promise<Event | undefined> {
    while (this.#head >= this.#events.length) {
      if (this.#done) return undefined;
      this.#events = [];
      this.#head = 0;
      const { done, value } = await this.#source.read();
      if (done) {
        this.#done = true;
        this.#tar.end();
        return undefined;
      }
      this.#tar.push(value);
    }
    return this.#events[this.#head];
  }
}

/** The descriptor, the members before it, and the first member still to process. */
export async function readHead(reader: OvaMemberReader, key: string): Promise<{
  descriptorName: string;
  descriptor: Uint8Array;
  before: OvaMember[];
  next: OvaMember | undefined;
}> {
  const before: OvaMember[] = [];
  for (;;) {
    const member = await reader.next();
    if (!member) throw new IntegrityError(`The OVA ${key} has no OVF descriptor (.ovf member)`);
    if (!member.regular) continue;
    if (!member.name.toLowerCase().endsWith(".ovf")) {
      before.push(member);
      continue;
    }
    if (member.size > MAX_OVF_BYTES) {
      throw new IntegrityError(
        `The OVF descriptor ${member.name} in ${key} is ${member.size} bytes, more than ` +
          `${MAX_OVF_BYTES}`,
      );
    }
    const descriptor = await readMember(reader, member.size);
    let next = await reader.next();
    // The manifest right after the descriptor is read through, so the source's verifier has
    // compared the descriptor with it before anything is created in VCD.
    if (
      next?.regular && next.name.toLowerCase().endsWith(".mf") && next.size <= MAX_MANIFEST_BYTES
    ) {
      await readMember(reader, next.size);
      next = await reader.next();
    }
    return { descriptorName: member.name, descriptor, before, next };
  }
}

async function readMember(reader: OvaMemberReader, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let at = 0;
  for (let bytes = await reader.read(size); bytes; bytes = await reader.read(size - at)) {
    out.set(bytes, at);
    at += bytes.byteLength;
    if (at === size) break;
  }
  return out;
}

function memberOf(entry: TarEntry): OvaMember {
  return {
    name: entry.name.replace(/^(\.\/)+/, ""),
    size: entry.size,
    dataOffset: entry.dataOffset,
    regular: entry.type === "" || entry.type === "0" || entry.type === "7",
  };
}
