/**
 * Whether NodeImages can be created in `--namespace`, learnt from the creates themselves (the
 * operator has no RBAC on Namespaces). When the API server answers that the namespace does not
 * exist, creates stop for a backoff (5 s doubling to 5 min): then one Release probes, and the
 * others wait for its outcome. A failed probe is reported once (log line, Warning Event on that
 * Release); a probe that succeeds opens the gate and wakes every Release that waited.
 *
 * Without it each Release failed, logged an error and retried on its own per-key backoff
 * (5 ms first): hundreds of lines a second, and no Event anywhere.
 *
 * Guarantees: at most one create per backoff while the namespace is missing; `/readyz` fails
 * with the namespace's name until a create succeeds.
 */
import type { Clock } from "../clock.ts";
import type { CheckResult } from "../server/health_checks.ts";

export const NAMESPACE_BACKOFF = { initialMs: 5_000, maxMs: 300_000 } as const;

/** What a Release may do now. */
export type Admission =
  | { go: true; probe: boolean }
  /** Do not try; look again after `retryInMs`. `first`: this Release was not blocked before. */
  | { go: false; retryInMs: number; first: boolean };

export class NamespaceGate {
  readonly namespace: string;
  /** Called with the Releases that waited when the namespace turns out to exist. */
  onOpen: (releases: string[]) => void = () => {};
  readonly #clock: Clock;
  #missing = false;
  #delayMs = 0;
  #nextCheckAt = 0;
  #probing: string | undefined;
  readonly #blocked = new Set<string>();

  constructor(namespace: string, clock: Clock) {
    this.namespace = namespace;
    this.#clock = clock;
  }

  get missing(): boolean {
    return this.#missing;
  }

  /** Asks before a create for `release`. */
  admit(release: string): Admission {
    if (!this.#missing) return { go: true, probe: false };
    const now = this.#clock.now();
    if (this.#probing === undefined && now >= this.#nextCheckAt) {
      this.#probing = release;
      this.#blocked.delete(release);
      return { go: true, probe: true };
    }
    const first = !this.#blocked.has(release);
    this.#blocked.add(release);
    // While a probe runs the others wait for a full period; its success wakes them.
    const retryInMs = this.#probing === undefined ? this.#nextCheckAt - now : this.#delayMs;
    return { go: false, retryInMs: Math.max(1, retryInMs), first };
  }

  /**
   * A create for `release` found the namespace missing.
   * @returns whether to report it (the first failure of a backoff period) and when to retry.
   */
  failed(release: string): { report: boolean; retryInMs: number } {
    const now = this.#clock.now();
    const wasProbe = this.#probing === release;
    if (wasProbe) this.#probing = undefined;
    this.#blocked.add(release);
    if (this.#missing && !wasProbe) {
      // A create that raced the first failure: already reported for this period.
      return { report: false, retryInMs: Math.max(1, this.#nextCheckAt - now) };
    }
    this.#delayMs = this.#missing
      ? Math.min(this.#delayMs * 2, NAMESPACE_BACKOFF.maxMs)
      : NAMESPACE_BACKOFF.initialMs;
    this.#missing = true;
    this.#nextCheckAt = now + this.#delayMs;
    return { report: true, retryInMs: this.#delayMs };
  }

  /** A create succeeded: the namespace exists. Wakes the Releases that waited. */
  succeeded(release: string): void {
    if (this.#probing === release) this.#probing = undefined;
    if (!this.#missing) return;
    this.#missing = false;
    const waiting = [...this.#blocked].filter((name) => name !== release);
    this.#blocked.clear();
    this.onOpen(waiting);
  }

  /** A create attempt ended some other way (an error, an abort): let the next one probe. */
  released(release: string): void {
    if (this.#probing === release) this.#probing = undefined;
  }

  /** For `Readiness.addCheck("nodeimage-namespace", …)`. */
  readonly check = (): CheckResult =>
    this.#missing
      ? {
        ok: false,
        reason: `namespace "${this.namespace}" does not exist: NodeImages cannot be created ` +
          `(--namespace); next check in ${this.#secondsToCheck()}s`,
      }
      : { ok: true };

  #secondsToCheck(): number {
    return Math.max(0, Math.ceil((this.#nextCheckAt - this.#clock.now()) / 1000));
  }
}
