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
 * - On Conflict the object is read again from the API server (not the cache, which may lag)
 *   and the writes are computed again from it, a bounded number of times; then
 *   `NodeImageConflictError` is thrown, so the controller retries the whole key with backoff.
 *
 * Caveats: the writes of one call are not atomic together; callers order them so that every
 * intermediate state is safe for the other controller to observe.
 */
import type { ResourceClient } from "../kube/client.ts";
import { ConflictError, NotFoundError } from "../kube/errors.ts";
import type { NodeImage, NodeImageStatus } from "./objects.ts";

/** One write to a NodeImage. */
export type NodeImageWrite =
  | { kind: "status"; status: NodeImageStatus }
  | { kind: "annotations"; annotations: Record<string, string | null> };

/** Computes the writes still needed for the object as it is now; `[]` when none are. */
export type NodeImageWritePlanner = (image: NodeImage) => NodeImageWrite[];

/** A NodeImage kept changing under our writes for more attempts than allowed. */
export class NodeImageConflictError extends Error {
  override name = "NodeImageConflictError";
}

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
 * @throws {NodeImageConflictError} after `attempts` conflicting rounds.
 */
export async function writeNodeImage(
  client: ResourceClient<NodeImage>,
  image: NodeImage,
  planner: NodeImageWritePlanner,
  options: { attempts?: number; signal?: AbortSignal } = {},
): Promise<NodeImage | undefined> {
  const attempts = options.attempts ?? DEFAULT_WRITE_ATTEMPTS;
  const { name, namespace } = image.metadata;
  let current = image;
  let lastConflict: ConflictError | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      for (const write of planner(current)) {
        current = await apply(client, current, write, options.signal);
      }
      return current;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      if (!(error instanceof ConflictError)) throw error;
      lastConflict = error;
      try {
        current = await client.get(name!, namespace, options.signal);
      } catch (readError) {
        if (readError instanceof NotFoundError) return undefined;
        throw readError;
      }
    }
  }
  throw new NodeImageConflictError(
    `Cannot update NodeImage "${namespace}/${name}": it changed under each of ${attempts} ` +
      `attempts; retrying with backoff`,
    { cause: lastConflict },
  );
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
