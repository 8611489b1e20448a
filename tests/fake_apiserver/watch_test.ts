import assert from "node:assert/strict";
import { call, createWidget, startServer, WatchReader, WIDGETS } from "./_testing.ts";

const MERGE = { "content-type": "application/merge-patch+json" };

Deno.test("a watch from a resourceVersion replays every later change in order", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a");
  await createWidget(server, "b");
  await call(server, "PATCH", `${WIDGETS}/a`, { spec: { size: 2 } }, MERGE);
  await call(server, "DELETE", `${WIDGETS}/b`);
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=1&resourceVersion=${a.metadata.resourceVersion}`,
  );
  const seen = [];
  for (let i = 0; i < 3; i++) {
    const e = await watch.next();
    if (e === "end") throw new Error("ended early");
    seen.push(`${e.type} ${e.object.metadata.name}`);
    assert.equal(e.object.kind, "Widget");
  }
  assert.deepEqual(seen, ["ADDED b", "MODIFIED a", "DELETED b"]);
});

Deno.test("a watch without resourceVersion starts with synthetic ADDED events, then goes live", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  await using watch = await WatchReader.open(server, `${WIDGETS}?watch=true`);
  const first = await watch.next();
  assert.ok(first !== "end" && first.type === "ADDED" && first.object.metadata.name === "a");
  await createWidget(server, "b");
  const live = await watch.next();
  assert.ok(live !== "end" && live.type === "ADDED" && live.object.metadata.name === "b");
});

Deno.test("a watch from a compacted resourceVersion gets HTTP 200 and one 410 ERROR event", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a");
  await createWidget(server, "b");
  server.faults.compact();
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${a.metadata.resourceVersion}`,
  );
  assert.equal(watch.response.status, 200);
  const e = await watch.next();
  assert.ok(e !== "end");
  assert.equal(e.type, "ERROR");
  assert.equal(e.object.code, 410);
  assert.equal(e.object.reason, "Expired");
  assert.equal(
    e.object.message,
    `too old resource version: ${a.metadata.resourceVersion} (${server.resourceVersion})`,
  );
  assert.equal(await watch.next(), "end");
});

Deno.test("history beyond historyLimit is compacted and old resourceVersions answer 410", async () => {
  await using server = await startServer({ historyLimit: 2 });
  const a = await createWidget(server, "a");
  for (const name of ["b", "c", "d", "e", "f"]) await createWidget(server, name);
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${a.metadata.resourceVersion}`,
  );
  const e = await watch.next();
  assert.ok(e !== "end" && e.type === "ERROR" && e.object.code === 410);
});

Deno.test("bookmarks arrive on the configured interval carrying only the resourceVersion", async () => {
  await using server = await startServer({ bookmarkIntervalMs: 10 });
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&allowWatchBookmarks=true&resourceVersion=${server.resourceVersion}`,
  );
  const e = await watch.until((x) => x.type === "BOOKMARK");
  assert.deepEqual(e.object, {
    kind: "Widget",
    apiVersion: "example.com/v1",
    metadata: { resourceVersion: server.resourceVersion },
  });
});

Deno.test("no bookmarks are sent unless asked for", async () => {
  await using server = await startServer({ bookmarkIntervalMs: 5 });
  await using watch = await WatchReader.open(server, `${WIDGETS}?watch=true&timeoutSeconds=1`);
  await createWidget(server, "a");
  const e = await watch.next();
  assert.ok(e !== "end" && e.type === "ADDED");
  server.faults.closeWatches();
  assert.equal(await watch.next(), "end");
});

Deno.test("timeoutSeconds ends the stream cleanly", async () => {
  await using server = await startServer();
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&timeoutSeconds=0&resourceVersion=${server.resourceVersion}`,
  );
  assert.equal(await watch.next(), "end");
});

Deno.test("a selector watch turns objects that stop matching into DELETED and new matches into ADDED", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a", { size: 1 }, { labels: { team: "x" } });
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&labelSelector=team%3Dx&resourceVersion=${a.metadata.resourceVersion}`,
  );
  await call(server, "PATCH", `${WIDGETS}/a`, { metadata: { labels: { team: "y" } } }, MERGE);
  await createWidget(server, "other", { size: 1 }, { labels: { team: "y" } });
  await call(server, "PATCH", `${WIDGETS}/a`, { metadata: { labels: { team: "x" } } }, MERGE);
  const seen = [];
  for (let i = 0; i < 2; i++) {
    const e = await watch.next();
    if (e === "end") throw new Error("ended early");
    seen.push(`${e.type} ${e.object.metadata.name} ${e.object.metadata.labels.team}`);
  }
  assert.deepEqual(seen, ["DELETED a y", "ADDED a x"]);
});

Deno.test("a field-selector watch sees only the named object", async () => {
  await using server = await startServer();
  const rv = server.resourceVersion;
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&fieldSelector=metadata.name%3Db&resourceVersion=${rv}`,
  );
  await createWidget(server, "a");
  await createWidget(server, "b");
  const e = await watch.next();
  assert.ok(e !== "end" && e.object.metadata.name === "b");
});

Deno.test("sendInitialEvents ends the initial burst with an initial-events-end bookmark", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`,
  );
  const added = await watch.next();
  assert.ok(added !== "end" && added.type === "ADDED");
  const end = await watch.next();
  assert.ok(end !== "end" && end.type === "BOOKMARK");
  assert.equal(end.object.metadata.annotations["k8s.io/initial-events-end"], "true");
});
