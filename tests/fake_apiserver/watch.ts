/**
 * Watch streams: newline-delimited JSON events, one write (flush) per event.
 *
 * As the real watch cache: no resourceVersion or "0" → synthetic ADDED for current objects,
 * then live events; resourceVersion N → replay of history after N, then live; N older than the
 * retained history → HTTP 200 with one ERROR event carrying a 410 Expired Status
 * ("too old resource version: N (M)"). Selectors apply per event with transitions: an object
 * that starts matching arrives as ADDED, one that stops matching as DELETED.
 * `allowWatchBookmarks` adds BOOKMARK events every `bookmarkIntervalMs`; `sendInitialEvents`
 * ends the initial ADDED burst with a bookmark annotated `k8s.io/initial-events-end`.
 * `timeoutSeconds` ends the stream cleanly; without it the stream lives 30–60 minutes.
 *
 * A resourceVersion the server has not reached yet (it restarted with its state reset, or etcd
 * was restored), as kube-apiserver's watch cache answers it (read in kubernetes/kubernetes,
 * staging/src/k8s.io/apiserver/pkg/storage/cacher/):
 * - a plain watch is established (HTTP 200) and stays silent: `cache_watcher.go` `process` only
 *   sends events newer than the requested resourceVersion (and a bookmark at exactly it), and
 *   `cacher.go` `waitUntilWatchCacheFreshAndForceAllEvents` blocks only for sendInitialEvents
 *   ("otherwise, we allow for establishing the connection because the clients can wait for
 *   events"). Nothing tells the client its resourceVersion is from the future.
 * - with `sendInitialEvents=true` the server waits up to `freshnessTimeoutMs` (the watch cache's
 *   `blockTimeout`, 3 s) to reach it (`watch_cache.go` `waitUntilFreshAndBlock`), then sends the
 *   current state; if it does not get there, one ERROR event carrying
 *   `storage.NewTooLargeResourceVersionError`: 504 Timeout "Too large resource version" with a
 *   `ResourceVersionTooLarge` cause and retryAfterSeconds 1 (`newErrWatcher`; the cacher tests
 *   check exactly this Status).
 *
 * Fault hooks: `dropAll` errors every stream (the connection is torn down mid-body, no clean
 * end) and `closeAll` ends every stream cleanly.
 */
import type { KubeObject } from "../../lib/kube/resource.ts";
import { apiVersionFor, encode } from "./codec.ts";
import type { ResourceDef, VersionDef } from "./resources.ts";
import type { FieldSelector, LabelSelector } from "./selectors.ts";
import { badRequest, expired, tooLargeResourceVersion } from "./status.ts";
import type { ObjectStore, StoredEvent } from "./store.ts";

export interface WatchRequest {
  def: ResourceDef;
  version: VersionDef;
  namespace?: string;
  labels: LabelSelector;
  fields: FieldSelector;
  resourceVersion?: string;
  allowBookmarks: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
  /** Shapes each event's object (Table rows, metadata only); identity when absent. */
  render?: (object: KubeObject, first: boolean) => unknown;
}

interface OpenWatch {
  drop(): void;
  close(): void;
}

const encoder = new TextEncoder();

export class WatchHub {
  readonly #store: ObjectStore;
  readonly #bookmarkIntervalMs: number;
  readonly #freshnessTimeoutMs: number;
  readonly #open = new Set<OpenWatch>();

  constructor(store: ObjectStore, bookmarkIntervalMs: number, freshnessTimeoutMs = 3_000) {
    this.#store = store;
    this.#bookmarkIntervalMs = bookmarkIntervalMs;
    this.#freshnessTimeoutMs = freshnessTimeoutMs;
  }

  /** Number of streams currently open. */
  get size(): number {
    return this.#open.size;
  }

  dropAll(): void {
    for (const w of [...this.#open]) w.drop();
  }

  closeAll(): void {
    for (const w of [...this.#open]) w.close();
  }

  /** Opens a stream; throws a 400 `ApiFailure` for a malformed resourceVersion. */
  open(request: WatchRequest): ReadableStream<Uint8Array> {
    const rvText = request.resourceVersion ?? "";
    if (rvText !== "" && !/^\d+$/.test(rvText)) {
      throw badRequest(`invalid resource version "${rvText}"`);
    }
    const store = this.#store;
    const from = rvText === "" ? 0 : Number(rvText);
    // sendInitialEvents=true: the current state first (NotOlderThan the resourceVersion);
    // =false: from the resourceVersion on, or from now; absent: the current state for "" and "0".
    const initial = request.sendInitialEvents ?? from === 0;
    let first = true;
    let unsubscribe = () => {};
    const timers: ReturnType<typeof setTimeout>[] = [];
    let entry: OpenWatch;
    const cleanup = () => {
      unsubscribe();
      for (const t of timers) {
        clearTimeout(t);
        clearInterval(t);
      }
      this.#open.delete(entry);
    };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        let done = false;
        const send = (type: string, object: unknown) => {
          if (done) return;
          controller.enqueue(encoder.encode(JSON.stringify({ type, object }) + "\n"));
        };
        const sendObject = (type: string, stored: KubeObject) => {
          const object = encode(request.def, request.version.name, stored);
          send(type, request.render ? request.render(object, first) : object);
          first = false;
        };
        const bookmark = (annotations?: Record<string, string>) => {
          // Not before the requested resourceVersion: the client would go back in time.
          if (!initial && store.resourceVersion < from) return;
          send("BOOKMARK", {
            kind: request.def.kind,
            apiVersion: apiVersionFor(request.def, request.version.name),
            metadata: {
              resourceVersion: String(store.resourceVersion),
              ...(annotations ? { annotations } : {}),
            },
          });
        };
        entry = {
          drop() {
            if (done) return;
            done = true;
            cleanup();
            // Deno.serve logs the reason and tears the connection down without a last chunk.
            controller.error("fake API server: watch stream dropped on purpose (fault injection)");
          },
          close() {
            if (done) return;
            done = true;
            cleanup();
            controller.close();
          },
        };
        this.#open.add(entry);
        const deliver = (event: StoredEvent) => {
          if (!initial && event.rv <= from) return;
          const type = translate(event, request);
          if (type) sendObject(type, event.object);
        };
        const start = () => {
          if (initial) {
            const current = store.list(
              request.def.storageKey,
              request.def.namespaced ? request.namespace : undefined,
            );
            for (const o of current) {
              if (matches(o, request)) sendObject("ADDED", o);
            }
            if (request.sendInitialEvents && request.allowBookmarks) {
              bookmark({ "k8s.io/initial-events-end": "true" });
            }
          } else if (from !== 0) {
            const history = store.eventsSince(from);
            if (!history) {
              const status = expired(
                `too old resource version: ${rvText} (${store.compactedThrough})`,
              ).status;
              send("ERROR", status);
              entry.close();
              return;
            }
            for (const event of history) deliver(event);
          }
          unsubscribe = store.subscribe(deliver);
          if (request.allowBookmarks) {
            timers.push(setInterval(() => bookmark(), this.#bookmarkIntervalMs));
          }
          const seconds = request.timeoutSeconds ?? 1800 * (1 + Math.random());
          timers.push(setTimeout(() => entry.close(), seconds * 1000));
        };
        if (!request.sendInitialEvents || store.resourceVersion >= from) {
          start();
          return;
        }
        // sendInitialEvents needs the state at `from` or later: wait for it, like the watch cache.
        const waiting = store.subscribe(() => {
          if (store.resourceVersion < from) return;
          waiting();
          clearTimeout(deadline);
          // After this commit's listeners: subscribing now would see this event twice.
          queueMicrotask(start);
        });
        const deadline = setTimeout(() => {
          waiting();
          send("ERROR", tooLargeResourceVersion(from, store.resourceVersion).status);
          entry.close();
        }, this.#freshnessTimeoutMs);
        unsubscribe = () => {
          waiting();
          clearTimeout(deadline);
        };
      },
      cancel: () => {
        cleanup();
      },
    });
  }
}

function matches(object: KubeObject, request: WatchRequest): boolean {
  if (request.def.namespaced && request.namespace) {
    if (object.metadata.namespace !== request.namespace) return false;
  }
  return request.labels.matches(object.metadata.labels) && request.fields.matches(object);
}

/** The event type this watcher sees for a stored event, or undefined to skip it. */
function translate(event: StoredEvent, request: WatchRequest): string | undefined {
  if (event.storageKey !== request.def.storageKey) return undefined;
  const now = matches(event.object, request);
  const before = event.previous ? matches(event.previous, request) : false;
  switch (event.type) {
    case "ADDED":
      return now ? "ADDED" : undefined;
    case "DELETED":
      return before || now ? "DELETED" : undefined;
    case "MODIFIED":
      if (now && before) return "MODIFIED";
      if (now) return "ADDED";
      if (before) return "DELETED";
      return undefined;
  }
}
