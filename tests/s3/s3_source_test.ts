/**
 * The S3 source against a real local S3 server (s3rver under Node). One server for the file;
 * each case is a step.
 */
import assert from "node:assert/strict";
import { IntegrityError, SourceMissingError } from "../../lib/image/provider.ts";
import { VerificationLog } from "../../lib/integrity/mod.ts";
import { Secret } from "../../lib/config/secret.ts";
import { s3KeyFor } from "../../lib/release/derive.ts";
import { S3AccessError, S3Source, type S3SourceOptions } from "../../providers/s3/mod.ts";
import { digestHex, ova, qcow2, readAll } from "../support/images.ts";
import { S3RVER_KEYS, s3rverUnavailable, startS3rver } from "../support/s3rver.ts";
import { layoutFor } from "../support/provider_configs.ts";

const unavailable = await s3rverUnavailable();
const BUCKET = "images";
const DOTTED = "images.example.com";
const IMAGE = "flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs";
const OVA_KEY = s3KeyFor(IMAGE, layoutFor("capv"));
const QCOW2_KEY = s3KeyFor(IMAGE, layoutFor("capmox"));
const SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY-TOPSECRET";

Deno.test({
  name: "the S3 source works against a real local S3 server",
  ignore: unavailable !== undefined,
  async fn(t) {
    const server = await startS3rver();
    const sources: S3Source[] = [];
    const source = (extra: Partial<S3SourceOptions> = {}) => {
      const s = new S3Source({
        bucket: BUCKET,
        region: "us-east-1",
        endpoint: server.endpoint,
        timeoutMs: 10_000,
        ...extra,
      });
      sources.push(s);
      return s;
    };
    const signal = new AbortController().signal;
    try {
      await server.createBucket(BUCKET);
      await server.createBucket(DOTTED);
      const goodOva = ova().build();
      const goodQcow2 = qcow2().build();
      await server.put(BUCKET, OVA_KEY, goodOva);
      await server.put(
        BUCKET,
        `${OVA_KEY}.sha256`,
        new TextEncoder().encode(
          `${digestHex("sha256", goodOva)}  ${OVA_KEY.split("/").pop()}\n`,
        ),
      );
      await server.put(BUCKET, QCOW2_KEY, goodQcow2);
      await server.put(DOTTED, OVA_KEY, goodOva);

      await t.step(
        "HEAD reports existence, size and ETag; the sidecar digest is read",
        async () => {
          const image = await source().inspect({ name: IMAGE }, layoutFor("capv"), signal);
          assert.equal(image.key, OVA_KEY);
          assert.equal(image.format, "ova");
          assert.equal(image.size, goodOva.byteLength);
          assert.match(image.etag ?? "", /^"[0-9a-f]+"$/);
          assert.deepEqual(image.digest, {
            algorithm: "sha256",
            hex: digestHex("sha256", goodOva),
          });
        },
      );

      await t.step("a missing object is SourceMissingError naming bucket and key", async () => {
        const error = await source().inspect({ name: "flatcar-nope-gs" }, layoutFor("capv"), signal)
          .then(() => undefined, (e) => e);
        assert.ok(error instanceof SourceMissingError, String(error));
        assert.match(error.message, /s3:\/\/images\/capv\/flatcar-nope-gs\/flatcar-nope-gs\.ova/);
        assert.match(error.message, /HTTP 404/);
      });

      await t.step("a qcow2 without sidecar has no digest and streams verified", async () => {
        const image = await source().inspect({ name: IMAGE }, layoutFor("capmox"), signal);
        assert.equal(image.format, "qcow2");
        assert.equal(image.digest, undefined);
        const log = new VerificationLog();
        assert.deepEqual(await readAll(await image.open({ signal, log })), goodQcow2);
        assert.deepEqual(log.list(), ["size 512 ok", "qcow2 v3 magic ok"]);
        assert.deepEqual(image.verified(), log.list());
      });

      await t.step(
        "streaming GET returns exactly the bytes, verified by size, sidecar and manifest",
        async () => {
          const image = await source().inspectKey(OVA_KEY, signal);
          const bytes = await readAll(await image.open({ signal }));
          assert.deepEqual(bytes, goodOva);
          assert.deepEqual(image.verified(), [
            `size ${goodOva.byteLength} ok`,
            "sha256 ok (sidecar)",
            "manifest sha256 of 2 files ok",
          ]);
        },
      );

      await t.step("a ranged open returns the tail from the offset", async () => {
        const image = await source().inspectKey(OVA_KEY, signal);
        const offset = 1536;
        const log = new VerificationLog();
        const tail = await readAll(await image.open({ signal, offset, log }));
        assert.deepEqual(tail, goodOva.subarray(offset));
        assert.deepEqual(log.list(), [
          `resumed at byte ${offset}: digest and format not checked`,
          `size ${goodOva.byteLength - offset} ok`,
        ]);
        assert.equal(
          (await readAll(await image.open({ signal, offset: image.size }))).byteLength,
          0,
        );
        await assert.rejects(image.open({ signal, offset: image.size + 1 }), RangeError);
      });

      await t.step("a sidecar that disagrees fails the stream with both digests", async () => {
        const key = "capv/bad-sidecar/bad.ova";
        const wrong = "0".repeat(64);
        await server.put(BUCKET, key, goodOva);
        await server.put(BUCKET, `${key}.sha256`, new TextEncoder().encode(`${wrong}\n`));
        const image = await source().inspectKey(key, signal);
        const error = await readAll(await image.open({ signal })).then(() => undefined, (e) => e);
        assert.ok(error instanceof IntegrityError, String(error));
        assert.ok(
          error.message.includes(wrong) && error.message.includes(digestHex("sha256", goodOva)),
        );
        assert.deepEqual(image.verified(), []);
      });

      await t.step("a sidecar for another file is refused at inspection", async () => {
        const key = "capv/other-sidecar/x.ova";
        await server.put(BUCKET, key, goodOva);
        await server.put(
          BUCKET,
          `${key}.sha256`,
          new TextEncoder().encode(`${"a".repeat(64)}  y.ova\n`),
        );
        await assert.rejects(source().inspectKey(key, signal), IntegrityError);
      });

      await t.step("a corrupted OVA fails the stream naming the member", async () => {
        const key = "capv/corrupt/corrupt.ova";
        await server.put(BUCKET, key, ova().withCorruptedMember("flatcar-disk1.vmdk").build());
        const image = await source().inspectKey(key, signal);
        const error = await readAll(await image.open({ signal })).then(() => undefined, (e) => e);
        assert.ok(error instanceof IntegrityError, String(error));
        assert.match(
          error.message,
          /member "flatcar-disk1\.vmdk" sha256 expected [0-9a-f]{64} .*got [0-9a-f]{64}/,
        );
      });

      await t.step(
        "an object replaced after HEAD is refused instead of mixing versions",
        async () => {
          const key = "capv/replaced/replaced.ova";
          await server.put(BUCKET, key, goodOva);
          const image = await source().inspectKey(key, signal);
          await server.put(BUCKET, key, ova().withDisk(new Uint8Array(2048)).build());
          await assert.rejects(image.open({ signal }), /changed since it was inspected/);
        },
      );

      await t.step(
        "the public URL is path-style on a custom endpoint and fetchable anonymously",
        async () => {
          const image = await source().inspectKey(OVA_KEY, signal);
          const url = await image.url(60_000);
          assert.equal(url, `${server.endpoint}/${BUCKET}/${OVA_KEY}`);
          const response = await fetch(url);
          assert.deepEqual(new Uint8Array(await response.arrayBuffer()), goodOva);
        },
      );

      await t.step("a dotted bucket works through path-style addressing", async () => {
        const image = await source({ bucket: DOTTED }).inspectKey(OVA_KEY, signal);
        assert.equal(await image.url(1000), `${server.endpoint}/${DOTTED}/${OVA_KEY}`);
        assert.deepEqual(await readAll(await image.open({ signal })), goodOva);
      });

      await t.step(
        "with credentials, url() is a presigned URL Deno fetch can download",
        async () => {
          const s3 = source({
            credentials: {
              source: "static",
              accessKeyId: S3RVER_KEYS.accessKeyId,
              secretAccessKey: new Secret(S3RVER_KEYS.secretAccessKey),
            },
          });
          const image = await s3.inspectKey(OVA_KEY, signal);
          const url = await image.url(300_000);
          assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
          assert.match(url, /X-Amz-Expires=300(&|$)/);
          const response = await fetch(url);
          assert.equal(response.status, 200);
          assert.deepEqual(new Uint8Array(await response.arrayBuffer()), goodOva);
        },
      );

      await t.step("keys from a mounted credentials file sign requests", async () => {
        const file = await Deno.makeTempFile({ suffix: ".ini" });
        try {
          await Deno.writeTextFile(
            file,
            `[images]\naws_access_key_id = ${S3RVER_KEYS.accessKeyId}\n` +
              `aws_secret_access_key = ${S3RVER_KEYS.secretAccessKey}\n`,
          );
          const s3 = source({ credentials: { source: "file", path: file, profile: "images" } });
          const image = await s3.inspectKey(OVA_KEY, signal);
          assert.match(await image.url(60_000), /X-Amz-Credential=S3RVER%2F/);
          assert.deepEqual(await readAll(await image.open({ signal })), goodOva);
        } finally {
          await Deno.remove(file);
        }
      });

      await t.step("refused credentials give an S3AccessError without the secret", async () => {
        const s3 = source({
          credentials: {
            source: "static",
            accessKeyId: "AKIAUNKNOWN",
            secretAccessKey: new Secret(SECRET),
          },
          maxAttempts: 1,
        });
        const errors = [
          await s3.getStream(OVA_KEY, { signal }).then(() => undefined, (e) => e),
          await s3.inspectKey(OVA_KEY, signal).then(() => undefined, (e) => e),
        ];
        for (const [i, operation] of ["GET", "HEAD"].entries()) {
          const error = errors[i];
          assert.ok(error instanceof S3AccessError, String(error));
          assert.ok(
            error.message.startsWith(
              `S3 ${operation} of s3://images/${OVA_KEY} at ${server.endpoint} failed: ` +
                `403 InvalidAccessKeyId`,
            ),
            error.message,
          );
          assert.equal(error.status, 403);
          for (
            const text of [
              error.message,
              String(error),
              Deno.inspect(error, { depth: 10 }),
              JSON.stringify(error),
            ]
          ) {
            assert.ok(!text.includes(SECRET), text);
          }
        }
      });

      await t.step("an aborted open rejects with the caller's reason", async () => {
        const controller = new AbortController();
        const image = await source().inspectKey(OVA_KEY, signal);
        const stream = await image.open({ signal: controller.signal });
        const reader = stream.getReader();
        controller.abort(new Error("transfer cancelled"));
        await assert.rejects(
          (async () => {
            while (!(await reader.read()).done) { /* drain */ }
          })(),
          /transfer cancelled/,
        );
      });
    } finally {
      for (const s of sources) s.close();
      await server.stop();
    }
  },
});
