/**
 * The part of NodeImage status the image controller owns, and small pure helpers over it.
 *
 * The release controller and the garbage collector own `status.releases` (and write `state`
 * `Pending` / `AwaitingDeletion`); the image controller owns everything else: the aggregate
 * `state` while it distributes, `locations`, `conditions`, `observedGeneration`, and the
 * printer-column helpers `ready` and `releaseCount`. Writes list these fields only, so a
 * concurrent release registration is never dropped.
 */
import type { NodeImage } from "../release/objects.ts";

/** One entry of `status.locations` (CRD: list-map keyed by `name`). */
export interface LocationStatus {
  name: string;
  /** Same values as `status.state`: Available, Uploading, Pending, Error, Missing, Deleting… */
  state: string;
  message?: string;
  /** RFC3339, when `state` last changed. */
  lastTransitionTime?: string;
  /** RFC3339, when the running transfer started; only while `Uploading`. */
  startedAt?: string;
  bytesTotal?: number;
  bytesDone?: number;
  /** Platform reference of the image, or of the partial artefact while uploading. */
  reference?: string;
}

/** A `metav1.Condition`. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** The fields the image controller writes. `state` is absent when it must not be touched. */
export interface OwnedStatus {
  state?: string;
  observedGeneration?: number;
  conditions: Condition[];
  locations: LocationStatus[];
  ready: string;
  releaseCount: number;
}

/** Owned fields in a fixed order, for writes and comparisons. */
export const OWNED_FIELDS = [
  "state",
  "observedGeneration",
  "conditions",
  "locations",
  "ready",
  "releaseCount",
] as const;

/** RFC3339 with second precision, as Kubernetes writes `metav1.Time`. */
export function formatTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Milliseconds since the epoch of an RFC3339 time, or `undefined`. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The locations as last written (an empty list for Go-made or new objects). */
export function locationsOf(image: NodeImage): LocationStatus[] {
  const value = image.status?.locations;
  return Array.isArray(value) ? value as LocationStatus[] : [];
}

/** The conditions as last written. */
export function conditionsOf(image: NodeImage): Condition[] {
  const value = image.status?.conditions;
  return Array.isArray(value) ? value as Condition[] : [];
}

/**
 * Whether writing `desired` would change anything in `image.status`. `progressOnly` is true
 * when the only differences are `bytesDone`/`bytesTotal` of uploading locations, which the
 * controller writes at most every few seconds.
 */
export function statusDiff(
  image: NodeImage,
  desired: OwnedStatus,
): { changed: boolean; progressOnly: boolean } {
  const current = image.status ?? {};
  let changed = false;
  for (const field of OWNED_FIELDS) {
    if (field === "state" && desired.state === undefined) continue;
    if (field === "locations") continue;
    if (!sameJson(current[field], desired[field])) changed = true;
  }
  if (changed) return { changed, progressOnly: false };
  const before = locationsOf(image);
  if (sameJson(before, desired.locations)) return { changed: false, progressOnly: false };
  const withoutBytes = (list: LocationStatus[]) =>
    list.map(({ bytesDone: _d, bytesTotal: _t, ...rest }) => rest);
  return {
    changed: true,
    progressOnly: sameJson(withoutBytes(before), withoutBytes(desired.locations)),
  };
}

/** Structural equality of JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0
        ),
      );
    }
    return v;
  }) ?? "undefined";
}
