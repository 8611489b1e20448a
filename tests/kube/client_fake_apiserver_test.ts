/**
 * The whole client stack (loadKubeConfig → transport → ResourceClient → error classes) against
 * the faithful fake API server: conflicts on stale writes, AlreadyExists, NotFound, a failing
 * JSON-patch `test`, pagination, status subresource and delete preconditions.
 */
import assert from "node:assert/strict";
import { ResourceClient } from "../../lib/kube/client.ts";
import { loadKubeConfig } from "../../lib/kube/config.ts";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidError,
  NotFoundError,
  UnauthorizedError,
} from "../../lib/kube/errors.ts";
import type { KubeObject, ResourceType } from "../../lib/kube/resource.ts";
import { FakeApiServer } from "../fake_apiserver/mod.ts";

const WIDGETS: ResourceType = {
  group: "example.giantswarm.io",
  version: "v1alpha1",
  plural: "widgets",
  kind: "Widget",
  namespaced: true,
};

const WIDGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.giantswarm.io" },
  spec: {
    group: "example.giantswarm.io",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
    versions: [{
      name: "v1alpha1",
      served: true,
      storage: true,
      subresources: { status: {} },
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: { type: "object", properties: { size: { type: "integer" } } },
            status: { type: "object", properties: { phase: { type: "string" } } },
          },
        },
      },
    }],
  },
};

interface Widget extends KubeObject {
  spec?: { size?: number };
  status?: { phase?: string };
}

const TOKEN = "fake-apiserver-token";

function widget(name: string, labels?: Record<string, string>): Widget {
  return {
    apiVersion: "example.giantswarm.io/v1alpha1",
    kind: "Widget",
    metadata: { name, namespace: "default", ...(labels ? { labels } : {}) },
    spec: { size: 1 },
  };
}

/** Runs `fn` with a client built from the fake server's kubeconfig file, as main.ts would. */
async function withFake(
  fn: (widgets: ResourceClient<Widget>, server: FakeApiServer) => Promise<void>,
  token = TOKEN,
): Promise<void> {
  const server = await FakeApiServer.start({ crds: [WIDGET_CRD], token: TOKEN });
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/kubeconfig`, server.kubeconfigYaml({ token }));
  const kube = loadKubeConfig({ kubeconfig: `${dir}/kubeconfig` });
  try {
    assert.equal(kube.namespace, "default");
    await fn(new ResourceClient<Widget>(kube.transport, WIDGETS), server);
  } finally {
    kube.transport.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fake API server: create, then AlreadyExists for the same name", async () => {
  await withFake(async (widgets) => {
    const created = await widgets.create(widget("a"));
    assert.ok(created.metadata.uid);
    assert.ok(created.metadata.resourceVersion);
    assert.equal(created.metadata.generation, 1);
    await assert.rejects(widgets.create(widget("a")), AlreadyExistsError);
  });
});

Deno.test("fake API server: an update with a stale resourceVersion is a ConflictError", async () => {
  await withFake(async (widgets) => {
    const created = await widgets.create(widget("a"));
    const updated = await widgets.update({ ...created, spec: { size: 2 } });
    assert.equal(updated.metadata.generation, 2);
    await assert.rejects(widgets.update({ ...created, spec: { size: 3 } }), ConflictError);
    assert.equal((await widgets.get("a", "default")).spec?.size, 2);
  });
});

Deno.test("fake API server: get and delete of a missing object are NotFoundErrors", async () => {
  await withFake(async (widgets) => {
    await assert.rejects(widgets.get("missing", "default"), (error: Error) => {
      assert.ok(error instanceof NotFoundError);
      assert.match(error.message, /"missing" not found/);
      return true;
    });
    await assert.rejects(widgets.delete("missing", "default"), NotFoundError);
  });
});

Deno.test("fake API server: a JSON patch whose test op fails is an InvalidError and changes nothing", async () => {
  await withFake(async (widgets) => {
    const created = await widgets.create(widget("a"));
    await widgets.mergePatch("a", "default", { spec: { size: 7 } });
    const guarded = [
      {
        op: "test" as const,
        path: "/metadata/resourceVersion",
        value: created.metadata.resourceVersion,
      },
      { op: "replace" as const, path: "/spec/size", value: 99 },
    ];
    await assert.rejects(widgets.jsonPatch("a", "default", guarded), InvalidError);
    const current = await widgets.get("a", "default");
    assert.equal(current.spec?.size, 7);
    guarded[0].value = current.metadata.resourceVersion;
    assert.equal((await widgets.jsonPatch("a", "default", guarded)).spec?.size, 99);
  });
});

Deno.test("fake API server: list follows pagination and filters by label and field", async () => {
  await withFake(async (widgets, server) => {
    for (const name of ["a", "b", "c", "d", "e"]) {
      await widgets.create(widget(name, { tier: name < "c" ? "web" : "db" }));
    }
    server.stats.reset();
    const all = await widgets.list({ namespace: "default", limit: 2 });
    assert.equal(server.stats.byVerb.list, 3, "three pages of at most two");
    assert.deepEqual(all.items.map((o) => o.metadata.name).sort(), ["a", "b", "c", "d", "e"]);
    assert.equal(all.metadata.resourceVersion, server.resourceVersion);
    assert.equal(all.metadata.continue, undefined);

    const web = await widgets.list({ labelSelector: "tier=web", limit: 1 });
    assert.deepEqual(web.items.map((o) => o.metadata.name).sort(), ["a", "b"]);
    const one = await widgets.list({ fieldSelector: "metadata.name=d" });
    assert.deepEqual(one.items.map((o) => o.metadata.name), ["d"]);
  });
});

Deno.test("fake API server: status patches change only status and leave generation alone", async () => {
  await withFake(async (widgets) => {
    await widgets.create(widget("a"));
    const patched = await widgets.patchStatus("a", "default", {
      spec: { size: 50 },
      status: { phase: "Ready" },
    });
    assert.equal(patched.status?.phase, "Ready");
    assert.equal(patched.spec?.size, 1);
    assert.equal(patched.metadata.generation, 1);
    const jsonPatched = await widgets.jsonPatchStatus("a", "default", [
      { op: "test", path: "/status/phase", value: "Ready" },
      { op: "replace", path: "/status/phase", value: "Done" },
    ]);
    assert.equal(jsonPatched.status?.phase, "Done");
    const updated = await widgets.updateStatus({ ...jsonPatched, status: { phase: "Final" } });
    assert.equal(updated.status?.phase, "Final");
    await assert.rejects(
      widgets.updateStatus({ ...jsonPatched, status: { phase: "Stale" } }),
      ConflictError,
    );
  });
});

Deno.test("fake API server: delete honours uid and resourceVersion preconditions", async () => {
  await withFake(async (widgets) => {
    const created = await widgets.create(widget("a"));
    await assert.rejects(
      widgets.delete("a", "default", { uid: "00000000-0000-0000-0000-000000000000" }),
      ConflictError,
    );
    await widgets.delete("a", "default", {
      uid: created.metadata.uid,
      resourceVersion: created.metadata.resourceVersion,
    });
    await assert.rejects(widgets.get("a", "default"), NotFoundError);
  });
});

Deno.test("fake API server: a wrong bearer token is an UnauthorizedError", async () => {
  await withFake(async (widgets) => {
    await assert.rejects(widgets.list(), UnauthorizedError);
  }, "wrong-token");
});
