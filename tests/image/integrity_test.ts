/**
 * Integrity through the image controller (issue 5 item 10): what the S3 source verifies while
 * the bytes stream to the platform reaches the location's status, and a mismatch is an Error
 * with both digests that keeps nothing in the catalog.
 */
import assert from "node:assert/strict";
import type { NodeImage } from "../../lib/release/objects.ts";
import { type TestCluster, withCluster } from "../release/_cluster.ts";
import { defaultImageName } from "../support/builders.ts";
import { FakeCatalog } from "../support/fake_provider.ts";
import { fakeVmdk, ova } from "../support/images.ts";
import type { S3rver } from "../support/s3rver.ts";
import { createImage, locationOf, runImageController, specName } from "./_harness.ts";
import { type CountingResolver, digestHex, ImageBucket, imageBytes, s3Suite } from "./_s3.ts";

const LOCATIONS = ["dc-a", "dc-b"];
const NAME = defaultImageName("capv");

interface Setup {
  cluster: TestCluster;
  catalog: FakeCatalog;
  bucket: ImageBucket;
  resolver: CountingResolver;
}

async function withSetup(server: S3rver, fn: (setup: Setup) => Promise<void>): Promise<void> {
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  try {
    await withCluster(async (cluster) => {
      await fn({ cluster, catalog: new FakeCatalog({ locations: LOCATIONS }), bucket, resolver });
    });
  } finally {
    resolver.close();
  }
}

/** Waits until every location is in `state`; returns the NodeImage. */
function everyLocation(cluster: TestCluster, state: string): Promise<NodeImage> {
  return cluster.waitFor(`every location ${state}`, async () => {
    const image = await cluster.image(NAME);
    return LOCATIONS.every((l) => locationOf(image, l)?.state === state) && image;
  });
}

/** No retry within a case: one failed attempt per location is what the case looks at. */
const NO_RETRY = { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 };

const suite = await s3Suite("integrity is verified through the image controller, on s3rver");

suite.test("an OVA whose manifest does not match a member is an Error with both digests, keeping nothing", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    const disk = fakeVmdk(8192, 3);
    const tampered = disk.slice();
    tampered[tampered.byteLength >> 1] ^= 0xff; // what `withCorruptedMember` stores
    const bytes = ova().withDisk(disk).withCorruptedMember("flatcar-disk1.vmdk").build();
    await bucket.putImage("capv", specName(NAME), bytes);
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      timings: NO_RETRY,
    });
    await createImage(cluster, NAME);
    const image = await everyLocation(cluster, "Error");
    const listed = digestHex("sha256", disk);
    const actual = digestHex("sha256", tampered);
    for (const location of LOCATIONS) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(
        message,
        /^Manifest mismatch in s3:\/\/.*member "flatcar-disk1\.vmdk"/,
        location,
      );
      assert.ok(message.includes(listed), `${location}: the manifest's digest in "${message}"`);
      assert.ok(message.includes(actual), `${location}: the computed digest in "${message}"`);
      assert.equal(catalog.items(location).size, 0, `${location}: nothing kept`);
    }
    assert.equal(image.status?.state, "Error");
    assert.deepEqual(catalog.partials(), []);
    assert.ok(catalog.count("cleanup") >= LOCATIONS.length, "each partial artefact cleaned up");
    const failed = await cluster.waitFor("failure events", async () => {
      const events = (await cluster.eventsAbout(NAME)).filter((e) => e.reason === "TransferFailed");
      return events.length === LOCATIONS.length && events;
    });
    assert.ok(failed.every((e) => e.type === "Warning" && e.note.includes(actual)));
    await run.stop();
  }));

suite.test("a .sha256 sidecar that disagrees with the object is an Error with both digests, keeping nothing", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    const bytes = imageBytes("ova", 8192);
    const key = await bucket.putImage("capv", specName(NAME), bytes);
    const claimed = digestHex("sha256", imageBytes("ova", 8192, 99));
    await bucket.putSidecar(key, claimed);
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      timings: NO_RETRY,
    });
    await createImage(cluster, NAME);
    const image = await everyLocation(cluster, "Error");
    const actual = digestHex("sha256", bytes);
    for (const location of LOCATIONS) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(message, /^sha256 mismatch for s3:\/\//, location);
      assert.ok(message.includes(claimed), `${location}: the sidecar's digest in "${message}"`);
      assert.ok(message.includes(actual), `${location}: the computed digest in "${message}"`);
      assert.equal(catalog.items(location).size, 0, `${location}: nothing kept`);
    }
    assert.deepEqual(catalog.partials(), []);
    await run.stop();
  }));

suite.test("on success each location's status message says what was verified", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    const bytes = imageBytes("ova", 8192);
    const key = await bucket.putImage("capv", specName(NAME), bytes);
    await bucket.putSidecar(key, digestHex("sha256", bytes));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    const image = await everyLocation(cluster, "Available");
    for (const location of LOCATIONS) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(message, new RegExp(`size ${bytes.byteLength} ok`), location);
      assert.match(message, /sha256 ok \(sidecar\)/, location);
      assert.match(message, /manifest sha256 of 2 files ok/, location);
    }
    const succeeded = await cluster.waitFor("success events", async () => {
      const events = (await cluster.eventsAbout(NAME)).filter((e) =>
        e.reason === "TransferSucceeded"
      );
      return events.length === LOCATIONS.length && events;
    });
    assert.ok(succeeded.every((e) => /manifest sha256 of 2 files ok/.test(e.note)));
    await run.stop();
  }));
