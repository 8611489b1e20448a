/**
 * The transfer pool: uploads run here, outside the controller's workers. A reconcile starts a
 * transfer and returns; it observes progress and results through `snapshot` on later runs.
 * This is what keeps deletions and status checks from queuing behind multi-GB uploads (the Go
 * operator ran every upload inside its single worker, §3, §11.14).
 *
 * Guarantees:
 * - At most `maxConcurrent` transfers run at once; the rest wait in start order.
 * - At most one transfer per artefact (provider id × image name × location) is queued or
 *   running. NodeImages naming the same image (in different namespaces) share it: `start` and
 *   `snapshot` make a NodeImage an observer of the artefact's transfer instead of starting a
 *   second `ensure`/`cleanupPartial` on the same catalog entry. `start` refuses only a second
 *   start by the same NodeImage.
 * - A transfer is aborted only when every NodeImage observing it has cancelled (`cancel`), or
 *   on `shutdown`; a NodeImage that lets go of a shared transfer just stops observing it.
 * - Each running transfer has a deadline (`timeoutMs`) and aborts when it passes.
 * - A failed, timed-out or cancelled transfer is followed by `cleanupPartial`, so nothing
 *   half-made stays behind (its failure is logged and added to the record's error).
 * - When a transfer settles, `onSettled(objectKey)` fires for each observer (the controller
 *   enqueues the keys),
 *   and `onLocationChanged(provider, location)` fires (the inventory cache forgets the listing).
 *   `onProgress(objectKey)` fires when the platform reference of the artefact becomes known, so
 *   it can be written to status early (crash safety).
 * - `cancel` and `shutdown` resolve only after the affected transfers have settled, cleanup
 *   included (bounded by the cleanup deadline).
 * - `request.release` is called exactly once per started request, after the last call the
 *   pool makes on its provider.
 */
import { type Clock, realClock, type TimerHandle } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { EnsureResult, ImageSource, ImageSpec, Provider } from "./provider.ts";
import { errorMessage } from "../redact.ts";

/** What a reconcile asks the pool to do. */
export interface TransferRequest {
  /** `namespace/name` of the NodeImage. */
  objectKey: string;
  location: string;
  image: ImageSpec;
  provider: Provider;
  source: ImageSource;
  /** Run `cleanupPartial` before `ensure` (a leftover of a crash or failure may be there). */
  cleanupFirst: boolean;
  /**
   * Called once when the pool is done with `provider` (the transfer and its cleanup settled, or
   * it was cancelled while queued): the caller's `ProviderLease.release`, so a provider replaced
   * meanwhile is closed only then.
   */
  release?: () => void;
}

export type TransferState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** A read-only view of one transfer, for the planner. */
export interface TransferView {
  location: string;
  state: TransferState;
  /** Clock time it was queued. */
  queuedAt: number;
  /** Clock time it started running. */
  startedAt?: number;
  finishedAt?: number;
  bytesDone: number;
  bytesTotal?: number;
  reference?: string;
  phase?: string;
  error?: string;
  /** Consecutive failed attempts for this artefact, this one included. */
  failures: number;
  /** Whether the controller already reported this outcome (status and Event) for this NodeImage. */
  reported: boolean;
  result?: EnsureResult;
}

export interface TransferPoolOptions {
  /** `--max-concurrent-transfers`, default 4. */
  maxConcurrent?: number;
  /** `--transfer-timeout`, default 2 h. */
  timeoutMs?: number;
  /** Deadline for `cleanupPartial` after a failure or cancel; default 5 minutes. */
  cleanupTimeoutMs?: number;
  /** Deadline of each cleanup once `shutdown` has begun (it must fit the grace period). */
  shutdownCleanupMs?: number;
  onSettled?: (objectKey: string) => void;
  onProgress?: (objectKey: string) => void;
  onLocationChanged?: (providerId: string, location: string) => void;
  clock?: Clock;
  log?: Logger;
}

interface Transfer extends Omit<TransferView, "reported"> {
  request: TransferRequest;
  /** `artefactKey` of the request. */
  key: string;
  /** NodeImages (`namespace/name`) that wait for this transfer. */
  observers: Set<string>;
  /** NodeImages that reported the outcome (`acknowledge`). */
  reportedBy: Set<string>;
  abort: AbortController;
  settled?: Promise<void>;
}

/** The transfer deadline passed. */
export class TransferTimeoutError extends Error {
  override name = "TransferTimeoutError";
}

/** Bounded pool of platform transfers. */
export class TransferPool {
  readonly #maxConcurrent: number;
  readonly #timeoutMs: number;
  readonly #cleanupTimeoutMs: number;
  readonly #shutdownCleanupMs: number;
  readonly #options: TransferPoolOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** By `artefactKey`. Finished records stay until replaced or forgotten by every observer. */
  readonly #byArtefact = new Map<string, Transfer>();
  readonly #waiting: Transfer[] = [];
  #running = 0;
  #closed = false;
  /** Highest number of transfers running at once (tests, bench). */
  peakRunning = 0;

  constructor(options: TransferPoolOptions = {}) {
    this.#options = options;
    this.#maxConcurrent = Math.max(1, options.maxConcurrent ?? 4);
    this.#timeoutMs = options.timeoutMs ?? 2 * 3_600_000;
    this.#cleanupTimeoutMs = options.cleanupTimeoutMs ?? 5 * 60_000;
    this.#shutdownCleanupMs = options.shutdownCleanupMs ?? 5_000;
    this.#clock = options.clock ?? realClock;
    this.#log = (options.log ?? silentLogger).with({ component: "transfers" });
  }

  /** Transfers running now. */
  get running(): number {
    return this.#running;
  }

  /** Transfers waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Queues a transfer; it runs as soon as a slot is free. When another NodeImage's transfer of
   * the same artefact is queued or running, the request's NodeImage observes that one instead
   * (its `release` is called at once) and its view is returned.
   * @throws {Error} when this NodeImage already has one queued or running for the artefact, or
   *   the pool is shut down.
   */
  start(request: TransferRequest): TransferView {
    if (this.#closed) {
      throw new Error(`Cannot start transfer of "${request.objectKey}": the pool is shut down`);
    }
    const key = artefactKey(request.provider.id, request.image.name, request.location);
    const previous = this.#byArtefact.get(key);
    if (previous && isLive(previous.state)) {
      if (previous.observers.has(request.objectKey)) {
        throw new Error(
          `Cannot start transfer of "${request.objectKey}" to location "${request.location}": ` +
            `one is already ${previous.state}`,
        );
      }
      previous.observers.add(request.objectKey);
      request.release?.();
      return view(previous, request.objectKey);
    }
    const transfer: Transfer = {
      request,
      key,
      observers: new Set([...previous?.observers ?? [], request.objectKey]),
      reportedBy: new Set(),
      location: request.location,
      state: "queued",
      queuedAt: this.#clock.now(),
      bytesDone: 0,
      bytesTotal: request.source.size,
      failures: previous?.state === "failed" ? previous.failures : 0,
      abort: new AbortController(),
    };
    this.#byArtefact.set(key, transfer);
    this.#waiting.push(transfer);
    this.#pump();
    return view(transfer, request.objectKey);
  }

  /**
   * Views of the transfers the NodeImage observes, by location. With `image` (its provider and
   * name), it first becomes an observer of every recorded transfer of that artefact, so a
   * transfer another NodeImage started is reported instead of started again.
   */
  snapshot(
    objectKey: string,
    image?: Pick<ImageSpec, "provider" | "name">,
  ): Map<string, TransferView> {
    const out = new Map<string, TransferView>();
    for (const t of this.#byArtefact.values()) {
      const same = image !== undefined && t.request.provider.id === image.provider &&
        t.request.image.name === image.name;
      if (same) t.observers.add(objectKey);
      if (t.observers.has(objectKey) && (same || image === undefined)) {
        out.set(t.location, view(t, objectKey));
      }
    }
    return out;
  }

  /**
   * The controller has reported a finished transfer: a success is forgotten, a failure is kept
   * (for its retry backoff) but marked reported, so its Event is not sent again.
   */
  acknowledge(objectKey: string, location: string): void {
    for (const transfer of this.#observed(objectKey)) {
      if (transfer.location !== location || isLive(transfer.state)) continue;
      transfer.reportedBy.add(objectKey);
      if (transfer.state === "succeeded" || transfer.state === "cancelled") {
        this.#forget(transfer, objectKey);
      }
    }
  }

  /**
   * The NodeImage stops observing its transfers; those nobody else observes are cancelled,
   * cleaned up and forgotten. Resolves once they have settled.
   */
  async cancel(objectKey: string, reason = "the NodeImage is being deleted"): Promise<void> {
    const observed = this.#observed(objectKey);
    const abandoned = observed.filter((t) => t.observers.size === 1);
    for (const t of observed) if (t.observers.size > 1) t.observers.delete(objectKey);
    await Promise.all(abandoned.map((t) => this.#cancel(t, reason)));
    for (const t of abandoned) this.#forget(t, objectKey);
  }

  /** Cancels everything (shutdown) and waits for cleanups; new starts are refused. */
  async shutdown(reason = "the operator is shutting down"): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#byArtefact.values()].map((t) => this.#cancel(t, reason)));
  }

  #observed(objectKey: string): Transfer[] {
    return [...this.#byArtefact.values()].filter((t) => t.observers.has(objectKey));
  }

  /** Drops `objectKey` as an observer; a finished record nobody observes is forgotten. */
  #forget(transfer: Transfer, objectKey: string): void {
    transfer.observers.delete(objectKey);
    if (transfer.observers.size > 0) return;
    if (this.#byArtefact.get(transfer.key) === transfer) this.#byArtefact.delete(transfer.key);
  }

  async #cancel(transfer: Transfer, reason: string): Promise<void> {
    if (transfer.state === "queued") {
      const index = this.#waiting.indexOf(transfer);
      if (index >= 0) this.#waiting.splice(index, 1);
      transfer.state = "cancelled";
      transfer.error = `cancelled: ${reason}`;
      transfer.finishedAt = this.#clock.now();
      transfer.request.release?.();
    } else {
      if (transfer.state === "running") transfer.abort.abort(new Error(`cancelled: ${reason}`));
      await transfer.settled;
    }
  }

  #pump(): void {
    while (this.#running < this.#maxConcurrent && this.#waiting.length > 0) {
      const transfer = this.#waiting.shift()!;
      this.#running++;
      this.peakRunning = Math.max(this.peakRunning, this.#running);
      transfer.state = "running";
      transfer.startedAt = this.#clock.now();
      transfer.settled = this.#run(transfer);
    }
  }

  async #run(transfer: Transfer): Promise<void> {
    const { request } = transfer;
    const { provider, image, location } = request;
    const signal = transfer.abort.signal;
    const log = this.#log.with({ nodeImage: request.objectKey, location, provider: provider.id });
    const deadline: TimerHandle = this.#clock.setTimer(this.#timeoutMs, () =>
      transfer.abort.abort(
        new TransferTimeoutError(
          `Transfer of ${image.name} to location ${location} exceeded its deadline of ` +
            `${Math.round(this.#timeoutMs / 1000)}s`,
        ),
      ));
    const progress = {
      bytes: (done: number, total?: number) => {
        transfer.bytesDone = done;
        if (total !== undefined) transfer.bytesTotal = total;
      },
      reference: (reference: string) => {
        const changed = transfer.reference !== reference;
        transfer.reference = reference;
        if (changed) { for (const key of transfer.observers) this.#options.onProgress?.(key); }
      },
      phase: (description: string) => void (transfer.phase = description),
    };
    try {
      if (request.cleanupFirst) {
        progress.phase("removing a partial artefact of an earlier attempt");
        await provider.cleanupPartial(image, location, signal);
      }
      log.info("Transfer started");
      const result = await provider.ensure(image, location, request.source, progress, signal);
      signal.throwIfAborted();
      transfer.result = result;
      transfer.reference = result.reference;
      transfer.state = "succeeded";
      transfer.failures = 0;
      log.info("Transfer finished", { reference: result.reference });
    } catch (error) {
      const reason = signal.aborted ? signal.reason : error;
      const cancelled = signal.aborted && !(reason instanceof TransferTimeoutError);
      transfer.state = cancelled ? "cancelled" : "failed";
      transfer.error = errorMessage(reason);
      if (!cancelled) transfer.failures++;
      log.warn(cancelled ? "Transfer cancelled" : "Transfer failed", { error: transfer.error });
      await this.#cleanup(transfer, log);
    } finally {
      deadline.cancel();
      transfer.finishedAt = this.#clock.now();
      request.release?.();
      this.#running--;
      this.#options.onLocationChanged?.(provider.id, location);
      this.#pump();
      for (const key of transfer.observers) this.#options.onSettled?.(key);
    }
  }

  async #cleanup(transfer: Transfer, log: Logger): Promise<void> {
    const { provider, image, location } = transfer.request;
    const abort = new AbortController();
    // A failed transfer's cleanup may take minutes (a platform destroying a VM); during
    // shutdown only what fits the pod's grace period is tried, the rest after the restart.
    const timer = this.#clock.setTimer(
      this.#closed ? this.#shutdownCleanupMs : this.#cleanupTimeoutMs,
      () => abort.abort(new Error("cleanup deadline passed")),
    );
    try {
      await provider.cleanupPartial(image, location, abort.signal);
    } catch (error) {
      log.error("Cleaning up a partial artefact failed; it is retried before the next attempt", {
        error: errorMessage(error),
      });
      transfer.error = `${transfer.error}; cleanup failed: ${errorMessage(error)}`;
    } finally {
      timer.cancel();
    }
  }
}

/** Whether a transfer in this state still holds (or waits for) a slot. */
export function isLive(state: TransferState): boolean {
  return state === "queued" || state === "running";
}

/** Identity of the platform artefact a transfer makes. */
function artefactKey(providerId: string, imageName: string, location: string): string {
  return `${providerId}\u0000${imageName}\u0000${location}`;
}

/** The transfer as `objectKey` sees it. */
function view(t: Transfer, objectKey: string): TransferView {
  const {
    request: _r,
    key: _k,
    observers: _o,
    reportedBy,
    abort: _a,
    settled: _s,
    ...rest
  } = t;
  return { ...rest, reported: reportedBy.has(objectKey) };
}
