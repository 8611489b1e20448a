/**
 * Rate limiters decide how long a failed key waits before its next run, with client-go's
 * `when / forget / numRequeues` contract and its defaults.
 *
 * @module
 */

import { type Clock, realClock } from "../clock.ts";

/** Decides the delay before a key is retried. */
export interface RateLimiter {
  /** The delay in milliseconds before `key` should run again; records one more failure. */
  when(key: string): number;
  /** Stops tracking `key` (call after a successful run): its backoff starts over. */
  forget(key: string): void;
  /** How many times `key` has been requeued since it was last forgotten. */
  numRequeues(key: string): number;
}

/**
 * Per-key exponential backoff: `baseMs * 2^failures`, capped at `maxMs`.
 * With the defaults: 5 ms, 10 ms, 20 ms, … up to 1000 s (reached after 18 failures).
 */
export class ItemExponentialFailureRateLimiter implements RateLimiter {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #failures = new Map<string, number>();

  constructor(baseMs = 5, maxMs = 1_000_000) {
    if (!(baseMs > 0) || !(maxMs >= baseMs)) {
      throw new RangeError(
        `Cannot create an exponential rate limiter with base ${baseMs} ms and max ${maxMs} ms: ` +
          `expected 0 < base <= max`,
      );
    }
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    // 2 ** failures becomes Infinity for huge counts; the cap keeps the result finite.
    return Math.min(this.#baseMs * 2 ** failures, this.#maxMs);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * An overall token bucket shared by all keys: `burst` runs at once, then `qps` per second.
 * `when()` reserves a token and returns how long to wait for it, like golang.org/x/time/rate's
 * `Reserve().Delay()`, so tokens are handed out in call order even when the bucket is in debt.
 * It tracks no key: `forget` does nothing and `numRequeues` is always 0.
 */
export class BucketRateLimiter implements RateLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  /** Tokens available at `#last`; negative when reservations are waiting for future tokens. */
  #tokens: number;
  #last: number;

  constructor(qps = 10, burst = 100, clock: Clock = realClock) {
    if (!(qps > 0) || !Number.isInteger(burst) || burst < 1) {
      throw new RangeError(
        `Cannot create a bucket rate limiter with ${qps} qps and burst ${burst}: ` +
          `expected qps > 0 and an integer burst >= 1`,
      );
    }
    this.#qps = qps;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  when(_key: string): number {
    const now = this.#clock.now();
    // A clock that went backwards refills nothing, as x/time/rate.
    const elapsedMs = Math.max(0, now - this.#last);
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsedMs * this.#qps) / 1000);
    this.#last = Math.max(this.#last, now);
    this.#tokens -= 1;
    if (this.#tokens >= 0) return 0;
    // Multiply first: whole token debts then give whole milliseconds (1 token at 10 qps = 100).
    return (-this.#tokens * 1000) / this.#qps;
  }

  forget(_key: string): void {}

  numRequeues(_key: string): number {
    return 0;
  }
}

/** Combines limiters: the longest delay wins, and requeues are the highest count. */
export class MaxOfRateLimiter implements RateLimiter {
  readonly #limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    if (limiters.length === 0) {
      throw new RangeError("Cannot create a max-of rate limiter from no limiters");
    }
    this.#limiters = limiters;
  }

  when(key: string): number {
    // Every limiter must see the call (each records a failure or reserves a token).
    let delay = 0;
    for (const limiter of this.#limiters) delay = Math.max(delay, limiter.when(key));
    return delay;
  }

  forget(key: string): void {
    for (const limiter of this.#limiters) limiter.forget(key);
  }

  numRequeues(key: string): number {
    let requeues = 0;
    for (const limiter of this.#limiters) requeues = Math.max(requeues, limiter.numRequeues(key));
    return requeues;
  }
}

/**
 * client-go's `DefaultControllerRateLimiter`, which controller-runtime uses: the maximum of a
 * per-key exponential backoff (5 ms → 1000 s) and an overall 10 qps bucket with a burst of 100.
 */
export function defaultControllerRateLimiter(clock: Clock = realClock): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialFailureRateLimiter(5, 1_000_000),
    new BucketRateLimiter(10, 100, clock),
  );
}
