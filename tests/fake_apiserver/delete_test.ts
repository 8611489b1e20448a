import assert from "node:assert/strict";
import { call, createWidget, startServer, WatchReader, WIDGETS } from "./_testing.ts";

const MERGE = { "content-type": "application/merge-patch+json" };

Deno.test("deleting an object without finalizers removes it and answers a Success Status", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a");
  const reply = await call(server, "DELETE", `${WIDGETS}/a`);
  assert.equal(reply.status, 200);
  assert.equal(reply.body.status, "Success");
  assert.deepEqual(reply.body.details, {
    name: "a",
    group: "example.com",
    kind: "widgets",
    uid: a.metadata.uid,
  });
  assert.equal((await call(server, "GET", `${WIDGETS}/a`)).status, 404);
  assert.equal((await call(server, "DELETE", `${WIDGETS}/a`)).status, 404);
});

Deno.test("finalizers hold deletion until the last one is removed, then the object goes with a DELETED event", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a", { size: 1 }, { finalizers: ["x/one", "x/two"] });
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${a.metadata.resourceVersion}`,
  );
  const deleting = await call(server, "DELETE", `${WIDGETS}/a`);
  assert.equal(deleting.status, 200);
  assert.ok(deleting.body.metadata.deletionTimestamp);
  assert.equal(deleting.body.metadata.deletionGracePeriodSeconds, 0);
  assert.equal(deleting.body.metadata.generation, 2, "marking for deletion bumps generation");
  const again = await call(server, "DELETE", `${WIDGETS}/a`);
  assert.equal(again.status, 200);
  assert.equal(again.body.metadata.resourceVersion, deleting.body.metadata.resourceVersion);
  const one = await call(
    server,
    "PATCH",
    `${WIDGETS}/a`,
    { metadata: { finalizers: ["x/two"] } },
    MERGE,
  );
  assert.equal(one.status, 200);
  assert.equal((await call(server, "GET", `${WIDGETS}/a`)).status, 200, "still there");
  const last = await call(
    server,
    "PATCH",
    `${WIDGETS}/a`,
    { metadata: { finalizers: null } },
    MERGE,
  );
  assert.equal(last.status, 200);
  assert.equal((await call(server, "GET", `${WIDGETS}/a`)).status, 404);
  const types = [];
  for (let i = 0; i < 3; i++) {
    const e = await watch.next();
    assert.notEqual(e, "end");
    if (e !== "end") types.push(e.type);
  }
  assert.deepEqual(types, ["MODIFIED", "MODIFIED", "DELETED"]);
});

Deno.test("no new finalizers may be added while an object is being deleted", async () => {
  await using server = await startServer();
  await createWidget(server, "a", { size: 1 }, { finalizers: ["x/one"] });
  await call(server, "DELETE", `${WIDGETS}/a`);
  const reply = await call(server, "PATCH", `${WIDGETS}/a`, {
    metadata: { finalizers: ["x/one", "x/new"] },
  }, MERGE);
  assert.equal(reply.status, 422);
  assert.equal(reply.body.details.causes[0].field, "metadata.finalizers");
  assert.match(reply.body.message, /no new finalizers can be added if the object is being deleted/);
});

Deno.test("delete preconditions on uid and resourceVersion answer 409 when they do not hold", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a");
  const uid = await call(server, "DELETE", `${WIDGETS}/a`, {
    kind: "DeleteOptions",
    apiVersion: "v1",
    preconditions: { uid: "not-the-uid" },
  });
  assert.equal(uid.status, 409);
  assert.match(uid.body.message, /Precondition failed: UID in precondition: not-the-uid/);
  const rv = await call(server, "DELETE", `${WIDGETS}/a`, {
    preconditions: { resourceVersion: "1" },
  });
  assert.equal(rv.status, 409);
  assert.match(rv.body.message, /Precondition failed: ResourceVersion in precondition: 1/);
  const ok = await call(server, "DELETE", `${WIDGETS}/a`, {
    preconditions: { uid: a.metadata.uid, resourceVersion: a.metadata.resourceVersion },
  });
  assert.equal(ok.status, 200);
});

Deno.test("deleting a namespace deletes its content, then the namespace", async () => {
  await using server = await startServer();
  await call(server, "POST", "/api/v1/namespaces", { metadata: { name: "team" } });
  const path = "/apis/example.com/v1/namespaces/team/widgets";
  await call(server, "POST", path, { kind: "Widget", metadata: { name: "w" }, spec: { size: 1 } });
  await call(server, "POST", path, {
    kind: "Widget",
    metadata: { name: "held", finalizers: ["x/y"] },
    spec: { size: 1 },
  });
  const reply = await call(server, "DELETE", "/api/v1/namespaces/team");
  assert.equal(reply.status, 200);
  assert.equal(reply.body.status.phase, "Terminating");
  assert.equal((await call(server, "GET", `${path}/w`)).status, 404);
  const create = await call(server, "POST", path, {
    kind: "Widget",
    metadata: { name: "late" },
    spec: { size: 1 },
  });
  assert.equal(create.status, 403, "no new content in a terminating namespace");
  await call(server, "PATCH", `${path}/held`, { metadata: { finalizers: null } }, MERGE);
  assert.equal((await call(server, "GET", "/api/v1/namespaces/team")).status, 404);
});

Deno.test("the default namespace may not be deleted", async () => {
  await using server = await startServer();
  const reply = await call(server, "DELETE", "/api/v1/namespaces/default");
  assert.equal(reply.status, 403);
});
