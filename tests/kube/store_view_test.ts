import assert from "node:assert/strict";
import type { KubeObject } from "../../lib/kube/resource.ts";
import { Store } from "../../lib/kube/store.ts";
import { namespaceView } from "../../lib/kube/store_view.ts";

const object = (namespace: string, name: string): KubeObject => ({
  metadata: { namespace, name, resourceVersion: "1" },
});

Deno.test("a namespace view of a cluster-wide store sees only that namespace's objects", () => {
  const store = new Store<KubeObject>();
  store.apply({
    type: "Restarted",
    objects: [object("giantswarm", "a"), object("other", "a"), object("giantswarm-x", "b")],
    resourceVersion: "1",
  });
  const view = namespaceView(store, "giantswarm");
  assert.deepEqual(view.keys(), ["giantswarm/a"]);
  assert.deepEqual(view.list().map((o) => `${o.metadata.namespace}/${o.metadata.name}`), [
    "giantswarm/a",
  ]);
  assert.equal(view.get("giantswarm/a")?.metadata.namespace, "giantswarm");
  assert.equal(view.get("other/a"), undefined);
  assert.equal(view.get("giantswarm-x/b"), undefined);
  // It is a view, not a copy: later changes show.
  store.apply({ type: "Applied", object: object("giantswarm", "c") });
  assert.deepEqual(view.keys().sort(), ["giantswarm/a", "giantswarm/c"]);
});
