/**
 * Exponential backoff with jitter for reconnecting watches and lists.
 *
 * The watcher asks for the next delay after each failure and resets the backoff once a step
 * succeeds, so a long healthy period is followed by a quick first retry again.
 *
 * Guarantees: delays never exceed `maxMs`; the un-jittered base doubles (by `factor`) from
 * `initialMs` until it reaches `maxMs`.
 */

/** Produces retry delays; `reset()` after a success. */
export interface Backoff {
  /** The delay before the next attempt, in milliseconds; advances the sequence. */
  next(): number;
  /** Starts the sequence over after a success. */
  reset(): void;
}

export interface ExponentialBackoffOptions {
  /** First delay before jitter. Default 800 ms. */
  initialMs?: number;
  /** Upper bound for every delay, jitter included. Default 30 s. */
  maxMs?: number;
  /** Growth per failure. Default 2. */
  factor?: number;
  /**
   * Fraction of the base delay that is randomised: the delay is drawn uniformly from
   * `base × [1 − jitter, 1 + jitter]`. Default 0.5. Spreads reconnects of many clients after a
   * shared outage so they do not hit the API server in lockstep.
   */
  jitter?: number;
  /** Source of randomness in [0, 1); injected in tests. Default `Math.random`. */
  random?: () => number;
}

/**
 * The default backoff: 800 ms, 1.6 s, 3.2 s … capped at 30 s, each ±50 %.
 *
 * @example
 * ```ts
 * const backoff = new ExponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
 * backoff.next(); // 100
 * backoff.next(); // 200
 * backoff.reset();
 * backoff.next(); // 100
 * ```
 */
export class ExponentialBackoff implements Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: ExponentialBackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 800;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 0.5;
    this.#random = options.random ?? Math.random;
    if (!(this.#initialMs >= 0) || !(this.#maxMs >= this.#initialMs)) {
      throw new RangeError(
        `Cannot create backoff: initialMs ${this.#initialMs} must be >= 0 and <= maxMs ${this.#maxMs}`,
      );
    }
    if (!(this.#factor >= 1)) {
      throw new RangeError(`Cannot create backoff: factor ${this.#factor} must be >= 1`);
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) {
      throw new RangeError(`Cannot create backoff: jitter ${this.#jitter} must be within [0, 1]`);
    }
  }

  next(): number {
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
    // Stop growing the exponent once capped, so it never overflows to Infinity.
    if (base < this.#maxMs) this.#attempt++;
    const spread = 1 + this.#jitter * (2 * this.#random() - 1);
    return Math.min(this.#maxMs, Math.round(base * spread));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
