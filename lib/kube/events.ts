/**
 * Kubernetes Events (`events.k8s.io/v1`) about the objects we reconcile, for
 * `kubectl describe` and `kubectl events`.
 *
 * De-duplication follows client-go's `tools/events` recorder. An Event is identified by its
 * object, type, reason, action and note (unlike client-go the note is part of the identity, so
 * a changed message is never hidden behind an old one). The same Event again less than six
 * minutes (client-go's `finishTime`) after its last occurrence joins a series:
 * - the first repeat patches `series.count` and `series.lastObservedTime` onto the Event;
 * - later repeats are only counted here, and written again once 30 minutes (client-go's
 *   heartbeat) have passed since the last write for that Event, with the count so far.
 * A repeat after the window starts a new Event. Decisions are taken on each call from the
 * injected clock; there are no timers.
 *
 * Guarantees: `event()` never rejects; failures are logged and the Event dropped (Events are
 * best-effort, and a reconcile must not fail because one could not be written). Writes for the
 * same Event are serialised, so a burst yields one create and one patch carrying the count of
 * the whole burst. The cache of recent Events is bounded (least recently used entries are
 * evicted first), so memory stays flat whatever the number of objects.
 *
 * Caveats: no retries and no core/v1 fallback (events.k8s.io/v1 is GA since Kubernetes 1.19).
 * Without timers, repeats counted after the last write of a series that then ends are never
 * written: the count on the server is a lower bound (client-go writes the final count when the
 * series finishes). Identity is per recorder, in memory: the release and the image controllers
 * each have one, and a restart starts afresh.
 */
import { type Clock, realClock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import { ResourceClient } from "./client.ts";
import { AlreadyExistsError, NotFoundError } from "./errors.ts";
import type { KubeObject, ResourceType } from "./resource.ts";
import type { KubeTransport } from "./transport.ts";
import { redactUrlsIn } from "../redact.ts";

/** `events.k8s.io/v1` Events. */
export const EVENTS: ResourceType = {
  group: "events.k8s.io",
  version: "v1",
  plural: "events",
  kind: "Event",
  namespaced: true,
};

export type EventType = "Normal" | "Warning";

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

/** The fields of an `events.k8s.io/v1` Event that we write. */
export interface KubeEvent extends KubeObject {
  eventTime: string;
  series?: { count: number; lastObservedTime: string };
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  regarding: ObjectReference;
  note: string;
  type: EventType;
}

export interface EventRecorderOptions {
  transport: KubeTransport;
  /** Identity of this process (the leader election identity). */
  reportingInstance: string;
  /** Default `image-distribution-operator`. */
  reportingController?: string;
  clock?: Clock;
  log?: Logger;
  /** Repeats within this time of the last occurrence join a series; default 6 minutes. */
  seriesWindowMs?: number;
  /** A series is written again at most this often after its first repeat; default 30 minutes. */
  seriesRefreshMs?: number;
  /** Most Events remembered for de-duplication; default 4096. */
  maxCachedEvents?: number;
}

/** API server validation limits (`k8s.io/kubernetes/pkg/apis/core/validation/events.go`). */
const NOTE_MAX_BYTES = 1024;
/** The API server counts these limits in UTF-8 bytes (Go `len`), not characters. */
const FIELD_MAX_BYTES = 128;
const NAME_MAX_CHARS = 253;

interface SeriesEntry {
  namespace: string;
  name: string;
  /** The Event as created, to re-create it with its series if it has vanished. */
  event: KubeEvent;
  /** Occurrences counted here, written or not. */
  count: number;
  lastObservedMs: number;
  /** When the last write (create or series patch) for this entry was decided. */
  lastWriteMs: number;
  /** The last write for this entry; the next one waits for it. */
  pending: Promise<void>;
}

/** Writes Events about objects on behalf of one controller process. */
export class EventRecorder {
  readonly #client: ResourceClient<KubeEvent>;
  readonly #controller: string;
  readonly #instance: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #windowMs: number;
  readonly #refreshMs: number;
  readonly #maxCached: number;
  /** Insertion order is recency order: a touched entry is re-inserted at the end. */
  readonly #cache = new Map<string, SeriesEntry>();

  constructor(options: EventRecorderOptions) {
    this.#client = new ResourceClient<KubeEvent>(options.transport, EVENTS);
    this.#controller = options.reportingController ?? "image-distribution-operator";
    this.#instance = truncateBytes(options.reportingInstance, FIELD_MAX_BYTES);
    this.#clock = options.clock ?? realClock;
    this.#log = (options.log ?? silentLogger).with({ component: "events" });
    this.#windowMs = options.seriesWindowMs ?? 6 * 60_000;
    this.#refreshMs = options.seriesRefreshMs ?? 30 * 60_000;
    this.#maxCached = Math.max(1, options.maxCachedEvents ?? 4096);
  }

  /**
   * Records that `reason` happened to `object`. Resolves once the Event is written or dropped;
   * never rejects.
   *
   * @param object the involved object; its namespace receives the Event (`default` when it is
   *   cluster-scoped).
   * @param action machine-readable action taken; defaults to `reason` because the API
   *   requires one.
   *
   * @example
   * ```ts
   * await recorder.event(release, "Warning", "UploadFailed", "vSphere datastore full");
   * ```
   */
  async event(
    object: KubeObject,
    type: EventType,
    reason: string,
    message: string,
    action?: string,
  ): Promise<void> {
    try {
      if (type !== "Normal" && type !== "Warning") {
        this.#log.error("Dropping event with unsupported type", { type, reason });
        return;
      }
      const regarding = referenceTo(object);
      const note = truncateBytes(redactUrlsIn(message), NOTE_MAX_BYTES);
      const shortReason = truncateBytes(reason, FIELD_MAX_BYTES);
      const shortAction = truncateBytes(action || reason, FIELD_MAX_BYTES);
      const key = JSON.stringify([
        regarding.apiVersion,
        regarding.kind,
        regarding.namespace,
        regarding.name,
        regarding.uid,
        type,
        shortReason,
        shortAction,
        note,
      ]);
      const now = this.#clock.now();
      const existing = this.#cache.get(key);
      if (existing && now - existing.lastObservedMs <= this.#windowMs) {
        existing.count++;
        existing.lastObservedMs = now;
        this.#touch(key, existing);
        // client-go writes the series at its first repeat, then only on its heartbeat.
        const due = existing.count === 2 || now - existing.lastWriteMs >= this.#refreshMs;
        if (!due) return;
        existing.lastWriteMs = now;
        existing.pending = existing.pending.then(() => this.#patchSeries(existing));
        await existing.pending;
        return;
      }
      const namespace = regarding.namespace || "default";
      const event: KubeEvent = {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: eventName(regarding.name ?? "unknown", now), namespace },
        eventTime: formatMicroTime(now),
        reportingController: this.#controller,
        reportingInstance: this.#instance,
        action: shortAction,
        reason: shortReason,
        regarding,
        note,
        type,
      };
      const entry: SeriesEntry = {
        namespace,
        name: event.metadata.name!,
        event,
        count: 1,
        lastObservedMs: now,
        lastWriteMs: now,
        pending: Promise.resolve(),
      };
      this.#touch(key, entry);
      entry.pending = this.#create(entry, event);
      await entry.pending;
    } catch (error) {
      // Only a bug can land here (the writes catch their own errors); still never throw.
      this.#log.error("Cannot record event", { error, reason });
    }
  }

  async #create(entry: SeriesEntry, event: KubeEvent): Promise<void> {
    let failure: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.#client.create(event);
        this.#log.debug("Event recorded", { reason: event.reason, object: event.regarding.name });
        return;
      } catch (error) {
        failure = error;
        if (!(error instanceof AlreadyExistsError)) break;
        // A name collision with another replica's Event: one fresh name is enough.
        event.metadata.name = eventName(event.regarding.name ?? "unknown", this.#clock.now());
        entry.name = event.metadata.name;
      }
    }
    this.#log.warn("Cannot record event; dropping it", {
      error: failure,
      reason: event.reason,
      object: event.regarding.name,
    });
  }

  /** Writes the series as counted when the write starts (a burst's later repeats included). */
  async #patchSeries(entry: SeriesEntry): Promise<void> {
    const series = {
      count: entry.count,
      lastObservedTime: formatMicroTime(entry.lastObservedMs),
    };
    try {
      await this.#client.mergePatch(entry.name, entry.namespace, { series });
    } catch (error) {
      if (error instanceof NotFoundError) {
        // The first Event expired (the API server keeps Events for an hour) or its create
        // failed: write the series as a new Event, as client-go does.
        const event: KubeEvent = {
          ...entry.event,
          metadata: { name: entry.name, namespace: entry.namespace },
          series,
        };
        await this.#create(entry, event);
        return;
      }
      this.#log.warn("Cannot update event series; dropping the update", {
        error,
        reason: entry.event.reason,
        object: entry.event.regarding.name,
      });
    }
  }

  #touch(key: string, entry: SeriesEntry): void {
    this.#cache.delete(key);
    this.#cache.set(key, entry);
    while (this.#cache.size > this.#maxCached) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
  }
}

/** An ObjectReference like client-go's `reference.GetReference`. */
function referenceTo(object: KubeObject): ObjectReference {
  const { name, namespace, uid, resourceVersion } = object.metadata;
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace,
    name,
    uid,
    resourceVersion,
  };
}

/**
 * `<object-name>.<hex timestamp in ns>`, like client-go's `GenerateEventName`; random low
 * digits keep two replicas apart. Falls back to a UUID when the result would be too long.
 */
function eventName(objectName: string, nowMs: number): string {
  const nanos = BigInt(nowMs) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  const name = `${objectName}.${nanos.toString(16)}`;
  return name.length <= NAME_MAX_CHARS ? name : crypto.randomUUID();
}

/** Kubernetes `MicroTime`: `2006-01-02T15:04:05.000000Z`. */
function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateBytes(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
