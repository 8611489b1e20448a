/**
 * The delaying layer: `addAfter(key, ms)` adds a key once a delay has passed on the injected
 * clock, for requeue-after and backoff without sleeping anywhere.
 *
 * Guarantees: one entry per waiting key, and the earlier ready time wins (a later `addAfter` for
 * a key that already waits is ignored), so a backoff never postpones a run that is already due
 * sooner. Exactly one clock timer is armed, for the earliest entry. Shutting down cancels it.
 *
 * Caveat: a waiting entry does not stop an immediate `add()` of the same key; the key then runs
 * now and again when its delay ends, as in client-go.
 *
 * @module
 */

import { type Clock, realClock, type TimerHandle } from "../clock.ts";
import { noQueueMetrics, type QueueMetrics } from "./metrics.ts";
import { Queue, type QueueOptions } from "./queue.ts";
import { ReadyTimeHeap } from "./_ready_time_heap.ts";

/** A work queue that can also add keys after a delay. */
export class DelayingQueue extends Queue {
  readonly #clock: Clock;
  readonly #metrics: QueueMetrics;
  readonly #waiting = new ReadyTimeHeap();
  /** The one armed timer and the ready time it was armed for. */
  #timer: { handle: TimerHandle; at: number } | undefined;

  constructor(options: QueueOptions = {}) {
    super(options);
    this.#clock = options.clock ?? realClock;
    this.#metrics = options.metrics ?? noQueueMetrics;
  }

  /**
   * Adds `key` after `ms` milliseconds; at once when `ms <= 0`. If the key already waits, the
   * earlier of the two times is kept. Ignored once shutting down. Counts as a retry in metrics.
   */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    this.#metrics.retry();
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    this.#waiting.schedule(key, this.#clock.now() + ms);
    this.#arm();
  }

  /** Number of keys waiting for their delay to pass (informational). */
  waitingLen(): number {
    return this.#waiting.size;
  }

  override shutDown(): void {
    super.shutDown();
    this.#stopWaiting();
  }

  override shutDownWithDrain(): Promise<void> {
    const drained = super.shutDownWithDrain();
    // Delayed keys are future work, not queued work: a drain does not wait for them.
    this.#stopWaiting();
    return drained;
  }

  #stopWaiting(): void {
    this.#waiting.clear();
    this.#timer?.handle.cancel();
    this.#timer = undefined;
  }

  /** Keeps exactly one timer armed, for the earliest waiting entry. */
  #arm(): void {
    const at = this.#waiting.peekTime();
    if (this.#timer && this.#timer.at === at) return;
    this.#timer?.handle.cancel();
    this.#timer = undefined;
    if (at === undefined) return;
    const handle = this.#clock.setTimer(at - this.#clock.now(), () => this.#fire());
    this.#timer = { handle, at };
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (
      let key = this.#waiting.popReady(now);
      key !== undefined;
      key = this.#waiting.popReady(now)
    ) {
      this.add(key);
    }
    // Re-arms for the next entry; also covers a wall-clock timer that fired a little early.
    this.#arm();
  }
}
