/**
 * The few ASN.1 DER encodings (X.690) an X.509 certificate needs. Each function returns one
 * complete TLV: tag, definite length, value.
 *
 * Guarantees: lengths in the shortest form DER requires; INTEGERs minimal and non-negative.
 * Caveats: only what `certificate.ts` uses; there is no decoder (node:crypto's `X509Certificate`
 * reads certificates back in tests).
 */

/** A TLV with `tag` around `value`. */
export function tlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.byteLength;
  const length: number[] = [];
  if (n < 0x80) length.push(n);
  else {
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) length.unshift(rest & 0xff);
    length.unshift(0x80 | length.length);
  }
  const out = new Uint8Array(1 + length.length + n);
  out[0] = tag;
  out.set(length, 1);
  out.set(value, 1 + length.length);
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
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

/** An INTEGER from 0 to 255. */
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

/** A certificate time: UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5). */
export function time(date: Date): Uint8Array {
  const text = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, new TextEncoder().encode(text.slice(2)))
    : tlv(0x18, new TextEncoder().encode(text));
}
