/**
 * The few ASN.1 DER encodings an X.509 certificate needs: each function returns one complete
 * TLV (tag, length, value). Definite lengths only, as DER requires.
 */

function tlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.byteLength;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + length.length + n);
  out[0] = tag;
  out.set(length, 1);
  out.set(value, 1 + length.length);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

export const sequence = (...items: Uint8Array[]) => tlv(0x30, concat(items));
export const set = (...items: Uint8Array[]) => tlv(0x31, concat(items));
/** `[n] EXPLICIT` (constructed, context-specific). */
export const explicit = (n: number, item: Uint8Array) => tlv(0xa0 + n, item);
/** `[n] IMPLICIT` of a primitive (context-specific): SAN `dNSName` is 2, `iPAddress` 7. */
export const implicitPrimitive = (n: number, value: Uint8Array) => tlv(0x80 + n, value);
export const octetString = (value: Uint8Array) => tlv(0x04, value);
export const utf8String = (text: string) => tlv(0x0c, new TextEncoder().encode(text));
export const boolean = (value: boolean) => tlv(0x01, new Uint8Array([value ? 0xff : 0]));
/** A BIT STRING; `unusedBits` trailing bits of the last byte are not part of it. */
export const bitString = (value: Uint8Array, unusedBits = 0) =>
  tlv(0x03, concat([new Uint8Array([unusedBits]), value]));

/** A non-negative INTEGER from big-endian bytes (leading zeros dropped, a 0 added if the top bit is set). */
export function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.byteLength - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, trimmed[0] & 0x80 ? concat([new Uint8Array([0]), trimmed]) : trimmed);
}

export const smallInteger = (n: number) => unsignedInteger(new Uint8Array([n]));

/** An OBJECT IDENTIFIER from dotted text. */
export function oid(dotted: string): Uint8Array {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) {
      base128.unshift((v & 0x7f) | 0x80);
    }
    bytes.push(...base128);
  }
  return tlv(0x06, new Uint8Array(bytes));
}

/** UTCTime (years 1950–2049), as X.509 validity wants it. */
export function utcTime(date: Date): Uint8Array {
  const text = date.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return tlv(0x17, new TextEncoder().encode(text));
}
