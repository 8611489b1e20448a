import assert from "node:assert/strict";
import { IntegrityError } from "../../lib/image/provider.ts";
import { ovaManifestVerifier, parseOvaManifest, VerificationLog } from "../../lib/integrity/mod.ts";
import { type TarEntry, TarReader } from "../../lib/integrity/_tar.ts";
import { ova, readAll, streamOf, tarArchive } from "../support/images.ts";

const subject = "s3://images/capv/x/flatcar.ova";
const encoder = new TextEncoder();

async function verify(
  bytes: Uint8Array,
  chunk = 65536,
): Promise<{ log: VerificationLog; error?: unknown }> {
  const log = new VerificationLog();
  const stream = streamOf(bytes, chunk).pipeThrough(ovaManifestVerifier({ subject, log }));
  try {
    const out = await readAll(stream);
    assert.deepEqual(out, bytes, "bytes must pass unchanged");
    return { log };
  } catch (error) {
    return { log, error };
  }
}

function assertIntegrity(error: unknown, ...parts: string[]): void {
  assert.ok(error instanceof IntegrityError, `expected IntegrityError, got ${error}`);
  for (const part of parts) {
    assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
  }
}

Deno.test("a valid OVA passes with its manifest verified, whatever the chunk size", async (t) => {
  for (const chunk of [1, 7, 512, 513, 65536]) {
    await t.step(`chunks of ${chunk} bytes`, async () => {
      const { log, error } = await verify(ova().build(), chunk);
      assert.equal(error, undefined);
      assert.deepEqual(log.list(), ["manifest sha256 of 2 files ok"]);
    });
  }
});

Deno.test("a manifest that comes last still verifies the members before it", async (t) => {
  for (const algorithm of ["sha1", "sha256", "sha512"] as const) {
    await t.step(algorithm, async () => {
      const { log, error } = await verify(
        ova().withManifestLast().withAlgorithm(algorithm).build(),
      );
      assert.equal(error, undefined);
      assert.deepEqual(log.list(), [`manifest ${algorithm} of 2 files ok`]);
    });
  }
});

Deno.test("a tampered disk fails naming the member and both digests", async () => {
  const { error, log } = await verify(ova().withCorruptedMember("flatcar-disk1.vmdk").build());
  assertIntegrity(
    error,
    "Manifest mismatch",
    subject,
    `member "flatcar-disk1.vmdk"`,
    "sha256 expected",
  );
  const message = (error as Error).message;
  const digests = message.match(/[0-9a-f]{64}/g) ?? [];
  assert.equal(digests.length, 2, message);
  assert.notEqual(digests[0], digests[1]);
  assert.deepEqual(log.list(), []);
});

Deno.test("a wrong manifest line for the OVF fails when the manifest arrives late", async () => {
  const { error } = await verify(
    ova().withManifestLast().withWrongDigestFor("flatcar.ovf").build(),
  );
  assertIntegrity(error, `member "flatcar.ovf"`, "flatcar.mf");
});

Deno.test("the mismatch errors the stream before the bytes after the bad member pass", async () => {
  const bytes = ova().withCorruptedMember("flatcar-disk1.vmdk")
    .withExtraMember({ name: "padding.bin", data: new Uint8Array(1 << 20) })
    .build();
  let passed = 0;
  const counted = streamOf(bytes, 4096).pipeThrough(ovaManifestVerifier({ subject })).pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        passed += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  await assert.rejects(readAll(counted), IntegrityError);
  assert.ok(passed < bytes.byteLength - (1 << 20), `passed ${passed} of ${bytes.byteLength}`);
});

Deno.test("an OVA without a manifest passes and is logged as such", async () => {
  const { log, error } = await verify(ova().withoutManifest().build());
  assert.equal(error, undefined);
  assert.deepEqual(log.list(), ["no manifest (2 members)"]);
});

Deno.test("a manifest listing a file the OVA lacks is a mismatch", async () => {
  const line = `SHA256(flatcar-disk2.vmdk)= ${"a".repeat(64)}`;
  const { error } = await verify(ova().withManifestLine(line).build());
  assertIntegrity(error, `"flatcar-disk2.vmdk", not found in the OVA`);
});

Deno.test("members outside the manifest are reported, a .cert is not", async () => {
  const bytes = ova()
    .withExtraMember({ name: "flatcar.cert", data: encoder.encode("cert") })
    .withExtraMember({ name: "notes.txt", data: encoder.encode("hi") })
    .withExtraMember({ name: "listed.iso", data: encoder.encode("iso") }, true)
    .build();
  const { log, error } = await verify(bytes);
  assert.equal(error, undefined);
  assert.deepEqual(log.list(), ["manifest sha256 of 3 files ok, not in manifest: notes.txt"]);
});

Deno.test("member paths with ./ prefix match manifest names", async () => {
  const { log, error } = await verify(ova().withPathPrefix("./").build());
  assert.equal(error, undefined);
  assert.deepEqual(log.list(), ["manifest sha256 of 2 files ok"]);
});

Deno.test("a truncated OVA fails naming the member it stopped in", async () => {
  const bytes = ova().build();
  const { error } = await verify(bytes.subarray(0, bytes.byteLength - 1024 - 100));
  assertIntegrity(error, `ends inside member "flatcar-disk1.vmdk"`, "100 of 4096 bytes missing");
});

Deno.test("bytes that are not a tar archive fail with a clear message", async () => {
  const html = encoder.encode("<html><body>AccessDenied</body></html>".padEnd(2048, " "));
  const { error } = await verify(html);
  assertIntegrity(error, "not a tar archive", subject);
});

Deno.test("an empty object or an archive without files is not an OVA", async (t) => {
  await t.step("empty", async () => {
    assertIntegrity((await verify(new Uint8Array(0))).error, "has no files");
  });
  await t.step("only the end-of-archive marker", async () => {
    assertIntegrity((await verify(tarArchive([]))).error, "has no files");
  });
});

Deno.test("a malformed manifest line is rejected with its line number", async () => {
  const bytes = ova().withManifestLine("MD5(flatcar.ovf)= 00").build();
  const { error } = await verify(bytes);
  assertIntegrity(error, "Malformed manifest", "line 3");
});

Deno.test("parseOvaManifest reads SHA1, SHA256 and SHA512 lines and rejects duplicates", () => {
  const text = [
    `SHA1(a.ovf)= ${"A".repeat(40)}`,
    "",
    `SHA256(b.vmdk) = ${"b".repeat(64)}\r`,
    `SHA512(c.iso)=${"c".repeat(128)}`,
  ].join("\n");
  const manifest = parseOvaManifest(text, "x.mf");
  assert.deepEqual([...manifest], [
    ["a.ovf", { algorithm: "sha1", hex: "a".repeat(40) }],
    ["b.vmdk", { algorithm: "sha256", hex: "b".repeat(64) }],
    ["c.iso", { algorithm: "sha512", hex: "c".repeat(128) }],
  ]);
  assert.throws(
    () => parseOvaManifest(`${text}\nSHA1(a.ovf)= ${"0".repeat(40)}`, "x.mf"),
    /listed twice/,
  );
  assert.throws(() => parseOvaManifest(`SHA256(a)= ${"0".repeat(40)}`, "x.mf"), /40-digit SHA256/);
});

Deno.test("the tar reader resolves pax and GNU long names", async (t) => {
  const long = "images/" + "deep/".repeat(30) + "flatcar-disk1.vmdk";
  for (const [label, options] of [["pax", {}], ["gnu", { gnuLongNames: true }]] as const) {
    await t.step(label, () => {
      const entries: TarEntry[] = [];
      const chunks: number[] = [];
      const reader = new TarReader({
        entry: (e) => entries.push(e),
        data: (c) => chunks.push(c.byteLength),
        entryEnd: () => {},
      }, "test.tar");
      const archive = tarArchive([{ name: long, data: encoder.encode("disk") }], options);
      reader.push(archive);
      reader.end();
      // The long-name record and its body come first; the member's own header follows.
      assert.deepEqual(entries, [{ name: long, size: 4, type: "0", dataOffset: 1536 }]);
      assert.equal(new TextDecoder().decode(archive.subarray(1536, 1540)), "disk");
      assert.deepEqual(chunks, [4]);
    });
  }
});
