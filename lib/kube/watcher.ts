/**
 * The watcher: list, then watch, forever, as an async generator of events.
 *
 * An explicit state machine (after kube-runtime's watcher) driven by one `step` function:
 *
 *   Empty ──list──▶ (InitPage ──next page──▶)* InitListed ──open watch──▶ Watching ─┐
 *     ▲                                            ▲                       │  event │
 *     ├──── 410 Gone, server behind, connection ───┼───────────────────────┘◀──────┘
 *     │     failed (after backoff)                 │
 *     └──── sync period elapsed                    └── stream ended cleanly, or the server
 *                                                      answered an error: resume from the
 *                                                      last seen resourceVersion (after an
 *                                                      empty watch, first check the server
 *                                                      is not behind: InitListed with
 *                                                      `verify`)
 *
 * Guarantees:
 * - It never ends on its own and never throws for API or network trouble. Failures are yielded
 *   as `Error` events (with the delay chosen) and the failed step is retried after backoff;
 *   only `signal` (or `return()`) ends it, and that cancels the in-flight request.
 * - A watch cannot die silently: every wait for the API server (list pages, watch headers,
 *   watch data) is raced against an inactivity deadline, and the body is cancelled when it
 *   passes. Nothing depends on the response body ever erroring (runtime-notes: under Deno an
 *   aborted undici body never does).
 * - After every list or relist it yields `Restarted` with the complete current set, so a cache
 *   can drop objects deleted while we were not watching.
 * - A stream that ends (server timeout, clean close, malformed line, inactivity) or an error
 *   answer from the server is resumed from the last resourceVersion seen, bookmarks included.
 *   It relists on 410 Gone, whenever the server shows it is *behind* us (below), and after the
 *   watch connection itself fails (cut, reset, refused), after the backoff delay: that is how
 *   an API server restart looks, and one restarted with its state reset can have been carried
 *   past our resourceVersion by other writes before we reconnect. The number then names
 *   different writes and a resumed watch would silently skip what was stored meanwhile; no
 *   resourceVersion arithmetic can tell, so only a list (a consistent read) is safe.
 * - The server is behind us after a restart with its state reset or an etcd restore. Our
 *   resourceVersion is then in its future, and kube-apiserver keeps such a watch open and
 *   silent (it only sends events newer than the one asked for), so objects created afterwards
 *   would never be seen. The watcher relists when: an answer says "Too large resource version"
 *   (504 with a `ResourceVersionTooLarge` cause, in the stream or as the status), or 400 about
 *   the resource version; an event carries a resourceVersion below the one the watch resumed
 *   from; or, before resuming after a watch that ended cleanly without a single event or
 *   bookmark (how a watch from the future ends: healthy watches get bookmarks), a one-item list
 *   shows the server's current resourceVersion below the last one seen. Ordering resourceVersions is a
 *   heuristic that holds for etcd-backed servers (`resource_version.ts`); where it does not
 *   apply, the sync period is what repairs the cache.
 * - With `resyncPeriodMs`, the watch is ended and everything is listed again every period
 *   (+ up to 10 % jitter, so watchers started together spread out), and the `Restarted` event
 *   says `resync: true`. This is controller-runtime's SyncPeriod, except that it re-reads the
 *   server instead of replaying the cache, so an event missed for any reason is repaired.
 *
 * Caveats:
 * - A stream that ends within a second without delivering anything is treated as an error
 *   (backoff), as client-go does, so a misbehaving server cannot cause a hot loop.
 * - The inactivity deadline runs only while the watcher waits for the server, not while the
 *   consumer holds an event, so a slow consumer does not trip it.
 * - Stop it with `signal` or `return()`; a generator that is merely dropped keeps its
 *   connection until the server's `timeoutSeconds` ends it.
 * - Watch events carry whatever the server sent; list items and events lacking `apiVersion`
 *   or `kind` (built-in types) get them filled in from `type`.
 */
import { type Clock, realClock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type Backoff, ExponentialBackoff } from "./backoff.ts";
import {
  ApiError,
  apiErrorFor,
  apiErrorFromResponse,
  type ApiStatus,
  BadRequestError,
  GoneError,
} from "./errors.ts";
import {
  apiVersionOf,
  type KubeList,
  type KubeObject,
  resourcePath,
  type ResourceType,
} from "./resource.ts";
import type { KubeRequest, KubeTransport } from "./transport.ts";
import {
  LineDecoder,
  parseWatchLine,
  type RawWatchEvent,
  WatchStreamError,
} from "./watch_lines.ts";
import { link, untilAborted } from "../abort.ts";
import { compareResourceVersions } from "./resource_version.ts";
import { parseCompactJson } from "./compact_json.ts";

export { LineDecoder, parseWatchLine, type RawWatchEvent, WatchStreamError };

/** What the watcher yields. */
export type WatchEvent<T extends KubeObject> =
  /**
   * After every (re)list: the full current set, replacing whatever the consumer held. `resync`
   * marks the periodic relist, after which every object should be handled again.
   */
  | { type: "Restarted"; objects: T[]; resourceVersion: string; resync?: boolean }
  /** The object was added or modified. */
  | { type: "Applied"; object: T }
  /** The object was deleted; this is its last state. */
  | { type: "Deleted"; object: T }
  /** Informational: a step failed and will be retried after `retryInMs`. */
  | { type: "Error"; error: Error; retryInMs: number };

export interface WatcherOptions {
  /** Only this namespace; all namespaces when omitted. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** List page size (`limit`); pages are followed through `continue`. Default: no limit. */
  pageSize?: number;
  /** Server-side watch timeout; up to 10 % jitter is added per request. Default 290 s. */
  timeoutSeconds?: number;
  /**
   * How long any wait for the API server may go without an event or bookmark before the
   * request is abandoned. Must exceed the server timeout plus the bookmark interval.
   * Default 330 s.
   */
  inactivityTimeoutMs?: number;
  /** Delays between retries. Default: 800 ms doubling to 30 s with jitter. */
  backoff?: Backoff;
  clock?: Clock;
  /** Ends the generator cleanly, cancelling any in-flight request. */
  signal?: AbortSignal;
  log?: Logger;
  /** Called each time a watch request has been answered; for metrics. */
  onWatchStart?: (resourceVersion: string) => void;
  /**
   * Relist everything this often (plus up to 10 % jitter); the `Restarted` event then says
   * `resync: true`. Default: never.
   */
  resyncPeriodMs?: number;
}

/** No event or bookmark arrived within the inactivity deadline. */
export class InactivityTimeoutError extends Error {
  override name = "InactivityTimeoutError";
}

/**
 * The API server is behind the resourceVersion we hold: it restarted with its state reset or
 * was restored from a backup. The watcher relists.
 */
export class ServerBehindError extends Error {
  override name = "ServerBehindError";
}

type State<T extends KubeObject> =
  /** `resync`: this list is the periodic one. */
  | { phase: "Empty"; resync?: boolean }
  | { phase: "InitPage"; continueToken: string; objects: T[]; resync?: boolean }
  /** `verify`: check the server is not behind `resourceVersion` before watching from it. */
  | { phase: "InitListed"; resourceVersion: string; verify?: boolean }
  | { phase: "Watching"; resourceVersion: string; stream: WatchStream };

interface Step<T extends KubeObject> {
  next: State<T>;
  /** What to yield, if anything. */
  event?: WatchEvent<T>;
  /** True when the API server delivered data (resets the backoff). */
  progress: boolean;
}

interface Context {
  transport: KubeTransport;
  type: ResourceType;
  options: WatcherOptions;
  clock: Clock;
  signal: AbortSignal;
  inactivityMs: number;
  what: string;
  log: Logger;
  /** Clock time of the next periodic relist; set after every list. */
  resyncAt?: number;
}

const SHORT_WATCH_MS = 1_000;
/** What `WatchStream.next` returns when the sync period elapsed while it waited. */
const RESYNC_DUE = Symbol("resync due");
/** Retry-After beyond this is treated as a mistake rather than honoured literally. */
const MAX_RETRY_AFTER_MS = 600_000;

/**
 * Lists and watches objects of `type`, yielding events until `options.signal` aborts.
 *
 * @example
 * ```ts
 * for await (const event of watcher(transport, NAMESPACES, { signal })) {
 *   if (event.type === "Error") log.warn("watch failed", { error: event.error });
 *   else store.apply(event);
 * }
 * ```
 */
export async function* watcher<T extends KubeObject>(
  transport: KubeTransport,
  type: ResourceType,
  options: WatcherOptions = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const what = describe(type, options.namespace);
  const ctx: Context = {
    transport,
    type,
    options,
    clock: options.clock ?? realClock,
    signal: options.signal ?? new AbortController().signal,
    inactivityMs: options.inactivityTimeoutMs ?? 330_000,
    what,
    log: (options.log ?? silentLogger).with({ watch: what }),
  };
  const backoff = options.backoff ?? new ExponentialBackoff();
  let state: State<T> = { phase: "Empty" };
  try {
    while (!ctx.signal.aborted) {
      let result: Step<T>;
      try {
        result = await step(state, ctx);
      } catch (error) {
        if (ctx.signal.aborted) return;
        const err = error instanceof Error ? error : new Error(String(error));
        const recovery: Recovery<T> = recover(state, err, ctx, backoff);
        state = recovery.next;
        if (recovery.retryInMs === undefined) continue;
        yield { type: "Error", error: err, retryInMs: recovery.retryInMs };
        try {
          await ctx.clock.sleep(recovery.retryInMs, ctx.signal);
        } catch {
          return; // aborted while waiting
        }
        continue;
      }
      state = result.next;
      if (result.progress) backoff.reset();
      if (result.event) yield result.event;
    }
  } finally {
    if (state.phase === "Watching") state.stream.close();
  }
}

/** Performs one step of the state machine. Throws on any failure; `recover` decides what next. */
async function step<T extends KubeObject>(state: State<T>, ctx: Context): Promise<Step<T>> {
  switch (state.phase) {
    case "Empty":
    case "InitPage": {
      const previous = state.phase === "InitPage" ? state.objects : [];
      const page = await listPage<T>(ctx, state.phase === "InitPage" ? state.continueToken : "");
      const objects = previous.concat(page.items);
      if (page.metadata.continue) {
        return {
          next: {
            phase: "InitPage",
            continueToken: page.metadata.continue,
            objects,
            resync: state.resync,
          },
          progress: false,
        };
      }
      const resourceVersion = page.metadata.resourceVersion;
      if (!resourceVersion) {
        throw new WatchStreamError(`Cannot watch ${ctx.what}: the list has no resourceVersion`);
      }
      ctx.log.debug("listed", { count: objects.length, resourceVersion, resync: state.resync });
      scheduleResync(ctx);
      // A list alone does not reset the backoff: a server that answers every watch with 410
      // must not get back-to-back relists. Only a watch that delivers something does.
      return {
        next: { phase: "InitListed", resourceVersion },
        event: {
          type: "Restarted",
          objects,
          resourceVersion,
          ...(state.resync ? { resync: true } : {}),
        },
        progress: false,
      };
    }
    case "InitListed": {
      if (resyncDue(ctx)) return { next: { phase: "Empty", resync: true }, progress: false };
      if (state.verify) {
        await checkNotBehind(ctx, state.resourceVersion);
        return {
          next: { phase: "InitListed", resourceVersion: state.resourceVersion },
          progress: false,
        };
      }
      const stream = await WatchStream.open(ctx, state.resourceVersion);
      ctx.log.debug("watch started", { resourceVersion: state.resourceVersion });
      ctx.options.onWatchStart?.(state.resourceVersion);
      return {
        next: { phase: "Watching", resourceVersion: state.resourceVersion, stream },
        progress: false,
      };
    }
    case "Watching": {
      const raw = await state.stream.next(ctx.resyncAt);
      if (raw === RESYNC_DUE) {
        state.stream.close();
        ctx.log.debug("sync period elapsed; relisting", { resourceVersion: state.resourceVersion });
        return { next: { phase: "Empty", resync: true }, progress: false };
      }
      if (raw === undefined) {
        state.stream.close();
        const lastedMs = ctx.clock.now() - state.stream.openedAt;
        const empty = state.stream.eventCount === 0;
        if (empty && lastedMs < SHORT_WATCH_MS) {
          throw new WatchStreamError(
            `Watch of ${ctx.what} ended after ${lastedMs} ms without any event`,
          );
        }
        ctx.log.debug("watch ended", { resourceVersion: state.resourceVersion });
        // A whole watch without even a bookmark is what a server behind us looks like.
        return {
          next: { phase: "InitListed", resourceVersion: state.resourceVersion, verify: empty },
          progress: false,
        };
      }
      if (raw.type === "ERROR") throw errorFromStatus(raw.object as ApiStatus, ctx.what);
      const object = raw.object as T;
      if (compareResourceVersions(object.metadata.resourceVersion, state.resourceVersion)! < 0) {
        throw new ServerBehindError(
          `The watch of ${ctx.what} resumed from resourceVersion ${state.resourceVersion} ` +
            `delivered ${object.metadata.resourceVersion}: the API server went back in time ` +
            `(restarted with its state reset, or restored from a backup)`,
        );
      }
      const resourceVersion = object.metadata.resourceVersion || state.resourceVersion;
      const next: State<T> = { phase: "Watching", resourceVersion, stream: state.stream };
      if (raw.type === "BOOKMARK") return { next, progress: true };
      prepareForCache(object, ctx.type);
      const event: WatchEvent<T> = raw.type === "DELETED"
        ? { type: "Deleted", object }
        : { type: "Applied", object };
      return { next, event, progress: true };
    }
  }
}

/** After a failed step: the state to continue from and how long to wait (none: go on now). */
interface Recovery<T extends KubeObject> {
  next: State<T>;
  retryInMs?: number;
}

function recover<T extends KubeObject>(
  state: State<T>,
  error: Error,
  ctx: Context,
  backoff: Backoff,
): Recovery<T> {
  if (state.phase === "Watching") state.stream.close();
  const listing = state.phase === "Empty" || state.phase === "InitPage";
  if (error instanceof ServerBehindError) {
    // A definite answer, not a failure: relist at once (the list resets what we compare to).
    ctx.log.warn("API server is behind the cache; relisting", { error });
    return { next: { phase: "Empty" } };
  }
  if (!listing && isResourceVersionRejected(error)) {
    // Too large (the server has not reached it) or unknown: watching from it cannot work.
    const retryInMs = retryDelay(error, backoff);
    ctx.log.warn("API server rejects the resourceVersion; relisting", { error, retryInMs });
    return { next: { phase: "Empty" }, retryInMs };
  }
  if (error instanceof GoneError) {
    // Expected after long disconnects: our resourceVersion was compacted. A 410 while listing
    // (an expired continue token) restarts the list, but with backoff so it cannot spin.
    ctx.log.info("resourceVersion expired; relisting", { error });
    // After a watch that delivered events, a 410 is ordinary compaction: relist at once. A
    // 410 before any event (or on the list itself) would otherwise spin: back off.
    const deliveredEvents = state.phase === "Watching" && state.stream.eventCount > 0;
    if (deliveredEvents) return { next: { phase: "Empty" } };
    return { next: { phase: "Empty" }, retryInMs: backoff.next() };
  }
  const retryInMs = retryDelay(error, backoff);
  if (!listing && isConnectionFailure(error)) {
    // A cut, reset or refused connection is how an API server restart looks. One that came
    // back with its state reset may, by the time we reconnect, have been carried past our
    // resourceVersion by other writes: the number then names different writes, a resumed
    // watch would skip what was stored meanwhile, and no comparison of numbers can tell.
    // The list is a consistent read, and its `Restarted` lets the cache drop what is gone.
    ctx.log.warn("watch connection failed; relisting", { error, retryInMs });
    return { next: { phase: "Empty" }, retryInMs };
  }
  ctx.log.warn(listing ? "list failed; retrying" : "watch failed; resuming", { error, retryInMs });
  // Retry the same step: a list page again, or a watch from the last seen resourceVersion.
  const next: State<T> = state.phase === "Watching"
    ? { phase: "InitListed", resourceVersion: state.resourceVersion }
    : state;
  return { next, retryInMs };
}

/**
 * A failure of the connection itself (cut, reset, refused), not an answer from the server nor
 * one of our own verdicts on the stream (malformed line, inactivity, an empty short watch).
 */
function isConnectionFailure(error: Error): boolean {
  return !(error instanceof ApiError) && !(error instanceof WatchStreamError) &&
    !(error instanceof InactivityTimeoutError) && !(error instanceof ServerBehindError);
}

/** The backoff's next delay, or the server's Retry-After when longer (429, 503, 504). */
function retryDelay(error: Error, backoff: Backoff): number {
  const delay = backoff.next();
  if (error instanceof ApiError && error.retryAfterSeconds) {
    return Math.max(delay, Math.min(error.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS));
  }
  return delay;
}

/**
 * Whether the server refused our resourceVersion itself: "Too large resource version" (504
 * Timeout with a `ResourceVersionTooLarge` cause: it has not reached it) or a 400 about it.
 */
function isResourceVersionRejected(error: Error): boolean {
  if (!(error instanceof ApiError)) return false;
  if (error.status.details?.causes?.some((c) => c.reason === "ResourceVersionTooLarge")) {
    return true;
  }
  return error instanceof BadRequestError && /resource ?version/i.test(error.message);
}

/**
 * Lists one object to learn the server's current resourceVersion.
 * @throws {ServerBehindError} when it is below `resourceVersion` (see `resource_version.ts`).
 */
async function checkNotBehind(ctx: Context, resourceVersion: string): Promise<void> {
  const page = await listPage(ctx, "", 1);
  const current = page.metadata.resourceVersion;
  if (compareResourceVersions(current, resourceVersion)! < 0) {
    throw new ServerBehindError(
      `The API server's resourceVersion for ${ctx.what} is ${current}, below the last one ` +
        `seen (${resourceVersion}): it restarted with its state reset, or was restored from ` +
        `a backup`,
    );
  }
}

/** Sets the next periodic relist from now, when a period is configured. */
function scheduleResync(ctx: Context): void {
  const period = ctx.options.resyncPeriodMs;
  if (!period || period <= 0) return;
  ctx.resyncAt = ctx.clock.now() + period * (1 + Math.random() * 0.1);
}

function resyncDue(ctx: Context): boolean {
  return ctx.resyncAt !== undefined && ctx.clock.now() >= ctx.resyncAt;
}

async function listPage<T extends KubeObject>(
  ctx: Context,
  continueToken: string,
  limit = ctx.options.pageSize,
): Promise<KubeList<T>> {
  const { options } = ctx;
  const request: KubeRequest = {
    method: "GET",
    path: resourcePath(ctx.type, { namespace: options.namespace }),
    query: {
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      limit,
      continue: continueToken || undefined,
    },
  };
  const list = await withDeadline(ctx, `list of ${ctx.what}`, async (signal) => {
    const response = await ctx.transport.fetch({ ...request, signal });
    if (!response.ok) throw await apiErrorFromResponse(response);
    return parseCompactJson(await response.text()) as KubeList<T>;
  });
  if (!list || !Array.isArray(list.items) || typeof list.metadata !== "object") {
    throw new WatchStreamError(`Cannot list ${ctx.what}: the answer is not a list`);
  }
  for (const item of list.items) prepareForCache(item, ctx.type);
  return list;
}

/**
 * Runs `work` with its own abort signal, rejecting when the inactivity deadline passes or the
 * watcher's signal aborts — even if `work` ignores its signal.
 */
async function withDeadline<R>(
  ctx: Context,
  what: string,
  work: (signal: AbortSignal) => Promise<R>,
): Promise<R> {
  const controller = new AbortController();
  const unlink = link(ctx.signal, controller);
  const timer = ctx.clock.setTimer(ctx.inactivityMs, () => {
    controller.abort(
      new InactivityTimeoutError(`No answer to the ${what} within ${ctx.inactivityMs} ms`),
    );
  });
  try {
    return await untilAborted(work(controller.signal), controller.signal);
  } finally {
    timer.cancel();
    unlink();
  }
}

/** One open watch response, read event by event. */
class WatchStream {
  readonly openedAt: number;
  eventCount = 0;
  readonly #ctx: Context;
  readonly #controller = new AbortController();
  readonly #unlink: () => void;
  readonly #lines = new LineDecoder();
  #pending: string[] = [];
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #ended = false;
  #closed = false;

  private constructor(ctx: Context) {
    this.#ctx = ctx;
    this.openedAt = ctx.clock.now();
    this.#unlink = link(ctx.signal, this.#controller);
  }

  /** Sends the watch request and waits for the response headers (under the deadline). */
  static async open(ctx: Context, resourceVersion: string): Promise<WatchStream> {
    const stream = new WatchStream(ctx);
    try {
      await stream.#connect(resourceVersion);
      return stream;
    } catch (error) {
      stream.close();
      throw error;
    }
  }

  async #connect(resourceVersion: string): Promise<void> {
    const { options, type } = this.#ctx;
    const timeoutSeconds = options.timeoutSeconds ?? 290;
    const pending = this.#ctx.transport.fetch({
      method: "GET",
      path: resourcePath(type, { namespace: options.namespace }),
      query: {
        watch: true,
        resourceVersion,
        allowWatchBookmarks: true,
        // Jitter spreads the reconnects of many watches that started together.
        timeoutSeconds: Math.round(timeoutSeconds * (1 + Math.random() * 0.1)),
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
      signal: this.#controller.signal,
    });
    // If the deadline or an abort wins the race, a late response must still release its body.
    pending.then((response) => {
      if (this.#controller.signal.aborted) response.body?.cancel().catch(() => {});
    }, () => {});
    const response = await this.#guarded(() => pending);
    if (!response.ok) throw await this.#guarded(() => apiErrorFromResponse(response));
    if (!response.body) throw new WatchStreamError(`Watch of ${this.#ctx.what} has no body`);
    this.#reader = response.body.getReader();
  }

  /**
   * The next decoded event, `undefined` when the server ended the stream, or `RESYNC_DUE` when
   * the clock reached `resyncAt` first.
   */
  async next(resyncAt?: number): Promise<RawWatchEvent | undefined | typeof RESYNC_DUE> {
    let line = this.#pending.shift();
    if (line === undefined && !this.#ended) {
      const read = await this.#guarded(() => this.#readLine(), resyncAt);
      if (read === RESYNC_DUE) return RESYNC_DUE;
      line = read;
    }
    if (line === undefined) return undefined;
    const event = parseWatchLine(line, this.#ctx.what);
    this.eventCount++;
    return event;
  }

  async #readLine(): Promise<string | undefined> {
    while (this.#pending.length === 0) {
      const { done, value } = await this.#reader!.read();
      if (done) {
        this.#ended = true;
        const rest = this.#lines.flush();
        return rest;
      }
      this.#pending = this.#lines.push(value);
    }
    return this.#pending.shift();
  }

  /**
   * Awaits `work` under the inactivity deadline, which starts now; with `resyncAt`, gives up
   * with `RESYNC_DUE` when the clock reaches it first (the caller then closes the stream).
   */
  #guarded<R>(work: () => Promise<R>): Promise<R>;
  #guarded<R>(work: () => Promise<R>, resyncAt?: number): Promise<R | typeof RESYNC_DUE>;
  async #guarded<R>(work: () => Promise<R>, resyncAt?: number): Promise<R | typeof RESYNC_DUE> {
    const clock = this.#ctx.clock;
    const ms = this.#ctx.inactivityMs;
    const timer = clock.setTimer(ms, () => {
      this.#controller.abort(
        new InactivityTimeoutError(`No event from the watch of ${this.#ctx.what} for ${ms} ms`),
      );
    });
    let resync: { cancel(): void } | undefined;
    const due = resyncAt === undefined ? undefined : new Promise<typeof RESYNC_DUE>((resolve) => {
      resync = clock.setTimer(Math.max(0, resyncAt - clock.now()), () => resolve(RESYNC_DUE));
    });
    try {
      const guarded = untilAborted(work(), this.#controller.signal);
      return await (due ? Promise.race([guarded, due]) : guarded);
    } finally {
      timer.cancel();
      resync?.cancel();
    }
  }

  /** Aborts the request and cancels the body; safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlink();
    this.#controller.abort(new DOMException("Watch closed", "AbortError"));
    this.#reader?.cancel().catch(() => {});
  }
}

/** Maps an ERROR event's Status to our error classes (410 becomes `GoneError`). */
function errorFromStatus(status: ApiStatus, what: string): Error {
  const code = typeof status.code === "number" ? status.code : 500;
  const message = status.message || `Watch of ${what} reported an error`;
  return apiErrorFor(code, { ...status, message });
}

/**
 * Readies a list item or watch object for the caches. Objects of built-in types may lack
 * apiVersion/kind: they are filled. `metadata.managedFields` is dropped, as controller-runtime's
 * caches drop it: nothing here reads it, on a real API server it is often the largest part of an
 * object, and a write without it leaves the server's as it is.
 */
function prepareForCache(object: KubeObject, type: ResourceType): void {
  object.apiVersion ??= apiVersionOf(type);
  object.kind ??= type.kind;
  delete object.metadata.managedFields;
}

function describe(type: ResourceType, namespace?: string): string {
  const resource = type.group ? `${type.plural}.${type.group}` : type.plural;
  if (!type.namespaced) return resource;
  return namespace ? `${resource} in namespace "${namespace}"` : `${resource} in all namespaces`;
}
