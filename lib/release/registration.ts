/**
 * Pure: the NodeImage writes that register a Release with an image or unregister it, computed
 * from the object as it is at that moment (the writer calls these again after each Conflict).
 *
 * Registration fixes the Go operator's lost write (§11.1): the status (release added, state
 * `Pending` when it was `""` or `AwaitingDeletion`) is written first, through the status
 * subresource, and only then is the `last-used` annotation removed, through the main
 * resource. In that order the garbage collector never sees an unused image without its
 * timestamp in between, so it never re-stamps one that is being adopted.
 *
 * Unregistration only removes the name: whether the image is now unused, and what happens to
 * it then, is the garbage collector's decision alone (one owner for deletion).
 */
import { LAST_USED_ANNOTATION, NodeImageState } from "../names.ts";
import type { NodeImageWrite } from "./node_image_writes.ts";
import { type NodeImage, type NodeImageStatus, releasesOf, stateOf } from "./objects.ts";

/** States from which a newly registered Release moves the image to `Pending`. */
const REVIVED_STATES: readonly string[] = ["", NodeImageState.AwaitingDeletion];

/** Whether the image already lists the Release and is in a state a user needs. */
export function isRegistered(image: NodeImage, release: string): boolean {
  return releasesOf(image).includes(release) && !REVIVED_STATES.includes(stateOf(image)) &&
    image.metadata.annotations?.[LAST_USED_ANNOTATION] === undefined;
}

/**
 * Writes that make `image` list `release` (and `along`, other Releases registered in the same
 * write), leave `""`/`AwaitingDeletion` for `Pending`, and drop the `last-used` annotation (an
 * image in use has no last-use time). None when the image is terminating: a Release never joins
 * an image that is about to be removed (the writer can find it so after a Conflict, when the
 * garbage collector deleted it meanwhile).
 */
export function registrationWrites(
  image: NodeImage,
  release: string,
  along: readonly string[] = [],
): NodeImageWrite[] {
  if (image.metadata.deletionTimestamp) return [];
  const writes: NodeImageWrite[] = [];
  const releases = releasesOf(image);
  const state = stateOf(image);
  const missing = [...new Set([release, ...along])].filter((name) => !releases.includes(name));
  const revive = REVIVED_STATES.includes(state);
  if (missing.length || revive) {
    const next = [...releases, ...missing];
    const status: NodeImageStatus = { releases: next, releaseCount: next.length };
    if (revive) status.state = NodeImageState.Pending;
    writes.push({ kind: "status", status });
  }
  if (image.metadata.annotations?.[LAST_USED_ANNOTATION] !== undefined) {
    writes.push({ kind: "annotations", annotations: { [LAST_USED_ANNOTATION]: null } });
  }
  return writes;
}

/** Writes that remove every occurrence of `release` from `image`'s releases; none if absent. */
export function unregistrationWrites(image: NodeImage, release: string): NodeImageWrite[] {
  const releases = releasesOf(image);
  if (!releases.includes(release)) return [];
  const next = releases.filter((name) => name !== release);
  return [{ kind: "status", status: { releases: next, releaseCount: next.length } }];
}
