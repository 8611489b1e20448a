/**
 * A push-style tar reader for verifying OVAs on the fly: it never buffers member data, only
 * 512-byte headers and size-bounded metadata (pax records, GNU long names).
 *
 * Understands ustar (name + prefix), pax extended headers (`path`, `size`), GNU long names (`L`),
 * base-256 sizes, and the end-of-archive zero block. Other member types pass through as entries
 * with their type flag; callers decide what to hash.
 *
 * Caveats: sparse files and multi-volume archives are not supported (OVAs do not use them).
 */
import { IntegrityError } from "../image/provider.ts";

const BLOCK = 512;
/** Upper bound for pax and long-name bodies; real ones are a few hundred bytes. */
const MAX_META_BYTES = 1 << 20;

export interface TarEntry {
  /** Full member path (pax `path` or GNU long name or ustar prefix/name). */
  name: string;
  size: number;
  /** Type flag: "0" regular file (also "" and "7"), "5" directory, … */
  type: string;
  /** Where the member's data starts, counted from the first byte pushed into the reader. */
  dataOffset: number;
}

/** Receives the archive's members in order. */
export interface TarHandler {
  entry(entry: TarEntry): void;
  /** A slice of the current member's data (a view into the caller's chunk; copy to keep). */
  data(chunk: Uint8Array): void;
  entryEnd(entry: TarEntry): void;
}

type State =
  | { kind: "header" }
  | { kind: "data"; entry: TarEntry; remaining: number; padding: number }
  | { kind: "meta"; type: string; body: Uint8Array; filled: number; padding: number }
  | { kind: "padding"; remaining: number }
  | { kind: "end" };

const decoder = new TextDecoder();

function text(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul === -1 ? field : field.subarray(0, nul));
}

function padOf(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Feed chunks with `push`, then call `end`; both throw `IntegrityError` on malformed input. */
export class TarReader {
  readonly #handler: TarHandler;
  readonly #subject: string;
  readonly #header = new Uint8Array(BLOCK);
  #headerFilled = 0;
  #state: State = { kind: "header" };
  #offset = 0;
  /** Overrides for the next header from a pax `x` or GNU `L` record. */
  #pending: { name?: string; size?: number } = {};

  constructor(handler: TarHandler, subject: string) {
    this.#handler = handler;
    this.#subject = subject;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.byteLength) {
      const state = this.#state;
      const available = chunk.byteLength - at;
      switch (state.kind) {
        case "end":
          // Anything after the end marker (more zero blocks, padding to a record) is ignored.
          this.#offset += available;
          return;
        case "header": {
          const take = Math.min(BLOCK - this.#headerFilled, available);
          this.#header.set(chunk.subarray(at, at + take), this.#headerFilled);
          this.#headerFilled += take;
          at += take;
          if (this.#headerFilled === BLOCK) {
            this.#headerFilled = 0;
            this.#onHeader();
            this.#offset += BLOCK;
          }
          break;
        }
        case "data": {
          const take = Math.min(state.remaining, available);
          if (take > 0) this.#handler.data(chunk.subarray(at, at + take));
          state.remaining -= take;
          at += take;
          this.#offset += take;
          if (state.remaining === 0) {
            this.#handler.entryEnd(state.entry);
            this.#state = { kind: "padding", remaining: state.padding };
          }
          break;
        }
        case "meta": {
          const take = Math.min(state.body.byteLength - state.filled, available);
          state.body.set(chunk.subarray(at, at + take), state.filled);
          state.filled += take;
          at += take;
          this.#offset += take;
          if (state.filled === state.body.byteLength) {
            this.#onMeta(state.type, state.body);
            this.#state = { kind: "padding", remaining: state.padding };
          }
          break;
        }
        case "padding": {
          const take = Math.min(state.remaining, available);
          state.remaining -= take;
          at += take;
          this.#offset += take;
          break;
        }
      }
      if (this.#state.kind === "padding" && this.#state.remaining === 0) {
        this.#state = { kind: "header" };
      }
    }
  }

  /** Declares the input complete; throws when it stopped inside a header or a member. */
  end(): void {
    const state = this.#state;
    if (state.kind === "data") {
      throw this.#error(
        `ends inside member "${state.entry.name}" (${state.remaining} of ${state.entry.size} ` +
          `bytes missing)`,
      );
    }
    if (state.kind === "meta" || this.#headerFilled > 0) {
      throw this.#error(`ends inside a tar header at offset ${this.#offset}`);
    }
  }

  #error(detail: string): IntegrityError {
    return new IntegrityError(`Malformed OVA ${this.#subject}: ${detail}`);
  }

  #onHeader(): void {
    const block = this.#header;
    if (block.every((b) => b === 0)) {
      this.#state = { kind: "end" };
      return;
    }
    const stored = parseOctal(text(block, 148, 8));
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
    if (stored !== sum) {
      throw this.#error(
        `not a tar archive (bad header checksum at offset ${this.#offset})`,
      );
    }
    const type = text(block, 156, 1);
    const size = this.#pending.size ?? parseSize(block.subarray(124, 136));
    if (!Number.isSafeInteger(size) || size < 0) {
      throw this.#error(`invalid member size at offset ${this.#offset}`);
    }
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      if (size > MAX_META_BYTES) {
        throw this.#error(`${type} header of ${size} bytes exceeds ${MAX_META_BYTES}`);
      }
      this.#state = {
        kind: "meta",
        type,
        body: new Uint8Array(size),
        filled: 0,
        padding: padOf(size),
      };
      if (size === 0) this.#state = { kind: "padding", remaining: 0 };
      return;
    }
    const ustar = text(block, 257, 5) === "ustar";
    const prefix = ustar ? text(block, 345, 155) : "";
    const base = text(block, 0, 100);
    const entry: TarEntry = {
      name: this.#pending.name ?? (prefix ? `${prefix}/${base}` : base),
      size,
      type,
      // `#offset` is still this header's own offset (it advances after this returns).
      dataOffset: this.#offset + BLOCK,
    };
    this.#pending = {};
    this.#handler.entry(entry);
    // Directories, links and devices carry no data even if a size is recorded for links.
    const dataSize = type === "1" || type === "2" || type === "3" || type === "4" || type === "5"
      ? 0
      : size;
    if (dataSize === 0) {
      this.#handler.entryEnd(entry);
      this.#state = { kind: "padding", remaining: 0 };
    } else {
      this.#state = { kind: "data", entry, remaining: dataSize, padding: padOf(dataSize) };
    }
  }

  #onMeta(type: string, body: Uint8Array): void {
    if (type === "L") {
      this.#pending.name = text(body, 0, body.byteLength);
    } else if (type === "x") {
      const records = parsePax(body);
      if (records.path !== undefined) this.#pending.name = records.path;
      if (records.size !== undefined) {
        const size = Number(records.size);
        if (!Number.isSafeInteger(size) || size < 0) {
          throw this.#error(`invalid pax size "${records.size}"`);
        }
        this.#pending.size = size;
      }
    }
    // "g" (global pax) and "K" (GNU long link name) do not affect which bytes belong to whom.
  }
}

function parseOctal(field: string): number {
  const trimmed = field.replace(/[\0 ]+$/g, "").trim();
  if (!/^[0-7]*$/.test(trimmed)) return NaN;
  return trimmed === "" ? 0 : parseInt(trimmed, 8);
}

/** Octal, or GNU base-256 when the first byte has its high bit set (members ≥ 8 GiB). */
function parseSize(field: Uint8Array): number {
  if (field[0] & 0x80) {
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.byteLength; i++) value = value * 256 + field[i];
    return value;
  }
  return parseOctal(text(field, 0, field.byteLength));
}

/** Pax records: `"<len> <key>=<value>\n"`, where len counts the whole record in bytes. */
function parsePax(body: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < body.byteLength) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const length = parseInt(decoder.decode(body.subarray(at, space)), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > body.byteLength) break;
    const record = decoder.decode(body.subarray(space + 1, at + length - 1));
    const eq = record.indexOf("=");
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}
