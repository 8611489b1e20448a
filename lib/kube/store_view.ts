/**
 * A read-only view of one namespace of a cluster-wide `Store`.
 *
 * Why: the image controller caches NodeImages in every namespace, and the release controller and
 * the NodeImage garbage collector need only the operator's namespace. Holding a second,
 * namespace-scoped informer cached every NodeImage twice (README, "Memory": ~5 KB per object per
 * copy); this view shares the one cache instead.
 *
 * Guarantees: `get`, `list` and `keys` never return an object of another namespace.
 * Caveats: `list` and `keys` walk the whole store (O(objects in every namespace)).
 */
import type { KubeObject } from "./resource.ts";
import type { Store } from "./store.ts";

/** What readers of a cache use: a `Store`, or a view of one. */
export interface StoreReader<T extends KubeObject> {
  /** The object with key `namespace/name` (or `name` for cluster-scoped ones). */
  get(key: string): T | undefined;
  list(): readonly T[];
  keys(): string[];
}

/** The objects of `store` in `namespace`. */
export function namespaceView<T extends KubeObject>(
  store: Store<T>,
  namespace: string,
): StoreReader<T> {
  const prefix = `${namespace}/`;
  return {
    get: (key) => key.startsWith(prefix) ? store.get(key) : undefined,
    list: () => store.list().filter((object) => object.metadata.namespace === namespace),
    keys: () => store.keys().filter((key) => key.startsWith(prefix)),
  };
}
