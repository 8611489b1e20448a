/**
 * List with selectors and pagination. Like etcd, every page of one paginated list shows the same
 * snapshot (the first page's resourceVersion), and a continue token is a position (the next
 * object's key) in it: the selectors and namespace of the request carrying the token apply, as
 * they do on a real server. A continue token whose snapshot is older than the compacted history
 * answers 410 Expired. Lists of custom resources carry `continue: ""` on the last page, as
 * kube-apiserver's unstructured lists do (built-in lists leave it out).
 *
 * Deviations: snapshots are kept in memory (at most 64 paginated lists in flight, oldest dropped
 * → 410); `resourceVersionMatch` is ignored (every list is served from the latest state, which
 * satisfies NotOlderThan); items of built-in types omit apiVersion/kind, as typed lists do.
 */
import type { KubeObject } from "../../lib/kube/resource.ts";
import { apiVersionFor, encode } from "./codec.ts";
import type { ResourceDef, VersionDef } from "./resources.ts";
import type { FieldSelector, LabelSelector } from "./selectors.ts";
import { ApiFailure, badRequest, tooLargeResourceVersion } from "./status.ts";
import { type ObjectStore, storageName } from "./store.ts";

export interface ListRequest {
  def: ResourceDef;
  version: VersionDef;
  namespace?: string;
  labels: LabelSelector;
  fields: FieldSelector;
  limit?: number;
  continueToken?: string;
  resourceVersion?: string;
}

export interface ListPage {
  items: KubeObject[];
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
}

interface Snapshot {
  rv: number;
  /** Every object of the resource at `rv`, in key order, unfiltered. */
  items: KubeObject[];
}

const MAX_SNAPSHOTS = 64;

const TOO_OLD_CONTINUE =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

export class Lister {
  readonly #store: ObjectStore;
  readonly #snapshots = new Map<string, Snapshot>();

  constructor(store: ObjectStore) {
    this.#store = store;
  }

  /** Forgets all paginated snapshots (history compaction). */
  compact(): void {
    this.#snapshots.clear();
  }

  list(request: ListRequest): ListPage {
    const { def } = request;
    let snapshot: Snapshot;
    let startKey = "";
    let snapshotId: string;
    if (request.continueToken) {
      const token = decodeToken(request.continueToken);
      const kept = this.#snapshots.get(token.id);
      if (!kept || token.rv < this.#store.compactedThrough) {
        throw new ApiFailure({ message: TOO_OLD_CONTINUE, reason: "Expired", code: 410 });
      }
      snapshot = kept;
      startKey = token.start;
      snapshotId = token.id;
    } else {
      const requested = request.resourceVersion ? Number(request.resourceVersion) : 0;
      if (request.resourceVersion && !/^\d+$/.test(request.resourceVersion)) {
        throw badRequest(`invalid resource version "${request.resourceVersion}"`);
      }
      if (requested > this.#store.resourceVersion) {
        throw tooLargeResourceVersion(requested, this.#store.resourceVersion);
      }
      snapshot = {
        rv: this.#store.resourceVersion,
        items: this.#store.list(def.storageKey),
      };
      snapshotId = crypto.randomUUID();
    }
    const items = snapshot.items.filter((o) =>
      (!def.namespaced || request.namespace === undefined ||
        o.metadata.namespace === request.namespace) &&
      objectKey(o) >= startKey &&
      request.labels.matches(o.metadata.labels) && request.fields.matches(o)
    );
    const limit = request.limit && request.limit > 0 ? request.limit : Infinity;
    const page = items.slice(0, limit);
    const metadata: ListPage["metadata"] = { resourceVersion: String(snapshot.rv) };
    if (page.length < items.length) {
      if (!this.#snapshots.has(snapshotId)) {
        this.#snapshots.set(snapshotId, snapshot);
        if (this.#snapshots.size > MAX_SNAPSHOTS) {
          this.#snapshots.delete(this.#snapshots.keys().next().value!);
        }
      }
      const next = objectKey(items[page.length]);
      metadata.continue = encodeToken({ id: snapshotId, rv: snapshot.rv, start: next });
      // The real server reports remainingItemCount only for unfiltered lists.
      if (request.labels.empty && request.fields.empty) {
        metadata.remainingItemCount = items.length - page.length;
      }
    } else {
      this.#snapshots.delete(snapshotId);
      if (!def.builtin) metadata.continue = "";
    }
    return {
      metadata,
      items: page.map((o) => {
        const encoded = encode(def, request.version.name, o);
        if (def.builtin) {
          const { apiVersion: _a, kind: _k, ...rest } = encoded;
          return rest as KubeObject;
        }
        return encoded;
      }),
    };
  }
}

/** The object's position in its resource, as etcd orders keys: `namespace/name`. */
function objectKey(object: KubeObject): string {
  return storageName(object.metadata.namespace, object.metadata.name!);
}

/** The list envelope: `<Kind>List`. */
export function listBody(def: ResourceDef, version: VersionDef, page: ListPage) {
  return {
    apiVersion: apiVersionFor(def, version.name),
    kind: def.listKind,
    metadata: page.metadata,
    items: page.items,
  };
}

interface Token {
  id: string;
  rv: number;
  /** Key of the first object of the next page. */
  start: string;
}

function encodeToken(token: Token): string {
  return btoa(JSON.stringify({ v: "meta.k8s.io/v1", ...token }));
}

function decodeToken(raw: string): Token {
  try {
    const t = JSON.parse(atob(raw));
    if (typeof t.id === "string" && typeof t.rv === "number" && typeof t.start === "string") {
      return t;
    }
  } catch {
    // fall through to the 400 below
  }
  throw badRequest(`continue key is not valid: ${raw}`);
}
