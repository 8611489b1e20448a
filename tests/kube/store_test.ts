/** The reflector store, fed events directly: no network involved. */
import assert from "node:assert/strict";
import type { KubeObject } from "../../lib/kube/resource.ts";
import { Store } from "../../lib/kube/store.ts";

function widget(name: string, resourceVersion: string, namespace = "ns"): KubeObject {
  return { kind: "Widget", metadata: { name, namespace, resourceVersion }, spec: { size: 1 } };
}

const summary = (changes: { type: string; object: KubeObject }[]) =>
  changes.map((c) => `${c.type} ${c.object.metadata.name}@${c.object.metadata.resourceVersion}`);

Deno.test("the first Restarted fills the store, marks it synced and reports every object as added", () => {
  const store = new Store<KubeObject>();
  assert.equal(store.synced, false);
  const changes = store.apply({
    type: "Restarted",
    objects: [widget("a", "1"), widget("b", "2")],
    resourceVersion: "2",
  });
  assert.deepEqual(summary(changes), ["added a@1", "added b@2"]);
  assert.equal(store.synced, true);
  assert.equal(store.size, 2);
  assert.deepEqual(store.keys(), ["ns/a", "ns/b"]);
  assert.equal(store.get("ns/b")?.metadata.resourceVersion, "2");
});

Deno.test("an empty first list still marks the store synced", () => {
  const store = new Store<KubeObject>();
  assert.deepEqual(store.apply({ type: "Restarted", objects: [], resourceVersion: "5" }), []);
  assert.equal(store.synced, true);
});

Deno.test("a relist reports vanished objects as deleted, changed ones as updated, new ones as added", () => {
  const store = new Store<KubeObject>();
  store.apply({
    type: "Restarted",
    objects: [widget("keep", "1"), widget("change", "2"), widget("vanish", "3")],
    resourceVersion: "3",
  });
  const changes = store.apply({
    type: "Restarted",
    objects: [widget("keep", "1"), widget("change", "7"), widget("new", "8")],
    resourceVersion: "9",
  });
  assert.deepEqual(summary(changes), ["updated change@7", "added new@8", "deleted vanish@3"]);
  const updated = changes.find((c) => c.type === "updated");
  assert.equal(updated?.old?.metadata.resourceVersion, "2");
  assert.deepEqual(store.keys().sort(), ["ns/change", "ns/keep", "ns/new"]);
});

Deno.test("Applied and Deleted events add, update and remove single objects", async (t) => {
  const store = new Store<KubeObject>();
  store.apply({ type: "Restarted", objects: [widget("a", "1")], resourceVersion: "1" });
  await t.step("add", () => {
    assert.deepEqual(summary(store.apply({ type: "Applied", object: widget("b", "2") })), [
      "added b@2",
    ]);
  });
  await t.step("update keeps the old object", () => {
    const [change] = store.apply({ type: "Applied", object: widget("b", "3") });
    assert.equal(change.type, "updated");
    assert.equal(change.old?.metadata.resourceVersion, "2");
  });
  await t.step("delete", () => {
    assert.deepEqual(summary(store.apply({ type: "Deleted", object: widget("b", "4") })), [
      "deleted b@4",
    ]);
    assert.equal(store.get("ns/b"), undefined);
  });
  await t.step("deleting an unknown object changes nothing", () => {
    assert.deepEqual(store.apply({ type: "Deleted", object: widget("zzz", "5") }), []);
  });
  await t.step("Error events change nothing", () => {
    assert.deepEqual(store.apply({ type: "Error", error: new Error("x"), retryInMs: 1 }), []);
    assert.equal(store.size, 1);
  });
});

Deno.test("events older than what the store holds are ignored", async (t) => {
  const store = new Store<KubeObject>();
  store.apply({ type: "Restarted", objects: [widget("a", "10")], resourceVersion: "10" });
  await t.step("an older Applied", () => {
    assert.deepEqual(store.apply({ type: "Applied", object: widget("a", "9") }), []);
    assert.equal(store.get("ns/a")?.metadata.resourceVersion, "10");
  });
  await t.step("a repeated Applied", () => {
    assert.deepEqual(store.apply({ type: "Applied", object: widget("a", "10") }), []);
  });
  await t.step("an older Deleted", () => {
    assert.deepEqual(store.apply({ type: "Deleted", object: widget("a", "9") }), []);
    assert.equal(store.size, 1);
  });
  await t.step("versions compare as numbers, not strings", () => {
    assert.equal(store.apply({ type: "Applied", object: widget("a", "100") }).length, 1);
    assert.equal(store.apply({ type: "Applied", object: widget("a", "99") }).length, 0);
  });
  await t.step("opaque versions that differ count as newer", () => {
    store.apply({ type: "Applied", object: widget("o", "abc") });
    assert.equal(store.apply({ type: "Applied", object: widget("o", "abd") }).length, 1);
    assert.equal(store.apply({ type: "Applied", object: widget("o", "abc") }).length, 1);
  });
});

Deno.test("cluster-scoped objects are keyed by name alone", () => {
  const store = new Store<KubeObject>();
  store.apply({ type: "Applied", object: { metadata: { name: "c", resourceVersion: "1" } } });
  assert.ok(store.get("c"));
});

Deno.test("readers cannot mutate cached objects or snapshots", () => {
  const store = new Store<KubeObject>();
  store.apply({ type: "Restarted", objects: [widget("a", "1")], resourceVersion: "1" });
  const object = store.get("ns/a")!;
  assert.throws(() => {
    (object.spec as { size: number }).size = 2;
  }, TypeError);
  assert.throws(() => {
    object.metadata.name = "b";
  }, TypeError);
  const list = store.list();
  assert.throws(() => (list as KubeObject[]).push(widget("x", "1")), TypeError);
  assert.equal(store.size, 1);
});

Deno.test("a snapshot from list() does not change when the store changes", () => {
  const store = new Store<KubeObject>();
  store.apply({ type: "Restarted", objects: [widget("a", "1")], resourceVersion: "1" });
  const before = store.list();
  assert.equal(store.list(), before, "unchanged stores hand out the same snapshot");
  store.apply({ type: "Applied", object: widget("b", "2") });
  assert.deepEqual(before.map((o) => o.metadata.name), ["a"]);
  assert.deepEqual(store.list().map((o) => o.metadata.name), ["a", "b"]);
});
