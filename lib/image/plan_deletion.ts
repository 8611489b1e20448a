/**
 * Pure planning for a NodeImage being deleted, the counterpart of `planImage`: from the object,
 * what the registry says of its provider, whether another NodeImage still uses the same catalog
 * entry and, on the second pass, how each removal went, decide what to remove, whether the
 * finalizer goes, the status to write while it stays, the Events, and when to look again.
 * No I/O, no clock: `now` is an input.
 *
 * Two passes, like `planImage` with its source lookup: the first plan asks for the removals
 * (`remove`); the executor makes them and plans again with their outcomes (`removals`).
 *
 * Classified first, then acted on (as kube-rs's finalizer helper does); first match wins:
 * 1. `not-ours`: our finalizer is not on it; nothing to do.
 * 2. `still-in-use`: another NodeImage, not being deleted, names the same provider and image
 *    (another namespace). They share one catalog entry and one transfer: removing it, or
 *    "cleaning up" what that one uploads, would break the image it reports Available. Nothing
 *    is removed; the finalizer goes; Normal `StillInUse` names the other.
 * 3. `no-client`: the provider is not configured, or no client can be built from its config.
 *    Nothing can be removed, and waiting would keep the NodeImage (and its namespace)
 *    terminating for ever: the finalizer goes; Warning `ProviderNotConfigured` names what may
 *    remain where (the locations last written in status).
 * 4. `provider-down`: a client, not ready. Status Error "provider … not reachable: …"; look
 *    again after `errorRetryMs` (the registry also enqueues the image when the provider
 *    changes state). The finalizer stays.
 * 5. `remove`: ready, removals not made yet: remove the image and any partial artefact from
 *    every location, then plan again with the outcomes.
 * 6. `removed`: every location succeeded: the finalizer goes; Normal `Removed`.
 * 7. `remove-failed`: status per location (`Deleted`, or `Error` "remove failed: …"); Warning
 *    `RemoveFailed`; the finalizer stays and the reconcile fails with `failure`, so the key is
 *    retried with backoff (cleanup must succeed before the finalizer goes).
 *
 * A status keeps each `lastTransitionTime` while its state (or the condition's status) is
 * unchanged, so looking again while nothing changed writes nothing.
 */
import { NODE_IMAGE_FINALIZER, NodeImageState } from "../names.ts";
import { type NodeImage, releasesOf } from "../release/objects.ts";
import { DEFAULT_TIMINGS, ImageEventReason, type PlannedEvent, type PlanTimings } from "./plan.ts";
import type { ProviderRegistry } from "./providers.ts";
import {
  conditionsOf,
  formatTime,
  locationsOf,
  type LocationStatus,
  type OwnedStatus,
} from "./status.ts";

/** What deletion needs to know of the NodeImage's provider. */
export type DeletionProviderView =
  | { phase: "not-configured" }
  /** Configured, but no client could be built from its config; `reason` says why. */
  | { phase: "no-client"; reason: string }
  /** A client that is not ready (initialising or unreachable). */
  | { phase: "not-ready"; reason: string }
  | { phase: "ready"; locations: string[] };

/** How removing the image (and its partial artefact) from one location went. */
export type RemovalOutcome = { ok: true } | { ok: false; message: string };

/** Everything the deletion planner looks at. */
export interface DeletionObservation {
  image: NodeImage;
  provider: DeletionProviderView;
  /** `namespace/name` of another NodeImage, not being deleted, naming the same image. */
  otherUser?: string;
  /** By location; absent until the removals the first plan asked for were made. */
  removals?: Map<string, RemovalOutcome>;
  now: number;
}

export interface DeletionPlan {
  kind:
    | "not-ours"
    | "still-in-use"
    | "no-client"
    | "provider-down"
    | "remove"
    | "removed"
    | "remove-failed";
  /** Locations to remove from; make the removals, then plan again with their outcomes. */
  remove: string[];
  removeFinalizer: boolean;
  /** Written while the finalizer stays; never together with `removeFinalizer`. */
  status?: OwnedStatus;
  /** Recorded after the write that reports them (the status, or the finalizer's removal). */
  events: PlannedEvent[];
  requeueAfterMs?: number;
  /** Cleanup failed: after the write and the Events, fail the reconcile with this message. */
  failure?: string;
  /** One sentence for the log. */
  summary: string;
}

/**
 * Plans one step of a NodeImage's deletion.
 *
 * @example
 * ```ts
 * let plan = planImageDeletion(observation);
 * if (plan.remove.length) {
 *   plan = planImageDeletion({ ...observation, removals: await removeFrom(plan.remove) });
 * }
 * ```
 */
export function planImageDeletion(
  observation: DeletionObservation,
  timings: PlanTimings = DEFAULT_TIMINGS,
): DeletionPlan {
  const { image, provider, otherUser } = observation;
  const name = image.spec?.name ?? "";
  const providerId = image.spec?.provider ?? "";
  const base = { remove: [], removeFinalizer: false, events: [] };

  if (!image.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER)) {
    return { ...base, kind: "not-ours", summary: "Our finalizer is not on it; nothing to do" };
  }
  if (otherUser) {
    return {
      ...base,
      kind: "still-in-use",
      removeFinalizer: true,
      events: [{
        type: "Normal",
        reason: ImageEventReason.StillInUse,
        message: `${name} was not removed from ${providerId}: it is still used by NodeImage ` +
          otherUser,
      }],
      summary: `Image still used by NodeImage ${otherUser}; removing the finalizer only`,
    };
  }
  if (provider.phase === "not-configured" || provider.phase === "no-client") {
    const known = locationsOf(image).map((l) => l.name);
    const where = known.length
      ? `locations ${known.join(", ")}`
      : "its locations (unknown: none were recorded in status)";
    const why = provider.phase === "no-client"
      ? `has no usable client (${provider.reason})`
      : "is not configured";
    return {
      ...base,
      kind: "no-client",
      removeFinalizer: true,
      events: [{
        type: "Warning",
        reason: ImageEventReason.ProviderNotConfigured,
        message: `Provider ${providerId} ${why}, so ${name} was not removed; it may ` +
          `remain in the ${providerId} catalog in ${where}`,
      }],
      summary: `Provider ${providerId} ${why}; removing the finalizer without cleanup`,
    };
  }
  if (provider.phase === "not-ready") {
    const message = `provider ${providerId} not reachable: ${provider.reason}`;
    return {
      ...base,
      kind: "provider-down",
      status: deletionStatus(observation, locationsOf(image), message),
      requeueAfterMs: timings.errorRetryMs,
      summary: `Cannot remove yet: ${message}`,
    };
  }

  const locations = provider.locations;
  const removals = observation.removals;
  if (!removals && locations.length > 0) {
    return { ...base, kind: "remove", remove: locations, summary: "Removing from every location" };
  }
  const failed = locations.flatMap((location) => {
    const outcome = removals?.get(location) ?? { ok: false, message: "not attempted" };
    return outcome.ok ? [] : [{ location, message: outcome.message }];
  });
  if (failed.length === 0) {
    const where = locations.length ? `locations ${locations.join(", ")}` : "no locations";
    return {
      ...base,
      kind: "removed",
      removeFinalizer: true,
      events: [{
        type: "Normal",
        reason: ImageEventReason.Removed,
        message: `Removed ${name} from ${where}`,
      }],
      summary: "Removed from every location; removing the finalizer",
    };
  }

  const why = new Map(failed.map((f) => [f.location, f.message]));
  const listed = failed.map((f) => `${f.location}: ${f.message}`).join("; ");
  const previous = new Map(locationsOf(image).map((l) => [l.name, l]));
  const entries = locations.map((location): LocationStatus => {
    const message = why.get(location);
    const state = message === undefined ? NodeImageState.Deleted : NodeImageState.Error;
    return {
      name: location,
      state,
      lastTransitionTime: since(previous.get(location), state, observation.now),
      ...(message === undefined ? {} : { message: `remove failed: ${message}` }),
    };
  });
  const key = `${image.metadata.namespace}/${image.metadata.name}`;
  return {
    ...base,
    kind: "remove-failed",
    status: deletionStatus(observation, entries, listed),
    events: [{
      type: "Warning",
      reason: ImageEventReason.RemoveFailed,
      message: `Cannot remove ${name}: ${listed}`,
    }],
    failure: `Cannot remove NodeImage "${key}" (${name}) from ${failed.length} of ` +
      `${locations.length} locations: ${listed}`,
    summary: `Removal failed in ${failed.length} of ${locations.length} locations`,
  };
}

/** The registry's view of a provider as deletion needs it. */
export function deletionProviderView(
  handle: ReturnType<ProviderRegistry["get"]>,
): DeletionProviderView {
  if (!handle) return { phase: "not-configured" };
  const reason = handle.status.message ?? handle.status.phase;
  if (!handle.provider) return { phase: "no-client", reason };
  if (handle.status.phase !== "ready") return { phase: "not-ready", reason };
  return { phase: "ready", locations: handle.locations };
}

/** Status while the finalizer stays: Error, Ready False `DeletionFailed` with `message`. */
function deletionStatus(
  observation: DeletionObservation,
  locations: LocationStatus[],
  message: string,
): OwnedStatus {
  const { image, now } = observation;
  const generation = image.metadata.generation;
  const before = conditionsOf(image).find((c) => c.type === "Ready");
  return {
    state: NodeImageState.Error,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: [{
      type: "Ready",
      status: "False",
      reason: "DeletionFailed",
      message: message.slice(0, 32_000),
      lastTransitionTime: before?.status === "False" && before.lastTransitionTime
        ? before.lastTransitionTime
        : formatTime(now),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    }],
    locations,
    ready: `0/${locations.length}`,
    releaseCount: releasesOf(image).length,
  };
}

function since(before: LocationStatus | undefined, state: string, now: number): string {
  return before?.state === state && before.lastTransitionTime
    ? before.lastTransitionTime
    : formatTime(now);
}
