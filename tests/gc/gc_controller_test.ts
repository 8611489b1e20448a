/**
 * NodeImage garbage collection against the faithful fake API server, with the release
 * controller beside it as in production. Retention runs on a fake clock: nothing waits 24 h.
 */
import assert from "node:assert/strict";
import { NodeImageGarbageCollector } from "../../lib/gc/controller.ts";
import { formatLastUsed } from "../../lib/gc/last_used.ts";
import { EventRecorder } from "../../lib/kube/events.ts";
import { WriteConflictError } from "../../lib/kube/retry_on_conflict.ts";
import { Store } from "../../lib/kube/store.ts";
import { LAST_USED_ANNOTATION, RELEASE_FINALIZER } from "../../lib/names.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { defaultImageName, nodeImage, release, TEST_NAMESPACE } from "../support/builders.ts";
import { fakeServer, servers } from "../support/api_servers.ts";
import { FakeClock } from "../support/fake_clock.ts";
import {
  reconcileCount,
  RecordingTransport,
  type TestCluster,
  withCluster,
} from "../release/_cluster.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const IMAGE = defaultImageName("capv");

async function state(cluster: TestCluster, name: string, expected: string): Promise<NodeImage> {
  return await cluster.waitFor(`${name} in state ${expected}`, async () => {
    const image = await cluster.image(name);
    return image?.status?.state === expected && image;
  });
}

async function gone(cluster: TestCluster, name: string, clock?: FakeClock): Promise<void> {
  await cluster.waitFor(`${name} to be deleted`, async () => !(await cluster.image(name)), {
    clock,
  });
}

/** Creates a NodeImage the way another writer would: object, then status. */
async function createImage(
  cluster: TestCluster,
  name: string,
  status: Record<string, unknown> | undefined,
  annotations?: Record<string, string>,
): Promise<NodeImage> {
  const object = nodeImage(name).buildForCreate();
  if (annotations) object.metadata.annotations = annotations;
  const created = await cluster.nodeImages.create(object);
  if (!status) return created;
  return await cluster.nodeImages.patchStatus(name, TEST_NAMESPACE, { status });
}

async function reasons(cluster: TestCluster, name: string): Promise<string[]> {
  return (await cluster.eventsAbout(name)).map((e) => e.reason);
}

servers.test("last release removed with retention 0 deletes the NodeImage at once", async () => {
  await withCluster(async (cluster) => {
    cluster.run({ retentionMs: 0 });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await state(cluster, IMAGE, "Pending");
    await cluster.waitFor(
      "the finalizer",
      async () =>
        (await cluster.release("vsphere-35.0.0"))?.metadata.finalizers?.includes(
          RELEASE_FINALIZER,
        ),
    );
    await cluster.releases.delete("vsphere-35.0.0");
    await gone(cluster, IMAGE);
    await cluster.waitFor(
      "a Deleted event",
      async () => (await reasons(cluster, IMAGE)).includes("Deleted"),
    );
  });
});

servers.test("last release removed with 24h retention waits for AwaitingDeletion to expire, then deletes", async () => {
  await withCluster(async (cluster) => {
    const clock = new FakeClock();
    const run = cluster.run({ clock, retentionMs: DAY });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await state(cluster, IMAGE, "Pending");
    await cluster.waitFor(
      "the finalizer",
      async () =>
        (await cluster.release("vsphere-35.0.0"))?.metadata.finalizers?.includes(
          RELEASE_FINALIZER,
        ),
    );
    const unusedAt = clock.now();
    await cluster.releases.delete("vsphere-35.0.0");
    const waiting = await state(cluster, IMAGE, "AwaitingDeletion");
    assert.equal(waiting.metadata.annotations?.[LAST_USED_ANNOTATION], formatLastUsed(unusedAt));
    assert.deepEqual(waiting.status?.releases, []);

    // Later passes (here: a label edit an hour later) never re-stamp the time.
    await clock.advance(HOUR);
    await cluster.nodeImages.mergePatch(IMAGE, TEST_NAMESPACE, {
      metadata: { labels: { touched: "yes" } },
    });
    const seen = await reconcileCount(run, "nodeimage-gc");
    await cluster.nodeImages.mergePatch(IMAGE, TEST_NAMESPACE, {
      metadata: { labels: { touched: "again" } },
    });
    await cluster.waitFor(
      "the collector to see the edits",
      async () => await reconcileCount(run, "nodeimage-gc") > seen,
    );
    await clock.advance(21 * HOUR);
    const stillWaiting = await state(cluster, IMAGE, "AwaitingDeletion");
    assert.equal(
      stillWaiting.metadata.annotations?.[LAST_USED_ANNOTATION],
      formatLastUsed(unusedAt),
    );

    await clock.advance(2 * HOUR);
    await gone(cluster, IMAGE, clock);
    await cluster.waitFor("Orphaned, Expired and Deleted events", async () => {
      const seen = await reasons(cluster, IMAGE);
      return ["Orphaned", "Expired", "Deleted"].every((r) => seen.includes(r));
    });
  });
});

servers.test("§11.5 regression: expiry never deletes an image a Release lists", async () => {
  await withCluster(async (cluster) => {
    // The Go operator's livelock state: listed again, but still AwaitingDeletion with an
    // expired timestamp. The Go image controller deleted it without looking at releases.
    await cluster.releases.create(release("vsphere-35.0.0").build());
    const before = await createImage(cluster, IMAGE, {
      releases: ["vsphere-35.0.0"],
      state: "AwaitingDeletion",
    }, { [LAST_USED_ANNOTATION]: "2024-12-01T00:00:00Z" });
    const clock = new FakeClock();
    cluster.run({ clock, retentionMs: DAY });
    // Registration writes the status, then drops the annotation: wait for both.
    const after = await cluster.waitFor("Pending without last-used", async () => {
      const image = await cluster.image(IMAGE);
      return image?.status?.state === "Pending" &&
        image.metadata.annotations?.[LAST_USED_ANNOTATION] === undefined && image;
    });
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.deepEqual(after.status?.releases, ["vsphere-35.0.0"]);
    assert.equal(after.metadata.annotations?.[LAST_USED_ANNOTATION], undefined);
  });
});

servers.test("§11.5 regression: an image re-adopted after the collector planned its deletion survives", async () => {
  await withCluster(async (cluster) => {
    // The collector's cache still holds the expired, unused image...
    await createImage(cluster, IMAGE, { releases: [], state: "AwaitingDeletion" }, {
      [LAST_USED_ANNOTATION]: "2024-12-01T00:00:00Z",
    });
    const stale = await cluster.nodeImages.get(IMAGE, TEST_NAMESPACE);
    // ...while a Release has adopted it on the server.
    await cluster.nodeImages.patchStatus(IMAGE, TEST_NAMESPACE, {
      status: { releases: ["vsphere-35.0.0"], state: "Pending" },
    });
    const store = new Store<NodeImage>();
    store.apply({
      type: "Restarted",
      objects: [structuredClone(stale)],
      resourceVersion: stale.metadata.resourceVersion!,
    });
    const transport = new RecordingTransport(cluster.transport);
    const clock = new FakeClock();
    const collector = new NodeImageGarbageCollector({
      transport,
      nodeImages: store,
      retentionMs: DAY,
      clock,
      recorder: new EventRecorder({ transport, reportingInstance: "test", clock }),
    });
    const result = await collector.reconcile(
      `${TEST_NAMESPACE}/${IMAGE}`,
      new AbortController().signal,
    );
    assert.deepEqual(result, {});

    const deletes = transport.calls().filter((r) => r.method === "DELETE");
    assert.equal(deletes.length, 1, "the stale plan did try to delete");
    assert.deepEqual((deletes[0].body as { preconditions: unknown }).preconditions, {
      uid: stale.metadata.uid,
      resourceVersion: stale.metadata.resourceVersion,
    });
    const image = await cluster.image(IMAGE);
    assert.deepEqual(image?.status?.releases, ["vsphere-35.0.0"]);
    assert.equal(image?.metadata.uid, stale.metadata.uid);
  });
});

servers.test("an orphan NodeImage (no releases, non-empty state) is collected", async (t) => {
  await t.step("retention 0: deleted at once", async () => {
    await withCluster(async (cluster) => {
      await createImage(cluster, IMAGE, { state: "Available" });
      cluster.run({ retentionMs: 0 });
      await gone(cluster, IMAGE);
    });
  });
  await t.step("retention 24h: AwaitingDeletion, then deleted after expiry", async () => {
    await withCluster(async (cluster) => {
      await createImage(cluster, IMAGE, { releases: [], state: "Error" });
      const clock = new FakeClock();
      cluster.run({ clock, retentionMs: DAY });
      const waiting = await state(cluster, IMAGE, "AwaitingDeletion");
      assert.equal(
        waiting.metadata.annotations?.[LAST_USED_ANNOTATION],
        formatLastUsed(clock.now()),
      );
      await clock.advance(DAY);
      await gone(cluster, IMAGE, clock);
    });
  });
});

servers.test("§10.10: a NodeImage whose state is still empty is never collected", async () => {
  await withCluster(async (cluster) => {
    const fresh = defaultImageName("capv", "1.0.0");
    const emptyList = defaultImageName("capv", "2.0.0");
    await createImage(cluster, fresh, undefined);
    await createImage(cluster, emptyList, { releases: [] });
    const clock = new FakeClock();
    const run = cluster.run({ clock, retentionMs: 0 });
    await cluster.waitFor("the collector to look at both images", async () => {
      return await reconcileCount(run, "nodeimage-gc") >= 2;
    });
    await clock.advance(100 * DAY);
    for (const name of [fresh, emptyList]) {
      const image = await cluster.image(name);
      assert.ok(image, `${name} must still exist`);
      assert.equal(image.metadata.annotations?.[LAST_USED_ANNOTATION], undefined);
    }
    const deletes = run.transport.calls().filter((r) => r.method === "DELETE");
    assert.deepEqual(deletes, []);
  });
});

// Fake API server only: it injects Conflicts.
fakeServer.test("conflicts on every collector write still end in exactly one mark and one delete", async () => {
  await withCluster(async (cluster) => {
    await createImage(cluster, IMAGE, { releases: [], state: "Available" });
    cluster.server.faults.failNext({ verb: "patch", resource: "nodeimages" }, { code: 409 }, 12);
    const clock = new FakeClock();
    cluster.run({ clock, retentionMs: DAY });
    const waiting = await cluster.waitFor("AwaitingDeletion with last-used", async () => {
      const image = await cluster.image(IMAGE);
      return image?.status?.state === "AwaitingDeletion" &&
        image.metadata.annotations?.[LAST_USED_ANNOTATION] !== undefined && image;
    }, { clock, advanceMs: 50 });
    const stamped = waiting.metadata.annotations![LAST_USED_ANNOTATION];
    cluster.server.faults.failNext({ verb: "delete", resource: "nodeimages" }, { code: 409 }, 3);
    await clock.advance(DAY);
    await gone(cluster, IMAGE, clock);
    const orphaned = (await cluster.eventsAbout(IMAGE)).filter((e) => e.reason === "Orphaned");
    assert.equal(orphaned.length, 1);
    assert.match(orphaned[0].note, /will be deleted at/);
    assert.ok(stamped.endsWith("Z"));
  });
});

/** A collector reconciling straight from a cache holding `image`, recording its requests. */
function collectorFor(cluster: TestCluster, image: NodeImage, clock: FakeClock) {
  const store = new Store<NodeImage>();
  store.apply({
    type: "Restarted",
    objects: [structuredClone(image)],
    resourceVersion: image.metadata.resourceVersion!,
  });
  const transport = new RecordingTransport(cluster.transport);
  const collector = new NodeImageGarbageCollector({
    transport,
    nodeImages: store,
    retentionMs: DAY,
    clock,
    recorder: new EventRecorder({ transport, reportingInstance: "test", clock }),
  });
  const reconcile = () =>
    collector.reconcile(`${TEST_NAMESPACE}/${IMAGE}`, new AbortController().signal);
  const count = (method: string) =>
    transport.calls().filter((r) => r.method === method && r.path.includes("/nodeimages")).length;
  return { reconcile, count };
}

Deno.test("one retry loop: each conflicting round is one fresh read, and the rounds are bounded", async (t) => {
  await t.step("three conflicts: three reads, then the mark in one pass", async () => {
    await withCluster(async (cluster) => {
      const image = await createImage(cluster, IMAGE, { releases: [], state: "Available" });
      const clock = new FakeClock();
      const { reconcile, count } = collectorFor(cluster, image, clock);
      cluster.server.faults.failNext({ verb: "patch", resource: "nodeimages" }, { code: 409 }, 3);
      const result = await reconcile();
      assert.deepEqual(result, { requeueAfterMs: DAY }, "marked, then waits out the retention");
      assert.equal(count("GET"), 3);
      assert.equal(count("PATCH"), 3 + 2, "three rejected, then annotation and status");
      assert.equal((await cluster.image(IMAGE))?.status?.state, "AwaitingDeletion");
    });
  });
  await t.step(
    "conflicts on every round: 8 attempts, 7 reads, then WriteConflictError",
    async () => {
      await withCluster(async (cluster) => {
        const image = await createImage(cluster, IMAGE, { releases: [], state: "Available" });
        const clock = new FakeClock();
        const { reconcile, count } = collectorFor(cluster, image, clock);
        cluster.server.faults.failNext(
          { verb: "patch", resource: "nodeimages" },
          { code: 409 },
          100,
        );
        await assert.rejects(reconcile(), (error: unknown) => {
          assert.ok(error instanceof WriteConflictError);
          assert.equal(error.attempts, 8);
          assert.match(error.message, /^Cannot collect NodeImage "[^"]+": it changed under each/);
          return true;
        });
        assert.equal(count("PATCH"), 8, "one write per round, no inner retries");
        assert.equal(count("GET"), 7);
        assert.equal((await cluster.image(IMAGE))?.status?.state, "Available");
      });
    },
  );
});
