import assert from "node:assert/strict";
import { call, createWidget, GADGETS, startServer, widget, WIDGETS } from "./_testing.ts";

Deno.test("create fills uid, creationTimestamp, generation 1 and a numeric resourceVersion", async () => {
  await using server = await startServer();
  const created = await createWidget(server, "a");
  assert.match(created.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(created.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(created.metadata.generation, 1);
  assert.match(created.metadata.resourceVersion, /^\d+$/);
  assert.equal(created.metadata.namespace, "default");
  assert.equal(created.spec.color, "red", "schema default applied");
});

Deno.test("resourceVersions are global and increase with every write", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a");
  const g = await call(server, "POST", GADGETS, { kind: "Gadget", metadata: { name: "g" } });
  const b = await createWidget(server, "b");
  const rvs = [a, g.body, b].map((o) => Number(o.metadata.resourceVersion));
  assert.ok(rvs[0] < rvs[1] && rvs[1] < rvs[2], `not increasing: ${rvs}`);
});

Deno.test("generateName gets a random five-character suffix", async () => {
  await using server = await startServer();
  const reply = await call(
    server,
    "POST",
    WIDGETS,
    widget("", { size: 1 }, { generateName: "w-" }),
  );
  assert.equal(reply.status, 201);
  assert.match(reply.body.metadata.name, /^w-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
});

Deno.test("create answers AlreadyExists 409 for a taken name", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const reply = await call(server, "POST", WIDGETS, widget("a"));
  assert.equal(reply.status, 409);
  assert.equal(reply.body.reason, "AlreadyExists");
  assert.equal(reply.body.message, 'widgets.example.com "a" already exists');
});

Deno.test("create rejects a body namespace that differs from the path with 400", async () => {
  await using server = await startServer();
  const reply = await call(
    server,
    "POST",
    WIDGETS,
    widget("a", { size: 1 }, { namespace: "other" }),
  );
  assert.equal(reply.status, 400);
  assert.equal(reply.body.reason, "BadRequest");
});

Deno.test("create in a namespace that does not exist answers 404 for the namespace", async () => {
  await using server = await startServer();
  const reply = await call(
    server,
    "POST",
    "/apis/example.com/v1/namespaces/nope/widgets",
    widget("a"),
  );
  assert.equal(reply.status, 404);
  assert.equal(reply.body.message, 'namespaces "nope" not found');
  assert.deepEqual(reply.body.details, { name: "nope", kind: "namespaces" });
});

Deno.test("get of a missing object is a NotFound Status with the real message", async () => {
  await using server = await startServer();
  const reply = await call(server, "GET", `${WIDGETS}/ghost`);
  assert.equal(reply.status, 404);
  assert.deepEqual(reply.body, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: 'widgets.example.com "ghost" not found',
    reason: "NotFound",
    details: { name: "ghost", group: "example.com", kind: "widgets" },
    code: 404,
  });
});

Deno.test("update with a stale resourceVersion is a 409 Conflict with the real message", async () => {
  await using server = await startServer();
  const v1 = await createWidget(server, "a");
  const v2 = await call(server, "PUT", `${WIDGETS}/a`, { ...v1, spec: { size: 2 } });
  assert.equal(v2.status, 200);
  const stale = await call(server, "PUT", `${WIDGETS}/a`, { ...v1, spec: { size: 3 } });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, "Conflict");
  assert.equal(
    stale.body.message,
    'Operation cannot be fulfilled on widgets.example.com "a": the object has been modified; please apply your changes to the latest version and try again',
  );
});

Deno.test("update of a custom resource without resourceVersion is rejected with 422", async () => {
  await using server = await startServer();
  const v1 = await createWidget(server, "a");
  delete v1.metadata.resourceVersion;
  const reply = await call(server, "PUT", `${WIDGETS}/a`, v1);
  assert.equal(reply.status, 422);
  assert.equal(
    reply.body.message,
    // kube-apiserver 1.36's wording (tests/api_fidelity_test.ts checks it against the real one).
    'widgets.example.com "a" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update',
  );
});

Deno.test("update of a built-in type without resourceVersion is unconditional", async () => {
  await using server = await startServer();
  const lease = { metadata: { name: "l" }, spec: { holderIdentity: "a" } };
  const path = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
  assert.equal((await call(server, "POST", path, lease)).status, 201);
  const reply = await call(server, "PUT", `${path}/l`, { ...lease, spec: { holderIdentity: "b" } });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.spec.holderIdentity, "b");
});

Deno.test("generation bumps on spec changes only, never on metadata or status changes", async () => {
  await using server = await startServer();
  const v1 = await createWidget(server, "a");
  const labelled = await call(server, "PUT", `${WIDGETS}/a`, {
    ...v1,
    metadata: { ...v1.metadata, labels: { x: "y" } },
  });
  assert.equal(labelled.body.metadata.generation, 1);
  assert.notEqual(labelled.body.metadata.resourceVersion, v1.metadata.resourceVersion);
  const status = await call(server, "PUT", `${WIDGETS}/a/status`, {
    ...labelled.body,
    status: { phase: "Ready" },
  });
  assert.equal(status.body.metadata.generation, 1);
  const spec = await call(server, "PUT", `${WIDGETS}/a`, { ...status.body, spec: { size: 5 } });
  assert.equal(spec.body.metadata.generation, 2);
});

Deno.test("without a status subresource, status is part of the content and bumps generation", async () => {
  await using server = await startServer();
  const g = (await call(server, "POST", GADGETS, { kind: "Gadget", metadata: { name: "g" } })).body;
  const reply = await call(server, "PUT", `${GADGETS}/g`, { ...g, status: { up: true } });
  assert.equal(reply.body.metadata.generation, 2);
  assert.deepEqual(reply.body.status, { up: true });
});

Deno.test("the main endpoint keeps the stored status; /status changes only status", async () => {
  await using server = await startServer();
  const created = await call(server, "POST", WIDGETS, {
    ...widget("a"),
    status: { phase: "Born" },
  });
  assert.equal(created.body.status, undefined, "status is dropped on create");
  const withStatus = await call(server, "PUT", `${WIDGETS}/a/status`, {
    ...created.body,
    spec: { size: 99 },
    metadata: { ...created.body.metadata, labels: { ignored: "yes" } },
    status: { phase: "Ready" },
  });
  assert.equal(withStatus.status, 200);
  assert.deepEqual(withStatus.body.status, { phase: "Ready" });
  assert.equal(withStatus.body.spec.size, 1, "/status ignores spec");
  assert.equal(withStatus.body.metadata.labels, undefined, "/status ignores metadata");
  const main = await call(server, "PUT", `${WIDGETS}/a`, {
    ...withStatus.body,
    spec: { size: 2 },
    status: { phase: "Hacked" },
  });
  assert.deepEqual(main.body.status, { phase: "Ready" }, "main endpoint keeps status");
  assert.equal(main.body.spec.size, 2);
});

Deno.test("a no-op update keeps the resourceVersion and emits no event", async () => {
  await using server = await startServer();
  const v1 = await createWidget(server, "a");
  const before = server.resourceVersion;
  const same = await call(server, "PUT", `${WIDGETS}/a`, v1);
  assert.equal(same.status, 200);
  assert.equal(same.body.metadata.resourceVersion, v1.metadata.resourceVersion);
  const patched = await call(server, "PATCH", `${WIDGETS}/a`, { spec: { size: 1 } }, {
    "content-type": "application/merge-patch+json",
  });
  assert.equal(patched.body.metadata.resourceVersion, v1.metadata.resourceVersion);
  assert.equal(server.resourceVersion, before);
});

Deno.test("the name in the body must match the URL", async () => {
  await using server = await startServer();
  const v1 = await createWidget(server, "a");
  const reply = await call(server, "PUT", `${WIDGETS}/a`, {
    ...v1,
    metadata: { ...v1.metadata, name: "b" },
  });
  assert.equal(reply.status, 400);
  assert.equal(
    reply.body.message,
    "the name of the object (b) does not match the name on the URL (a)",
  );
});

Deno.test("invalid object names and label values are rejected with 422", async () => {
  await using server = await startServer();
  const name = await call(server, "POST", WIDGETS, widget("Not_Valid"));
  assert.equal(name.status, 422);
  assert.equal(name.body.details.causes[0].field, "metadata.name");
  const label = await call(
    server,
    "POST",
    WIDGETS,
    widget("a", { size: 1 }, { labels: { v: "1.0+x" } }),
  );
  assert.equal(label.status, 422);
  assert.equal(label.body.details.causes[0].field, "metadata.labels");
});

Deno.test("cluster-scoped objects carry no namespace", async () => {
  await using server = await startServer();
  const reply = await call(server, "POST", GADGETS, {
    kind: "Gadget",
    metadata: { name: "g", namespace: "default" },
  });
  assert.equal(reply.status, 201);
  assert.equal(reply.body.metadata.namespace, undefined);
  assert.equal((await call(server, "GET", `${GADGETS}/g`)).status, 200);
});

Deno.test("core and events.k8s.io events share storage with renamed fields", async () => {
  await using server = await startServer();
  const core = await call(server, "POST", "/api/v1/namespaces/default/events", {
    metadata: { name: "e1" },
    involvedObject: { kind: "Widget", name: "a", namespace: "default" },
    reason: "Tested",
    message: "hello",
    type: "Normal",
  });
  assert.equal(core.status, 201);
  const viaNew = await call(server, "GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1");
  assert.equal(viaNew.body.apiVersion, "events.k8s.io/v1");
  assert.equal(viaNew.body.note, "hello");
  assert.equal(viaNew.body.regarding.name, "a");
});

Deno.test("dryRun=All validates and answers without storing", async () => {
  await using server = await startServer();
  const before = server.resourceVersion;
  const reply = await call(server, "POST", `${WIDGETS}?dryRun=All`, widget("dry"));
  assert.equal(reply.status, 201);
  assert.equal((await call(server, "GET", `${WIDGETS}/dry`)).status, 404);
  assert.equal(server.resourceVersion, before);
});
