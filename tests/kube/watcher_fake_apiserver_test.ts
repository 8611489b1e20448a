/**
 * The recovery cases again, against the faithful fake API server (real resourceVersions,
 * history compaction, bookmarks, dropped and closed watches) instead of scripted answers.
 */
import assert from "node:assert/strict";
import { ResourceClient } from "../../lib/kube/client.ts";
import { TooManyRequestsError } from "../../lib/kube/errors.ts";
import type { KubeObject } from "../../lib/kube/resource.ts";
import { InactivityTimeoutError, type WatcherOptions } from "../../lib/kube/watcher.ts";
import { FakeApiServer, type FaultResponse } from "../fake_apiserver/mod.ts";
import { WatchRecording, WIDGETS } from "../support/scripted_apiserver.ts";

const WIDGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: {
        openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      },
    }],
  },
};

interface Cluster {
  server: FakeApiServer;
  widgets: ResourceClient<KubeObject>;
  watch(options?: WatcherOptions): WatchRecording;
  create(name: string): Promise<KubeObject>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A fake API server with the Widget CRD, a client, and recordings that are stopped on dispose. */
async function cluster(options: { bookmarkIntervalMs?: number } = {}): Promise<Cluster> {
  const server = await FakeApiServer.start({ crds: [WIDGET_CRD], ...options });
  const transport = server.transport();
  const widgets = new ResourceClient<KubeObject>(transport, WIDGETS);
  const recordings: WatchRecording[] = [];
  return {
    server,
    widgets,
    watch(watchOptions = {}) {
      const rec = new WatchRecording(transport, watchOptions);
      recordings.push(rec);
      return rec;
    },
    create: (name) =>
      widgets.create({
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name, namespace: "default" },
      }),
    async [Symbol.asyncDispose]() {
      for (const rec of recordings) await rec.stop();
      transport.close();
      await server.close();
    },
  };
}

const has = (rec: WatchRecording, name: string) => rec.store.get(`default/${name}`) !== undefined;

Deno.test("fake API server: a change after a quiet period longer than the inactivity timeout is delivered", async () => {
  await using c = await cluster({ bookmarkIntervalMs: 600_000 });
  await c.create("a");
  const rec = c.watch({ inactivityTimeoutMs: 300 });
  await rec.until(() => rec.errors.some((e) => e instanceof InactivityTimeoutError), "silence");
  await c.create("b");
  await rec.until(() => has(rec, "b"), "b to be delivered");
  assert.equal(c.server.stats.byVerb.list, 1);
});

Deno.test("fake API server: after watches are closed cleanly the watch resumes without relisting", async () => {
  await using c = await cluster();
  await c.create("a");
  const rec = c.watch();
  await rec.until(() => rec.store.synced && c.server.openWatches === 1, "the watch to open");
  c.server.faults.closeWatches();
  await c.create("b");
  await rec.until(() => has(rec, "b"), "b to be delivered");
  assert.equal(c.server.stats.byVerb.list, 1);
});

Deno.test("fake API server: after watch connections drop mid-stream the watcher relists", async () => {
  // Formerly resumed without relisting. A cut connection is how a restart looks, and a server
  // reset and carried past our resourceVersion meanwhile would make a resumed watch skip
  // writes (watcher_server_behind_test.ts reproduces it): the watcher relists.
  await using c = await cluster();
  await c.create("a");
  const rec = c.watch();
  await rec.until(() => rec.store.synced && c.server.openWatches === 1, "the watch to open");
  c.server.faults.dropWatches();
  await c.create("b");
  await rec.until(() => has(rec, "b"), "b to be delivered");
  await rec.until(
    () => rec.events.filter((e) => e.type === "Restarted").length === 2,
    "the relist",
  );
  assert.equal(c.server.stats.byVerb.list, 2);
});

Deno.test("fake API server: a server restart with state kept is survived", async () => {
  await using c = await cluster();
  const rec = c.watch();
  await rec.until(() => rec.store.synced && c.server.openWatches === 1, "the watch to open");
  await c.server.restart();
  await c.create("b");
  await rec.until(() => has(rec, "b"), "b to be delivered");
});

for (const how of ["compaction (ERROR event)", "HTTP 410", "410 ERROR event"] as const) {
  Deno.test(`fake API server: ${how} on resume relists and emits the delete missed meanwhile`, async () => {
    await using c = await cluster();
    await c.create("a");
    await c.create("b");
    const rec = c.watch();
    await rec.until(() => rec.store.size === 2 && c.server.openWatches === 1, "the watch to open");
    // Keep the watch down while b is deleted, so only a relist can reveal the delete.
    // A clean end (server timeout), so the watcher tries to resume; a dropped connection would
    // relist at once and never reach the 410.
    c.server.faults.failNext({ verb: "watch", resource: "widgets" }, { code: 503 }, 1_000_000);
    c.server.faults.closeWatches();
    await c.widgets.delete("b", "default");
    c.server.faults.reset();
    if (how === "compaction (ERROR event)") c.server.faults.compact();
    else {
      // FakeApiServerFaults.failNext's declared type omits `inStream`, which Faults supports.
      const gone: FaultResponse = { code: 410, inStream: how === "410 ERROR event" };
      c.server.faults.failNext({ verb: "watch", resource: "widgets" }, gone);
    }
    await rec.until(() => !has(rec, "b"), "b to disappear");
    assert.deepEqual(
      rec.changes.filter((ch) => ch.type === "deleted").map((ch) => ch.object.metadata.name),
      ["b"],
    );
    // The first list and the relist after the 410: the watch resumed, it did not relist.
    // (A one-item check may come between, if the closed watch lasted a second without events.)
    assert.equal(rec.events.filter((e) => e.type === "Restarted").length, 2);
    await c.create("c");
    await rec.until(() => has(rec, "c"), "c after the relist");
  });
}

Deno.test("fake API server: 429 with Retry-After on list, then recovery", async () => {
  await using c = await cluster();
  await c.create("a");
  c.server.faults.failNext({ verb: "list", resource: "widgets" }, {
    code: 429,
    retryAfterSeconds: 1,
  });
  const rec = c.watch();
  await rec.until(() => has(rec, "a"), "the list to succeed");
  const error = rec.events.find((e) => e.type === "Error");
  assert.ok(error?.type === "Error" && error.error instanceof TooManyRequestsError);
  assert.ok(error.retryInMs >= 1000);
});

Deno.test("fake API server: 500 on list, then recovery", async () => {
  await using c = await cluster();
  await c.create("a");
  c.server.faults.failNext({ verb: "list", resource: "widgets" }, { code: 500 }, 2);
  const rec = c.watch();
  await rec.until(() => has(rec, "a"), "the list to succeed");
  assert.equal(rec.errors.length, 2);
  await c.create("b");
  await rec.until(() => has(rec, "b"), "b to be delivered");
});

Deno.test("fake API server: a paginated list yields every object once", async () => {
  await using c = await cluster();
  for (const name of ["a", "b", "c", "d", "e"]) await c.create(name);
  const rec = c.watch({ pageSize: 2 });
  await rec.until(() => rec.store.synced, "the list");
  assert.deepEqual(rec.store.keys().sort(), ["a", "b", "c", "d", "e"].map((n) => `default/${n}`));
  assert.equal(c.server.stats.byVerb.list, 3);
});
