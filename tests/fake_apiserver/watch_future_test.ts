/**
 * Watches from a resourceVersion the server has not reached, and a server whose state goes back
 * (an etcd restore, or a restart with its state reset): answered the way kube-apiserver's watch
 * cache answers them (see watch.ts for where that was read).
 */
import assert from "node:assert/strict";
import { createWidget, startServer, type WatchEvent, WatchReader, WIDGETS } from "./_testing.ts";

Deno.test("a watch from a resourceVersion the server has not reached stays silent until it gets there", async () => {
  await using server = await startServer({ bookmarkIntervalMs: 5 });
  const future = Number(server.resourceVersion) + 3;
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&allowWatchBookmarks=true&resourceVersion=${future}`,
  );
  assert.equal(watch.response.status, 200, "the watch is established, not refused");
  for (const name of ["a", "b", "c", "d"]) await createWidget(server, name);
  const seen: WatchEvent[] = [];
  const first = await watch.until((e) => {
    seen.push(e);
    return e.type !== "BOOKMARK";
  });
  assert.equal(first.type, "ADDED");
  assert.equal(first.object.metadata.name, "d", "events at or below the requested one are skipped");
  assert.ok(Number(first.object.metadata.resourceVersion) > future);
  for (const bookmark of seen.filter((e) => e.type === "BOOKMARK")) {
    assert.ok(
      Number(bookmark.object.metadata.resourceVersion) >= future,
      `a bookmark from before the requested resourceVersion: ${JSON.stringify(bookmark)}`,
    );
  }
});

Deno.test("sendInitialEvents from a resourceVersion the server does not reach is an in-stream 504 Too large resource version", async () => {
  await using server = await startServer({ freshnessTimeoutMs: 30 });
  const current = Number(server.resourceVersion);
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true` +
      `&resourceVersionMatch=NotOlderThan&resourceVersion=${current + 5}`,
  );
  assert.equal(watch.response.status, 200);
  const error = await watch.next();
  assert.ok(error !== "end");
  assert.equal(error.type, "ERROR");
  assert.deepEqual(error.object, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `Timeout: Too large resource version: ${current + 5}, current: ${current}`,
    reason: "Timeout",
    details: {
      causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
      retryAfterSeconds: 1,
    },
    code: 504,
  });
  assert.equal(await watch.next(), "end");
});

Deno.test("sendInitialEvents from a resourceVersion the server reaches in time sends the state", async () => {
  await using server = await startServer({ freshnessTimeoutMs: 10_000 });
  const target = Number(server.resourceVersion) + 1;
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true` +
      `&resourceVersionMatch=NotOlderThan&resourceVersion=${target}`,
  );
  await createWidget(server, "a");
  const added = await watch.next();
  assert.ok(added !== "end" && added.type === "ADDED" && added.object.metadata.name === "a");
  const end = await watch.until((e) => e.type === "BOOKMARK");
  assert.equal(end.object.metadata.annotations["k8s.io/initial-events-end"], "true");
});

Deno.test("restoring a snapshot takes the resourceVersion back, forgets later objects and drops every watch", async () => {
  await using server = await startServer();
  const snapshot = server.snapshot();
  const before = server.resourceVersion;
  await createWidget(server, "a");
  const b = await createWidget(server, "b");
  await using open = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${b.metadata.resourceVersion}`,
  );
  await server.restore(snapshot);
  await assert.rejects(() => open.next(), "the open watch is torn down");
  assert.equal(server.resourceVersion, before);
  const list = await (await fetch(`${server.url}${WIDGETS}`)).json();
  assert.deepEqual(list.items, []);
  assert.equal(list.metadata.resourceVersion, before);

  // Our old resourceVersion is now in the server's future: the watch is silent until the
  // server passes it, so a widget made now is not seen.
  await using resumed = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${b.metadata.resourceVersion}`,
  );
  for (const name of ["c", "d", "e"]) await createWidget(server, name);
  const e = await resumed.next();
  assert.ok(e !== "end" && e.type === "ADDED");
  assert.equal(e.object.metadata.name, "e", "c and d are at or below the old resourceVersion");
});
