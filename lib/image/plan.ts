/**
 * Pure planning for the image controller: from a snapshot of one NodeImage and what the
 * provider, the inventory cache and the transfer pool report, decide which transfers to start
 * and compute the full status the controller owns. No I/O, no clock: `now` is an input.
 *
 * Per location, independently (one failing location never stops the others, §11.15):
 * - a transfer queued or running → `Uploading` (progress, start time, partial reference);
 * - a transfer just succeeded → `Available`;
 * - the listing failed → `Error` with its message, retried after `errorRetryMs`;
 * - complete in the inventory → `Available`;
 * - otherwise it needs a transfer: after a recent failure, `Error` until its backoff passes;
 *   with the source missing, `Missing` (looked at again after `missingRetryMs`); else start one
 *   (with `cleanupFirst` when a partial artefact may exist: an `Uploading` status left by a
 *   crash, a partial item in the inventory, or a failed attempt).
 *
 * Modes:
 * - `hold`: no Release uses the image, or it is `AwaitingDeletion` (the release controller and
 *   the garbage collector own that decision). Nothing is uploaded and `state` is not written;
 *   locations still show what the inventory says, and a crash leftover is still cleaned up.
 * - `no-provider`: `spec.provider` is not configured: `Error`, no requeue; the last known
 *   locations are kept as they were (they say where the image may remain).
 * - `provider-down`: every location is `Error` "provider <id> not reachable: …" (or `Pending`
 *   while it initialises); the registry re-enqueues the image when the provider changes state.
 *
 * Aggregate `state` (the Go operator's meaning: `Available` only when every location is).
 * Precedence, first match wins: Error > Missing > Uploading > Pending > Available. An error needs
 * a human, so it must show even while other locations upload; a missing source blocks progress;
 * otherwise the most active state shows.
 */
import { NodeImageState } from "../names.ts";
import type { NodeImage } from "../release/objects.ts";
import { releasesOf, stateOf } from "../release/objects.ts";
import type { InventoryItem } from "./provider.ts";
import type { ProviderPhase } from "./providers.ts";
import {
  type Condition,
  conditionsOf,
  formatTime,
  locationsOf,
  type LocationStatus,
  type OwnedStatus,
} from "./status.ts";
import { isLive, type TransferView } from "./transfers.ts";

/** What the registry says about the NodeImage's provider. */
export type ProviderView =
  | { phase: "not-configured" }
  | { phase: Exclude<ProviderPhase, "ready">; message?: string; locations: string[] }
  | { phase: "ready"; locations: string[] };

/** One location's listing: the image's entry (absent when not there) or the listing error. */
export type InventoryView = { ok: true; item?: InventoryItem } | { ok: false; message: string };

/** The source lookup, when one was made this reconcile. */
export type SourceView =
  | { ok: true; size: number; key: string }
  | { ok: false; missing: boolean; message: string };

/** Everything the planner looks at. */
export interface ImageObservation {
  image: NodeImage;
  provider: ProviderView;
  /** By location; only for a ready provider. */
  inventory: Map<string, InventoryView>;
  /** By location, from the transfer pool. */
  transfers: Map<string, TransferView>;
  /** `undefined`: not looked up yet (the plan says whether it needs it). */
  source?: SourceView;
  now: number;
}

export interface PlanTimings {
  /** Requeue while transferring, to publish progress. Default 5 s. */
  progressIntervalMs: number;
  /** Requeue when the source is missing (the Go operator's 5 minutes). */
  missingRetryMs: number;
  /** Requeue after a listing error or while the provider is down. Default 1 minute. */
  errorRetryMs: number;
  /** Re-verify against the inventory this often when all is well (`--inventory-resync`). */
  resyncMs: number;
  /** First retry delay after a failed transfer; doubles per failure up to `maxFailureBackoffMs`. */
  failureBackoffMs: number;
  maxFailureBackoffMs: number;
}

export const DEFAULT_TIMINGS: PlanTimings = {
  progressIntervalMs: 5_000,
  missingRetryMs: 5 * 60_000,
  errorRetryMs: 60_000,
  resyncMs: 10 * 60_000,
  failureBackoffMs: 30_000,
  maxFailureBackoffMs: 15 * 60_000,
};

/** An Event the executor records once the status is written. */
export interface PlannedEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface ImagePlan {
  mode: "distribute" | "hold" | "no-provider" | "provider-down";
  /** True when a transfer is needed and `observation.source` was not given: look it up, plan again. */
  needsSource: boolean;
  start: { location: string; cleanupFirst: boolean }[];
  /** Crash leftovers to remove without uploading (hold mode). */
  cleanup: string[];
  /** Finished transfers this status reports; acknowledge them after the write. */
  acknowledge: string[];
  events: PlannedEvent[];
  status: OwnedStatus;
  requeueAfterMs?: number;
}

/** Event reasons on NodeImages. */
export const ImageEventReason = {
  TransferStarted: "TransferStarted",
  TransferSucceeded: "TransferSucceeded",
  TransferWarning: "TransferWarning",
  TransferFailed: "TransferFailed",
  SourceMissing: "SourceMissing",
  ProviderNotConfigured: "ProviderNotConfigured",
  ProviderUnavailable: "ProviderUnavailable",
  Removed: "Removed",
  RemoveFailed: "RemoveFailed",
  /** Deletion removed nothing: another NodeImage names the same provider and image. */
  StillInUse: "StillInUse",
} as const;

/**
 * True while no Release uses the image (or it awaits deletion): nothing is uploaded and
 * `status.state` is left to the release controller and the garbage collector.
 */
function holds(image: NodeImage): boolean {
  return releasesOf(image).length === 0 || stateOf(image) === NodeImageState.AwaitingDeletion;
}

/**
 * Plans one NodeImage.
 *
 * @example
 * ```ts
 * let plan = planImage(observation);
 * if (plan.needsSource) plan = planImage({ ...observation, source: await lookUp() });
 * ```
 */
export function planImage(
  observation: ImageObservation,
  timings: PlanTimings = DEFAULT_TIMINGS,
): ImagePlan {
  const { image, provider, now } = observation;
  const name = image.spec?.name ?? "";
  const providerId = image.spec?.provider ?? "";
  const previous = new Map(locationsOf(image).map((l) => [l.name, l]));
  const hold = holds(image);
  const plan: ImagePlan = {
    mode: hold ? "hold" : "distribute",
    needsSource: false,
    start: [],
    cleanup: [],
    acknowledge: [],
    events: [],
    status: { conditions: [], locations: [], ready: "", releaseCount: releasesOf(image).length },
  };
  const requeues: number[] = [];
  const locations: LocationStatus[] = [];
  const at = (location: string, state: string, fields: Partial<LocationStatus> = {}) => {
    const before = previous.get(location);
    const entry: LocationStatus = {
      name: location,
      state,
      lastTransitionTime: before?.state === state && before.lastTransitionTime
        ? before.lastTransitionTime
        : formatTime(now),
      ...fields,
    };
    for (const key of Object.keys(entry) as (keyof LocationStatus)[]) {
      if (entry[key] === undefined) delete entry[key];
    }
    locations.push(entry);
  };

  if (provider.phase === "not-configured") {
    plan.mode = "no-provider";
    const message = `provider ${providerId} is not configured`;
    // The last known locations stay: they say where the image may still be (deletion warns).
    locations.push(...previous.values());
    return finish(plan, observation, locations, requeues, {
      state: NodeImageState.Error,
      reason: "ProviderNotConfigured",
      message,
    });
  }
  if (provider.phase !== "ready") {
    plan.mode = "provider-down";
    const initialising = provider.phase === "initialising";
    const message = initialising
      ? `provider ${providerId} is initialising`
      : `provider ${providerId} not reachable: ${provider.message ?? "no reason given"}`;
    for (const location of provider.locations) {
      const live = observation.transfers.get(location);
      if (live && isLive(live.state)) {
        uploading(at, location, live, now);
        continue;
      }
      const before = previous.get(location);
      at(location, initialising ? NodeImageState.Pending : NodeImageState.Error, {
        message,
        reference: before?.state === NodeImageState.Available ? before.reference : undefined,
      });
    }
    requeues.push(timings.errorRetryMs);
    return finish(plan, observation, locations, requeues);
  }

  for (const location of provider.locations) {
    const transfer = observation.transfers.get(location);
    const listing = observation.inventory.get(location);
    const before = previous.get(location);
    if (transfer && isLive(transfer.state)) {
      uploading(at, location, transfer, now);
      requeues.push(timings.progressIntervalMs);
      continue;
    }
    if (transfer?.state === "succeeded") {
      const verified = transfer.result?.verified?.length
        ? `verified: ${transfer.result.verified.join(", ")}`
        : undefined;
      at(location, NodeImageState.Available, {
        reference: transfer.result?.reference ?? transfer.reference,
        message: verified,
      });
      plan.acknowledge.push(location);
      plan.events.push({
        type: "Normal",
        reason: ImageEventReason.TransferSucceeded,
        message: `Uploaded ${name} to location ${location}` +
          durationSuffix(transfer) + (verified ? ` (${verified})` : ""),
      });
      for (const warning of transfer.result?.warnings ?? []) {
        plan.events.push({
          type: "Warning",
          reason: ImageEventReason.TransferWarning,
          message: `Uploaded ${name} to location ${location} with a warning: ${warning}`,
        });
      }
      requeues.push(timings.resyncMs);
      continue;
    }
    if (!listing || !listing.ok) {
      at(location, NodeImageState.Error, {
        message: `cannot list location ${location}: ${listing?.message ?? "no listing"}`,
        reference: before?.reference,
      });
      requeues.push(timings.errorRetryMs);
      continue;
    }
    const item = listing.item;
    if (item?.complete) {
      at(location, NodeImageState.Available, {
        reference: item.reference,
        message: before?.state === NodeImageState.Available ? before.message : undefined,
      });
      if (transfer) plan.acknowledge.push(location);
      requeues.push(timings.resyncMs);
      continue;
    }
    // Not there (or only a partial artefact): it needs a transfer.
    const leftover = item !== undefined || before?.state === NodeImageState.Uploading ||
      transfer?.state === "failed";
    if (hold) {
      if (leftover && transfer?.state !== "failed") plan.cleanup.push(location);
      at(location, NodeImageState.Pending, {
        message: "not uploaded: no Release uses this image",
      });
      continue;
    }
    if (transfer?.state === "failed") {
      const retryAt = (transfer.finishedAt ?? now) +
        Math.min(
          timings.failureBackoffMs * 2 ** (Math.max(1, transfer.failures) - 1),
          timings.maxFailureBackoffMs,
        );
      if (now < retryAt) {
        at(location, NodeImageState.Error, {
          message: `${transfer.error ?? "transfer failed"} (attempt ${transfer.failures}; ` +
            `retrying at ${formatTime(retryAt)})`,
        });
        if (!transfer.reported) {
          plan.acknowledge.push(location);
          plan.events.push({
            type: "Warning",
            reason: ImageEventReason.TransferFailed,
            message: `Uploading ${name} to location ${location} failed: ${transfer.error}; ` +
              `retrying at ${formatTime(retryAt)}`,
          });
        }
        requeues.push(retryAt - now);
        continue;
      }
    }
    const source = observation.source;
    if (!source) {
      plan.needsSource = true;
      at(location, before?.state ?? NodeImageState.Pending, { message: before?.message });
      continue;
    }
    if (!source.ok) {
      const state = source.missing ? NodeImageState.Missing : NodeImageState.Error;
      at(location, state, { message: source.message });
      if (source.missing && before?.state !== NodeImageState.Missing) {
        plan.events.push({
          type: "Warning",
          reason: ImageEventReason.SourceMissing,
          message: `Cannot upload ${name} to location ${location}: ${source.message}`,
        });
      }
      requeues.push(source.missing ? timings.missingRetryMs : timings.errorRetryMs);
      continue;
    }
    plan.start.push({ location, cleanupFirst: leftover });
    at(location, NodeImageState.Uploading, {
      message: "transfer queued",
      startedAt: formatTime(now),
      bytesTotal: source.size,
      bytesDone: 0,
    });
    plan.events.push({
      type: "Normal",
      reason: ImageEventReason.TransferStarted,
      message: `Uploading ${name} (${source.key}, ${source.size} bytes) to location ${location}`,
    });
    requeues.push(timings.progressIntervalMs);
  }
  if (plan.needsSource) {
    // Nothing is started from a half-made plan: the executor looks the source up and plans again.
    plan.start = [];
    plan.events = plan.events.filter((e) => e.reason !== ImageEventReason.TransferStarted);
  }
  if (hold) requeues.push(timings.resyncMs);
  return finish(plan, observation, locations, requeues);
}

function uploading(
  at: (location: string, state: string, fields?: Partial<LocationStatus>) => void,
  location: string,
  transfer: TransferView,
  now: number,
): void {
  const queued = transfer.state === "queued";
  at(location, NodeImageState.Uploading, {
    message: queued ? "transfer queued: waiting for a free slot" : transfer.phase ?? "uploading",
    startedAt: formatTime(transfer.startedAt ?? transfer.queuedAt ?? now),
    bytesTotal: transfer.bytesTotal,
    bytesDone: transfer.bytesDone,
    reference: transfer.reference,
  });
}

function durationSuffix(transfer: TransferView): string {
  if (transfer.startedAt === undefined || transfer.finishedAt === undefined) return "";
  return ` in ${Math.max(0, Math.round((transfer.finishedAt - transfer.startedAt) / 1000))}s`;
}

const PRECEDENCE = [
  NodeImageState.Error,
  NodeImageState.Missing,
  NodeImageState.Uploading,
  NodeImageState.Pending,
] as const;

/** The aggregate state of the locations (see the module doc for the precedence). */
export function aggregateState(locations: readonly LocationStatus[]): string {
  if (locations.length === 0) return NodeImageState.Error;
  for (const state of PRECEDENCE) {
    if (locations.some((l) => l.state === state)) return state;
  }
  return locations.every((l) => l.state === NodeImageState.Available)
    ? NodeImageState.Available
    : NodeImageState.Pending;
}

function finish(
  plan: ImagePlan,
  observation: ImageObservation,
  locations: LocationStatus[],
  requeues: number[],
  override?: { state: string; reason: string; message: string },
): ImagePlan {
  const { image, now } = observation;
  const generation = image.metadata.generation;
  const available = locations.filter((l) => l.state === NodeImageState.Available).length;
  const state = override?.state ?? aggregateState(locations);
  const providerId = image.spec?.provider ?? "";
  const failing = locations.filter((l) => l.state !== NodeImageState.Available);
  const readyMessage = override?.message ??
    (locations.length === 0
      ? `provider ${providerId} has no locations configured`
      : failing.length === 0
      ? `available in all ${locations.length} locations`
      : failing.map((l) => `${l.name}: ${l.state}${l.message ? ` (${l.message})` : ""}`)
        .join("; "));
  const transferring = locations.filter((l) => l.state === NodeImageState.Uploading);
  const previous = conditionsOf(image);
  const condition = (
    type: string,
    status: "True" | "False",
    reason: string,
    message: string,
  ): Condition => {
    const before = previous.find((c) => c.type === type);
    return {
      type,
      status,
      reason,
      message: message.slice(0, 32_000),
      lastTransitionTime: before?.status === status && before.lastTransitionTime
        ? before.lastTransitionTime
        : formatTime(now),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  };
  const allAvailable = locations.length > 0 && failing.length === 0 && !override;
  plan.status = {
    // An unused image's state belongs to the release controller and the garbage collector,
    // whatever the provider is doing: writing it here would fight them write for write.
    ...(holds(image) ? {} : { state }),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: [
      condition(
        "Ready",
        allAvailable ? "True" : "False",
        allAvailable ? "Available" : override?.reason ?? reasonFor(plan, state),
        readyMessage,
      ),
      condition(
        "Progressing",
        transferring.length > 0 ? "True" : "False",
        transferring.length > 0 ? "Transferring" : "Idle",
        transferring.length > 0
          ? `uploading to ${transferring.map((l) => progressText(l)).join(", ")}`
          : "no transfer running",
      ),
    ],
    locations,
    ready: `${available}/${locations.length}`,
    releaseCount: releasesOf(image).length,
  };
  const positive = requeues.filter((ms) => ms >= 0);
  if (positive.length > 0 && plan.mode !== "no-provider") {
    plan.requeueAfterMs = Math.min(...positive);
  }
  return plan;
}

function reasonFor(plan: ImagePlan, state: string): string {
  if (plan.mode === "hold") return "Unused";
  if (plan.mode === "provider-down") return "ProviderUnavailable";
  return state || "Pending";
}

function progressText(location: LocationStatus): string {
  if (!location.bytesTotal) return location.name;
  const percent = Math.floor(((location.bytesDone ?? 0) / location.bytesTotal) * 100);
  return `${location.name} (${percent}%)`;
}
