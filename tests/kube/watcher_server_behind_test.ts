/**
 * A server that is behind us: it restarted with its state reset, or etcd was restored from a
 * backup. kube-apiserver then keeps a watch from our (now future) resourceVersion open and
 * silent, so the watcher must notice by itself and relist, or objects created afterwards are
 * never seen. And a periodic relist (the sync period) repairs whatever was missed anyway.
 */
import assert from "node:assert/strict";
import { ExponentialBackoff } from "../../lib/kube/backoff.ts";
import { ResourceClient } from "../../lib/kube/client.ts";
import type { KubeObject } from "../../lib/kube/resource.ts";
import { FakeApiServer } from "../fake_apiserver/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import {
  listOf,
  ScriptedApiServer,
  type ScriptedResponse,
  status,
  testObject,
  WatchRecording,
  WIDGETS,
} from "../support/scripted_apiserver.ts";

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

const widget = (name: string): KubeObject => ({
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name, namespace: "default" },
});

/** Kubernetes' Status for a read from a resourceVersion the server has not reached. */
function tooLarge(requested: number, current: number) {
  return {
    ...status(
      504,
      "Timeout",
      `Timeout: Too large resource version: ${requested}, current: ${current}`,
    ),
    details: {
      causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
      retryAfterSeconds: 1,
    },
  };
}

Deno.test("after the API server's state is restored to an older snapshot the watcher relists and sees new objects", async () => {
  const server = await FakeApiServer.start({ crds: [WIDGET_CRD] });
  const transport = server.transport();
  const widgets = new ResourceClient<KubeObject>(transport, WIDGETS);
  const snapshot = server.snapshot();
  await widgets.create(widget("a"));
  await widgets.create(widget("b"));
  // A short server-side timeout, so the silent watch from the future ends soon.
  const rec = new WatchRecording(transport, { timeoutSeconds: 1 });
  try {
    await rec.until(() => rec.store.size === 2, "a and b");
    await server.restore(snapshot);
    // Its resourceVersion is at or below the last one we saw: a resumed watch would never
    // deliver it.
    await widgets.create(widget("c"));
    await rec.until(
      () => rec.store.keys().join() === "default/c",
      "the cache to show exactly what the restored server holds",
    );
    assert.deepEqual(
      rec.changes.filter((c) => c.type === "deleted").map((c) => c.object.metadata.name).sort(),
      ["a", "b"],
    );
  } finally {
    await rec.stop();
    transport.close();
    await server.close();
  }
});

Deno.test("with the operator's watch timeout, a restored server is noticed when the dropped watch resumes, not when the silent one times out", async () => {
  const server = await FakeApiServer.start({ crds: [WIDGET_CRD] });
  const transport = server.transport();
  const widgets = new ResourceClient<KubeObject>(transport, WIDGETS);
  const snapshot = server.snapshot();
  await widgets.create(widget("a"));
  // The defaults: a resumed watch from the future would stay silent for about five minutes.
  const rec = new WatchRecording(transport, { inactivityTimeoutMs: 330_000 });
  try {
    await rec.until(() => rec.store.size === 1, "a");
    // Delivered on the watch, so the stream is under way when the restart cuts it.
    await widgets.create(widget("b"));
    await rec.until(() => rec.store.size === 2, "a and b");
    // The restore drops every watch, as the restart does.
    await server.restore(snapshot);
    await widgets.create(widget("c"));
    await rec.until(
      () => rec.store.keys().join() === "default/c",
      "the cache to show exactly what the restored server holds",
    );
  } finally {
    await rec.stop();
    transport.close();
    await server.close();
  }
});

Deno.test("after a cut connection to a server reset and carried past our resourceVersion by other writes, the watcher relists and sees what changed", async () => {
  const server = await FakeApiServer.start({ crds: [WIDGET_CRD] });
  const transport = server.transport();
  const widgets = new ResourceClient<KubeObject>(transport, WIDGETS);
  const snapshot = server.snapshot();
  await widgets.create(widget("a"));
  await widgets.create(widget("b"));
  const rec = new WatchRecording(transport, {
    backoff: new ExponentialBackoff({ initialMs: 10, maxMs: 100 }),
  });
  try {
    await rec.until(() => rec.store.size === 2 && server.openWatches === 1, "the watch to open");
    // Keep the watcher away (as a restarting server does) while the reset server is written
    // to past the resourceVersion we last saw: the number check then passes, and a watch
    // resumed from it would skip c and d and miss the deletes of a and b.
    server.faults.failNext({ verb: "watch", resource: "widgets" }, { code: 503 }, 1_000_000);
    server.faults.failNext({ verb: "list", resource: "widgets" }, { code: 503 }, 1_000_000);
    server.faults.dropWatches();
    await server.restore(snapshot);
    for (const name of ["c", "d", "e"]) await widgets.create(widget(name));
    server.faults.reset();
    await rec.until(
      () => rec.store.keys().sort().join() === "default/c,default/d,default/e",
      "the cache to show exactly what the reset server holds",
    );
    assert.deepEqual(
      rec.changes.filter((c) => c.type === "deleted").map((c) => c.object.metadata.name).sort(),
      ["a", "b"],
    );
  } finally {
    await rec.stop();
    transport.close();
    await server.close();
  }
});

Deno.test("Too large resource version, in the stream or as the answer, relists instead of resuming", async (t) => {
  for (const where of ["ERROR event", "HTTP status"]) {
    await t.step(where, async () => {
      const server = await ScriptedApiServer.start();
      server
        .onList((_, res) => res.json(200, listOf([testObject("a", "7")], "9")))
        .onWatch(async (_, res) => {
          if (where === "HTTP status") return await res.json(504, tooLarge(9, 3));
          await res.startStream();
          await res.event("ERROR", tooLarge(9, 3));
          await res.end();
        })
        .onList((_, res) => res.json(200, listOf([testObject("c", "3")], "3")));
      const rec = new WatchRecording(server.transport());
      try {
        await rec.until(() => rec.store.keys().join() === "default/c", "the relist");
        assert.equal(server.requestsOf("list").length, 2);
        assert.equal(server.requestsOf("watch").length, 1, "never resumed from 9");
      } finally {
        await rec.stop();
        await server.close();
      }
    });
  }
});

Deno.test("an event older than the resourceVersion a watch resumed from relists", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "10")], "10")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("a", "11"));
      await res.end();
    })
    .onWatch(async (_, res) => {
      await res.startStream();
      // A server that lost its state and delivers everything it has, older versions included.
      await res.event("ADDED", testObject("c", "2"));
      await res.closed;
    })
    .onList((_, res) => res.json(200, listOf([testObject("c", "2")], "2")));
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.keys().join() === "default/c", "the relist");
    assert.equal(server.requestsOf("watch")[1].query.get("resourceVersion"), "11");
    assert.equal(server.requestsOf("list").length, 2);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("after a watch that lasted without a single event or bookmark, a one-object list checks the server is not behind", async (t) => {
  /** A watch that stays open a while (on the watcher's clock), silent, then ends cleanly. */
  const silentWatch = (clock: FakeClock) => async (_: unknown, res: ScriptedResponse) => {
    await res.startStream();
    await clock.advance(30_000);
    await res.end();
  };
  await t.step("behind: relist", async () => {
    const clock = new FakeClock();
    const server = await ScriptedApiServer.start();
    server
      .onList((_, res) => res.json(200, listOf([testObject("a", "10")], "10")))
      .onWatch(silentWatch(clock))
      .onList((_, res) => res.json(200, listOf([testObject("c", "4")], "4", "more")))
      .onList((_, res) => res.json(200, listOf([testObject("c", "4")], "4")));
    const rec = new WatchRecording(server.transport(), { clock, inactivityTimeoutMs: 600_000 });
    try {
      await rec.until(() => rec.store.keys().join() === "default/c", "the relist");
      const [, probe, relist] = server.requestsOf("list");
      assert.equal(probe.query.get("limit"), "1", "the check lists one object");
      assert.equal(relist.query.get("limit"), null);
      assert.equal(server.requestsOf("watch").length, 1, "never resumed from 10");
    } finally {
      await rec.stop();
      await server.close();
    }
  });
  await t.step("not behind: resume from the last resourceVersion", async () => {
    const clock = new FakeClock();
    const server = await ScriptedApiServer.start();
    server
      .onList((_, res) => res.json(200, listOf([testObject("a", "10")], "10")))
      .onWatch(silentWatch(clock))
      .onList((_, res) => res.json(200, listOf([testObject("a", "10")], "12", "more")))
      .onWatch(async (_, res) => {
        await res.startStream();
        await res.event("MODIFIED", testObject("a", "13"));
        await res.closed;
      });
    const rec = new WatchRecording(server.transport(), { clock, inactivityTimeoutMs: 600_000 });
    try {
      await rec.until(() => rec.store.get("default/a")?.metadata.resourceVersion === "13", "a@13");
      assert.equal(server.requestsOf("watch")[1].query.get("resourceVersion"), "10");
      assert.equal(rec.events.filter((e) => e.type === "Restarted").length, 1);
    } finally {
      await rec.stop();
      await server.close();
    }
  });
});

Deno.test("every sync period the watcher relists and reports every object again, repairing a missed event", async () => {
  const clock = new FakeClock();
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    // The watch never tells us about c (a lost event); unscripted watches stay silent.
    .onList((_, res) => res.json(200, listOf([testObject("a", "1"), testObject("c", "5")], "5")));
  const rec = new WatchRecording(server.transport(), {
    clock,
    resyncPeriodMs: 60_000,
    inactivityTimeoutMs: 600_000,
    backoff: new ExponentialBackoff({ initialMs: 10, maxMs: 100 }),
  });
  try {
    await rec.until(() => server.requestsOf("watch").length === 1, "the first watch");
    await clock.advance(66_001); // the period plus its largest jitter (10 %)
    await rec.until(() => rec.store.get("default/c") !== undefined, "the periodic relist");
    const restarts = rec.events.filter((e) => e.type === "Restarted");
    assert.equal(restarts.length, 2);
    assert.ok(restarts[1].type === "Restarted" && restarts[1].resync === true);
    const again = rec.changes.slice(1).map((c) => `${c.type} ${c.object.metadata.name}`);
    assert.deepEqual(again.sort(), ["added c", "updated a"], "a is reported although unchanged");
  } finally {
    await rec.stop();
    await server.close();
  }
});
