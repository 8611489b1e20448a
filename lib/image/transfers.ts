/**
 * The transfer pool: uploads run here, outside the controller's workers. A reconcile starts a
 * transfer and returns; it observes progress and results through `snapshot` on later runs.
 * This is what keeps deletions and status checks from queuing behind multi-GB uploads (the Go
 * operator ran every upload inside its single worker, §3, §11.14).
 *
 * Guarantees:
 * - At most `maxConcurrent` transfers run at once; the rest wait in start order.
 * - At most one transfer per (NodeImage, location) is queued or running: `start` refuses a
 *   second one.
 * - Each running transfer has a deadline (`timeoutMs`) and aborts when it passes.
 * - A failed, timed-out or cancelled transfer is followed by `cleanupPartial`, so nothing
 *   half-made stays behind (its failure is logged and added to the record's error).
 * - When a transfer settles, `onSettled(objectKey)` fires (the controller enqueues the key),
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
  /** Consecutive failed attempts for this (NodeImage, location), this one included. */
  failures: number;
  /** Whether the controller already reported this outcome (status and Event). */
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

interface Transfer extends TransferView {
  request: TransferRequest;
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
  /** By object key, then location. Finished records stay until replaced or forgotten. */
  readonly #byObject = new Map<string, Map<string, Transfer>>();
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
   * Queues a transfer; it runs as soon as a slot is free.
   * @throws {Error} when one is already queued or running for this NodeImage and location, or
   *   the pool is shut down.
   */
  start(request: TransferRequest): TransferView {
    if (this.#closed) {
      throw new Error(`Cannot start transfer of "${request.objectKey}": the pool is shut down`);
    }
    const records = this.#records(request.objectKey);
    const previous = records.get(request.location);
    if (previous && isLive(previous.state)) {
      throw new Error(
        `Cannot start transfer of "${request.objectKey}" to location "${request.location}": ` +
          `one is already ${previous.state}`,
      );
    }
    const transfer: Transfer = {
      request,
      location: request.location,
      state: "queued",
      queuedAt: this.#clock.now(),
      bytesDone: 0,
      bytesTotal: request.source.size,
      failures: previous?.state === "failed" ? previous.failures : 0,
      reported: false,
      abort: new AbortController(),
    };
    records.set(request.location, transfer);
    this.#waiting.push(transfer);
    this.#pump();
    return view(transfer);
  }

  /** Views of the NodeImage's transfers, by location. */
  snapshot(objectKey: string): Map<string, TransferView> {
    const out = new Map<string, TransferView>();
    for (const [location, t] of this.#byObject.get(objectKey) ?? []) out.set(location, view(t));
    return out;
  }

  /**
   * The controller has reported a finished transfer: a success is forgotten, a failure is kept
   * (for its retry backoff) but marked reported, so its Event is not sent again.
   */
  acknowledge(objectKey: string, location: string): void {
    const records = this.#byObject.get(objectKey);
    const transfer = records?.get(location);
    if (!transfer || isLive(transfer.state)) return;
    if (transfer.state === "succeeded" || transfer.state === "cancelled") {
      records!.delete(location);
      if (records!.size === 0) this.#byObject.delete(objectKey);
    } else {
      transfer.reported = true;
    }
  }

  /** Cancels the NodeImage's transfers and waits until they are cleaned up; then forgets them. */
  async cancel(objectKey: string, reason = "the NodeImage is being deleted"): Promise<void> {
    const records = this.#byObject.get(objectKey);
    if (!records) return;
    await Promise.all([...records.values()].map((t) => this.#cancel(t, reason)));
    this.#byObject.delete(objectKey);
  }

  /** Cancels everything (shutdown) and waits for cleanups; new starts are refused. */
  async shutdown(reason = "the operator is shutting down"): Promise<void> {
    this.#closed = true;
    const all = [...this.#byObject.values()].flatMap((records) => [...records.values()]);
    await Promise.all(all.map((t) => this.#cancel(t, reason)));
  }

  async #cancel(transfer: Transfer, reason: string): Promise<void> {
    if (transfer.state === "queued") {
      const index = this.#waiting.indexOf(transfer);
      if (index >= 0) this.#waiting.splice(index, 1);
      transfer.state = "cancelled";
      transfer.error = `cancelled: ${reason}`;
      transfer.finishedAt = this.#clock.now();
      transfer.request.release?.();
      return;
    }
    if (transfer.state === "running") transfer.abort.abort(new Error(`cancelled: ${reason}`));
    await transfer.settled;
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
        if (changed) this.#options.onProgress?.(request.objectKey);
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
      transfer.error = messageOf(reason);
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
      this.#options.onSettled?.(request.objectKey);
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
        error: messageOf(error),
      });
      transfer.error = `${transfer.error}; cleanup failed: ${messageOf(error)}`;
    } finally {
      timer.cancel();
    }
  }

  #records(objectKey: string): Map<string, Transfer> {
    let records = this.#byObject.get(objectKey);
    if (!records) this.#byObject.set(objectKey, records = new Map());
    return records;
  }
}

/** Whether a transfer in this state still holds (or waits for) a slot. */
export function isLive(state: TransferState): boolean {
  return state === "queued" || state === "running";
}

function view(t: Transfer): TransferView {
  const { request: _r, abort: _a, settled: _s, ...rest } = t;
  return { ...rest };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
