/**
 * The OVF descriptor reader and the hardware-version patch: namespace-aware, byte-preserving.
 */
import assert from "node:assert/strict";
import { patchHardwareVersion, readOvf } from "../../providers/vcd/mod.ts";
import { IntegrityError } from "../../lib/image/provider.ts";
import { ovfDescriptor } from "../support/images.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";

Deno.test("readOvf lists References/File with size and chunkSize", () => {
  const text = ovfDescriptor("disk.vmdk", 4096).replace(
    'ovf:size="4096"',
    'ovf:size="4096" ovf:chunkSize="1024"',
  );
  const descriptor = readOvf(encode(text), "test.ovf");
  assert.deepEqual(descriptor.files, [{
    id: "file1",
    href: "disk.vmdk",
    size: 4096,
    chunkSize: 1024,
  }]);
  assert.deepEqual(descriptor.hardwareTypes, ["vmx-09"]);
});

Deno.test("the hardware version is patched by namespace, whatever the prefix", async (t) => {
  const base = ovfDescriptor("disk.vmdk", 4096);
  const cases: [string, string, string][] = [
    ["the usual vssd prefix", base, "<vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>"],
    [
      "another prefix",
      base.replace('xmlns:vssd="', 'xmlns:ns4="').replaceAll("vssd:", "ns4:"),
      "<ns4:VirtualSystemType>vmx-19</ns4:VirtualSystemType>",
    ],
    [
      "a default namespace on System",
      base.replace("<System>", `<System xmlns="${VSSD}">`).replaceAll("vssd:", ""),
      "<VirtualSystemType>vmx-19</VirtualSystemType>",
    ],
    [
      "several types, attributes with '>' in them",
      base.replace(
        "<vssd:VirtualSystemType>vmx-09</vssd:VirtualSystemType>",
        `<vssd:VirtualSystemType note="a>b">vmx-07 vmx-09</vssd:VirtualSystemType>`,
      ),
      `<vssd:VirtualSystemType note="a>b">vmx-19</vssd:VirtualSystemType>`,
    ],
    [
      "an empty element",
      base.replace(
        "<vssd:VirtualSystemType>vmx-09</vssd:VirtualSystemType>",
        "<vssd:VirtualSystemType/>",
      ),
      "<vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>",
    ],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => {
      const patched = patchHardwareVersion(readOvf(encode(text), "x.ovf"), 19);
      assert.ok(patched.includes(expected), patched);
      assert.deepEqual(readOvf(encode(patched), "x.ovf").hardwareTypes, ["vmx-19"]);
      // Only the element's text changed.
      const at = patched.indexOf(expected);
      assert.equal(patched.slice(0, at), text.slice(0, at));
    });
  }
});

Deno.test("a VirtualSystemType of another namespace, or in a comment, is left alone", () => {
  const text = `<?xml version="1.0"?>
<!-- <vssd:VirtualSystemType>vmx-04</vssd:VirtualSystemType> -->
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:vssd="urn:not-cim">
  <VirtualSystem><VirtualHardwareSection><System>
    <vssd:VirtualSystemType>vmx-09</vssd:VirtualSystemType>
  </System></VirtualHardwareSection></VirtualSystem>
</Envelope>`;
  const descriptor = readOvf(encode(text), "x.ovf");
  assert.deepEqual(descriptor.hardwareTypes, []);
  assert.equal(patchHardwareVersion(descriptor, 19), text);
});

Deno.test("a byte order mark is kept and offsets still hit", () => {
  const text = "\uFEFF" + ovfDescriptor("disk.vmdk", 1);
  const patched = patchHardwareVersion(readOvf(encode(text), "x.ovf"), 21);
  assert.ok(patched.startsWith("\uFEFF<?xml"));
  assert.ok(patched.includes("<vssd:VirtualSystemType>vmx-21</vssd:VirtualSystemType>"));
});

Deno.test("malformed descriptors are IntegrityErrors naming the problem", async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["not XML", encode("<Envelope><References></Envelope>"), /line 1/],
    ["not UTF-8", new Uint8Array([0x3c, 0xff, 0xfe, 0x3e]), /not UTF-8/],
    ["not an OVF envelope", encode(`<Envelope xmlns="urn:x"/>`), /not an OVF Envelope/],
    [
      "a file without href",
      encode(ovfDescriptor("d", 1).replace(' ovf:href="d"', "")),
      /has no href/,
    ],
    [
      "a negative size",
      encode(ovfDescriptor("d", 1).replace('ovf:size="1"', 'ovf:size="-5"')),
      /size "-5"/,
    ],
  ];
  for (const [name, bytes, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => readOvf(bytes, "flatcar.ovf in s3://b/k"), (error: Error) => {
        assert.ok(error instanceof IntegrityError);
        assert.match(error.message, /flatcar\.ovf in s3:\/\/b\/k/);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});
