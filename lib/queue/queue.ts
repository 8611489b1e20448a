/**
 * The base work queue: a FIFO of string keys (`namespace/name`) with client-go's semantics.
 *
 * Guarantees:
 * - Stingy: adding a key that is already waiting is a no-op, so a burst of events for one object
 *   collapses into one run (reconcile is level-based and re-reads state anyway).
 * - Never twice at once: a key handed out by `get()` is "processing" until `done(key)`; no other
 *   `get()` returns it meanwhile.
 * - Never lost: adding a key while it is processing marks it dirty, and `done(key)` queues it
 *   again, so the change that arrived during the run is seen by a later run.
 * - Fair: keys are handed out in the order they became ready, and waiting getters are served in
 *   the order they called `get()`.
 *
 * Differences from client-go's `Type`: after `shutDown()` no further key is handed out (client-go
 * keeps returning queued items until the queue is empty); `shutDownWithDrain()` is the mode that
 * still hands out every key queued before the shutdown and waits for them to be done.
 *
 * @module
 */

import { type Clock, realClock } from "../clock.ts";
import { noQueueMetrics, type QueueMetrics, type UnfinishedWork } from "./metrics.ts";

/** Options shared by every queue layer. */
export interface QueueOptions {
  /** Time source for the latency metrics (and delays in the layers above); defaults to the wall clock. */
  clock?: Clock;
  /** Where the queue reports its metrics; defaults to none. */
  metrics?: QueueMetrics;
}

/** A de-duplicating FIFO of keys that never hands one key to two workers at once. */
export class Queue {
  readonly #clock: Clock;
  readonly #metrics: QueueMetrics;
  /** Keys ready to be handed out, in order. Every key here is also in `#dirty`. */
  readonly #ready = new KeyFifo();
  /** Keys that need a run: queued, or re-added while processing. */
  readonly #dirty = new Set<string>();
  /** Keys handed out and not yet `done()`. */
  readonly #processing = new Set<string>();
  /** Pending `get()` calls, served first come, first served. */
  readonly #waiters: Waiter[] = [];
  /** When each dirty key was added, for the queue latency metric. */
  readonly #addedAt = new Map<string, number>();
  /** When each processing key was handed out, for work duration and unfinished work. */
  readonly #startedAt = new Map<string, number>();
  /** Resolvers of `shutDownWithDrain()` calls, run once nothing is dirty or processing. */
  #drainedResolvers: (() => void)[] = [];
  #shuttingDown = false;

  constructor(options: QueueOptions = {}) {
    this.#clock = options.clock ?? realClock;
    this.#metrics = options.metrics ?? noQueueMetrics;
    this.#metrics.watchUnfinishedWork(() => this.#unfinishedWork());
  }

  /** Marks `key` as needing a run. Ignored once shutting down, or when the key already waits. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#addedAt.set(key, this.#clock.now());
    this.#metrics.add();
    this.#metrics.setDepth(this.#dirty.size);
    // A key being processed waits in `#dirty` and is queued again by `done()`.
    if (this.#processing.has(key)) return;
    this.#ready.push(key);
    this.#serveWaiters();
  }

  /** Number of keys ready to be handed out now (informational; do not gate `get()` on it). */
  len(): number {
    return this.#ready.length;
  }

  /** Whether `shutDown()` or `shutDownWithDrain()` has been called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Waits for the next key and marks it processing; the caller must call `done(key)` afterwards.
   *
   * @param signal Abort to stop waiting; the promise then resolves `undefined`.
   * @returns The key, or `undefined` once the queue is shut down (and, when draining, nothing is
   *   left to hand out) or the signal aborted.
   */
  get(signal?: AbortSignal): Promise<string | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    const key = this.#ready.shift();
    if (key !== undefined) {
      this.#start(key);
      return Promise.resolve(key);
    }
    if (this.#finished()) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(undefined);
      };
      const waiter: Waiter = (handed) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(handed);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Marks `key` as finished. If it was added again while processing, it is queued again now.
   * Calling it for a key that is not processing does nothing.
   */
  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    const startedAt = this.#startedAt.get(key);
    this.#startedAt.delete(key);
    if (startedAt !== undefined) this.#metrics.observeWorkDuration(this.#secondsSince(startedAt));
    if (this.#dirty.has(key)) this.#ready.push(key);
    this.#serveWaiters();
    this.#resolveDrainIfIdle();
  }

  /**
   * Stops the queue now: new adds are ignored, queued keys are dropped, blocked and future
   * `get()` calls resolve `undefined`. Keys already handed out may still be `done()`.
   * Safe to call more than once, and after `shutDownWithDrain()` to stop waiting for the drain.
   */
  shutDown(): void {
    this.#shuttingDown = true;
    this.#ready.clear();
    this.#dirty.clear();
    this.#addedAt.clear();
    this.#metrics.setDepth(0);
    this.#serveWaiters();
    // A forced shutdown ends any drain in progress, as client-go's ShutDown after ShutDownWithDrain.
    const resolvers = this.#drainedResolvers;
    this.#drainedResolvers = [];
    for (const resolve of resolvers) resolve();
  }

  /**
   * Stops accepting new keys but keeps handing out those already queued (and those re-added
   * while processing before the call); resolves once every one of them has been `done()`.
   * Workers must keep calling `get()`/`done()` until then, or this never resolves.
   */
  shutDownWithDrain(): Promise<void> {
    this.#shuttingDown = true;
    const drained = new Promise<void>((resolve) => this.#drainedResolvers.push(resolve));
    this.#serveWaiters();
    this.#resolveDrainIfIdle();
    return drained;
  }

  /** True once shut down and nothing is left to hand out, ever. */
  #finished(): boolean {
    return this.#shuttingDown && this.#dirty.size === 0;
  }

  #start(key: string): void {
    this.#processing.add(key);
    this.#dirty.delete(key);
    const now = this.#clock.now();
    const addedAt = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (addedAt !== undefined) this.#metrics.observeQueueLatency((now - addedAt) / 1000);
    this.#startedAt.set(key, now);
    this.#metrics.setDepth(this.#dirty.size);
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0 && this.#ready.length > 0) {
      const key = this.#ready.shift()!;
      this.#start(key);
      this.#waiters.shift()!(key);
    }
    if (this.#finished()) {
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    }
  }

  #resolveDrainIfIdle(): void {
    if (!this.#finished() || this.#processing.size > 0) return;
    const resolvers = this.#drainedResolvers;
    this.#drainedResolvers = [];
    for (const resolve of resolvers) resolve();
  }

  #unfinishedWork(): UnfinishedWork {
    let totalSeconds = 0;
    let longestSeconds = 0;
    for (const startedAt of this.#startedAt.values()) {
      const age = this.#secondsSince(startedAt);
      totalSeconds += age;
      longestSeconds = Math.max(longestSeconds, age);
    }
    return { totalSeconds, longestSeconds };
  }

  #secondsSince(ms: number): number {
    return Math.max(0, this.#clock.now() - ms) / 1000;
  }
}

/** Receives the handed-out key, or `undefined` when the queue has shut down. */
type Waiter = (key: string | undefined) => void;

/** An array-backed FIFO with O(1) amortised shift (Array#shift is O(n) on large queues). */
class KeyFifo {
  #items: (string | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(key: string): void {
    this.#items.push(key);
  }

  shift(): string | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const key = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    // Compact once the consumed prefix dominates, so memory stays proportional to the length.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return key;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
