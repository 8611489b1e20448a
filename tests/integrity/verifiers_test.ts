import assert from "node:assert/strict";
import { IntegrityError } from "../../lib/image/provider.ts";
import {
  digestVerifier,
  qcow2Verifier,
  sizeVerifier,
  VerificationLog,
  verifyStream,
} from "../../lib/integrity/mod.ts";
import { digestHex, ova, qcow2, readAll, streamOf } from "../support/images.ts";

const subject = "s3://images/capmox/x/y.qcow2";
const data = new Uint8Array(10_000).map((_, i) => i * 7);

async function rejectsIntegrity(promise: Promise<unknown>, ...parts: string[]): Promise<string> {
  const error = await promise.then(() => undefined, (e) => e);
  assert.ok(error instanceof IntegrityError, `expected IntegrityError, got ${error}`);
  for (const part of parts) {
    assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
  }
  return error.message;
}

Deno.test("size verifier passes exactly the expected bytes and logs the size", async () => {
  const log = new VerificationLog();
  const out = await readAll(
    streamOf(data, 333).pipeThrough(sizeVerifier(10_000, { subject, log })),
  );
  assert.deepEqual(out, data);
  assert.deepEqual(log.list(), ["size 10000 ok"]);
});

Deno.test("size verifier reports a truncated stream with both sizes", async () => {
  const log = new VerificationLog();
  const stream = streamOf(data.subarray(0, 9_000)).pipeThrough(
    sizeVerifier(10_000, { subject, log }),
  );
  await rejectsIntegrity(readAll(stream), subject, "expected 10000 bytes", "got 9000");
  assert.deepEqual(log.list(), []);
});

Deno.test("size verifier errors at the chunk that overshoots, before passing it on", async () => {
  const reader = streamOf(data, 4_000).pipeThrough(sizeVerifier(5_000, { subject })).getReader();
  const first = await reader.read();
  assert.equal(first.value?.byteLength, 4_000);
  await rejectsIntegrity(reader.read(), "expected 5000 bytes", "at least 8000");
});

Deno.test("digest verifier accepts the right sha256 and names its origin", async () => {
  const log = new VerificationLog();
  const hex = digestHex("sha256", data);
  const verifier = digestVerifier({ algorithm: "sha256", hex }, {
    subject,
    log,
    origin: "sidecar",
  });
  assert.deepEqual(await readAll(streamOf(data, 1000).pipeThrough(verifier)), data);
  assert.deepEqual(log.list(), ["sha256 ok (sidecar)"]);
});

Deno.test("digest verifier mismatch carries both digests", async () => {
  const expected = digestHex("sha256", new Uint8Array([1, 2, 3]));
  const actual = digestHex("sha256", data);
  const verifier = digestVerifier({ algorithm: "sha256", hex: expected }, { subject });
  await rejectsIntegrity(readAll(streamOf(data).pipeThrough(verifier)), expected, actual, subject);
});

Deno.test("digest verifier refuses a digest of the wrong length up front", () => {
  assert.throws(
    () => digestVerifier({ algorithm: "sha256", hex: "abc" }, { subject }),
    /"abc" is not a sha256 digest/,
  );
});

Deno.test("qcow2 verifier accepts the magic even when split across chunks", async () => {
  const log = new VerificationLog();
  const header = qcow2().build();
  assert.deepEqual(
    await readAll(streamOf(header, 3).pipeThrough(qcow2Verifier({ subject, log }))),
    header,
  );
  assert.deepEqual(log.list(), ["qcow2 v3 magic ok"]);
});

Deno.test("qcow2 verifier rejects an OVA uploaded under a qcow2 key", async () => {
  const stream = streamOf(ova().build()).pipeThrough(qcow2Verifier({ subject }));
  await rejectsIntegrity(readAll(stream), "Not a qcow2 image", subject, "514649fb");
});

Deno.test("qcow2 verifier rejects a corrupted magic and an empty object", async (t) => {
  await t.step("corrupted magic", async () => {
    const bad = qcow2().withMagic(new Uint8Array([0x51, 0x46, 0x49, 0x00])).build();
    await rejectsIntegrity(
      readAll(streamOf(bad).pipeThrough(qcow2Verifier({ subject }))),
      "51464900",
    );
  });
  await t.step("empty object", async () => {
    const empty = streamOf(new Uint8Array(0)).pipeThrough(qcow2Verifier({ subject }));
    await rejectsIntegrity(readAll(empty), "starts with nothing");
  });
});

Deno.test("verifyStream checks size, sidecar digest and format and logs each", async () => {
  const header = qcow2().build();
  const log = new VerificationLog();
  const stream = verifyStream(
    streamOf(header, 100),
    {
      size: 512,
      digest: { algorithm: "sha256", hex: digestHex("sha256", header) },
      format: "qcow2",
    },
    { subject, log },
  );
  assert.deepEqual(await readAll(stream), header);
  assert.equal(log.toString(), "size 512 ok, sha256 ok (sidecar), qcow2 v3 magic ok");
});

Deno.test("verifyStream reports truncation as a size error, not a digest error", async () => {
  const stream = verifyStream(
    streamOf(data.subarray(0, 100)),
    { size: data.byteLength, digest: { algorithm: "sha256", hex: digestHex("sha256", data) } },
    { subject },
  );
  const message = await rejectsIntegrity(readAll(stream), "Size mismatch");
  assert.ok(!message.includes("sha256"));
});

Deno.test("verifyStream from an offset checks only the remaining size and says so", async () => {
  const log = new VerificationLog();
  const stream = verifyStream(
    streamOf(data.subarray(4_000)),
    {
      size: 10_000,
      offset: 4_000,
      digest: { algorithm: "sha256", hex: "0".repeat(64) },
      format: "ova",
    },
    { subject, log },
  );
  assert.equal((await readAll(stream)).byteLength, 6_000);
  assert.deepEqual(log.list(), [
    "resumed at byte 4000: digest and format not checked",
    "size 6000 ok",
  ]);
});
