/**
 * `ResourceClient` against a recording stand-in API server: each helper must send exactly the
 * request kube-apiserver expects (method, path, query, content type, body) and turn its answers
 * (objects, lists, Status errors) into values or error classes.
 */
import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { ResourceClient } from "../../lib/kube/client.ts";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidError,
  NotFoundError,
} from "../../lib/kube/errors.ts";
import type { KubeObject, ResourceType } from "../../lib/kube/resource.ts";
import { KubeConfigTransport } from "../../lib/kube/transport.ts";
import {
  type RecordingApiServer,
  startRecordingApiServer,
} from "./fixtures/recording_apiserver.ts";

const WIDGETS: ResourceType = {
  group: "example.giantswarm.io",
  version: "v1alpha1",
  plural: "widgets",
  kind: "Widget",
  namespaced: true,
};
const BASE = "/apis/example.giantswarm.io/v1alpha1";
const FIELD_MANAGER = "image-distribution-operator";

interface Widget extends KubeObject {
  spec?: { size?: number };
  status?: { phase?: string };
}

function widget(name: string, namespace = "ns", labels?: Record<string, string>): Widget {
  return {
    apiVersion: "example.giantswarm.io/v1alpha1",
    kind: "Widget",
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { size: 1 },
  };
}

/** Runs `fn` with a client talking to a fresh recording server. */
async function withServer(
  fn: (client: ResourceClient<Widget>, server: RecordingApiServer) => Promise<void>,
): Promise<void> {
  const server = startRecordingApiServer(WIDGETS);
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "c", server: server.url, skipTLSVerify: false }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  const transport = new KubeConfigTransport(config);
  try {
    await fn(new ResourceClient<Widget>(transport, WIDGETS), server);
  } finally {
    transport.close();
    await server.close();
  }
}

/** Creates objects directly through the client and forgets those requests. */
async function seed(client: ResourceClient<Widget>, server: RecordingApiServer, objects: Widget[]) {
  for (const object of objects) await client.create(object);
  server.requests.length = 0;
}

Deno.test("create POSTs the object as JSON to the namespaced collection with a field manager", async () => {
  await withServer(async (client, server) => {
    const created = await client.create(widget("a"));
    assert.deepEqual(server.requests, [{
      method: "POST",
      path: `${BASE}/namespaces/ns/widgets`,
      query: { fieldManager: FIELD_MANAGER },
      contentType: "application/json",
      accept: "application/json",
      body: widget("a"),
    }]);
    assert.equal(created.metadata.name, "a");
    assert.ok(created.metadata.uid);
    assert.ok(created.metadata.resourceVersion);

    await assert.rejects(client.create(widget("a")), (error: Error) => {
      assert.ok(error instanceof AlreadyExistsError);
      assert.equal(error.message, 'widgets.example.giantswarm.io "a" already exists');
      return true;
    });
  });
});

Deno.test("create of a namespaced object without a namespace is refused before any request", async () => {
  await withServer(async (client, server) => {
    const object = widget("a");
    delete object.metadata.namespace;
    await assert.rejects(
      client.create(object),
      /Cannot create Widget "a": metadata\.namespace is required/,
    );
    assert.equal(server.requests.length, 0);
  });
});

Deno.test("get reads one object and a missing one is a NotFoundError with the server's message", async () => {
  await withServer(async (client, server) => {
    await seed(client, server, [widget("a")]);
    const got = await client.get("a", "ns");
    assert.equal(got.spec?.size, 1);
    assert.deepEqual(server.requests[0], {
      method: "GET",
      path: `${BASE}/namespaces/ns/widgets/a`,
      query: {},
      contentType: null,
      accept: "application/json",
      body: undefined,
    });
    await assert.rejects(client.get("b", "ns"), (error: Error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.message, 'widgets.example.giantswarm.io "b" not found');
      assert.equal(error.reason, "NotFound");
      assert.equal(error.code, 404);
      return true;
    });
    await assert.rejects(client.get("a"), /namespace is required/);
  });
});

Deno.test("list sends label and field selectors and lists all namespaces without one", async () => {
  await withServer(async (client, server) => {
    await seed(client, server, [
      widget("a", "ns", { tier: "web" }),
      widget("b", "ns", { tier: "db" }),
      widget("c", "other", { tier: "web" }),
    ]);
    const web = await client.list({ labelSelector: "tier=web" });
    assert.deepEqual(web.items.map((o) => o.metadata.name), ["a", "c"]);
    assert.deepEqual(server.requests[0].path, `${BASE}/widgets`);
    assert.deepEqual(server.requests[0].query, { labelSelector: "tier=web" });

    const named = await client.list({
      namespace: "ns",
      labelSelector: "tier=web",
      fieldSelector: "metadata.name=a",
    });
    assert.deepEqual(named.items.map((o) => o.metadata.name), ["a"]);
    assert.equal(server.requests[1].path, `${BASE}/namespaces/ns/widgets`);
    assert.deepEqual(server.requests[1].query, {
      labelSelector: "tier=web",
      fieldSelector: "metadata.name=a",
    });
  });
});

Deno.test("list follows continue tokens, sends resourceVersion on the first page only, and returns the final page's resourceVersion", async () => {
  await withServer(async (client, server) => {
    await seed(client, server, ["a", "b", "c", "d", "e"].map((n) => widget(n)));
    const listRv = String(server.objects.size + 100);
    const list = await client.list({ namespace: "ns", limit: 2, resourceVersion: listRv });
    assert.deepEqual(list.items.map((o) => o.metadata.name), ["a", "b", "c", "d", "e"]);
    assert.equal(list.kind, "WidgetList");
    assert.deepEqual(list.metadata, { resourceVersion: listRv });
    assert.deepEqual(server.requests.map((r) => r.query), [
      { limit: "2", resourceVersion: listRv },
      { limit: "2", continue: btoa("2") },
      { limit: "2", continue: btoa("4") },
    ]);
  });
});

Deno.test("update PUTs the whole object and a stale resourceVersion is a ConflictError", async () => {
  await withServer(async (client, server) => {
    const created = await client.create(widget("a"));
    server.requests.length = 0;
    const updated = await client.update({ ...created, spec: { size: 2 } });
    assert.equal(updated.spec?.size, 2);
    assert.notEqual(updated.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.deepEqual(server.requests[0], {
      method: "PUT",
      path: `${BASE}/namespaces/ns/widgets/a`,
      query: { fieldManager: FIELD_MANAGER },
      contentType: "application/json",
      accept: "application/json",
      body: { ...created, spec: { size: 2 } },
    });
    await assert.rejects(client.update({ ...created, spec: { size: 3 } }), (error: Error) => {
      assert.ok(error instanceof ConflictError);
      assert.match(error.message, /the object has been modified/);
      return true;
    });
    assert.equal((await client.get("a", "ns")).spec?.size, 2);
  });
});

Deno.test("mergePatch PATCHes with the merge-patch media type", async () => {
  await withServer(async (client, server) => {
    await seed(client, server, [widget("a", "ns", { keep: "yes", drop: "yes" })]);
    const patch = { metadata: { labels: { drop: null, add: "new" } }, spec: { size: 5 } };
    const patched = await client.mergePatch("a", "ns", patch, { fieldManager: "tester" });
    assert.deepEqual(patched.metadata.labels, { keep: "yes", add: "new" });
    assert.equal(patched.spec?.size, 5);
    assert.deepEqual(server.requests[0], {
      method: "PATCH",
      path: `${BASE}/namespaces/ns/widgets/a`,
      query: { fieldManager: "tester" },
      contentType: "application/merge-patch+json",
      accept: "application/json",
      body: patch,
    });
  });
});

Deno.test("jsonPatch with a test op applies only while the test holds; a failed test is an InvalidError", async () => {
  await withServer(async (client, server) => {
    const created = await client.create({
      ...widget("a"),
      metadata: { ...widget("a").metadata, finalizers: ["x/cleanup"] },
    });
    server.requests.length = 0;
    const removeFinalizer = [
      {
        op: "test" as const,
        path: "/metadata/resourceVersion",
        value: created.metadata.resourceVersion,
      },
      { op: "test" as const, path: "/metadata/finalizers/0", value: "x/cleanup" },
      { op: "remove" as const, path: "/metadata/finalizers/0" },
    ];
    await client.mergePatch("a", "ns", { spec: { size: 9 } });
    await assert.rejects(client.jsonPatch("a", "ns", removeFinalizer), (error: Error) => {
      assert.ok(error instanceof InvalidError);
      assert.equal(error.code, 422);
      return true;
    });
    assert.deepEqual((await client.get("a", "ns")).metadata.finalizers, ["x/cleanup"]);
    assert.deepEqual(server.requests[1], {
      method: "PATCH",
      path: `${BASE}/namespaces/ns/widgets/a`,
      query: { fieldManager: FIELD_MANAGER },
      contentType: "application/json-patch+json",
      accept: "application/json",
      body: removeFinalizer,
    });

    const fresh = await client.get("a", "ns");
    removeFinalizer[0].value = fresh.metadata.resourceVersion;
    const patched = await client.jsonPatch("a", "ns", removeFinalizer);
    assert.deepEqual(patched.metadata.finalizers, []);
  });
});

Deno.test("status helpers address the status subresource with the right media types", async () => {
  await withServer(async (client, server) => {
    await seed(client, server, [widget("a")]);
    const merged = await client.patchStatus("a", "ns", { status: { phase: "Ready" } });
    assert.equal(merged.status?.phase, "Ready");
    const jsonPatched = await client.jsonPatchStatus("a", "ns", [
      { op: "test", path: "/status/phase", value: "Ready" },
      { op: "replace", path: "/status/phase", value: "Done" },
    ]);
    assert.equal(jsonPatched.status?.phase, "Done");
    const updated = await client.updateStatus({
      ...jsonPatched,
      status: { phase: "Final" },
      spec: { size: 99 },
    });
    assert.equal(updated.status?.phase, "Final");
    assert.equal(updated.spec?.size, 1, "the status endpoint leaves spec alone");
    assert.deepEqual(
      server.requests.map((r) => [r.method, r.path, r.contentType, r.query.fieldManager]),
      [
        [
          "PATCH",
          `${BASE}/namespaces/ns/widgets/a/status`,
          "application/merge-patch+json",
          FIELD_MANAGER,
        ],
        [
          "PATCH",
          `${BASE}/namespaces/ns/widgets/a/status`,
          "application/json-patch+json",
          FIELD_MANAGER,
        ],
        ["PUT", `${BASE}/namespaces/ns/widgets/a/status`, "application/json", FIELD_MANAGER],
      ],
    );
    await assert.rejects(
      client.updateStatus({ ...jsonPatched, status: { phase: "Stale" } }),
      ConflictError,
    );
  });
});

Deno.test("delete sends preconditions in a v1 DeleteOptions body and a failed one is a ConflictError", async () => {
  await withServer(async (client, server) => {
    const a = await client.create(widget("a"));
    const b = await client.create(widget("b"));
    server.requests.length = 0;

    await assert.rejects(
      client.delete("a", "ns", { uid: "someone-else", propagationPolicy: "Foreground" }),
      (error: Error) =>
        error instanceof ConflictError && /Precondition failed: UID/.test(error.message),
    );
    assert.deepEqual(server.requests[0], {
      method: "DELETE",
      path: `${BASE}/namespaces/ns/widgets/a`,
      query: {},
      contentType: "application/json",
      accept: "application/json",
      body: {
        kind: "DeleteOptions",
        apiVersion: "v1",
        preconditions: { uid: "someone-else" },
        propagationPolicy: "Foreground",
      },
    });

    await client.delete("a", "ns", {
      uid: a.metadata.uid,
      resourceVersion: a.metadata.resourceVersion,
    });
    assert.deepEqual((server.requests[1].body as { preconditions: unknown }).preconditions, {
      uid: a.metadata.uid,
      resourceVersion: a.metadata.resourceVersion,
    });
    await assert.rejects(client.get("a", "ns"), NotFoundError);

    await client.delete("b", "ns");
    const plain = server.requests.find((r) => r.method === "DELETE" && r.path.endsWith("/b"))!;
    assert.equal(plain.body, undefined, "no options, no body");
    assert.equal(plain.contentType, null);
    assert.ok(b.metadata.uid);
    await assert.rejects(client.delete("b", "ns"), NotFoundError);
  });
});

Deno.test("an aborted signal stops a request with the signal's reason", async () => {
  await withServer(async (client) => {
    const abort = new AbortController();
    const reason = new Error("shutdown");
    abort.abort(reason);
    await assert.rejects(client.list({ signal: abort.signal }), (error) => error === reason);
  });
});
