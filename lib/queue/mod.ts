/**
 * The work queue: keys in, one run at a time per key, backoff on failure, N workers.
 *
 * Layers, one file each as client-go's `util/workqueue`: `Queue` (de-duplicating FIFO with
 * dirty/processing sets) → `DelayingQueue` (`addAfter`, earlier time wins) →
 * `RateLimitingQueue` (`addRateLimited`, `forget`) → `WorkQueue` (named, with controller
 * defaults). `runWorkers` drives any of them.
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * const queue = new WorkQueue({
 *   name: "release",
 *   metrics: prometheusQueueMetrics(new Registry(), "release"),
 * });
 * queue.add("default/foo");
 * ```
 *
 * @module
 */

import { type Clock, realClock } from "../clock.ts";
import type { QueueMetrics } from "./metrics.ts";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate_limiter.ts";
import { RateLimitingQueue } from "./rate_limiting_queue.ts";

export { Queue, type QueueOptions } from "./queue.ts";
export { DelayingQueue } from "./delaying_queue.ts";
export { RateLimitingQueue, type RateLimitingQueueOptions } from "./rate_limiting_queue.ts";
export {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  type RateLimiter,
} from "./rate_limiter.ts";
export {
  noQueueMetrics,
  prometheusQueueMetrics,
  type QueueMetrics,
  type UnfinishedWork,
  WORKQUEUE_DURATION_BUCKETS,
} from "./metrics.ts";
export { type ProcessKey, runWorkers, type RunWorkersOptions, type WorkSource } from "./workers.ts";

/** Options of `WorkQueue`. */
export interface WorkQueueOptions {
  /** The queue's name; controllers use their own name (it labels the metrics). */
  name: string;
  /** Defaults to the wall clock. */
  clock?: Clock;
  /** Defaults to `defaultControllerRateLimiter(clock)`. */
  rateLimiter?: RateLimiter;
  /** Defaults to none; use `prometheusQueueMetrics(registry, name)`. */
  metrics?: QueueMetrics;
}

/** The full rate-limiting, delaying work queue a controller uses. */
export class WorkQueue extends RateLimitingQueue {
  /** The queue's name, as given. */
  readonly name: string;

  constructor(options: WorkQueueOptions) {
    const clock = options.clock ?? realClock;
    super({
      clock,
      metrics: options.metrics,
      rateLimiter: options.rateLimiter ?? defaultControllerRateLimiter(clock),
    });
    this.name = options.name;
  }
}
