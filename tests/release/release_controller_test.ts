/**
 * The release controller (with the garbage collector beside it, as in production) against the
 * faithful fake API server: every path of reference spec §2 and the §11 regressions.
 */
import assert from "node:assert/strict";
import { LAST_USED_ANNOTATION, RELEASE_FINALIZER } from "../../lib/names.ts";
import type { NodeImage, Release } from "../../lib/release/objects.ts";
import { defaultImageName, nodeImage, release, TEST_NAMESPACE } from "../support/builders.ts";
import { fakeServer, servers } from "../support/api_servers.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { type TestCluster, withCluster } from "./_cluster.ts";

const HOUR = 3_600_000;
const IMAGE = defaultImageName("capv");

function hasFinalizer(object: Release | undefined): boolean {
  return object?.metadata.finalizers?.includes(RELEASE_FINALIZER) ?? false;
}

/** Waits until the image lists exactly `releases` (in any order) with `state`. */
async function imageWith(
  cluster: TestCluster,
  name: string,
  releases: string[],
  state: string,
  options: { clock?: FakeClock; advanceMs?: number } = {},
): Promise<NodeImage> {
  return await cluster.waitFor(`${name} listing [${releases}] in state ${state}`, async () => {
    const image = await cluster.image(name);
    const listed = [...image?.status?.releases ?? []].sort();
    return image && image.status?.state === state &&
      JSON.stringify(listed) === JSON.stringify([...releases].sort()) && image;
  }, options);
}

async function finalized(cluster: TestCluster, name: string): Promise<Release> {
  return await cluster.waitFor(`finalizer on ${name}`, async () => {
    const object = await cluster.release(name);
    return hasFinalizer(object) && object;
  });
}

async function gone(cluster: TestCluster, what: string, read: () => Promise<unknown>) {
  await cluster.waitFor(`${what} to be gone`, async () => (await read()) === undefined);
}

servers.test("first release gets the finalizer and a Pending NodeImage listing it", async () => {
  await withCluster(async (cluster) => {
    cluster.run();
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await finalized(cluster, "vsphere-35.0.0");
    const image = await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    assert.deepEqual(image.spec, {
      name: "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs",
      provider: "capv",
    });
    assert.equal(image.metadata.namespace, TEST_NAMESPACE);
    assert.equal(image.status?.releaseCount, 1);
    const onImage = await cluster.waitFor("the created event on the image", async () => {
      const events = await cluster.eventsAbout(IMAGE);
      return events.some((e) => e.reason === "NodeImageCreated") && events;
    });
    // One Event per registration, on the NodeImage; the Release gets none (it was recorded
    // before the image's, so it would be there by now).
    assert.deepEqual(
      onImage.map((e) => [e.type, e.reason, e.note]),
      [["Normal", "NodeImageCreated", "Created for Release vsphere-35.0.0"]],
    );
    assert.deepEqual(await cluster.eventsAbout("vsphere-35.0.0"), []);
  });
});

servers.test("two releases sharing an image are both listed on one NodeImage", async () => {
  await withCluster(async (cluster) => {
    cluster.run();
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    await cluster.releases.create(release("vsphere-35.0.1").build());
    await finalized(cluster, "vsphere-35.0.1");
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0", "vsphere-35.0.1"], "Pending");
    const images = await cluster.nodeImages.list({ namespace: TEST_NAMESPACE });
    assert.equal(images.items.length, 1);
    const onImage = await cluster.waitFor("the added event on the image", async () => {
      const events = await cluster.eventsAbout(IMAGE);
      return events.some((e) => e.reason === "ReleaseAdded") && events;
    });
    assert.deepEqual(
      onImage.map((e) => [e.reason, e.note]).sort(),
      [
        ["NodeImageCreated", "Created for Release vsphere-35.0.0"],
        ["ReleaseAdded", "Release vsphere-35.0.1 added"],
      ],
    );
    assert.deepEqual(await cluster.eventsAbout("vsphere-35.0.1"), []);
  });
});

servers.test("releases waiting at start register into their shared image in one status write, one Event each", async () => {
  await withCluster(async (cluster) => {
    const names = ["vsphere-35.0.0", "vsphere-35.0.1", "vsphere-35.0.2"];
    for (const name of names) await cluster.releases.create(release(name).build());
    const run = cluster.run({ releaseWorkers: 1 });
    await imageWith(cluster, IMAGE, names, "Pending");
    for (const name of names) await finalized(cluster, name);
    const statusWrites = run.transport.calls().filter((r) =>
      r.method !== "GET" && r.path.includes("/nodeimages/") && r.path.endsWith("/status")
    );
    assert.equal(statusWrites.length, 1, "the first registration took the others along");

    const events = await cluster.waitFor("an Event per registration", async () => {
      const events = await cluster.eventsAbout(IMAGE);
      return events.length >= names.length && events;
    });
    assert.equal(events.length, names.length);
    assert.equal(events.filter((e) => e.reason === "NodeImageCreated").length, 1);
    for (const name of names) {
      assert.equal(
        events.filter((e) => e.note.includes(name)).length,
        1,
        `one Event naming ${name}`,
      );
    }
    for (const name of names) assert.deepEqual(await cluster.eventsAbout(name), []);
  });
});

servers.test("removing one of two releases unregisters it and keeps the image", async () => {
  await withCluster(async (cluster) => {
    cluster.run({ retentionMs: 0 });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await cluster.releases.create(release("vsphere-35.0.1").build());
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0", "vsphere-35.0.1"], "Pending");
    await finalized(cluster, "vsphere-35.0.0");
    await cluster.releases.delete("vsphere-35.0.0");
    await gone(cluster, "Release vsphere-35.0.0", () => cluster.release("vsphere-35.0.0"));
    const image = await imageWith(cluster, IMAGE, ["vsphere-35.0.1"], "Pending");
    assert.equal(image.status?.releaseCount, 1);
    assert.equal(image.metadata.annotations?.[LAST_USED_ANNOTATION], undefined);
    const onImage = await cluster.waitFor("the removed event on the image", async () => {
      const events = await cluster.eventsAbout(IMAGE);
      return events.some((e) => e.reason === "ReleaseRemoved") && events;
    });
    assert.deepEqual(
      onImage.filter((e) => e.reason === "ReleaseRemoved").map((e) => e.note),
      ["Release vsphere-35.0.0 removed; 1 Release left"],
    );
    assert.deepEqual(
      (await cluster.eventsAbout("vsphere-35.0.0")).filter((e) => e.type === "Normal"),
      [],
      "no Normal Event on the Release",
    );
  });
});

servers.test("releases of different providers get their own NodeImages", async () => {
  await withCluster(async (cluster) => {
    cluster.run();
    for (const name of ["vsphere-35.0.0", "cloud-director-35.0.0", "proxmox-35.0.0"]) {
      await cluster.releases.create(release(name).build());
    }
    await imageWith(cluster, defaultImageName("capv"), ["vsphere-35.0.0"], "Pending");
    await imageWith(cluster, defaultImageName("capvcd"), ["cloud-director-35.0.0"], "Pending");
    await imageWith(cluster, defaultImageName("capmox"), ["proxmox-35.0.0"], "Pending");
  });
});

servers.test("a NodeImage deleted by hand while still used is recreated at once", async () => {
  await withCluster(async (cluster) => {
    // Requeues and backoff wait on a fake clock that never moves here: only the NodeImage
    // watch can bring the image back (the Go operator waited for its 5-minute requeue).
    const clock = new FakeClock();
    cluster.run({ clock });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    const first = await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    await cluster.nodeImages.delete(IMAGE, TEST_NAMESPACE);
    const again = await cluster.waitFor("the image to be recreated", async () => {
      const image = await cluster.image(IMAGE);
      return image && image.metadata.uid !== first.metadata.uid &&
        image.status?.releases?.includes("vsphere-35.0.0") && image;
    });
    assert.equal(again.status?.state, "Pending");
  });
});

servers.test("a Release name edited out of a NodeImage by hand is put back at once", async () => {
  await withCluster(async (cluster) => {
    cluster.run({ clock: new FakeClock(), retentionMs: 24 * HOUR });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await cluster.releases.create(release("vsphere-35.0.1").build());
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0", "vsphere-35.0.1"], "Pending");
    await cluster.nodeImages.patchStatus(IMAGE, TEST_NAMESPACE, {
      status: { releases: ["vsphere-35.0.1"] },
    });
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0", "vsphere-35.0.1"], "Pending");
  });
});

servers.test("§11.1 regression: re-adopting an AwaitingDeletion image adds the release, sets Pending and clears last-used", async () => {
  await withCluster(async (cluster) => {
    const clock = new FakeClock();
    cluster.run({ clock, retentionMs: 24 * HOUR });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    await finalized(cluster, "vsphere-35.0.0");
    await cluster.releases.delete("vsphere-35.0.0");
    const waiting = await imageWith(cluster, IMAGE, [], "AwaitingDeletion");
    assert.ok(waiting.metadata.annotations?.[LAST_USED_ANNOTATION]);

    await clock.advance(HOUR);
    await cluster.releases.create(release("vsphere-35.0.1").build());
    const adopted = await imageWith(cluster, IMAGE, ["vsphere-35.0.1"], "Pending");
    await cluster.waitFor("last-used to be cleared", async () => {
      const image = await cluster.image(IMAGE);
      return image?.metadata.annotations?.[LAST_USED_ANNOTATION] === undefined;
    });

    // Both changes stick: well past the retention period the image is still there, used
    // and Pending (the Go operator lost the status write and livelocked here).
    await clock.advance(48 * HOUR);
    await clock.advance(HOUR);
    const later = await imageWith(cluster, IMAGE, ["vsphere-35.0.1"], "Pending", {
      clock,
      advanceMs: 50,
    });
    assert.equal(later.metadata.uid, adopted.metadata.uid);
    assert.equal(later.metadata.annotations?.[LAST_USED_ANNOTATION], undefined);
  });
});

servers.test("§11.3 regression: Releases holding the finalizer can be deleted after their provider is disabled or they stop parsing", async () => {
  await withCluster(async (cluster) => {
    const first = cluster.run({ providers: ["capv"] });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await cluster.releases.create(release("vsphere-35.0.1").build());
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0", "vsphere-35.0.1"], "Pending");
    await finalized(cluster, "vsphere-35.0.0");
    await finalized(cluster, "vsphere-35.0.1");
    await first.stop();
    // Releases our finalizer is on although they no longer parse (e.g. a previous operator
    // version added it): a vintage name and a missing component.
    await cluster.releases.create(release("v20.1.0").withFinalizers(RELEASE_FINALIZER).build());
    await cluster.releases.create(
      release("vsphere-36.0.0").withoutComponent("os-tooling").withFinalizers(RELEASE_FINALIZER)
        .build(),
    );

    cluster.run({ providers: ["capmox"], retentionMs: 0 });
    for (const name of ["vsphere-35.0.0", "vsphere-35.0.1", "v20.1.0", "vsphere-36.0.0"]) {
      await cluster.releases.delete(name);
    }
    for (const name of ["vsphere-35.0.0", "vsphere-35.0.1", "v20.1.0", "vsphere-36.0.0"]) {
      await gone(cluster, `Release ${name}`, () => cluster.release(name));
    }
    // Their references went with them, so the unused image was collected.
    await gone(cluster, `NodeImage ${IMAGE}`, () => cluster.image(IMAGE));
  });
});

servers.test("§11.21 regression: malformed, vintage and other-provider Releases are skipped with one Warning Event per generation and no retries", async () => {
  await withCluster(async (cluster) => {
    const run = cluster.run({ providers: ["capv"] });
    const skipped = ["v20.1.0", "vsphere-36.0.0", "capa-31.0.0", "cloud-director-35.0.0"];
    await cluster.releases.create(release("v20.1.0").build());
    await cluster.releases.create(release("vsphere-36.0.0").withoutComponent("flatcar").build());
    await cluster.releases.create(release("capa-31.0.0").build());
    await cluster.releases.create(release("cloud-director-35.0.0").build());
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    const warnings = async (name: string) =>
      (await cluster.eventsAbout(name)).filter((e) => e.type === "Warning");
    for (const name of skipped) {
      await cluster.waitFor(`a warning about ${name}`, async () => (await warnings(name)).length);
    }

    await cluster.waitFor(
      "the valid Release's one event, on its image",
      async () =>
        (await cluster.eventsAbout("vsphere-35.0.0")).length === 0 &&
        (await cluster.eventsAbout(IMAGE)).length === 1,
    );

    // Quiet afterwards: no error loop, no further requests.
    const before = run.transport.calls().length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(run.transport.calls().length, before);
    const errors = await run.registry.getSingleMetric("controller_runtime_reconcile_errors_total")
      ?.get();
    const releaseErrors = errors?.values.find((v) => v.labels.controller === "release")?.value;
    assert.equal(releaseErrors ?? 0, 0);

    // A metadata-only change reconciles again but reports nothing new; a new generation does.
    await cluster.releases.mergePatch("v20.1.0", undefined, {
      metadata: { labels: { touched: "yes" } },
    });
    await cluster.releases.mergePatch("v20.1.0", undefined, { spec: { notice: "changed" } });
    await cluster.waitFor(
      "a second warning for the new generation",
      async () => (await warnings("v20.1.0")).length === 2,
    );
    for (const name of skipped) {
      const events = await warnings(name);
      assert.equal(events.length, name === "v20.1.0" ? 2 : 1, name);
      assert.equal(events[0].series, undefined, `${name} warned once, not as a series`);
      const object = await cluster.release(name);
      assert.equal(hasFinalizer(object), false, `${name} must not get our finalizer`);
    }
    const notes = await Promise.all(skipped.map(async (n) => (await warnings(n))[0].note));
    assert.match(notes[0], /v20\.1\.0/);
    assert.match(notes[1], /flatcar/);
    assert.match(notes[2], /"capa" .*not configured/);
  });
});

// Fake API server only: it installs a changed Release CRD.
fakeServer.test("§11.4 regression: the finalizer is only changed by JSON patch with a test op, and unknown Release fields survive", async () => {
  // A newer Release CRD with fields the operator does not know (the Go SDK's typed update
  // dropped such fields).
  const crds = (await (await import("./_cluster.ts")).TestCluster.loadCrds()) as {
    metadata: { name: string };
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: object } } } }[] };
  }[];
  const releaseCrd = crds.find((c) => c.metadata.name === "releases.release.giantswarm.io")!;
  const spec = releaseCrd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
  Object.assign(spec, { "x-kubernetes-preserve-unknown-fields": true });

  await withCluster(async (cluster) => {
    const run = cluster.run({ retentionMs: 0 });
    await cluster.releases.create(
      release("vsphere-35.0.0").withSpecField("rollout", { waves: 3, paused: false })
        .withFinalizers("other.example.com/keep").build(),
    );
    await finalized(cluster, "vsphere-35.0.0");
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    const stored = await cluster.release("vsphere-35.0.0");
    assert.deepEqual(stored?.spec?.rollout, { waves: 3, paused: false });
    assert.deepEqual(stored?.metadata.finalizers, ["other.example.com/keep", RELEASE_FINALIZER]);

    await cluster.releases.delete("vsphere-35.0.0");
    const released = await cluster.waitFor("our finalizer to be removed", async () => {
      const object = await cluster.release("vsphere-35.0.0");
      return object && !hasFinalizer(object) && object;
    });
    // The other owner's finalizer is untouched, so the Release still exists, whole.
    assert.deepEqual(released.metadata.finalizers, ["other.example.com/keep"]);
    assert.deepEqual(released.spec?.rollout, { waves: 3, paused: false });

    const writes = run.transport.calls().filter((r) =>
      r.path.includes("/releases") && r.method !== "GET"
    );
    assert.equal(writes.length, 2, "one patch to add, one to remove");
    for (const write of writes) {
      assert.equal(write.method, "PATCH");
      assert.equal(write.contentType, "application/json-patch+json");
      const ops = write.body as { op: string; path: string }[];
      assert.equal(ops[0].op, "test");
      assert.ok(ops.every((o) => o.path.startsWith("/metadata/finalizers")), JSON.stringify(ops));
    }
  }, { crds });
});

// Fake API server only: it injects Conflicts.
fakeServer.test("a Conflict injected on every NodeImage status write still converges with nothing lost", async () => {
  await withCluster(async (cluster) => {
    const names = ["vsphere-35.0.0", "vsphere-35.0.1", "vsphere-35.0.2", "vsphere-35.1.0"];
    // Each status write fails once more than the writer's own attempts allow, so keys also
    // go through the controller's backoff; several workers add real conflicts on top.
    cluster.server.faults.failNext(
      { verb: "patch", resource: "nodeimages", subresource: "status" },
      { code: 409 },
      40,
    );
    const run = cluster.run({ releaseWorkers: 4 });
    for (const name of names) await cluster.releases.create(release(name).build());
    await imageWith(cluster, IMAGE, names, "Pending");
    for (const name of names) await finalized(cluster, name);

    // Deleting under the same faults loses nothing either.
    cluster.server.faults.failNext(
      { verb: "patch", resource: "nodeimages", subresource: "status" },
      { code: 409 },
      20,
    );
    await cluster.releases.delete(names[0]);
    await cluster.releases.delete(names[1]);
    await gone(cluster, names[0], () => cluster.release(names[0]));
    await gone(cluster, names[1], () => cluster.release(names[1]));
    const image = await imageWith(cluster, IMAGE, names.slice(2), "Pending");
    assert.equal(image.status?.releaseCount, 2);
    const statusWrites = run.transport.calls().filter((r) => r.path.endsWith("/status"));
    assert.ok(statusWrites.length > 40, "the injected conflicts were hit");
  });
});

servers.test("dangling references to Releases that no longer exist are dropped", async () => {
  await withCluster(async (cluster) => {
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await cluster.nodeImages.create(nodeImage(IMAGE).buildForCreate());
    await cluster.nodeImages.patchStatus(IMAGE, TEST_NAMESPACE, {
      status: { releases: ["vsphere-34.0.0", "vsphere-35.0.0"], state: "Available" },
    });
    cluster.run({ clock: new FakeClock(), retentionMs: 24 * HOUR });
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Available");
  });
});

Deno.test("a Release edited from a good to a bad version gets a clear Warning and leaves the image it no longer names", async () => {
  await withCluster(async (cluster) => {
    cluster.run({ clock: new FakeClock(), retentionMs: 24 * HOUR });
    await cluster.releases.create(release("vsphere-35.0.0").build());
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    const edited = release("vsphere-35.0.0").withKubernetes("1.35.6+build.7").build();
    await cluster.releases.mergePatch("vsphere-35.0.0", undefined, {
      spec: { components: edited.spec!.components },
    });
    const warning = await cluster.waitFor(
      "the Warning",
      async () => (await cluster.eventsAbout("vsphere-35.0.0")).find((e) => e.type === "Warning"),
    );
    assert.equal(warning.reason, "NotANodeImageRelease");
    assert.match(warning.note, /1\.35\.6\+build\.7/);
    assert.match(warning.note, new RegExp(`no longer uses NodeImage ${IMAGE}`));
    // Nothing lists it any more, so the collector starts the retention period.
    await imageWith(cluster, IMAGE, [], "AwaitingDeletion");
  });
});

Deno.test("a Release listing a component twice uses the first and gets one Warning per generation", async () => {
  await withCluster(async (cluster) => {
    cluster.run();
    await cluster.releases.create(
      release("vsphere-35.0.0").withDuplicateComponent("flatcar", "4593.2.4").build(),
    );
    await imageWith(cluster, IMAGE, ["vsphere-35.0.0"], "Pending");
    const warnings = async () =>
      (await cluster.eventsAbout("vsphere-35.0.0")).filter((e) => e.type === "Warning");
    const [warning] = await cluster.waitFor("the Warning", async () => {
      const found = await warnings();
      return found.length > 0 && found;
    });
    assert.equal(warning.reason, "DuplicateComponent");
    assert.match(warning.note, /"flatcar" 2 times/);
    assert.equal(await cluster.image(defaultImageName("capv", "4593.2.4")), undefined);
    // A metadata change reconciles again without a second Warning.
    await cluster.releases.mergePatch("vsphere-35.0.0", undefined, {
      metadata: { labels: { touched: "yes" } },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await warnings()).length, 1);
    assert.equal((await warnings())[0].series, undefined);
  });
});
