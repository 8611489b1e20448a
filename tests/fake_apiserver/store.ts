/**
 * Object storage with one global, monotonically increasing resourceVersion and a bounded event
 * history, like etcd behind the watch cache.
 *
 * Guarantees: every committed change gets the next resourceVersion (a decimal string); stored
 * objects are never mutated after commit (writers always pass fresh objects); listeners run
 * synchronously in commit order, so a watch that replays history and then subscribes in the same
 * tick can neither miss nor repeat an event.
 * Deviations: resourceVersions start at 1 on every new server; real clusters start high.
 * `restore` models an etcd restore without `--bump-revision` (or a server restarted with its
 * state reset): the resourceVersion goes back to the snapshot's, and the history before it is
 * gone, as after etcd's restore.
 * `compact()` forgets the history for watches and paginated lists at once. On kube-apiserver
 * (checked in tests/api_fidelity_test.ts) etcd compaction expires continue tokens and exact
 * lists only once the server notices it (it polls, within about 15 s), and watches keep being
 * served from the watch cache's window, which moves on by eviction or a server restart; the
 * fidelity suite's real `compact()` therefore compacts and restarts. `historyLimit` stands in for
 * that window (the real one is sized adaptively).
 */
import type { KubeObject } from "../../lib/kube/resource.ts";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change. `previous` lets filtered watches see an object stop matching. */
export interface StoredEvent {
  rv: number;
  type: EventType;
  storageKey: string;
  object: KubeObject;
  previous?: KubeObject;
}

export type StoreListener = (event: StoredEvent) => void;

/** The stored objects at one resourceVersion; see `ObjectStore.snapshot`. */
export interface StoreSnapshot {
  readonly rv: number;
  readonly buckets: ReadonlyMap<string, ReadonlyMap<string, KubeObject>>;
}

export interface ObjectStoreOptions {
  /** Events kept for watch replay; older ones are compacted away. */
  historyLimit: number;
}

/** The key of an object inside one resource's bucket: `namespace/name` or `name`. */
export function storageName(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class ObjectStore {
  #rv = 1;
  readonly #buckets = new Map<string, Map<string, KubeObject>>();
  #history: StoredEvent[] = [];
  /** Every event with rv <= this has been forgotten. */
  #compactedThrough = 0;
  readonly #historyLimit: number;
  readonly #listeners = new Set<StoreListener>();

  constructor(options: ObjectStoreOptions) {
    this.#historyLimit = Math.max(1, options.historyLimit);
  }

  /** The latest resourceVersion handed out. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Watches from a resourceVersion below this answer 410 Expired. */
  get compactedThrough(): number {
    return this.#compactedThrough;
  }

  get(storageKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#buckets.get(storageKey)?.get(storageName(namespace, name));
  }

  /** Objects of one resource in etcd key order (namespace, then name). */
  list(storageKey: string, namespace?: string): KubeObject[] {
    const bucket = this.#buckets.get(storageKey);
    if (!bucket) return [];
    const keys = [...bucket.keys()].sort();
    const out: KubeObject[] = [];
    for (const key of keys) {
      const object = bucket.get(key)!;
      if (namespace === undefined || object.metadata.namespace === namespace) out.push(object);
    }
    return out;
  }

  /** Number of objects of one resource in a namespace (all namespaces when undefined). */
  count(storageKey: string, namespace?: string): number {
    return this.list(storageKey, namespace).length;
  }

  /**
   * Commits a change: assigns the next resourceVersion to `object` (which the caller hands over
   * and must not touch again), stores or removes it, records and broadcasts the event.
   */
  commit(type: EventType, storageKey: string, object: KubeObject, previous?: KubeObject) {
    this.#rv += 1;
    object.metadata.resourceVersion = String(this.#rv);
    const key = storageName(object.metadata.namespace, object.metadata.name!);
    let bucket = this.#buckets.get(storageKey);
    if (!bucket) this.#buckets.set(storageKey, bucket = new Map());
    if (type === "DELETED") bucket.delete(key);
    else bucket.set(key, object);
    const event: StoredEvent = { rv: this.#rv, type, storageKey, object, previous };
    this.#history.push(event);
    if (this.#history.length > this.#historyLimit * 2) this.#trim();
    for (const listener of this.#listeners) listener(event);
    return object;
  }

  /** Events after `rv`, or undefined when some of them were compacted away. */
  eventsSince(rv: number): StoredEvent[] | undefined {
    this.#trim();
    if (rv < this.#compactedThrough) return undefined;
    // History is sorted by rv; binary search for the first event after rv.
    let lo = 0, hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#history[mid].rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.#history.slice(lo);
  }

  /** Forgets all history: every resourceVersion before the current one becomes too old. */
  compact(): void {
    this.#history = [];
    this.#compactedThrough = this.#rv;
  }

  /** The objects as they are now (stored objects are never mutated, so sharing them is safe). */
  snapshot(): StoreSnapshot {
    const buckets = new Map([...this.#buckets].map(([key, bucket]) => [key, new Map(bucket)]));
    return { rv: this.#rv, buckets };
  }

  /**
   * Goes back to `snapshot`: its objects and resourceVersion, no history. Listeners are not
   * told (a restore is not a change anyone watched); the server drops its watches instead.
   */
  restore(snapshot: StoreSnapshot): void {
    this.#buckets.clear();
    for (const [key, bucket] of snapshot.buckets) this.#buckets.set(key, new Map(bucket));
    this.#rv = snapshot.rv;
    this.#history = [];
    this.#compactedThrough = snapshot.rv;
  }

  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Drops the oldest events beyond the limit (amortised: called when twice over). */
  #trim(): void {
    const excess = this.#history.length - this.#historyLimit;
    if (excess <= 0) return;
    this.#compactedThrough = this.#history[excess - 1].rv;
    this.#history = this.#history.slice(excess);
  }
}
