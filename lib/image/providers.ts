/**
 * The provider registry: one `Provider` per configured provider id, each initialised in the
 * background so that one unreachable platform never blocks or stops the others (the Go operator
 * exited when any provider failed to start, §11.20).
 *
 * Guarantees:
 * - `update(configs)` never waits for a platform: it builds each provider from its configured
 *   module (so `lib/` never imports `providers/`) and starts a probe loop for each.
 * - A probe loop retries with exponential backoff (`initialBackoffMs`, doubling, `retryCount`
 *   steps), then keeps retrying at that cap for ever. It never gives up and never exits.
 * - `update` keeps a provider whose config is unchanged (secrets compared by value, so a rotated
 *   password counts as a change) and replaces one whose config changed. New work gets the new
 *   provider at once; the old one stops probing but is closed only when the last lease on it
 *   (`acquire`: a running transfer and its cleanup, a reconcile's platform calls) is released,
 *   so a credential rotation never cuts a multi-GB upload or its cleanup off mid-way.
 * - Every state change is reported to `onChange` listeners (the image controller enqueues the
 *   provider's NodeImages), and is listed on `/readyz` as an informational entry
 *   `provider-<id>`: a down provider is shown in the body but does not fail readiness, because
 *   readiness only gates traffic to this pod, and restarting or unreadying the operator cannot
 *   bring a vCenter back; meanwhile the other providers must keep working.
 *
 * Caveats: a module whose `create` throws (a config it cannot use) leaves the provider
 * `unreachable` with the error's message, retried with the same backoff.
 */
import { type Clock, realClock, type TimerHandle } from "../clock.ts";
import { Secret } from "../config/secret.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { ConfiguredProvider, ImageLayout } from "../provider_module.ts";
import type { Readiness } from "../server/health_checks.ts";
import type { Provider } from "./provider.ts";
import { errorMessage } from "../redact.ts";

/** A claim on a provider while calls on it run; see `ProviderRegistry.acquire`. */
export interface ProviderLease {
  readonly provider: Provider;
  /** Ends the claim; idempotent. A retired provider is closed after its last release. */
  release(): void;
}

/** Where a provider is in its life. */
export type ProviderPhase = "initialising" | "ready" | "unreachable";

/** What `ProviderRegistry.get` returns. */
export interface ProviderHandle {
  /** Undefined while no client could be built. */
  provider?: Provider;
  status: ProviderStatus;
  locations: string[];
  layout: ImageLayout;
}

/** What the controller and `/readyz` see of one provider. */
export interface ProviderStatus {
  id: string;
  phase: ProviderPhase;
  /** Why it is unreachable (or the last probe error while initialising). */
  message?: string;
  /** Probes tried since the last success. */
  attempts: number;
}

export interface ProviderRegistryOptions {
  /** First retry delay (`clientSetup.initialBackoffDelay`, Go default 5 s). */
  initialBackoffMs: number;
  /** Doublings before the delay stops growing (`clientSetup.retryCount`, Go default 5). */
  retryCount: number;
  /**
   * Re-probe a ready provider this often; default 0 (never): a ready provider is marked
   * unreachable when the controller reports a `ProviderUnavailableError` from a real call, which
   * costs no extra platform requests.
   */
  healthIntervalMs?: number;
  clock?: Clock;
  log?: Logger;
}

interface Entry {
  id: string;
  configured: ConfiguredProvider;
  provider?: Provider;
  status: ProviderStatus;
  abort: AbortController;
  timer?: TimerHandle;
  /** The running probe, awaited by `close`. */
  probing?: Promise<void>;
  /** Leases not yet released (`acquire`). */
  leases: number;
  /** Replaced or removed: closed once `leases` drops to 0. */
  retired: boolean;
  closed: boolean;
}

/** Holds the configured providers and their health. */
export class ProviderRegistry {
  readonly #options: ProviderRegistryOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  /** Every provider not yet closed, current or retired, for `acquire`. */
  readonly #byProvider = new Map<Provider, Entry>();
  /** Closes of retired providers started when their last lease went, awaited by `close`. */
  readonly #closing = new Set<Promise<void>>();
  readonly #listeners = new Set<(id: string) => void>();
  readonly #readinessNames = new Set<string>();
  #readiness?: Readiness;
  #closed = false;

  constructor(options: ProviderRegistryOptions) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#log = (options.log ?? silentLogger).with({ component: "providers" });
  }

  /**
   * Makes the registry hold exactly the providers in `configs` (keyed by provider id).
   * Unchanged ones are kept; changed ones are replaced, missing ones dropped, and both closed
   * now when nothing holds a lease on them, else when the last lease is released (not awaited).
   * @throws {TypeError} when a key is not the id of the module its entry was configured by.
   */
  async update(configs: Readonly<Record<string, ConfiguredProvider>>): Promise<void> {
    if (this.#closed) throw new Error("Cannot update the provider registry: it is closed");
    const wanted = Object.entries(configs);
    for (const [id, configured] of wanted) {
      if (configured.module.id !== id) {
        throw new TypeError(
          `Cannot configure provider "${id}" with the ${configured.module.id} module's config`,
        );
      }
    }
    const closing: Promise<void>[] = [];
    const wantedIds = new Set(wanted.map(([id]) => id));
    for (const [id, entry] of this.#entries) {
      if (!wantedIds.has(id)) {
        this.#entries.delete(id);
        closing.push(this.#retire(entry, "removed from the configuration"));
        this.#notify(id);
      }
    }
    for (const [id, configured] of wanted) {
      const existing = this.#entries.get(id);
      if (existing && sameProvider(existing.configured, configured)) continue;
      if (existing) closing.push(this.#retire(existing, "configuration changed"));
      this.#start(id, configured);
    }
    this.#registerReadiness();
    await Promise.all(closing);
  }

  /**
   * The provider, its status, its locations (from the config while no client could be built)
   * and where its images live, or `undefined` when `id` is not configured.
   */
  get(id: string): ProviderHandle | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    return {
      provider: entry.provider,
      status: { ...entry.status },
      locations: entry.provider?.locations() ?? entry.configured.locations(),
      layout: entry.configured.module.layout,
    };
  }

  /**
   * Claims `provider` (as returned by `get`) until `release`: if the registry replaces or drops
   * it meanwhile, it stays open for the calls already made on it and is closed afterwards. A
   * provider the registry no longer holds (already closed) gets a lease that does nothing.
   */
  acquire(provider: Provider): ProviderLease {
    const entry = this.#byProvider.get(provider);
    if (!entry) return { provider, release: () => {} };
    entry.leases++;
    let released = false;
    return {
      provider,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        if (entry.retired && entry.leases === 0) this.#closeLater(entry);
      },
    };
  }

  /** Statuses of every configured provider, sorted by id. */
  statuses(): ProviderStatus[] {
    return [...this.#entries.values()].map((e) => ({ ...e.status })).sort((a, b) =>
      a.id < b.id ? -1 : 1
    );
  }

  /**
   * Marks a ready provider unreachable after a call failed with `ProviderUnavailableError`,
   * and probes it again with backoff until it answers.
   */
  reportUnavailable(id: string, error: unknown): void {
    const entry = this.#entries.get(id);
    if (!entry?.provider || entry.status.phase !== "ready") return;
    entry.timer?.cancel();
    entry.status.attempts = 1;
    const message = errorMessage(error);
    this.#log.warn("Provider became unreachable; probing", { provider: id, error: message });
    this.#set(entry, "unreachable", message);
    entry.timer = this.#clock.setTimer(this.#delay(1), () => this.#probe(entry));
  }

  /** Calls `listener(id)` after every state change of a provider; returns the unsubscribe. */
  onChange(listener: (id: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Lists each provider on `/readyz` as `provider-<id>` (informational; never failing). */
  attachReadiness(readiness: Readiness): void {
    this.#readiness = readiness;
    this.#registerReadiness();
  }

  /**
   * Stops every probe loop and closes every provider, leased or not: call it after the work
   * using them (the transfer pool) has shut down.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    const leased = [...this.#byProvider.values()].filter((e) => e.retired);
    await Promise.all([
      ...entries.map((entry) => this.#retire(entry, "registry closed")),
      ...leased.map((entry) => this.#closeProvider(entry)),
      ...this.#closing,
    ]);
  }

  #start(id: string, configured: ConfiguredProvider, attempts = 0): void {
    const entry: Entry = {
      id,
      configured,
      status: { id, phase: "initialising", attempts },
      abort: new AbortController(),
      leases: 0,
      retired: false,
      closed: false,
    };
    this.#entries.set(id, entry);
    try {
      entry.provider = configured.create({
        log: this.#options.log ?? silentLogger,
        clock: this.#options.clock,
      });
      this.#byProvider.set(entry.provider, entry);
    } catch (error) {
      // A module refusing its config cannot fix itself; still shown and retried like a probe.
      this.#set(entry, "unreachable", errorMessage(error));
      this.#schedule(entry, () => this.#start(id, configured, entry.status.attempts));
      return;
    }
    this.#log.info("Initialising provider", { provider: id });
    this.#notify(id);
    this.#probe(entry);
  }

  #probe(entry: Entry): void {
    const provider = entry.provider!;
    entry.probing = (async () => {
      try {
        await provider.probe(entry.abort.signal);
        if (entry.abort.signal.aborted) return;
        if (entry.status.phase !== "ready") {
          this.#log.info("Provider ready", { provider: entry.id });
        }
        entry.status.attempts = 0;
        this.#set(entry, "ready");
        const interval = this.#options.healthIntervalMs ?? 0;
        if (interval > 0) {
          entry.timer = this.#clock.setTimer(interval, () => this.#probe(entry));
        }
      } catch (error) {
        if (entry.abort.signal.aborted) return;
        entry.status.attempts++;
        const message = errorMessage(error);
        const delay = this.#delay(entry.status.attempts);
        this.#log.warn("Provider not reachable; retrying", {
          provider: entry.id,
          error: message,
          attempt: entry.status.attempts,
          retryInMs: delay,
        });
        this.#set(entry, "unreachable", message);
        entry.timer = this.#clock.setTimer(delay, () => this.#probe(entry));
      }
    })();
  }

  #schedule(entry: Entry, fn: () => void): void {
    entry.status.attempts++;
    entry.timer = this.#clock.setTimer(this.#delay(entry.status.attempts), () => {
      if (this.#entries.get(entry.id) !== entry) return;
      this.#entries.delete(entry.id);
      fn();
    });
  }

  /** initial × 2^(attempt−1), growing for `retryCount` steps, then flat at that cap. */
  #delay(attempt: number): number {
    const steps = Math.max(1, this.#options.retryCount);
    return this.#options.initialBackoffMs * 2 ** (Math.min(attempt, steps) - 1);
  }

  #set(entry: Entry, phase: ProviderPhase, message?: string): void {
    const changed = entry.status.phase !== phase || entry.status.message !== message;
    entry.status.phase = phase;
    entry.status.message = message;
    if (changed) this.#notify(entry.id);
  }

  /** Stops probing; closes the provider now, or after its last lease when one is held. */
  async #retire(entry: Entry, why: string): Promise<void> {
    entry.retired = true;
    entry.abort.abort(new Error(`provider ${entry.id} ${why}`));
    entry.timer?.cancel();
    await entry.probing?.catch(() => {});
    if (entry.leases > 0 && !this.#closed) {
      this.#log.info("Provider replaced; closing it once the work using it has settled", {
        provider: entry.id,
        reason: why,
        leases: entry.leases,
      });
      return;
    }
    await this.#closeProvider(entry);
  }

  #closeLater(entry: Entry): void {
    const closing = this.#closeProvider(entry).finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
  }

  async #closeProvider(entry: Entry): Promise<void> {
    if (entry.closed) return;
    entry.closed = true;
    if (entry.provider) this.#byProvider.delete(entry.provider);
    try {
      await entry.provider?.close();
    } catch (error) {
      this.#log.warn("Closing provider failed", { provider: entry.id, error: errorMessage(error) });
    }
  }

  #notify(id: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(id);
      } catch (error) {
        this.#log.error("Provider change listener failed", { provider: id, error });
      }
    }
  }

  #registerReadiness(): void {
    const readiness = this.#readiness;
    if (!readiness) return;
    for (const id of this.#entries.keys()) {
      const name = `provider-${id}`;
      if (this.#readinessNames.has(name)) continue;
      this.#readinessNames.add(name);
      readiness.addCheck(name, () => {
        const status = this.#entries.get(id)?.status;
        if (!status) return { ok: true, warning: "not configured" };
        if (status.phase === "ready") return { ok: true };
        return {
          ok: true,
          warning: status.phase === "initialising"
            ? "initialising"
            : `unreachable: ${status.message ?? "no reason given"}`,
        };
      });
    }
  }
}

/** Same module and same config (secrets by value). */
function sameProvider(a: ConfiguredProvider, b: ConfiguredProvider): boolean {
  return a.module === b.module && sameConfig(a.config, b.config);
}

/** Deep equality that compares `Secret`s by value, so a rotated credential is a change. */
export function sameConfig(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Secret || b instanceof Secret) {
    return a instanceof Secret && b instanceof Secret && a.reveal() === b.reveal();
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const keysB = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) =>
    sameConfig((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
  );
}
