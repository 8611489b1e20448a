/**
 * Conditional writes to one NodeImage, shared by the release controller and the garbage
 * collector, which both change the same objects.
 *
 * Guarantees:
 * - Every write is conditional on the resourceVersion it was computed from (a merge patch that
 *   carries `metadata.resourceVersion`: the API server answers 409 Conflict when it is stale),
 *   so no write ever overwrites a change it did not see.
 * - Status goes through the status subresource and annotations through the main resource, as
 *   the API server requires (a status write ignores metadata and vice versa). Each write starts
 *   from the object the previous one returned, so a sequence of writes never loses one of its
 *   own steps (the Go operator's bug §11.1).
 * - `writeNodeImage`: on Conflict the object is read again from the API server (not the cache,
 *   which may lag) and the writes are computed again from it, a bounded number of times
 *   (`retryOnConflict`); then `WriteConflictError` is thrown, so the controller retries the
 *   whole key with backoff. `applyNodeImageWrites` makes one pass and lets the Conflict through,
 *   for callers that re-plan more than the writes (the garbage collector).
 *
 * Caveats: the writes of one call are not atomic together; callers order them so that every
 * intermediate state is safe for the other controller to observe.
 */
import type { ResourceClient } from "../kube/client.ts";
import { unlessNotFound } from "../kube/errors.ts";
import { retryOnConflict } from "../kube/retry_on_conflict.ts";
import type { NodeImage, NodeImageStatus } from "./objects.ts";

/** One write to a NodeImage. */
export type NodeImageWrite =
  | { kind: "status"; status: NodeImageStatus }
  | { kind: "annotations"; annotations: Record<string, string | null> };

/** Computes the writes still needed for the object as it is now; `[]` when none are. */
export type NodeImageWritePlanner = (image: NodeImage) => NodeImageWrite[];

/** Default number of times the writes are computed and tried before giving up. */
export const DEFAULT_WRITE_ATTEMPTS = 8;

/**
 * Brings `image` to what `planner` wants, re-reading and re-planning on Conflict.
 *
 * @param client NodeImage client.
 * @param image Where to start: the cached object (cheap; a stale one costs one Conflict) or a
 *   fresh read.
 * @param planner Pure: the writes needed for a given object state.
 * @returns The object after the last write, or `undefined` if it no longer exists.
 * @throws {WriteConflictError} after `attempts` conflicting rounds.
 */
export async function writeNodeImage(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  planner: NodeImageWritePlanner,
  options: { attempts?: number; signal?: AbortSignal } = {},
): Promise<NodeImage | undefined> {
  const { name, namespace } = image.metadata;
  const signal = options.signal;
  return await unlessNotFound(retryOnConflict(
    (s) => client.get(name!, namespace, s),
    (current) => applyNodeImageWrites(client, current, planner(current), signal),
    {
      start: image,
      attempts: options.attempts ?? DEFAULT_WRITE_ATTEMPTS,
      action: `update NodeImage "${namespace}/${name}"`,
      signal,
    },
  ));
}

/**
 * Makes `writes` in order, each conditional on the object the previous one returned.
 * @returns The object after the last write (`image` when there are none).
 * @throws {ConflictError} when `image` (or a later step) was stale; nothing after it is written.
 */
export async function applyNodeImageWrites(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  writes: readonly NodeImageWrite[],
  signal?: AbortSignal,
): Promise<NodeImage> {
  let current = image;
  for (const write of writes) current = await apply(client, current, write, signal);
  return current;
}

async function apply(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  write: NodeImageWrite,
  signal?: AbortSignal,
): Promise<NodeImage> {
  const { name, namespace, resourceVersion } = image.metadata;
  if (write.kind === "status") {
    return await client.patchStatus(name!, namespace, {
      metadata: { resourceVersion },
      status: write.status,
    }, { signal });
  }
  return await client.mergePatch(name!, namespace, {
    metadata: { resourceVersion, annotations: write.annotations },
  }, { signal });
}
