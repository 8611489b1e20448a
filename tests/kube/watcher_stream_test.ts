/**
 * The watch stream must survive everything that ends a stream without a 410: silence, a clean
 * server close, a dropped connection, a malformed line. Each time the watcher resumes from the
 * last resourceVersion it saw, without relisting, except after a dropped connection, which may
 * be a server restarted with its state reset: then it relists.
 */
import assert from "node:assert/strict";
import { InactivityTimeoutError, WatchStreamError } from "../../lib/kube/watcher.ts";
import {
  bookmark,
  listOf,
  ScriptedApiServer,
  testObject,
  WatchRecording,
} from "../support/scripted_apiserver.ts";

const rvOf = (rec: WatchRecording, key: string) => rec.store.get(key)?.metadata.resourceVersion;

Deno.test("a change after a quiet period longer than the inactivity timeout is still delivered", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    // Headers, then nothing at all, and the connection stays up: only the watchdog can notice.
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.closed;
    })
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport(), { inactivityTimeoutMs: 300 });
  try {
    await rec.until(() => rec.store.get("default/b") !== undefined, "b to be delivered");
    assert.ok(rec.errors.some((e) => e instanceof InactivityTimeoutError));
    assert.equal(server.requestsOf("list").length, 1);
    assert.equal(server.requestsOf("watch")[1].query.get("resourceVersion"), "1");
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("a watch whose response headers never arrive is abandoned and retried", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([], "1")))
    .onWatch(async (_, res) => await res.closed) // accepts the connection, never answers
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport(), { inactivityTimeoutMs: 300 });
  try {
    await rec.until(() => rec.store.get("default/b") !== undefined, "b to be delivered");
    assert.ok(rec.errors.some((e) => e instanceof InactivityTimeoutError));
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("a list whose answer never arrives is abandoned and retried", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList(async (_, res) => await res.closed)
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")));
  const rec = new WatchRecording(server.transport(), { inactivityTimeoutMs: 300 });
  try {
    await rec.until(() => rec.store.synced, "the list to complete");
    assert.ok(rec.errors.some((e) => e instanceof InactivityTimeoutError));
    assert.deepEqual(rec.store.keys(), ["default/a"]);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("after the server closes the stream cleanly the watch resumes from the last resourceVersion", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.end();
    })
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("b", "3"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rvOf(rec, "default/b") === "3", "b at resourceVersion 3");
    assert.equal(server.requestsOf("list").length, 1);
    assert.equal(server.requestsOf("watch")[1].query.get("resourceVersion"), "2");
    assert.deepEqual(rec.errors, []);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("a watch stream that ends at once without events is retried with backoff, not in a hot loop", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.end();
    })
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.get("default/b") !== undefined, "b to be delivered");
    assert.ok(rec.errors.some((e) => e instanceof WatchStreamError));
    assert.equal(server.requestsOf("list").length, 1);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("after the TCP connection drops mid-stream the watcher relists, since a cut may be a reset server", async () => {
  // Formerly resumed from the last resourceVersion after a one-item check. A server restarted
  // with its state reset can be carried past that number by other writes before we reconnect,
  // and a resumed watch then skips what was stored meanwhile: only a list is safe.
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.raw('{"type":"MODIFIED","object":{"metadata":'); // half an event, then gone
      res.drop();
    })
    .onList((_, res) => res.json(200, listOf([testObject("b", "3")], "3")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("c", "4"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.get("default/c") !== undefined, "c after the relist");
    // The broken body is an error; the half line is never mistaken for a (malformed) event.
    assert.ok(rec.errors.length >= 1);
    assert.ok(!rec.errors.some((e) => e instanceof WatchStreamError), String(rec.errors));
    const [, relist] = server.requestsOf("list");
    assert.equal(relist.query.get("limit"), null, "a full relist, not the one-item check");
    assert.equal(rec.events.filter((e) => e.type === "Restarted").length, 2);
    assert.equal(rvOf(rec, "default/b"), "3");
    assert.equal(rec.store.get("default/a"), undefined, "a, gone from the relist, is dropped");
    assert.equal(server.requestsOf("watch")[1].query.get("resourceVersion"), "3");
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("bookmarks advance the resume point, so a reconnect does not relist", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.event("BOOKMARK", bookmark("7"));
      await res.end();
    })
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("b", "8"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rvOf(rec, "default/b") === "8", "b at resourceVersion 8");
    const watches = server.requestsOf("watch");
    assert.equal(server.requestsOf("list").length, 1);
    assert.equal(watches[0].query.get("resourceVersion"), "1");
    assert.equal(watches[1].query.get("resourceVersion"), "7");
    for (const watch of watches) {
      assert.equal(watch.query.get("allowWatchBookmarks"), "true");
      const timeout = Number(watch.query.get("timeoutSeconds"));
      assert.ok(timeout >= 290 && timeout <= 319, `timeoutSeconds ${timeout}`);
    }
    // A bookmark is not an object change.
    assert.ok(rec.events.every((e) => e.type !== "Applied" || e.object.metadata.name === "b"));
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("a malformed line is reported as an error and the watch resumes after the last good event", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.raw("{this is not json}\n");
      await res.closed;
    })
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("b", "3"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rvOf(rec, "default/b") === "3", "b at resourceVersion 3");
    const error = rec.errors.find((e) => e instanceof WatchStreamError);
    assert.ok(error, "a WatchStreamError was yielded");
    assert.match(error.message, /this is not json/);
    assert.equal(server.requestsOf("list").length, 1);
    assert.equal(server.requestsOf("watch")[1].query.get("resourceVersion"), "2");
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("events split across chunks, several per chunk and split UTF-8 are all decoded", async () => {
  const server = await ScriptedApiServer.start();
  const labelled = { ...testObject("ü", "2"), spec: { note: "grüße" } };
  const line = JSON.stringify({ type: "ADDED", object: labelled }) + "\n";
  const bytes = new TextEncoder().encode(line);
  const cut = bytes.indexOf(0xc3) + 1; // in the middle of a two-byte character
  server
    .onList((_, res) => res.json(200, listOf([], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.rawBytes(bytes.subarray(0, cut));
      await res.rawBytes(bytes.subarray(cut));
      await res.raw(
        JSON.stringify({ type: "ADDED", object: testObject("c", "3") }) + "\n" +
          JSON.stringify({ type: "ADDED", object: testObject("d", "4") }) + "\n\n",
      );
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.size === 3, "three objects");
    assert.deepEqual(rec.store.get("default/ü")?.spec, { note: "grüße" });
    assert.deepEqual(rec.errors, []);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("cached objects are kept without managedFields, from the list and from the watch", async () => {
  const managed = (object: ReturnType<typeof testObject>) => ({
    ...object,
    metadata: {
      ...object.metadata,
      annotations: { kept: "yes" },
      managedFields: [{ manager: "kubectl", operation: "Apply", fieldsV1: { "f:spec": {} } }],
    },
  });
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([managed(testObject("a", "1"))], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", managed(testObject("b", "2")));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.get("default/b") !== undefined, "b to be delivered");
    for (const key of ["default/a", "default/b"]) {
      const metadata = rec.store.get(key)!.metadata;
      assert.equal(metadata.managedFields, undefined, key);
      assert.deepEqual(metadata.annotations, { kept: "yes" }, key);
    }
  } finally {
    await rec.stop();
    await server.close();
  }
});
