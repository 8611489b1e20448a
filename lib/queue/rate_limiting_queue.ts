/**
 * The rate-limiting layer: a failed key goes back through `addRateLimited(key)`, which asks the
 * rate limiter for a delay; a successful run calls `forget(key)` so the next failure starts the
 * backoff over. The error policy stays with the caller; the queue only applies the delay.
 *
 * @module
 */

import { realClock } from "../clock.ts";
import { DelayingQueue } from "./delaying_queue.ts";
import type { QueueOptions } from "./queue.ts";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate_limiter.ts";

/** Options of the rate-limiting queue. */
export interface RateLimitingQueueOptions extends QueueOptions {
  /** Defaults to `defaultControllerRateLimiter(clock)`. */
  rateLimiter?: RateLimiter;
}

/** A delaying queue that backs keys off through a `RateLimiter`. */
export class RateLimitingQueue extends DelayingQueue {
  readonly #rateLimiter: RateLimiter;

  constructor(options: RateLimitingQueueOptions = {}) {
    super(options);
    this.#rateLimiter = options.rateLimiter ??
      defaultControllerRateLimiter(options.clock ?? realClock);
  }

  /** Adds `key` once the rate limiter allows it. Ignored once shutting down. */
  addRateLimited(key: string): void {
    // Checked first so a shut-down queue does not keep growing the limiter's failure counts.
    if (this.shuttingDown) return;
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Resets `key`'s backoff; call it after a successful run. It does not remove the key. */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  /** How many times `key` has been rate-limited since it was last forgotten. */
  numRequeues(key: string): number {
    return this.#rateLimiter.numRequeues(key);
  }
}
