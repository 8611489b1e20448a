/** The DER encodings against the bytes X.690 and RFC 5280 give for them. */
import assert from "node:assert/strict";
import {
  bitString,
  boolean,
  oid,
  sequence,
  time,
  tlv,
  unsignedInteger,
  utf8String,
} from "../../lib/tls/der.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

Deno.test("lengths take the short form below 128 bytes and the fewest long-form bytes above", async (t) => {
  for (
    const [size, header] of [
      [0, "04 00"],
      [127, "04 7f"],
      [128, "04 81 80"],
      [255, "04 81 ff"],
      [256, "04 82 01 00"],
      [65_536, "04 83 01 00 00"],
    ] as const
  ) {
    await t.step(`${size} bytes`, () => {
      const encoded = tlv(0x04, new Uint8Array(size).fill(0xab));
      const headerLength = header.split(" ").length;
      assert.equal(hex(encoded.subarray(0, headerLength)), header);
      assert.equal(encoded.length, headerLength + size);
    });
  }
});

Deno.test("INTEGERs are minimal and never negative", async (t) => {
  for (
    const [input, expected] of [
      [[0], "02 01 00"],
      [[0, 0, 0], "02 01 00"],
      [[0x7f], "02 01 7f"],
      [[0x80], "02 02 00 80"],
      [[0, 0, 0x80, 1], "02 03 00 80 01"],
      [[0, 0x12, 0x34], "02 02 12 34"],
    ] as const
  ) {
    await t.step(`${input}`, () => {
      assert.equal(hex(unsignedInteger(new Uint8Array(input))), expected);
    });
  }
});

Deno.test("OIDs encode arcs of 128 and more in base 128", () => {
  // ecdsa-with-SHA256 and commonName, as they appear in every certificate.
  assert.equal(hex(oid("1.2.840.10045.4.3.2")), "06 08 2a 86 48 ce 3d 04 03 02");
  assert.equal(hex(oid("2.5.4.3")), "06 03 55 04 03");
  assert.equal(hex(oid("1.3.6.1.4.1.311.21.20")), "06 09 2b 06 01 04 01 82 37 15 14");
});

Deno.test("times are UTCTime before 2050 and GeneralizedTime from 2050 on", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(2));
  const before = time(new Date("2049-12-31T23:59:59.999Z"));
  assert.equal(before[0], 0x17);
  assert.equal(text(before), "491231235959Z");
  const after = time(new Date("2050-01-01T00:00:00Z"));
  assert.equal(after[0], 0x18);
  assert.equal(text(after), "20500101000000Z");
});

Deno.test("the other primitives and constructed types", () => {
  assert.equal(hex(boolean(true)), "01 01 ff");
  assert.equal(hex(boolean(false)), "01 01 00");
  assert.equal(hex(bitString(new Uint8Array([0x80]), 7)), "03 02 07 80");
  assert.equal(hex(utf8String("é")), "0c 02 c3 a9");
  assert.equal(hex(sequence(boolean(true), sequence())), "30 05 01 01 ff 30 00");
});
