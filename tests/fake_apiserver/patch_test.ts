import assert from "node:assert/strict";
import { call, createWidget, startServer, WIDGETS } from "./_testing.ts";
import { jsonPatch, mergePatch, PatchError, strategicMergePatchObject } from "./patch.ts";

const MERGE = { "content-type": "application/merge-patch+json" };
const JSON_PATCH = { "content-type": "application/json-patch+json" };

Deno.test("merge patch follows RFC 7386: null deletes, objects merge, arrays replace", () => {
  assert.deepEqual(
    mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1, 2] }, { a: null, b: { c: 9 }, e: [3] }),
    { b: { c: 9, d: 3 }, e: [3] },
  );
});

Deno.test("JSON patch applies add, remove, replace, move, copy and test", () => {
  const doc = { a: [1, 2], b: { c: "x" } };
  const out = jsonPatch(doc, [
    { op: "test", path: "/b/c", value: "x" },
    { op: "add", path: "/a/-", value: 3 },
    { op: "add", path: "/a/0", value: 0 },
    { op: "remove", path: "/a/1" },
    { op: "replace", path: "/b/c", value: "y" },
    { op: "copy", from: "/b/c", path: "/d" },
    { op: "move", from: "/d", path: "/e~1f" },
  ]);
  assert.deepEqual(out, { a: [0, 2, 3], b: { c: "y" }, "e/f": "y" });
  assert.deepEqual(doc, { a: [1, 2], b: { c: "x" } }, "input untouched");
  assert.throws(() => jsonPatch(doc, [{ op: "test", path: "/b/c", value: "z" }]), PatchError);
  assert.throws(() => jsonPatch(doc, [{ op: "remove", path: "/zz" }]), PatchError);
});

Deno.test("strategic merge patch unions metadata.finalizers and honours $deleteFromPrimitiveList", () => {
  const out = strategicMergePatchObject(
    { metadata: { name: "n", finalizers: ["a", "b"] } },
    { metadata: { finalizers: ["c"], "$deleteFromPrimitiveList/finalizers": ["a"] } },
  );
  assert.deepEqual(out, { metadata: { name: "n", finalizers: ["b", "c"] } });
});

Deno.test("merge patch over HTTP changes the object and bumps generation for spec", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const reply = await call(server, "PATCH", `${WIDGETS}/a`, { spec: { color: "blue" } }, MERGE);
  assert.equal(reply.status, 200);
  assert.equal(reply.body.spec.color, "blue");
  assert.equal(reply.body.metadata.generation, 2);
});

Deno.test("a JSON patch whose test op holds applies; a failing test op is 422 and changes nothing", async () => {
  await using server = await startServer();
  const v1 = await createWidget(server, "a");
  const rv = v1.metadata.resourceVersion;
  const ok = await call(server, "PATCH", `${WIDGETS}/a`, [
    { op: "test", path: "/metadata/resourceVersion", value: rv },
    { op: "replace", path: "/spec/size", value: 7 },
  ], JSON_PATCH);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.spec.size, 7);
  const stale = await call(server, "PATCH", `${WIDGETS}/a`, [
    { op: "test", path: "/metadata/resourceVersion", value: rv },
    { op: "replace", path: "/spec/size", value: 8 },
  ], JSON_PATCH);
  assert.equal(stale.status, 422);
  assert.equal(stale.body.reason, "Invalid");
  assert.equal(
    stale.body.message,
    "the server rejected our request due to an error in our request",
  );
  assert.equal((await call(server, "GET", `${WIDGETS}/a`)).body.spec.size, 7);
});

Deno.test("a patch carrying a stale metadata.resourceVersion is a 409 Conflict", async () => {
  await using server = await startServer();
  const v1 = await createWidget(server, "a");
  await call(server, "PATCH", `${WIDGETS}/a`, { spec: { size: 2 } }, MERGE);
  const reply = await call(server, "PATCH", `${WIDGETS}/a`, {
    metadata: { resourceVersion: v1.metadata.resourceVersion },
    spec: { size: 3 },
  }, MERGE);
  assert.equal(reply.status, 409);
  assert.equal(reply.body.reason, "Conflict");
});

Deno.test("strategic merge patch on a custom resource is 415 with the accepted types", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const reply = await call(server, "PATCH", `${WIDGETS}/a`, { spec: { size: 2 } }, {
    "content-type": "application/strategic-merge-patch+json",
  });
  assert.equal(reply.status, 415);
  assert.equal(reply.body.reason, "UnsupportedMediaType");
  assert.equal(
    reply.body.message,
    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json",
  );
});

Deno.test("server-side apply is not implemented and says so with a 415 Status", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const reply = await call(server, "PATCH", `${WIDGETS}/a?fieldManager=t`, "spec:\n  size: 2\n", {
    "content-type": "application/apply-patch+yaml",
  });
  assert.equal(reply.status, 415);
  assert.equal(reply.body.kind, "Status");
});

Deno.test("strategic merge patch works on built-in types", async () => {
  await using server = await startServer();
  await call(server, "POST", "/api/v1/namespaces", { metadata: { name: "team" } });
  const reply = await call(server, "PATCH", "/api/v1/namespaces/team", {
    metadata: { labels: { a: "b" }, finalizers: ["x/y"] },
  }, { "content-type": "application/strategic-merge-patch+json" });
  assert.equal(reply.status, 200);
  // kube-apiserver labels every namespace with its name.
  assert.deepEqual(reply.body.metadata.labels, { "kubernetes.io/metadata.name": "team", a: "b" });
  assert.deepEqual(reply.body.metadata.finalizers, ["x/y"]);
});

Deno.test("patching the status subresource changes only status", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const reply = await call(server, "PATCH", `${WIDGETS}/a/status`, {
    spec: { size: 50 },
    status: { phase: "Ready" },
  }, MERGE);
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body.status, { phase: "Ready" });
  assert.equal(reply.body.spec.size, 1);
  assert.equal(reply.body.metadata.generation, 1);
});

Deno.test("patching a missing object is 404", async () => {
  await using server = await startServer();
  const reply = await call(server, "PATCH", `${WIDGETS}/ghost`, { spec: {} }, MERGE);
  assert.equal(reply.status, 404);
  assert.equal(reply.body.message, 'widgets.example.com "ghost" not found');
});
