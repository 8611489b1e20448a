/**
 * The image controller's writes to a NodeImage, each conditional on what it was computed from:
 * - status: a JSON patch of the status subresource whose first op `test`s
 *   `/metadata/resourceVersion`, then sets only the fields the image controller owns, so
 *   `status.releases` (the release controller's) is never dropped or overwritten;
 * - finalizer add/remove and refresh-annotation removal: JSON patches with a `test` op on the
 *   value they change.
 *
 * On a failed test (422) or Conflict (409) the object is read again from the API server (not
 * the cache, which may lag), the write recomputed from it, and tried again a bounded number of
 * times (`retryOnConflict`); then `WriteConflictError` is thrown and the key is retried with
 * backoff. A NodeImage that is gone is not an error: the writes resolve `undefined`.
 */
import type { JsonPatchOp, ResourceClient } from "../kube/client.ts";
import { NotFoundError, unlessNotFound } from "../kube/errors.ts";
import { isWriteConflict, retryOnConflict } from "../kube/retry_on_conflict.ts";
import { NODE_IMAGE_FINALIZER } from "../names.ts";
import { addFinalizerOps, removeFinalizerOps } from "../release/finalizer.ts";
import type { NodeImage } from "../release/objects.ts";
import { OWNED_FIELDS, type OwnedStatus } from "./status.ts";

/** Annotation that asks for a fresh inventory and re-upload of whatever is missing. */
export const REFRESH_ANNOTATION = "image.giantswarm.io/refresh";

const ATTEMPTS = 6;

/** Ops writing `desired` over `image.status`, guarded by the resourceVersion test. */
export function statusPatchOps(image: NodeImage, desired: OwnedStatus): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [
    { op: "test", path: "/metadata/resourceVersion", value: image.metadata.resourceVersion },
  ];
  const fields: Record<string, unknown> = {};
  for (const field of OWNED_FIELDS) {
    if (desired[field] !== undefined) fields[field] = desired[field];
  }
  if (!image.status) {
    // Never drop releases: a status-less object gets an explicit empty list (§11.10).
    ops.push({ op: "add", path: "/status", value: { releases: [], ...fields } });
    return ops;
  }
  for (const [field, value] of Object.entries(fields)) {
    ops.push({ op: "add", path: `/status/${field}`, value });
  }
  return ops;
}

/**
 * Writes `compute(current)` to the status, re-reading and recomputing on conflict.
 * @param compute returns the owned status wanted for that object, or `undefined` for no write.
 * @returns the object after the write (or as read when none was needed); `undefined` if gone.
 */
export async function writeOwnedStatus(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  compute: (current: NodeImage) => OwnedStatus | undefined,
  signal?: AbortSignal,
): Promise<NodeImage | undefined> {
  return await withRereads(client, image, signal, async (current) => {
    const desired = compute(current);
    if (!desired) return current;
    const { name, namespace } = current.metadata;
    return await client.jsonPatchStatus(name!, namespace, statusPatchOps(current, desired), {
      signal,
    });
  });
}

/** Adds or removes the image controller's finalizer with a `test`-guarded JSON patch. */
export async function patchImageFinalizer(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  change: "add" | "remove",
  signal?: AbortSignal,
): Promise<NodeImage | undefined> {
  return await withRereads(client, image, signal, async (current) => {
    const finalizers = current.metadata.finalizers;
    const ops = change === "add"
      ? (current.metadata.deletionTimestamp
        ? undefined
        : addFinalizerOps(finalizers, NODE_IMAGE_FINALIZER))
      : removeFinalizerOps(finalizers, NODE_IMAGE_FINALIZER);
    if (!ops) return current;
    const { name, namespace } = current.metadata;
    return await client.jsonPatch(name!, namespace, ops, { signal });
  });
}

/** Removes the refresh annotation if it still holds the value that was acted on. */
export async function removeRefreshAnnotation(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  value: string,
  signal?: AbortSignal,
): Promise<NodeImage | undefined> {
  const path = `/metadata/annotations/${
    REFRESH_ANNOTATION.replaceAll("~", "~0")
      .replaceAll("/", "~1")
  }`;
  const { name, namespace } = image.metadata;
  try {
    return await client.jsonPatch(name!, namespace, [
      { op: "test", path, value },
      { op: "remove", path },
    ], { signal });
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    // Someone set a new value (or removed it) meanwhile: the next reconcile acts on that.
    if (isWriteConflict(error, true)) return image;
    throw error;
  }
}

/** Whether `image` carries the image controller's finalizer. */
export function hasImageFinalizer(image: NodeImage): boolean {
  return image.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER) ?? false;
}

/** Runs `write` on `image`, then on a fresh read after each conflict; `undefined` if gone. */
async function withRereads(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  signal: AbortSignal | undefined,
  write: (current: NodeImage) => Promise<NodeImage>,
): Promise<NodeImage | undefined> {
  const { name, namespace } = image.metadata;
  return await unlessNotFound(retryOnConflict(
    (s) => client.get(name!, namespace, s),
    write,
    {
      start: image,
      attempts: ATTEMPTS,
      testOps: true,
      action: `update NodeImage "${namespace}/${name}"`,
      signal,
    },
  ));
}
