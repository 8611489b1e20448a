/**
 * Lists and relists: pagination, 410 Gone (as HTTP status and as an ERROR event) leading to a
 * relist that deletes vanished objects, and recovery from 429 and 500 answers to a list.
 */
import assert from "node:assert/strict";
import { ExponentialBackoff } from "../../lib/kube/backoff.ts";
import { GoneError, ServerError, TooManyRequestsError } from "../../lib/kube/errors.ts";
import {
  listOf,
  ScriptedApiServer,
  status,
  testObject,
  WatchRecording,
} from "../support/scripted_apiserver.ts";

const deletedKeys = (rec: WatchRecording) =>
  rec.changes.filter((c) => c.type === "deleted").map((c) => c.object.metadata.name);

Deno.test("410 Gone as the HTTP status of a watch relists and deletes objects that vanished", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1"), testObject("b", "2")], "2")))
    .onWatch((_, res) => res.json(410, status(410, "Expired", "too old resource version: 2 (9)")))
    .onList((_, res) => res.json(200, listOf([testObject("a", "1"), testObject("c", "8")], "9")));
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.get("default/c") !== undefined, "the relist");
    assert.deepEqual(deletedKeys(rec), ["b"]);
    assert.deepEqual(rec.store.keys().sort(), ["default/a", "default/c"]);
    assert.equal(rec.events.filter((e) => e.type === "Restarted").length, 2);
    assert.equal(server.requestsOf("list").length, 2);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("410 Gone as an ERROR event in the stream relists and deletes objects that vanished", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1"), testObject("b", "2")], "2")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("a", "3"));
      await res.event("ERROR", status(410, "Expired", "too old resource version: 3 (9)"));
      await res.end();
    })
    .onList((_, res) => res.json(200, listOf([testObject("a", "3")], "9")));
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => server.requestsOf("list").length === 2 && rec.store.size === 1, "relist");
    assert.deepEqual(deletedKeys(rec), ["b"]);
    assert.equal(rec.store.get("default/a")?.metadata.resourceVersion, "3");
    // A relist after 410 is routine: it does not count as an error.
    assert.ok(!rec.errors.some((e) => e instanceof GoneError));
    assert.ok(!server.requestsOf("list")[1].query.has("resourceVersion"));
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("an ERROR event other than 410 resumes the watch after backoff without relisting", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("a", "4"));
      await res.event("ERROR", status(500, "InternalError", "etcd hiccup"));
      await res.end();
    })
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("a", "5"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.get("default/a")?.metadata.resourceVersion === "5", "a at 5");
    assert.ok(rec.errors.some((e) => e instanceof ServerError && /etcd hiccup/.test(e.message)));
    assert.equal(server.requestsOf("list").length, 1);
    assert.equal(server.requestsOf("watch")[1].query.get("resourceVersion"), "4");
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("429 with Retry-After on list is retried no sooner than asked, then the list succeeds", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) =>
      res.json(429, status(429, "TooManyRequests", "slow down"), { "Retry-After": "1" })
    )
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")));
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.synced, "the list to succeed");
    const event = rec.events[0];
    assert.equal(event.type, "Error");
    assert.ok(event.type === "Error" && event.error instanceof TooManyRequestsError);
    // The delay the watcher chose honours Retry-After (a value, not a measured duration).
    assert.ok(event.type === "Error" && event.retryInMs >= 1000, `retryInMs ${event.retryInMs}`);
    assert.deepEqual(rec.store.keys(), ["default/a"]);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("500 on list is retried with backoff until the list succeeds", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(500, status(500, "InternalError", "boom 1")))
    .onList((_, res) => res.json(500, status(500, "InternalError", "boom 2")))
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")));
  const rec = new WatchRecording(server.transport());
  try {
    await rec.until(() => rec.store.synced, "the list to succeed");
    assert.deepEqual(rec.errors.map((e) => e instanceof ServerError && e.message), [
      "boom 1",
      "boom 2",
    ]);
    assert.deepEqual(rec.store.keys(), ["default/a"]);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("a paginated list follows continue tokens and yields one Restarted with every page", async () => {
  const server = await ScriptedApiServer.start();
  const names = ["a", "b", "c", "d", "e"];
  server
    .onList((_, res) =>
      res.json(200, listOf(names.slice(0, 2).map((n) => testObject(n, "1")), "9", "t1"))
    )
    .onList((_, res) =>
      res.json(200, listOf(names.slice(2, 4).map((n) => testObject(n, "1")), "9", "t2"))
    )
    .onList((_, res) => res.json(200, listOf(names.slice(4).map((n) => testObject(n, "1")), "9")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("f", "10"));
      await res.closed;
    });
  const rec = new WatchRecording(server.transport(), { pageSize: 2 });
  try {
    await rec.until(() => rec.store.get("default/f") !== undefined, "the watch to deliver f");
    const lists = server.requestsOf("list");
    assert.deepEqual(lists.map((r) => r.query.get("limit")), ["2", "2", "2"]);
    assert.deepEqual(lists.map((r) => r.query.get("continue")), [null, "t1", "t2"]);
    const restarted = rec.events.filter((e) => e.type === "Restarted");
    assert.equal(restarted.length, 1);
    assert.deepEqual(
      restarted[0].type === "Restarted" && restarted[0].objects.map((o) => o.metadata.name),
      names,
    );
    assert.equal(server.requestsOf("watch")[0].query.get("resourceVersion"), "9");
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("a failed page is retried with the same continue token, not from the start", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "9", "t1")))
    .onList((_, res) => res.json(500, status(500, "InternalError", "page lost")))
    .onList((_, res) => res.json(200, listOf([testObject("b", "1")], "9")));
  const rec = new WatchRecording(server.transport(), { pageSize: 1 });
  try {
    await rec.until(() => rec.store.synced, "the list to complete");
    assert.deepEqual(server.requestsOf("list").map((r) => r.query.get("continue")), [
      null,
      "t1",
      "t1",
    ]);
    assert.deepEqual(rec.store.keys().sort(), ["default/a", "default/b"]);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("an expired continue token (410 while paging) restarts the list from the first page", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "9", "t1")))
    .onList((_, res) => res.json(410, status(410, "Expired", "continue token expired")))
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "12", "t3")))
    .onList((_, res) => res.json(200, listOf([testObject("b", "11")], "12")));
  const rec = new WatchRecording(server.transport(), { pageSize: 1 });
  try {
    await rec.until(() => rec.store.synced, "the list to complete");
    assert.deepEqual(server.requestsOf("list").map((r) => r.query.get("continue")), [
      null,
      "t1",
      null,
      "t3",
    ]);
    assert.deepEqual(rec.store.keys().sort(), ["default/a", "default/b"]);
  } finally {
    await rec.stop();
    await server.close();
  }
});

Deno.test("a server answering every watch with 410 gets relists spaced by growing backoff", async () => {
  const server = await ScriptedApiServer.start();
  for (let i = 0; i < 4; i++) {
    server
      .onList((_, res) => res.json(200, listOf([], String(10 + i))))
      .onWatch((_, res) => res.json(410, status(410, "Expired", "too old")));
  }
  server.onList((_, res) => res.json(200, listOf([], "99")));
  // No jitter, so the growth is exact: 10, 20, 40, 80 ms.
  const rec = new WatchRecording(server.transport(), {
    backoff: new ExponentialBackoff({ initialMs: 10, maxMs: 1_000, jitter: 0 }),
  });
  try {
    await rec.until(() => server.requestsOf("list").length === 5, "the fifth list");
    const delays = rec.events.flatMap((e) => e.type === "Error" ? [e.retryInMs] : []);
    assert.deepEqual(delays, [10, 20, 40, 80]);
  } finally {
    await rec.stop();
    await server.close();
  }
});
