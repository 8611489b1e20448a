/**
 * Inventory cache: what each location of each provider holds, listed with one platform call and
 * shared by every NodeImage. This replaces the Go operator's per-image, per-location existence
 * check every 5 minutes (N×M calls, §11.14) with M calls per resync period.
 *
 * Guarantees:
 * - At most one `inventory()` call per (provider, location) is in flight; concurrent requests
 *   share it, whoever asked first. A caller that gives up (its signal aborts) does not abort the
 *   call for the others.
 * - A listing is reused until it is `resyncMs` old, or until `invalidate` (after an ensure,
 *   remove or cleanup finished in that location), or when a caller needs a listing started no
 *   earlier than a given time (`notBefore`: the refresh annotation).
 * - A listing started before an invalidation never replaces a newer one, and is not handed to
 *   callers that asked after the invalidation.
 * - A new provider object under the same id (credential rotation) never sees the old one's
 *   listings.
 * - A failed listing is remembered for `failureRetryMs` (the planner's `errorRetryMs`), shared
 *   by every NodeImage of the location: callers in that window get `RecentListingFailureError`
 *   with the same message instead of a new platform call. Without this, each status write
 *   re-triggered a reconcile and a new listing, and a message that varied between calls (a
 *   timeout's duration, a request id) made every write cause the next one. `invalidate`,
 *   `forgetFailures` (the provider changed state) and `notBefore` (refresh) bypass it.
 */
import { type Clock, realClock } from "../clock.ts";
import type { Inventory, Provider } from "./provider.ts";
import { errorMessage } from "../redact.ts";

export interface InventoryCacheOptions {
  /** `--inventory-resync`: how long a listing is trusted; default 10 minutes. */
  resyncMs?: number;
  clock?: Clock;
  /** How long a failed listing is answered from the cache; default 1 minute. */
  failureRetryMs?: number;
  /** Counts listing calls (metrics, tests). */
  onFetch?: (providerId: string, location: string) => void;
}

interface Listing {
  provider: Provider;
  /** Clock time the call started. */
  startedAt: number;
  /** Invalidation generation the call started in. */
  generation: number;
  inventory?: Inventory;
  error?: unknown;
  pending?: Promise<Inventory>;
}

interface Slot {
  generation: number;
  latest?: Listing;
  inFlight?: Listing;
  /** The last listing, when it failed (reset by a success or an invalidation). */
  failed?: Listing;
}

/**
 * The location's listing failed less than `failureRetryMs` ago; `message` is that failure's
 * (unchanged, so status does not churn) and `cause` the original error.
 */
export class RecentListingFailureError extends Error {
  override name = "RecentListingFailureError";
}

/** Shared, coalescing cache of location listings. */
export class InventoryCache {
  readonly #resyncMs: number;
  readonly #failureRetryMs: number;
  readonly #clock: Clock;
  readonly #onFetch?: (providerId: string, location: string) => void;
  readonly #slots = new Map<string, Slot>();
  readonly #lifetime = new AbortController();

  constructor(options: InventoryCacheOptions = {}) {
    this.#resyncMs = options.resyncMs ?? 10 * 60_000;
    this.#failureRetryMs = options.failureRetryMs ?? 60_000;
    this.#clock = options.clock ?? realClock;
    this.#onFetch = options.onFetch;
  }

  /**
   * The listing of `location`, from the cache when fresh enough, else from one shared call.
   * @param options.notBefore only accept a listing that started at or after this clock time.
   * @throws what `provider.inventory` throws, `RecentListingFailureError` while an earlier
   *   failure is remembered, or the signal's reason when it aborts first.
   */
  async get(
    provider: Provider,
    location: string,
    options: { signal?: AbortSignal; notBefore?: number } = {},
  ): Promise<Inventory> {
    const slot = this.#slot(provider.id, location);
    const now = this.#clock.now();
    const acceptable = (listing: Listing | undefined) =>
      listing !== undefined && listing.provider === provider &&
      listing.generation === slot.generation &&
      listing.startedAt >= (options.notBefore ?? -Infinity);
    const latest = slot.latest;
    if (acceptable(latest) && latest!.inventory && now - latest!.startedAt < this.#resyncMs) {
      return latest!.inventory;
    }
    const failed = slot.failed;
    if (acceptable(failed) && now - failed!.startedAt < this.#failureRetryMs) {
      throw new RecentListingFailureError(errorMessage(failed!.error), { cause: failed!.error });
    }
    let listing = slot.inFlight;
    if (!acceptable(listing)) listing = this.#fetch(slot, provider, location, now);
    return await raceSignal(listing!.pending!, options.signal);
  }

  /** Age in ms of the cached listing, or `undefined` when there is none (for status, tests). */
  ageOf(providerId: string, location: string): number | undefined {
    const latest = this.#slots.get(key(providerId, location))?.latest;
    return latest ? this.#clock.now() - latest.startedAt : undefined;
  }

  /** Forgets the listing after a change in the location; the next `get` lists again. */
  invalidate(providerId: string, location: string): void {
    const slot = this.#slot(providerId, location);
    slot.generation++;
    slot.latest = undefined;
    slot.failed = undefined;
  }

  /** Forgets remembered failures of every location of the provider (it changed state). */
  forgetFailures(providerId: string): void {
    for (const [k, slot] of this.#slots) {
      if (k.startsWith(key(providerId, ""))) slot.failed = undefined;
    }
  }

  /** Aborts listings in flight (shutdown). */
  close(): void {
    this.#lifetime.abort(new Error("inventory cache closed"));
  }

  #fetch(slot: Slot, provider: Provider, location: string, now: number): Listing {
    const listing: Listing = { provider, startedAt: now, generation: slot.generation };
    this.#onFetch?.(provider.id, location);
    listing.pending = provider.inventory(location, this.#lifetime.signal).then(
      (inventory) => {
        listing.inventory = inventory;
        if (slot.generation === listing.generation) {
          const newer = slot.latest && slot.latest.startedAt > listing.startedAt;
          if (!newer) slot.latest = listing;
          if (!newer && (slot.failed?.startedAt ?? -Infinity) <= listing.startedAt) {
            slot.failed = undefined;
          }
        }
        return inventory;
      },
      (error) => {
        listing.error = error;
        const newer = (slot.failed?.startedAt ?? -Infinity) > listing.startedAt ||
          (slot.latest?.startedAt ?? -Infinity) > listing.startedAt;
        if (slot.generation === listing.generation && !newer) slot.failed = listing;
        throw error;
      },
    ).finally(() => {
      if (slot.inFlight === listing) slot.inFlight = undefined;
    });
    // Callers may all have given up; the outcome is still observed here, never unhandled.
    listing.pending.catch(() => {});
    slot.inFlight = listing;
    return listing;
  }

  #slot(providerId: string, location: string): Slot {
    const k = key(providerId, location);
    let slot = this.#slots.get(k);
    if (!slot) this.#slots.set(k, slot = { generation: 0 });
    return slot;
  }
}

function key(providerId: string, location: string): string {
  return `${providerId}\u0000${location}`;
}

function raceSignal<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
