/**
 * Pure planning for NodeImage garbage collection (reference spec §3 steps 4–5, fixed where §11
 * says the Go operator is wrong). The collector is the only component that decides to delete
 * a NodeImage or to mark it `AwaitingDeletion`; the release controller only edits
 * `status.releases`.
 *
 * Rules, in order:
 * 1. Being deleted: nothing (the image controller finalizes it).
 * 2. Listed by any Release: nothing. (The Go operator deleted expired images without this
 *    check, §11.5.)
 * 3. State `""`: nothing, ever. Creation and the first registration are two writes (§10.10).
 * 4. Unused, retention 0: delete now.
 * 5. Unused, `AwaitingDeletion` with a valid `last-used` time: delete once it is older than
 *    the retention period, else wait for the rest.
 * 6. Otherwise (an orphan, or its last Release just went): stamp `last-used` with now unless a
 *    valid time is already there (the Go operator re-stamped on every pass), set
 *    `AwaitingDeletion`, and wait.
 *
 * Every delete carries the uid and resourceVersion of the object it was planned from, so an
 * image re-adopted in between is never deleted: the API server answers Conflict and the
 * collector plans again from a fresh read.
 */
import { LAST_USED_ANNOTATION, NodeImageState } from "../names.ts";
import type { NodeImageWrite } from "../release/node_image_writes.ts";
import { type NodeImage, releasesOf, stateOf } from "../release/objects.ts";
import { formatLastUsed, parseLastUsed } from "./last_used.ts";

/** What the collector does with one NodeImage. */
export type GcPlan =
  | { action: "None"; reason: "Deleting" | "InUse" | "NeverRegistered" }
  | {
    action: "Delete";
    reason: "Unused" | "Expired";
    preconditions: { uid?: string; resourceVersion?: string };
    /** The `last-used` time, for `Expired`. */
    lastUsedMs?: number;
  }
  | {
    action: "MarkAwaitingDeletion";
    /** Annotation first, then status: the order the Go operator used. */
    writes: NodeImageWrite[];
    lastUsedMs: number;
    expiresAtMs: number;
    requeueAfterMs: number;
  }
  | { action: "Wait"; lastUsedMs: number; expiresAtMs: number; requeueAfterMs: number };

/**
 * Plans garbage collection of one NodeImage.
 *
 * @param image The NodeImage as observed (cache or fresh read).
 * @param nowMs The current time, milliseconds since the epoch.
 * @param retentionMs `--image-retention-period`; 0 deletes unused images at once.
 *
 * @example
 * ```ts
 * const plan = planGc(image, clock.now(), 24 * 3_600_000);
 * if (plan.action === "Wait") return requeueAfter(plan.requeueAfterMs);
 * ```
 */
export function planGc(image: NodeImage, nowMs: number, retentionMs: number): GcPlan {
  if (image.metadata.deletionTimestamp) return { action: "None", reason: "Deleting" };
  if (releasesOf(image).length > 0) return { action: "None", reason: "InUse" };
  const state = stateOf(image);
  if (state === "") return { action: "None", reason: "NeverRegistered" };
  const preconditions = {
    uid: image.metadata.uid,
    resourceVersion: image.metadata.resourceVersion,
  };
  if (retentionMs <= 0) return { action: "Delete", reason: "Unused", preconditions };

  const stamped = parseLastUsed(image.metadata.annotations?.[LAST_USED_ANNOTATION]);
  if (state === NodeImageState.AwaitingDeletion && stamped !== undefined) {
    const expiresAtMs = stamped + retentionMs;
    if (nowMs >= expiresAtMs) {
      return { action: "Delete", reason: "Expired", preconditions, lastUsedMs: stamped };
    }
    return {
      action: "Wait",
      lastUsedMs: stamped,
      expiresAtMs,
      requeueAfterMs: expiresAtMs - nowMs,
    };
  }

  const writes: NodeImageWrite[] = [];
  let lastUsedMs = stamped;
  if (lastUsedMs === undefined) {
    const value = formatLastUsed(nowMs);
    lastUsedMs = parseLastUsed(value)!;
    writes.push({ kind: "annotations", annotations: { [LAST_USED_ANNOTATION]: value } });
  }
  if (state !== NodeImageState.AwaitingDeletion) {
    writes.push({
      kind: "status",
      status: { releases: [], releaseCount: 0, state: NodeImageState.AwaitingDeletion },
    });
  }
  const expiresAtMs = lastUsedMs + retentionMs;
  return {
    action: "MarkAwaitingDeletion",
    writes,
    lastUsedMs,
    expiresAtMs,
    requeueAfterMs: Math.max(0, expiresAtMs - nowMs),
  };
}
