/**
 * The release controller's finalizer on Releases, changed only by JSON patches on
 * `/metadata/finalizers` that carry a `test` op (§11.4): a Release belongs to release-operator,
 * and a full update could drop fields we do not know or overwrite a concurrent change.
 *
 * Guarantees:
 * - `add`: when the list is absent, `test` it is null then `add` the array; otherwise `test`
 *   the whole current list then append. A list that changed meanwhile fails the test and
 *   nothing is written.
 * - `remove`: `test` that our finalizer is at the index we saw, then remove that index.
 * - A failed test (the API server answers 422) re-reads the Release from the API server and
 *   patches again, a bounded number of times (`retryOnConflict`). A Release that is gone is
 *   not an error.
 */
import type { JsonPatchOp, ResourceClient } from "../kube/client.ts";
import { unlessNotFound } from "../kube/errors.ts";
import { retryOnConflict } from "../kube/retry_on_conflict.ts";
import { RELEASE_FINALIZER } from "../names.ts";
import type { Release } from "./objects.ts";

/** A Release started deleting before we added our finalizer. */
export class FinalizerPatchError extends Error {
  override name = "FinalizerPatchError";
}

const ATTEMPTS = 4;

/** Whether the object carries the release controller's finalizer. */
export function hasReleaseFinalizer(release: Release): boolean {
  return release.metadata.finalizers?.includes(RELEASE_FINALIZER) ?? false;
}

/** JSON patch adding `finalizer`; `undefined` when it is already there. */
export function addFinalizerOps(
  finalizers: readonly string[] | undefined,
  finalizer: string,
): JsonPatchOp[] | undefined {
  if (finalizers?.includes(finalizer)) return undefined;
  if (!finalizers) {
    return [
      { op: "test", path: "/metadata/finalizers", value: null },
      { op: "add", path: "/metadata/finalizers", value: [finalizer] },
    ];
  }
  return [
    { op: "test", path: "/metadata/finalizers", value: [...finalizers] },
    { op: "add", path: "/metadata/finalizers/-", value: finalizer },
  ];
}

/** JSON patch removing `finalizer`; `undefined` when it is not there. */
export function removeFinalizerOps(
  finalizers: readonly string[] | undefined,
  finalizer: string,
): JsonPatchOp[] | undefined {
  const index = finalizers?.indexOf(finalizer) ?? -1;
  if (index < 0) return undefined;
  return [
    { op: "test", path: `/metadata/finalizers/${index}`, value: finalizer },
    { op: "remove", path: `/metadata/finalizers/${index}` },
  ];
}

/**
 * Adds or removes the release controller's finalizer.
 * @returns The Release after the patch (or as read, when nothing was needed); `undefined`
 *   when it no longer exists.
 * @throws {FinalizerPatchError} when adding to a Release that is being deleted.
 * @throws {WriteConflictError} when the test keeps failing.
 */
export async function patchReleaseFinalizer(
  client: ResourceClient<Release>,
  release: Release,
  change: "add" | "remove",
  signal?: AbortSignal,
): Promise<Release | undefined> {
  const name = release.metadata.name!;
  return await unlessNotFound(retryOnConflict(
    (s) => client.get(name, undefined, s),
    async (current) => {
      if (change === "add" && current.metadata.deletionTimestamp) {
        throw new FinalizerPatchError(
          `Cannot add finalizer to Release "${name}": it is being deleted; planning again`,
        );
      }
      const finalizers = current.metadata.finalizers;
      const ops = change === "add"
        ? addFinalizerOps(finalizers, RELEASE_FINALIZER)
        : removeFinalizerOps(finalizers, RELEASE_FINALIZER);
      if (!ops) return current;
      return await client.jsonPatch(name, undefined, ops, { signal });
    },
    {
      start: release,
      attempts: ATTEMPTS,
      testOps: true,
      action: `${change} finalizer ${RELEASE_FINALIZER} on Release "${name}"`,
      signal,
    },
  ));
}
