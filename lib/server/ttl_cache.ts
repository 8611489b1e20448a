/**
 * A small map whose entries expire, with a bound on their number: the oldest entry goes when a
 * new one would exceed it. For the metrics endpoint's review caches, where an unbounded map
 * keyed by caller-supplied tokens would let anyone grow the operator's memory.
 */
import type { Clock } from "../clock.ts";

export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  readonly #clock: Pick<Clock, "now">;
  readonly #maxEntries: number;

  constructor(options: { clock: Pick<Clock, "now">; maxEntries: number }) {
    this.#clock = options.clock;
    this.#maxEntries = options.maxEntries;
  }

  /** The value stored under `key`, unless it has expired. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.#clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores `value` for `ttlMs`; evicts expired entries, then the oldest, to stay in bound. */
  set(key: string, value: V, ttlMs: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const now = this.#clock.now();
      for (const [k, entry] of this.#entries) {
        if (entry.expires <= now) this.#entries.delete(k);
      }
      // Map iteration is insertion order: the first key is the oldest entry.
      while (this.#entries.size >= this.#maxEntries) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
    }
    this.#entries.set(key, { value, expires: this.#clock.now() + ttlMs });
  }

  get size(): number {
    return this.#entries.size;
  }
}
