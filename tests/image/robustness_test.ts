/**
 * The image controller beyond the Go operator's scenarios: independent locations, the transfer
 * limit, progress, deletion and crashes mid-transfer, refresh, provider outages, conflicts, and
 * not fighting the garbage collector. The source is the real S3 resolver over s3rver (one server
 * for the file, a fresh bucket per case).
 */
import assert from "node:assert/strict";
import { NAMESPACES } from "../../lib/kube/resource.ts";
import { ResourceClient } from "../../lib/kube/client.ts";
import { NODE_IMAGE_FINALIZER } from "../../lib/names.ts";
import type { LocationStatus } from "../../lib/image/status.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { type TestCluster, withCluster } from "../release/_cluster.ts";
import { defaultImageName, nodeImage } from "../support/builders.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { FakeCatalog } from "../support/fake_provider.ts";
import type { S3rver } from "../support/s3rver.ts";
import {
  createImage,
  locationOf,
  patchStatusAsOtherWriter,
  runImageController,
  specName,
  TEST_NAMESPACE,
} from "./_harness.ts";
import { type CountingResolver, ImageBucket, imageBytes, s3Suite } from "./_s3.ts";

const LOCATIONS = ["dc-a", "dc-b", "dc-c"];
const NAME = defaultImageName("capv");

interface Setup {
  cluster: TestCluster;
  bucket: ImageBucket;
  resolver: CountingResolver;
  /** Steps the catalogs' transfers: they move only when a test advances it. */
  clock: FakeClock;
  catalog: FakeCatalog;
}

async function withSetup(server: S3rver, fn: (setup: Setup) => Promise<void>): Promise<void> {
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  try {
    await withCluster(async (cluster) => {
      const clock = new FakeClock();
      // 1 KiB per simulated second in 1 KiB steps: a transfer moves only when `clock` does.
      const catalog = new FakeCatalog({
        locations: LOCATIONS,
        clock,
        bytesPerSecond: 1024,
        chunkBytes: 1024,
      });
      await fn({ cluster, bucket, resolver, clock, catalog });
    });
  } finally {
    resolver.close();
  }
}

const suite = await s3Suite("the image controller stays robust, with s3rver as the source");
const fakeServer = suite.fakeServer;

function imageWhere(
  cluster: TestCluster,
  name: string,
  test: (image: NodeImage) => boolean,
): () => Promise<NodeImage | false> {
  return async () => {
    const image = await cluster.image(name);
    return image !== undefined && test(image) && image;
  };
}

const allAvailable = (image: NodeImage) => image.status?.state === "Available";

suite.test("one failing location never stops the other two", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    catalog.bytesPerSecond = Infinity;
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    catalog.failNext("ensure", "datastore is full", { location: "dc-b" });
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      timings: { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 },
    });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor(
      "two Available, one Error",
      imageWhere(cluster, NAME, (i) =>
        locationOf(i, "dc-a")?.state === "Available" &&
        locationOf(i, "dc-c")?.state === "Available" && locationOf(i, "dc-b")?.state === "Error"),
    );
    assert.equal(image.status?.state, "Error", "Error wins the aggregate");
    assert.equal(image.status?.ready, "2/3");
    assert.match(locationOf(image, "dc-b")?.message ?? "", /datastore is full/);
    assert.equal(catalog.items("dc-b").size, 0, "the failed attempt left nothing behind");
    const ready = (image.status?.conditions as { type: string; status: string; message: string }[])
      .find((c) => c.type === "Ready");
    assert.equal(ready?.status, "False");
    assert.match(ready?.message ?? "", /dc-b: Error/);
    await run.stop();
  }));

suite.test("never more than --max-concurrent-transfers transfers run at once, and all finish", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, clock, catalog }) => {
    const names = [1, 2, 3, 4].map((i) => defaultImageName("capv", `4593.2.${i}`));
    for (const name of names) await bucket.putImage("capv", specName(name), imageBytes("ova"));
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      maxConcurrentTransfers: 2,
    });
    for (const name of names) await createImage(cluster, name);
    await cluster.waitFor(
      "two running, ten queued",
      () => catalog.active === 2 && run.image.pool.queued === 10,
    );
    // Queued transfers show in status; nothing was started beyond the limit.
    await cluster.waitFor("every location reported", async () => {
      const images = await Promise.all(names.map((n) => cluster.image(n)));
      return images.every((i) => (i?.status?.locations as unknown[] | undefined)?.length === 3);
    });
    await cluster.waitFor(
      "all Available",
      async () => {
        const images = await Promise.all(names.map((n) => cluster.image(n)));
        return images.every((i) => i && allAvailable(i));
      },
      { clock, advanceMs: 1024 },
    );
    assert.equal(catalog.peakActive, 2);
    assert.equal(run.image.pool.peakRunning, 2);
    assert.equal(catalog.count("ensure"), 12);
    await run.stop();
  }));

suite.test("status shows upload progress while a transfer runs, and the partial reference early", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, clock, catalog }) => {
    const bytes = imageBytes("ova", 16 * 1024);
    const size = bytes.byteLength;
    await bucket.putImage("capv", specName(NAME), bytes);
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    const uploading = await cluster.waitFor(
      "Uploading with reference",
      imageWhere(cluster, NAME, (i) =>
        i.status?.state === "Uploading" &&
        LOCATIONS.every((l) => locationOf(i, l)?.reference?.startsWith("vm-"))),
    );
    for (const location of LOCATIONS) {
      const entry = locationOf(uploading, location)!;
      assert.equal(entry.bytesTotal, size);
      assert.ok(entry.startedAt);
      assert.equal(entry.reference, catalog.items(location).get(specName(NAME))?.reference);
    }
    const seen = new Set<number>();
    await cluster.waitFor(
      "Available",
      async () => {
        const image = await cluster.image(NAME);
        const done = locationOf(image, "dc-a")?.bytesDone;
        if (done !== undefined) seen.add(done);
        return image !== undefined && allAvailable(image);
      },
      { clock, advanceMs: 1024 },
    );
    const intermediate = [...seen].filter((n) => n > 0 && n < size);
    assert.ok(intermediate.length >= 2, `progress seen: ${[...seen].join(", ")}`);
    await run.stop();
  }));

suite.test("deleting a NodeImage during its transfer cancels it, cleans up, and removes the finalizer", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova", 64 * 1024));
    const other = defaultImageName("capv", "4593.9.9");
    await bucket.putImage("capv", specName(other), imageBytes("ova", 64 * 1024));
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      maxConcurrentTransfers: 3,
    });
    await createImage(cluster, NAME);
    await cluster.waitFor("three transfers running", () => catalog.active === 3);
    await createImage(cluster, other);
    await cluster.waitFor("the other image queued", () => run.image.pool.queued === 3);
    assert.equal(catalog.partials().length, 3);
    // The clock never moves: the transfers would run for ever. Deletion must not wait for them.
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    for (const location of LOCATIONS) {
      assert.equal(catalog.items(location).get(specName(NAME)), undefined, location);
    }
    // The queued image got the freed slots; deleting it too never waits behind anything.
    await cluster.waitFor("the other image transferring", () => catalog.active === 3);
    await cluster.nodeImages.delete(other, TEST_NAMESPACE);
    await cluster.waitFor("other gone", async () => (await cluster.image(other)) === undefined);
    assert.deepEqual(catalog.partials(), []);
    assert.equal(catalog.active, 0);
    await run.stop();
  }));

suite.test("a removal that fails keeps the finalizer, reports the location, and is retried until it succeeds", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    catalog.bytesPerSecond = Infinity;
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", imageWhere(cluster, NAME, allAvailable));
    catalog.failNext("remove", "template is locked", { location: "dc-b", count: 2 });
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    for (const location of LOCATIONS) {
      assert.equal(catalog.items(location).get(specName(NAME)), undefined, location);
    }
    assert.equal(catalog.count("remove", "dc-b"), 3, "two failures, then the retry that worked");

    // While it failed, the status said where and why, and the finalizer stayed.
    const failedWrites = run.transport.calls().filter((r) =>
      r.method === "PATCH" && r.path.endsWith("/status") &&
      /remove failed: [^"]*template is locked/.test(JSON.stringify(r.body))
    );
    assert.ok(failedWrites.length >= 1, "the failure was written to status");
    const status = (failedWrites[0].body as { path: string; value: unknown }[])
      .find((op) => op.path === "/status/locations")?.value as LocationStatus[];
    assert.deepEqual(status.map((l) => [l.name, l.state]), [
      ["dc-a", "Deleted"],
      ["dc-b", "Error"],
      ["dc-c", "Deleted"],
    ]);
    const finalizerPatches = run.transport.calls().filter((r) =>
      r.method === "PATCH" && !r.path.endsWith("/status") &&
      JSON.stringify(r.body).includes(`"op":"remove"`)
    );
    assert.equal(finalizerPatches.length, 1, "the finalizer went once, after the success");
    // Events follow the write that reports them (here: the finalizer's removal), so they may
    // land a moment after the object is gone.
    const reasons = await cluster.waitFor("the Removed Event", async () => {
      const reasons = (await cluster.eventsAbout(NAME)).map((e) => `${e.type} ${e.reason}`);
      return reasons.includes("Normal Removed") && reasons;
    });
    assert.ok(reasons.includes("Warning RemoveFailed"), reasons.join(", "));
    await run.stop();
  }));

suite.test("NodeImages naming one image in two namespaces share one transfer, and deleting one removes nothing", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, clock, catalog }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova", 16 * 1024));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    await cluster.waitFor("three transfers running", () => catalog.active === 3);
    const team = "team-b";
    await new ResourceClient(cluster.transport, NAMESPACES).create({ metadata: { name: team } });
    await cluster.nodeImages.create(nodeImage(NAME).inNamespace(team).buildForCreate());
    await cluster.nodeImages.patchStatus(NAME, team, {
      status: { releases: ["vsphere-35.0.0"], state: "Pending" },
    });
    const copy = () => cluster.nodeImages.get(NAME, team);
    await cluster.waitFor("the copy reports the running transfers", async () => {
      const image = await copy();
      return LOCATIONS.every((l) => locationOf(image, l)?.state === "Uploading");
    });
    assert.equal(catalog.count("ensure"), 3, "no second ensure on the same catalog entries");
    assert.equal(catalog.count("cleanup"), 0, "nothing cleaned up under the running uploads");
    await cluster.waitFor("both Available", async () => {
      const [first, second] = [await cluster.image(NAME), await copy()];
      return first !== undefined && allAvailable(first) && allAvailable(second);
    }, { clock, advanceMs: 4_000 });
    assert.equal(catalog.count("ensure"), 3);

    await cluster.nodeImages.delete(NAME, team);
    await cluster.waitFor("the copy gone", async () => {
      const list = await cluster.nodeImages.list({ namespace: team });
      return list.items.length === 0;
    });
    assert.equal(catalog.count("remove"), 0, "the template the other NodeImage uses stays");
    for (const location of LOCATIONS) {
      assert.equal(catalog.items(location).get(specName(NAME))?.complete, true, location);
    }
    // Recorded after the finalizer's removal: it may land a moment after the object is gone.
    const events = await cluster.waitFor("the StillInUse Event", async () => {
      const events = (await cluster.eventsAbout(NAME)).filter((e) =>
        e.regarding?.namespace === team && e.reason === "StillInUse"
      );
      return events.length > 0 && events;
    });
    assert.equal(events.length, 1);
    assert.match(
      events[0].note ?? "",
      new RegExp(`still used by NodeImage ${TEST_NAMESPACE}/${NAME}`),
    );
    assert.equal(events[0].type, "Normal");
    const original = await cluster.image(NAME);
    assert.equal(original?.status?.state, "Available");
    await run.stop();
  }));

// Fake API server only: it bounds write attempts, and on the real server the test's concurrent
// writer's timing can add a Conflict and its retry.
fakeServer.test("a listing that keeps failing with a changing message is listed once per errorRetryMs, and status writes do not loop", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, clock, catalog }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    for (const location of ["dc-b", "dc-c"]) catalog.seed(location, specName(NAME));
    catalog.failNext(
      "inventory",
      (call) => `timed out after ${call * 1000 + 17}ms (request ${call})`,
      {
        location: "dc-a",
        count: Infinity,
      },
    );
    const errorRetryMs = 60_000;
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      clock, // the whole controller on fake time: nothing is retried unless the test steps it
      timings: { errorRetryMs },
    });
    await createImage(cluster, NAME);
    await cluster.waitFor(
      "dc-a in Error",
      imageWhere(cluster, NAME, (i) => locationOf(i, "dc-a")?.state === "Error"),
    );
    const statusWrites = () =>
      run.transport.calls().filter((r) => r.method === "PATCH" && r.path.endsWith("/status"))
        .length;
    // Each round makes the controller reconcile (another writer adds a Release, the controller
    // writes the new count) at the same fake time; no round may list dc-a again.
    let releases = 1;
    const round = async () => {
      releases++;
      const names = Array.from({ length: releases }, (_, i) => `vsphere-35.0.${i}`);
      await patchStatusAsOtherWriter(cluster, NAME, { releases: names });
      await cluster.waitFor(
        `releaseCount ${releases}`,
        imageWhere(cluster, NAME, (i) => i.status?.releaseCount === releases),
      );
    };
    for (let i = 0; i < 3; i++) await round();
    assert.equal(catalog.count("inventory", "dc-a"), 1, "one listing in the first window");
    const writes = statusWrites();
    for (let window = 2; window <= 4; window++) {
      await clock.advance(errorRetryMs);
      await cluster.waitFor(
        `listing ${window}`,
        () => catalog.count("inventory", "dc-a") >= window,
      );
      for (let i = 0; i < 2; i++) await round();
      assert.equal(catalog.count("inventory", "dc-a"), window, `one listing in window ${window}`);
    }
    // Per window: at most the retry's write (a new message) and one per round.
    assert.ok(statusWrites() - writes <= 3 * 3, `status writes ${statusWrites() - writes}`);
    const image = await cluster.image(NAME);
    assert.match(
      locationOf(image, "dc-a")?.message ?? "",
      /cannot list location dc-a: .*timed out/,
    );
    assert.equal(image?.status?.ready, "2/3");
    await run.stop();
  }));

suite.test("a crash mid-transfer is cleaned up and retried by the next process, leaking nothing", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova", 64 * 1024));
    const first = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    await cluster.waitFor(
      "Uploading with references written",
      imageWhere(
        cluster,
        NAME,
        (i) =>
          LOCATIONS.every((l) =>
            locationOf(i, l)?.state === "Uploading" && locationOf(i, l)?.reference !== undefined
          ),
      ),
    );
    await first.kill();
    assert.equal(catalog.partials().length, 3, "the dead process left its partial artefacts");
    const image = await cluster.image(NAME);
    assert.ok(image?.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER));

    catalog.bytesPerSecond = Infinity;
    const cleanupsBefore = catalog.count("cleanup");
    const second = await runImageController(cluster, { catalogs: [catalog], resolver });
    const done = await cluster.waitFor("Available", imageWhere(cluster, NAME, allAvailable));
    assert.deepEqual(catalog.partials(), []);
    for (const location of LOCATIONS) {
      const item = catalog.items(location).get(specName(NAME));
      assert.equal(item?.complete, true, location);
      assert.equal(locationOf(done, location)?.reference, item?.reference, location);
    }
    assert.ok(catalog.count("cleanup") >= cleanupsBefore + 3, "each partial was cleaned first");
    const failures = (await cluster.eventsAbout(NAME)).filter((e) => e.reason === "TransferFailed");
    assert.deepEqual(failures.map((e) => e.note), [], "no retry hit the leftover");
    await second.stop();
  }));

suite.test("the refresh annotation re-lists every location, re-uploads what vanished, and is removed", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    catalog.bytesPerSecond = Infinity;
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", imageWhere(cluster, NAME, allAvailable));
    // Someone deletes the template by hand; the cached inventory (10 min) does not know.
    catalog.items("dc-b").delete(specName(NAME));
    const listings = catalog.count("inventory");
    await cluster.nodeImages.mergePatch(NAME, TEST_NAMESPACE, {
      metadata: { annotations: { "image.giantswarm.io/refresh": "now" } },
    });
    const refreshed = await cluster.waitFor(
      "annotation removed and dc-b back",
      imageWhere(
        cluster,
        NAME,
        (i) =>
          i.metadata.annotations?.["image.giantswarm.io/refresh"] === undefined &&
          catalog.items("dc-b").get(specName(NAME))?.complete === true && allAvailable(i),
      ),
    );
    assert.ok(catalog.count("inventory") >= listings + 3, "every location listed again");
    assert.equal(catalog.count("ensure", "dc-b"), 2);
    assert.equal(catalog.count("ensure", "dc-a"), 1);
    assert.equal(refreshed.status?.ready, "3/3");
    await run.stop();
  }));

suite.test("a refresh requested while the provider is unreachable waits for it, then re-lists and is removed", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    catalog.bytesPerSecond = Infinity;
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", imageWhere(cluster, NAME, allAvailable));
    catalog.unreachable = "connection refused";
    run.registry.reportUnavailable("capv", new Error("connection refused"));
    await cluster.waitFor(
      "provider down in status",
      imageWhere(cluster, NAME, (i) => /not reachable/.test(locationOf(i, "dc-a")?.message ?? "")),
    );
    await cluster.nodeImages.mergePatch(NAME, TEST_NAMESPACE, {
      metadata: { annotations: { "image.giantswarm.io/refresh": "now" } },
    });
    // Another writer adds a Release after the annotation: once the controller has written the
    // new count, it has reconciled an object carrying the annotation.
    await patchStatusAsOtherWriter(cluster, NAME, {
      releases: ["vsphere-35.0.0", "vsphere-35.1.0"],
    });
    const seen = await cluster.waitFor(
      "the controller reconciled the annotated object",
      imageWhere(cluster, NAME, (i) => i.status?.releaseCount === 2),
    );
    assert.equal(
      seen.metadata.annotations?.["image.giantswarm.io/refresh"],
      "now",
      "the request is kept while the provider cannot be listed",
    );
    const listings = catalog.count("inventory");
    catalog.unreachable = undefined;
    await cluster.waitFor(
      "annotation removed after a fresh listing",
      imageWhere(
        cluster,
        NAME,
        (i) =>
          i.metadata.annotations?.["image.giantswarm.io/refresh"] === undefined && allAvailable(i),
      ),
    );
    assert.ok(catalog.count("inventory") >= listings + 3, "every location listed again");
    await run.stop();
  }));

suite.test("an unreachable provider puts only its own locations in Error, and recovers when it answers", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    catalog.bytesPerSecond = Infinity;
    catalog.unreachable = "connection refused";
    const proxmox = new FakeCatalog({ id: "capmox", locations: ["pve-1"], format: "qcow2" });
    const moxName = defaultImageName("capmox");
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    await bucket.putImage("capmox", specName(moxName), imageBytes("qcow2"));
    const run = await runImageController(cluster, { catalogs: [catalog, proxmox], resolver });
    await createImage(cluster, NAME);
    await createImage(cluster, moxName);
    const down = await cluster.waitFor(
      "capv locations in Error",
      imageWhere(cluster, NAME, (i) => LOCATIONS.every((l) => locationOf(i, l)?.state === "Error")),
    );
    assert.match(
      locationOf(down, "dc-a")?.message ?? "",
      /^provider capv not reachable: .*connection refused/,
    );
    await cluster.waitFor("capmox unaffected", imageWhere(cluster, moxName, allAvailable));
    const report = await run.readiness.run();
    assert.equal(report.ok, true, "a down provider does not fail readiness");
    const capv = report.checks.find((c) => c.name === "provider-capv");
    assert.match(capv?.warning ?? "", /^unreachable: .*connection refused/);
    assert.equal(report.checks.find((c) => c.name === "provider-capmox")?.warning, undefined);

    catalog.unreachable = undefined;
    await cluster.waitFor(
      "capv Available after it came back",
      imageWhere(cluster, NAME, allAvailable),
    );
    assert.equal(
      (await run.readiness.run()).checks.find((c) => c.name === "provider-capv")?.warning,
      undefined,
    );
    await run.stop();
  }));

suite.test("deleting an image whose provider is no longer configured warns what may remain where", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    catalog.bytesPerSecond = Infinity;
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", imageWhere(cluster, NAME, allAvailable));
    await run.registry.update({}); // capv removed from the configuration
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    // Events are written after the status write that ends the deletion: wait for them.
    const warning = await cluster.waitFor(
      "the Warning Event",
      async () =>
        (await cluster.eventsAbout(NAME)).find((e) =>
          e.reason === "ProviderNotConfigured" && e.type === "Warning" && /may remain/.test(e.note)
        ),
    );
    assert.match(warning.note, new RegExp(specName(NAME)));
    assert.match(warning.note, /capv catalog in locations dc-a, dc-b, dc-c/);
    assert.equal(catalog.items("dc-a").size, 1, "nothing could be removed");

    // Never distributed, never configured: the locations are unknown, and the Event says so.
    const mox = defaultImageName("capmox");
    await createImage(cluster, mox);
    await cluster.waitFor(
      "finalizer added",
      async () => (await cluster.image(mox))?.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER),
    );
    await cluster.nodeImages.delete(mox, TEST_NAMESPACE);
    await cluster.waitFor("mox gone", async () => (await cluster.image(mox)) === undefined);
    const unknown = await cluster.waitFor(
      "the Warning Event about mox",
      async () =>
        (await cluster.eventsAbout(mox)).find((e) =>
          e.reason === "ProviderNotConfigured" && e.type === "Warning" && /may remain/.test(e.note)
        ),
    );
    assert.match(unknown.note, /unknown/);
    await run.stop();
  }));

// Fake API server only: it injects Conflicts.
fakeServer.test("Conflicts injected on status writes still converge, and a Release added meanwhile is kept", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, clock, catalog }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova", 4096));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME);
    await cluster.waitFor(
      "Uploading",
      imageWhere(cluster, NAME, (i) => i.status?.state === "Uploading"),
    );
    // The release controller registers a second Release while we upload.
    await patchStatusAsOtherWriter(cluster, NAME, {
      releases: ["vsphere-35.0.0", "vsphere-35.1.0"],
      releaseCount: 2,
    });
    cluster.server.faults.failNext(
      { verb: "patch", resource: "nodeimages", subresource: "status" },
      { code: 409, message: "the object has been modified" },
      8,
    );
    const image = await cluster.waitFor(
      "Available",
      imageWhere(cluster, NAME, allAvailable),
      { clock, advanceMs: 1024 },
    );
    assert.deepEqual(image.status?.releases, ["vsphere-35.0.0", "vsphere-35.1.0"]);
    assert.equal(image.status?.releaseCount, 2);
    assert.equal(image.status?.ready, "3/3");
    await run.stop();
  }));

suite.test("images that are AwaitingDeletion or unused are not uploaded and keep their state", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    catalog.bytesPerSecond = Infinity;
    await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
    const unused = defaultImageName("capv", "4593.1.1");
    await bucket.putImage("capv", specName(unused), imageBytes("ova"));
    const run = await runImageController(cluster, { catalogs: [catalog], resolver });
    await createImage(cluster, NAME, { releases: [], state: "AwaitingDeletion" });
    await createImage(cluster, unused, { releases: [], state: "" });
    for (const name of [NAME, unused]) {
      const image = await cluster.waitFor(
        "locations reported",
        imageWhere(
          cluster,
          name,
          (i) => (i.status?.locations as unknown[] | undefined)?.length === 3,
        ),
      );
      assert.equal(image.status?.state, name === NAME ? "AwaitingDeletion" : "", name);
      assert.equal(locationOf(image, "dc-a")?.state, "Pending");
    }
    assert.equal(catalog.count("ensure"), 0);
    assert.equal(resolver.lookups, 0, "not even a source lookup");
    // A Release adopts it again (the release controller writes Pending): it is taken over.
    await patchStatusAsOtherWriter(cluster, NAME, {
      releases: ["vsphere-35.0.0"],
      state: "Pending",
      releaseCount: 1,
    });
    await cluster.waitFor("Available", imageWhere(cluster, NAME, allAvailable));
    await run.stop();
  }));

suite.test("a transfer past its deadline fails, is cleaned up, and reports the deadline", (server) =>
  withSetup(server, async ({ cluster, bucket, resolver, catalog }) => {
    await bucket.putImage("capv", specName(NAME), imageBytes("ova", 64 * 1024));
    const run = await runImageController(cluster, {
      catalogs: [catalog],
      resolver,
      transferTimeoutMs: 100,
      timings: { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 },
    });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor(
      "Error",
      imageWhere(cluster, NAME, (i) => LOCATIONS.every((l) => locationOf(i, l)?.state === "Error")),
    );
    assert.match(locationOf(image, "dc-a")?.message ?? "", /exceeded its deadline/);
    assert.deepEqual(catalog.partials(), []);
    await run.stop();
  }));
