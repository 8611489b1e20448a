/**
 * Small typed helpers over the transport for any resource type: get, list (selectors,
 * pagination), create, update, merge patch, JSON patch, status patch, delete.
 * Every non-2xx answer becomes an `ApiError` subclass carrying the server's `Status`.
 *
 * Requests are shaped as kube-apiserver expects: JSON bodies (`application/json`, or the patch
 * media type), `fieldManager` on every write, `resourceVersion` only on the first page of a
 * paginated list (the server refuses it next to `continue`), delete preconditions in a v1
 * `DeleteOptions` body. Optimistic concurrency is the caller's: `update`/`updateStatus` send the
 * object's resourceVersion (stale → `ConflictError`); JSON patches can carry a `test` op on
 * `/metadata/resourceVersion` (failed test → `InvalidError`).
 */
import { apiErrorFromResponse } from "./errors.ts";
import { type KubeList, type KubeObject, resourcePath, type ResourceType } from "./resource.ts";
import type { KubeRequest, KubeTransport } from "./transport.ts";
import { parseCompactJson } from "./compact_json.ts";

/** One RFC 6902 operation. `test` makes a patch conditional on the current value. */
export type JsonPatchOp =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; all pages are fetched and joined. */
  limit?: number;
  /** Sent with the first page only ("0" = any cached version; unset = most recent). */
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface WriteOptions {
  signal?: AbortSignal;
  /** Field manager recorded by the server. */
  fieldManager?: string;
}

export interface DeleteOptions {
  signal?: AbortSignal;
  /** Precondition: delete only this incarnation. */
  uid?: string;
  resourceVersion?: string;
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
  gracePeriodSeconds?: number;
}

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";

const DEFAULT_FIELD_MANAGER = "image-distribution-operator";

/** A typed client for one resource type. */
export class ResourceClient<T extends KubeObject = KubeObject> {
  constructor(readonly transport: KubeTransport, readonly type: ResourceType) {}

  /** Reads one object; a missing one → `NotFoundError`. */
  async get(name: string, namespace?: string, signal?: AbortSignal): Promise<T> {
    return await this.#json<T>({ method: "GET", path: this.#path(namespace, name), signal });
  }

  /** Lists all pages; the returned list carries the last page's resourceVersion. */
  async list(options: ListOptions = {}): Promise<KubeList<T>> {
    const items: T[] = [];
    let continueToken: string | undefined;
    let last: KubeList<T>;
    do {
      last = await this.#json<KubeList<T>>({
        method: "GET",
        path: this.#path(options.namespace),
        query: {
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          limit: options.limit,
          continue: continueToken,
          resourceVersion: continueToken ? undefined : options.resourceVersion,
        },
        signal: options.signal,
      });
      items.push(...(last.items ?? []));
      continueToken = last.metadata?.continue || undefined;
    } while (continueToken);
    return { ...last, items, metadata: { resourceVersion: last.metadata?.resourceVersion } };
  }

  /** Creates the object in `metadata.namespace`; an existing name → `AlreadyExistsError`. */
  async create(object: T, options: WriteOptions = {}): Promise<T> {
    const namespace = object.metadata.namespace;
    if (this.type.namespaced && !namespace) {
      const name = object.metadata.name ?? object.metadata.generateName ?? "";
      throw new TypeError(
        `Cannot create ${this.type.kind} "${name}": metadata.namespace is required`,
      );
    }
    return await this.#json<T>({
      method: "POST",
      path: this.#path(namespace),
      query: { fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER },
      body: object,
      signal: options.signal,
    });
  }

  /** Full update; the server rejects it with ConflictError if resourceVersion is stale. */
  async update(object: T, options: WriteOptions = {}): Promise<T> {
    return await this.#json<T>({
      method: "PUT",
      path: this.#path(object.metadata.namespace, object.metadata.name),
      query: { fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER },
      body: object,
      signal: options.signal,
    });
  }

  /** RFC 7386 merge patch (`null` deletes a field); the status in the patch is ignored. */
  async mergePatch(
    name: string,
    namespace: string | undefined,
    patch: unknown,
    options: WriteOptions = {},
  ): Promise<T> {
    return await this.#patch(name, namespace, undefined, MERGE_PATCH, patch, options);
  }

  /** RFC 6902 JSON patch; a failing `test` op → `InvalidError` and nothing changes. */
  async jsonPatch(
    name: string,
    namespace: string | undefined,
    ops: JsonPatchOp[],
    options: WriteOptions = {},
  ): Promise<T> {
    return await this.#patch(name, namespace, undefined, JSON_PATCH, ops, options);
  }

  /** Merge patch of the status subresource. */
  async patchStatus(
    name: string,
    namespace: string | undefined,
    patch: unknown,
    options: WriteOptions = {},
  ): Promise<T> {
    return await this.#patch(name, namespace, "status", MERGE_PATCH, patch, options);
  }

  /** JSON patch of the status subresource (use a `test` op on resourceVersion for CAS). */
  async jsonPatchStatus(
    name: string,
    namespace: string | undefined,
    ops: JsonPatchOp[],
    options: WriteOptions = {},
  ): Promise<T> {
    return await this.#patch(name, namespace, "status", JSON_PATCH, ops, options);
  }

  /** Full update of the status subresource; conflicts on a stale resourceVersion. */
  async updateStatus(object: T, options: WriteOptions = {}): Promise<T> {
    return await this.#json<T>({
      method: "PUT",
      path: this.#path(object.metadata.namespace, object.metadata.name, "status"),
      query: { fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER },
      body: object,
      signal: options.signal,
    });
  }

  /**
   * Deletes; returns what the server answers: the object (with deletionTimestamp while
   * finalizers remain) or a `Status`. A failed uid/resourceVersion precondition → `ConflictError`.
   */
  async delete(name: string, namespace?: string, options: DeleteOptions = {}): Promise<unknown> {
    const preconditions = options.uid || options.resourceVersion
      ? { uid: options.uid, resourceVersion: options.resourceVersion }
      : undefined;
    const withBody = preconditions || options.propagationPolicy ||
      options.gracePeriodSeconds !== undefined;
    return await this.#json<unknown>({
      method: "DELETE",
      path: this.#path(namespace, name),
      body: withBody
        ? {
          kind: "DeleteOptions",
          apiVersion: "v1",
          preconditions,
          propagationPolicy: options.propagationPolicy,
          gracePeriodSeconds: options.gracePeriodSeconds,
        }
        : undefined,
      signal: options.signal,
    });
  }

  #path(namespace?: string, name?: string, subresource?: string): string {
    if (this.type.namespaced && name !== undefined && !namespace) {
      throw new TypeError(`Cannot address ${this.type.kind} "${name}": namespace is required`);
    }
    return resourcePath(this.type, { namespace, name, subresource });
  }

  async #patch(
    name: string,
    namespace: string | undefined,
    subresource: string | undefined,
    contentType: string,
    body: unknown,
    options: WriteOptions,
  ): Promise<T> {
    return await this.#json<T>({
      method: "PATCH",
      path: this.#path(namespace, name, subresource),
      query: { fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER },
      contentType,
      body,
      signal: options.signal,
    });
  }

  async #json<R>(request: KubeRequest): Promise<R> {
    const response = await this.transport.fetch(request);
    if (!response.ok) throw await apiErrorFromResponse(response);
    return parseCompactJson(await response.text()) as R;
  }
}
