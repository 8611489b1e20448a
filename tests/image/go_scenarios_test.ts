/**
 * The Go operator's five integration scenarios (§9: import, delete, idempotency, missing source,
 * broken source), run per location: the provider has three locations and every assertion is made
 * for each of them. The source is the real S3 resolver over s3rver (one server for the file, a
 * fresh bucket per case), with objects at the Go operator's keys.
 */
import assert from "node:assert/strict";
import { NODE_IMAGE_FINALIZER } from "../../lib/names.ts";
import { s3KeyFor } from "../../lib/release/derive.ts";
import { type TestCluster, withCluster } from "../release/_cluster.ts";
import { defaultImageName } from "../support/builders.ts";
import { FakeCatalog } from "../support/fake_provider.ts";
import type { S3rver } from "../support/s3rver.ts";
import { createImage, locationOf, runImageController, specName } from "./_harness.ts";
import { type CountingResolver, ImageBucket, imageBytes, s3Suite } from "./_s3.ts";
import { layoutFor } from "../support/provider_configs.ts";

const LOCATIONS = ["dc-a", "dc-b", "dc-c"];
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
      const catalog = new FakeCatalog({ locations: LOCATIONS });
      await fn({ cluster, catalog, bucket, resolver });
    });
  } finally {
    resolver.close();
  }
}

const suite = await s3Suite(
  "the Go operator's five scenarios per location, with s3rver as the source",
);

suite.test("import: a valid image becomes Available in every location as a complete template", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova", 10_000));
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
    });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Available", async () => {
      const image = await cluster.image(NAME);
      return image?.status?.state === "Available" && image;
    });
    for (const location of LOCATIONS) {
      const entry = locationOf(image, location);
      assert.equal(entry?.state, "Available", location);
      const item = catalog.items(location).get(specName(NAME));
      assert.equal(item?.complete, true, location);
      assert.equal(entry?.reference, item?.reference, location);
    }
    assert.equal(image.status?.ready, "3/3");
    assert.deepEqual(image.status?.releases, ["vsphere-35.0.0"]);
    assert.equal(image.status?.releaseCount, 1);
    assert.equal(image.status?.observedGeneration, image.metadata.generation);
    const ready = (image.status?.conditions as { type: string; status: string }[])
      .find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True");
    assert.ok(image.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER));
    assert.equal(catalog.count("ensure"), 3);
    assert.equal(resolver.lookups, 1, "one source lookup for all three locations");
    // Events follow the status write that reports them: wait for them, then count exactly.
    await cluster.waitFor(
      "start events",
      async () =>
        (await cluster.eventsAbout(NAME)).filter((e) => e.reason === "TransferStarted").length >= 3,
    );
    const events = await cluster.eventsAbout(NAME);
    assert.equal(events.filter((e) => e.reason === "TransferStarted").length, 3);
    await cluster.waitFor(
      "finish events",
      async () =>
        (await cluster.eventsAbout(NAME)).filter((e) => e.reason === "TransferSucceeded").length ===
          3,
    );
    await run.stop();
  }));

suite.test("delete: the template goes from every location, then the finalizer, then the object", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
    });
    await createImage(cluster, NAME);
    await cluster.waitFor(
      "Available",
      async () => (await cluster.image(NAME))?.status?.state === "Available",
    );
    await cluster.nodeImages.delete(NAME, "giantswarm");
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    for (const location of LOCATIONS) {
      assert.equal(catalog.items(location).size, 0, location);
      assert.equal(catalog.count("remove", location), 1, location);
    }
    assert.deepEqual(catalog.partials(), []);
    await run.stop();
  }));

suite.test("idempotency: reconciling an Available image again changes no template and uploads nothing", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      inventoryResyncMs: 100,
    });
    await createImage(cluster, NAME);
    const first = await cluster.waitFor("Available", async () => {
      const image = await cluster.image(NAME);
      return image?.status?.state === "Available" && image;
    });
    const references = LOCATIONS.map((l) => catalog.items(l).get(specName(NAME))?.reference);
    const listings = catalog.count("inventory");
    // Every resync (100 ms here) re-lists each location and must find everything in place.
    await cluster.waitFor("re-listed twice", () => catalog.count("inventory") >= listings + 6);
    const again = await cluster.image(NAME);
    assert.equal(again?.status?.state, "Available");
    assert.deepEqual(
      LOCATIONS.map((l) => catalog.items(l).get(specName(NAME))?.reference),
      references,
    );
    assert.deepEqual(LOCATIONS.map((l) => locationOf(again, l)?.reference), references);
    assert.equal(catalog.count("ensure"), 3, "no second upload");
    assert.deepEqual(
      LOCATIONS.map((l) => locationOf(again, l)?.lastTransitionTime),
      LOCATIONS.map((l) => locationOf(first, l)?.lastTransitionTime),
    );
    await run.stop();
  }));

suite.test("missing source: every location is Missing, nothing is uploaded, and it retries later", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
    });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Missing", async () => {
      const image = await cluster.image(NAME);
      return image?.status?.state === "Missing" && image;
    });
    const key = s3KeyFor(specName(NAME), layoutFor("capv"));
    for (const location of LOCATIONS) {
      assert.equal(locationOf(image, location)?.state, "Missing", location);
      assert.equal(
        locationOf(image, location)?.message,
        `Image s3://${bucket.name}/${key} not found at ${bucket.server.endpoint} (HTTP 404)`,
      );
    }
    assert.equal(catalog.count("ensure"), 0);
    // The object appears later: the periodic retry picks it up without any change to the CR.
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    await cluster.waitFor(
      "Available after the source appeared",
      async () => (await cluster.image(NAME))?.status?.state === "Available",
    );
    await run.stop();
  }));

suite.test("broken source: garbage bytes give Error naming the malformed object and leave no template", (server) =>
  withSetup(server, async ({ cluster, catalog, bucket, resolver }) => {
    await bucket.putImage("capv", specName(NAME), new Uint8Array(2048).fill(7));
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      timings: { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 },
    });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", async () => {
      const image = await cluster.image(NAME);
      return image?.status?.state === "Error" &&
        LOCATIONS.every((l) => locationOf(image, l)?.state === "Error") && image;
    });
    for (const location of LOCATIONS) {
      // The S3 source's OVA verifier refuses the bytes while they stream to the platform.
      assert.match(
        locationOf(image, location)?.message ?? "",
        new RegExp(`^Malformed OVA s3://${bucket.name}/capv/`),
        location,
      );
      assert.equal(catalog.items(location).size, 0, `${location}: nothing kept`);
    }
    assert.deepEqual(catalog.partials(), []);
    const warnings = await cluster.waitFor("failure events", async () => {
      const events = (await cluster.eventsAbout(NAME)).filter((e) => e.reason === "TransferFailed");
      return events.length === 3 && events;
    });
    assert.ok(warnings.every((e) => e.type === "Warning"));
    await run.stop();
  }));
