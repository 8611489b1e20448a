/**
 * The reflector cache: the current set of objects of one type, keyed `namespace/name`.
 *
 * Guarantees:
 * - One synchronous writer, `apply(event)`; it returns what changed, so callers (the informer)
 *   can notify handlers without diffing again. Tests feed it events without any network.
 * - A `Restarted` event (after every list or relist) replaces the contents and reports
 *   `deleted` for objects that vanished meanwhile, so deletes missed during a 410 gap still
 *   reach handlers. A periodic one (`resync`) also reports every unchanged object as `updated`
 *   (with the same resourceVersion), so each is reconciled again, as controller-runtime's
 *   SyncPeriod does.
 * - Events older than what the store holds for that object (by resourceVersion) are ignored.
 * - Everything handed out is deep-frozen: a reader cannot corrupt the cache.
 *
 * Assumptions: resourceVersions are ordered as `compareResourceVersions` says (integers for
 * etcd-backed servers); otherwise any different version counts as newer, since Kubernetes only
 * promises they are opaque.
 *
 * Caveats: `apply` takes ownership of the objects it is given and freezes them in place (no
 * copy, to keep memory flat with many cached objects). Do not mutate them afterwards.
 */
import { type KubeObject, objectKey } from "./resource.ts";
import { compareResourceVersions as compareVersions } from "./resource_version.ts";
import type { WatchEvent } from "./watcher.ts";

/** One change to the cache, with the previous object for updates and deletes. */
export interface Change<T extends KubeObject> {
  type: "added" | "updated" | "deleted";
  object: T;
  old?: T;
}

/** A cache of objects of one type, written only through `apply`. */
export class Store<T extends KubeObject> {
  readonly #objects = new Map<string, T>();
  #snapshot: readonly T[] | undefined;
  #synced = false;

  /** Applies one watcher event and returns the resulting changes (empty for no-ops). */
  apply(event: WatchEvent<T>): Change<T>[] {
    switch (event.type) {
      case "Restarted":
        return this.#replace(event.objects, event.resync === true);
      case "Applied":
        return this.#upsert(event.object);
      case "Deleted":
        return this.#remove(event.object);
      case "Error":
        return [];
    }
  }

  /** The object stored under `namespace/name` (or `name` for cluster-scoped types). */
  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  /** A frozen snapshot of all objects; later writes do not change it. */
  list(): readonly T[] {
    this.#snapshot ??= Object.freeze([...this.#objects.values()]);
    return this.#snapshot;
  }

  /** The keys of all objects, as a fresh array. */
  keys(): string[] {
    return [...this.#objects.keys()];
  }

  get size(): number {
    return this.#objects.size;
  }

  /** True once the first `Restarted` event (the initial list) has been applied. */
  get synced(): boolean {
    return this.#synced;
  }

  #replace(objects: readonly T[], resync: boolean): Change<T>[] {
    const changes: Change<T>[] = [];
    const next = new Map<string, T>();
    for (const object of objects) {
      const key = objectKey(object);
      deepFreeze(object);
      next.set(key, object);
      const old = this.#objects.get(key);
      if (!old) {
        changes.push({ type: "added", object });
      } else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) {
        changes.push({ type: "updated", object, old });
      } else if (resync) {
        changes.push({ type: "updated", object, old });
      }
    }
    for (const [key, old] of this.#objects) {
      if (!next.has(key)) changes.push({ type: "deleted", object: old, old });
    }
    this.#objects.clear();
    for (const [key, object] of next) this.#objects.set(key, object);
    this.#snapshot = undefined;
    this.#synced = true;
    return changes;
  }

  #upsert(object: T): Change<T>[] {
    const key = objectKey(object);
    const old = this.#objects.get(key);
    if (old && !isNewer(object, old)) return [];
    deepFreeze(object);
    this.#objects.set(key, object);
    this.#snapshot = undefined;
    return [old ? { type: "updated", object, old } : { type: "added", object }];
  }

  #remove(object: T): Change<T>[] {
    const key = objectKey(object);
    const old = this.#objects.get(key);
    // A delete older than what we hold belongs to an earlier incarnation of the object.
    if (!old || isOlder(object, old)) return [];
    deepFreeze(object);
    this.#objects.delete(key);
    this.#snapshot = undefined;
    return [{ type: "deleted", object, old }];
  }
}

/** True when `incoming` should replace `held`: newer, or different and not comparable. */
function isNewer(incoming: KubeObject, held: KubeObject): boolean {
  const order = compareVersions(incoming.metadata.resourceVersion, held.metadata.resourceVersion);
  return order === undefined ? true : order > 0;
}

function isOlder(incoming: KubeObject, held: KubeObject): boolean {
  const order = compareVersions(incoming.metadata.resourceVersion, held.metadata.resourceVersion);
  return order !== undefined && order < 0;
}

/** Freezes an object graph in place; already-frozen parts are skipped. */
export function deepFreeze<V>(value: V): V {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  return value;
}
