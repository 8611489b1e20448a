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
 * - Failures are not cached: the next caller tries again.
 */
import { type Clock, realClock } from "../clock.ts";
import type { Inventory, Provider } from "./provider.ts";

export interface InventoryCacheOptions {
  /** `--inventory-resync`: how long a listing is trusted; default 10 minutes. */
  resyncMs?: number;
  clock?: Clock;
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
  pending?: Promise<Inventory>;
}

interface Slot {
  generation: number;
  latest?: Listing;
  inFlight?: Listing;
}

/** Shared, coalescing cache of location listings. */
export class InventoryCache {
  readonly #resyncMs: number;
  readonly #clock: Clock;
  readonly #onFetch?: (providerId: string, location: string) => void;
  readonly #slots = new Map<string, Slot>();
  readonly #lifetime = new AbortController();

  constructor(options: InventoryCacheOptions = {}) {
    this.#resyncMs = options.resyncMs ?? 10 * 60_000;
    this.#clock = options.clock ?? realClock;
    this.#onFetch = options.onFetch;
  }

  /**
   * The listing of `location`, from the cache when fresh enough, else from one shared call.
   * @param options.notBefore only accept a listing that started at or after this clock time.
   * @throws what `provider.inventory` throws, or the signal's reason when it aborts first.
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
        }
        return inventory;
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
