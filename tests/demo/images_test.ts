/**
 * The demo's generated images are what they claim: OVAs pass the operator's own OVA
 * verification (tar layout, SHA256 manifest) with the OVF first and a streamOptimized VMDK, and
 * qcow2 images pass its qcow2 check.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ovaManifestVerifier, qcow2Verifier, VerificationLog } from "../../lib/integrity/mod.ts";
import { ovaImage } from "../../demo/images/ova.ts";
import { qcow2Image } from "../../demo/images/qcow2.ts";
import { seedObjects } from "../../demo/images/seed.ts";
import { planReleases } from "../../demo/releases.ts";

async function verify(bytes: Uint8Array, verifier: (log: VerificationLog) => TransformStream) {
  const log = new VerificationLog();
  await new Response(
    new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(verifier(log)),
  ).arrayBuffer();
  return log;
}

/** Members of a ustar archive: name, size, data offset; checks each header's checksum. */
function members(tar: Uint8Array): { name: string; size: number; at: number }[] {
  const out = [];
  const text = (from: number, length: number) =>
    new TextDecoder().decode(tar.subarray(from, from + length)).replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= tar.byteLength;) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break;
    assert.equal(text(at + 257, 6), "ustar", "ustar magic");
    const stored = parseInt(text(at + 148, 8).trim(), 8);
    const sum = tar.subarray(at, at + 512).reduce(
      (n, b, i) => n + (i >= 148 && i < 156 ? 32 : b),
      0,
    );
    assert.equal(stored, sum, `header checksum of member at ${at}`);
    const size = parseInt(text(at + 124, 12), 8);
    out.push({ name: text(at, 100), size, at: at + 512 });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

Deno.test("a generated OVA has the OVF first, a correct SHA256 manifest and a streamOptimized VMDK", async () => {
  const { bytes, members: names } = ovaImage({ baseName: "flatcar-x", totalBytes: 300_000 });
  const found = members(bytes);
  assert.deepEqual(found.map((m) => m.name), [
    "flatcar-x.ovf",
    "flatcar-x.mf",
    "flatcar-x-disk1.vmdk",
  ]);
  assert.deepEqual(names, found.map((m) => m.name));
  assert.ok(Math.abs(bytes.byteLength - 300_000) < 20_000, `size ${bytes.byteLength} near 300000`);

  const data = (i: number) => bytes.subarray(found[i].at, found[i].at + found[i].size);
  const manifest = new TextDecoder().decode(data(1));
  for (const i of [0, 2]) {
    const sum = createHash("sha256").update(data(i)).digest("hex");
    assert.ok(
      manifest.includes(`SHA256(${found[i].name})= ${sum}\n`),
      `manifest line of ${found[i].name}`,
    );
  }
  const ovf = new TextDecoder().decode(data(0));
  assert.match(ovf, new RegExp(`ovf:href="flatcar-x-disk1.vmdk" ovf:size="${found[2].size}"`));
  const vmdk = data(2);
  assert.equal(new TextDecoder().decode(vmdk.subarray(0, 4)), "KDMV");
  assert.equal(new DataView(vmdk.buffer, vmdk.byteOffset).getUint32(4, true), 3, "VMDK version 3");
  assert.match(new TextDecoder().decode(vmdk.subarray(512, 1024)), /createType="streamOptimized"/);

  const log = await verify(bytes, (l) => ovaManifestVerifier({ subject: "demo.ova", log: l }));
  assert.match(log.toString(), /manifest sha256 of 2 files ok/);
});

Deno.test("the operator's verification rejects a generated OVA with one byte changed", async () => {
  const { bytes } = ovaImage({ baseName: "flatcar-x", totalBytes: 64_000 });
  const tampered = bytes.slice();
  tampered[tampered.byteLength - 5_000] ^= 0xff;
  await assert.rejects(
    verify(tampered, (l) => ovaManifestVerifier({ subject: "demo.ova", log: l })),
    /flatcar-x-disk1\.vmdk/,
  );
});

Deno.test("a generated qcow2 image has the qcow2 v3 header and the requested size", async () => {
  const image = qcow2Image({ fileBytes: 100_000, virtualBytes: 2 ** 33 });
  assert.equal(image.byteLength, 100_000);
  const view = new DataView(image.buffer);
  assert.deepEqual([...image.subarray(0, 4)], [0x51, 0x46, 0x49, 0xfb]);
  assert.equal(view.getUint32(4), 3);
  assert.equal(view.getBigUint64(24), 2n ** 33n);
  const log = await verify(image, (l) => qcow2Verifier({ subject: "demo.qcow2", log: l }));
  assert.match(log.toString(), /qcow2 v3 magic ok/);
});

Deno.test("the demo seeds one object per distinct key: vSphere and VCD share the OVA", () => {
  const plan = planReleases(["proxmox", "vcd", "vsphere"]);
  const objects = seedObjects(plan.releases, 8192);
  assert.deepEqual(objects.map((o) => o.key), [
    "capmox/flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs/flatcar-stable-4459.2.4-kube-v1.34.5.qcow2",
    "capv/flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs/flatcar-stable-4459.2.4-kube-v1.34.5.ova",
  ]);
});
