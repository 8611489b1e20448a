import assert from "node:assert/strict";
import { call, createWidget, startServer, WIDGETS } from "./_testing.ts";

const AGGREGATED =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const TABLE =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

Deno.test("/api, /apis and /version describe the server", async () => {
  await using server = await startServer();
  const api = await call(server, "GET", "/api");
  assert.equal(api.body.kind, "APIVersions");
  assert.deepEqual(api.body.versions, ["v1"]);
  const apis = await call(server, "GET", "/apis");
  assert.equal(apis.body.kind, "APIGroupList");
  const names = apis.body.groups.map((g: { name: string }) => g.name);
  for (const g of ["apiextensions.k8s.io", "coordination.k8s.io", "events.k8s.io", "example.com"]) {
    assert.ok(names.includes(g), `${g} missing from ${names}`);
  }
  const version = await call(server, "GET", "/version");
  assert.equal(version.body.major, "1");
  assert.equal(
    (await call(server, "GET", "/apis/example.com")).body.preferredVersion.version,
    "v1",
  );
});

Deno.test("resource lists give verbs, scope, kind, short names and status subresources", async () => {
  await using server = await startServer();
  const list = await call(server, "GET", "/apis/example.com/v1");
  assert.equal(list.body.kind, "APIResourceList");
  const widgets = list.body.resources.find((r: { name: string }) => r.name === "widgets");
  assert.equal(widgets.kind, "Widget");
  assert.equal(widgets.namespaced, true);
  assert.equal(widgets.singularName, "widget");
  assert.deepEqual(widgets.shortNames, ["wd"]);
  assert.ok(widgets.verbs.includes("watch") && widgets.verbs.includes("patch"));
  const status = list.body.resources.find((r: { name: string }) => r.name === "widgets/status");
  assert.deepEqual(status.verbs, ["get", "patch", "update"]);
  const gadgets = list.body.resources.find((r: { name: string }) => r.name === "gadgets");
  assert.equal(gadgets.namespaced, false);
  const core = await call(server, "GET", "/api/v1");
  assert.deepEqual(
    core.body.resources.map((r: { name: string }) => r.name),
    // serviceaccounts/token (TokenRequest) is served but not listed (access_review.ts).
    ["events", "namespaces", "namespaces/status", "serviceaccounts"],
  );
});

Deno.test("aggregated discovery requests fall back to the legacy form, or 406 when JSON is not accepted", async () => {
  await using server = await startServer();
  const fallback = await call(server, "GET", "/apis", undefined, { accept: AGGREGATED });
  assert.equal(fallback.status, 200);
  assert.equal(fallback.body.kind, "APIGroupList");
  assert.equal(fallback.headers.get("content-type"), "application/json");
  const only = await call(server, "GET", "/apis", undefined, {
    accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
  });
  assert.equal(only.status, 406);
  assert.equal(only.body.reason, "NotAcceptable");
});

Deno.test("OpenAPI v3 lists every group/version and documents PATCH with fieldValidation", async () => {
  await using server = await startServer();
  const root = await call(server, "GET", "/openapi/v3");
  const entry = root.body.paths["apis/example.com/v1"];
  assert.match(entry.serverRelativeURL, /^\/openapi\/v3\/apis\/example.com\/v1\?hash=/);
  const doc = await call(server, "GET", entry.serverRelativeURL);
  const patch = doc.body.paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"].patch;
  assert.deepEqual(patch["x-kubernetes-group-version-kind"], {
    group: "example.com",
    version: "v1",
    kind: "Widget",
  });
  assert.ok(patch.parameters.some((p: { name: string }) => p.name === "fieldValidation"));
  assert.ok(!("application/strategic-merge-patch+json" in patch.requestBody.content));
  assert.equal((await call(server, "GET", "/openapi/v2")).body.swagger, "2.0");
});

Deno.test("health endpoints answer ok", async () => {
  await using server = await startServer();
  for (const path of ["/healthz", "/readyz", "/livez"]) {
    const reply = await call(server, "GET", path);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "ok");
  }
});

Deno.test("Table output has Name, the printer columns and typed cells", async () => {
  await using server = await startServer();
  await createWidget(server, "a", { size: 3 });
  await call(server, "PATCH", `${WIDGETS}/a/status`, {
    status: { conditions: [{ type: "Ready", status: "True" }] },
  }, { "content-type": "application/merge-patch+json" });
  const table = await call(server, "GET", WIDGETS, undefined, { accept: TABLE });
  assert.equal(table.body.kind, "Table");
  assert.deepEqual(
    table.body.columnDefinitions.map((c: { name: string }) => c.name),
    ["Name", "Size", "Ready", "Age"],
  );
  const [name, size, ready, age] = table.body.rows[0].cells;
  assert.deepEqual([name, size, ready], ["a", 3, "True"]);
  assert.match(age, /^\d+s$/);
  assert.equal(table.body.rows[0].object.kind, "PartialObjectMetadata");
});

Deno.test("a CRD created through the API is served at once and its objects go when it is deleted", async () => {
  await using server = await startServer();
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "things.test.io" },
    spec: {
      group: "test.io",
      scope: "Cluster",
      names: { plural: "things", singular: "thing", kind: "Thing" },
      versions: [{
        name: "v1alpha1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        },
      }],
    },
  };
  const created = await call(
    server,
    "POST",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    crd,
  );
  assert.equal(created.status, 201);
  assert.equal(created.body.status.conditions[1].type, "Established");
  const thing = await call(server, "POST", "/apis/test.io/v1alpha1/things", {
    metadata: { name: "t" },
  });
  assert.equal(thing.status, 201);
  const listed = await call(
    server,
    "GET",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
  );
  assert.equal(listed.body.items.length, 3);
  await call(
    server,
    "DELETE",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.test.io",
  );
  assert.equal((await call(server, "GET", "/apis/test.io/v1alpha1/things")).status, 404);
});

Deno.test("an invalid CRD is rejected with 422", async () => {
  await using server = await startServer();
  const reply = await call(
    server,
    "POST",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    {
      kind: "CustomResourceDefinition",
      metadata: { name: "wrong.name" },
      spec: { group: "x.io", scope: "Cluster", names: { plural: "ys", kind: "Y" }, versions: [] },
    },
  );
  assert.equal(reply.status, 422);
  assert.equal(reply.body.details.causes[0].field, "metadata.name");
});

Deno.test("request statistics count requests by verb", async () => {
  await using server = await startServer();
  server.stats.reset();
  await createWidget(server, "a");
  await call(server, "GET", `${WIDGETS}/a`);
  await call(server, "GET", WIDGETS);
  await call(server, "GET", "/apis");
  assert.equal(server.stats.total, 4);
  assert.deepEqual(server.stats.byVerb, { create: 1, get: 1, list: 1, nonresource: 1 });
});
