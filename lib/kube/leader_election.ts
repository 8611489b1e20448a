/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with the semantics of client-go's
 * `tools/leaderelection` (LeaseLock, `tryAcquireOrRenew`, `ReleaseOnCancel`), so our operator
 * and the Go operator it replaces can share one lease during a migration.
 *
 * Guarantees:
 * - Two candidates never both win: every write carries the resourceVersion last read, so a
 *   concurrent writer gets a Conflict and stays a candidate.
 * - A lease is taken over only when it is released (empty holder) or when its record has not
 *   changed for `leaseDurationSeconds`, measured on *our* clock from when *we* first saw that
 *   record (client-go's rule: clock skew between nodes cannot cause an early takeover).
 * - A leader that cannot renew within `renewDeadline` stops leading before its lease can expire
 *   for others (renewDeadline + retryPeriod < leaseDuration is enforced).
 * - On shutdown the lease is released (empty holder, `leaseDurationSeconds: 1`, exactly what
 *   client-go writes), after the leading work has returned, so a successor takes over at once.
 *
 * Assumptions: `onStartedLeading` returns a promise that settles once the guarded work has
 * stopped (after its signal aborts); work started and left running would outlive the release.
 *
 * Caveats: `leaseDurationSeconds` is whole seconds on the wire, so a sub-second lease duration
 * (tests) is written as 1 s; the elector still renews and gives up on its own millisecond
 * timings, which only makes it step down earlier than others may take over.
 */
import { type Clock, realClock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { ResourceClient } from "./client.ts";
import { ConflictError, NotFoundError } from "./errors.ts";
import type { KubeObject } from "./resource.ts";

/** The Go operator's `LeaderElectionID`. */
export const DEFAULT_LEASE_NAME = "fcf824fa.giantswarm.io";

/** client-go's `JitterFactor` for the acquire loop. */
const JITTER_FACTOR = 1.2;

/** `spec` of a `coordination.k8s.io/v1` Lease. Times are RFC 3339 with microseconds. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  preferredHolder?: string;
  strategy?: string;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionDurations {
  /** How long candidates wait on an unchanged lease before taking over; default 15 s. */
  leaseDurationMs: number;
  /** How long the leader keeps retrying a failed renewal before stepping down; default 10 s. */
  renewDeadlineMs: number;
  /** Pause between attempts; default 2 s. */
  retryPeriodMs: number;
}

export const DEFAULT_LEADER_ELECTION_DURATIONS: Readonly<LeaderElectionDurations> = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** Receives leadership changes; shaped like `LeaderElectionMetrics` in `lib/metrics.ts`. */
export interface LeaderElectionObserver {
  on(name: string): void;
  off(name: string): void;
  slowpathExercised(name: string): void;
}

export interface LeaderElectorOptions {
  /** A client for `LEASES`. */
  client: ResourceClient<Lease>;
  namespace: string;
  /** Lease name; default `fcf824fa.giantswarm.io`. */
  name?: string;
  /** Unique per process; default `<hostname>_<uuid>`. */
  identity?: string;
  clock?: Clock;
  log?: Logger;
  durations?: Partial<LeaderElectionDurations>;
  /** Release the lease when the run signal aborts; default true. */
  releaseOnCancel?: boolean;
  /** Leader election metrics (`leader_election_master_status`). */
  metrics?: LeaderElectionObserver;
  /** Source of jitter in [0, 1); injected in tests. */
  random?: () => number;
}

export interface LeaderCallbacks {
  /**
   * Called once the lease is held. `signal` aborts when leadership ends; the returned promise
   * should settle once the guarded work has stopped. A rejection ends leadership.
   */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /**
   * Always called when `run` ends, like client-go, even if this process never led. If the run
   * signal is not aborted at that moment, leadership was lost and the process should exit.
   */
  onStoppedLeading(): void;
  /** Called when a different holder is observed (including ourselves), not for an empty one. */
  onNewLeader?(identity: string): void;
}

/** The fields client-go keeps in its `LeaderElectionRecord`. */
interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** `<hostname>_<uuid>`, like controller-runtime's default identity. */
export function defaultIdentity(): string {
  let host = "unknown";
  try {
    host = Deno.hostname();
  } catch {
    // Without --allow-sys the uuid alone still makes the identity unique.
  }
  return `${host}_${crypto.randomUUID()}`;
}

/** Formats epoch milliseconds as Kubernetes `MicroTime`: `2006-01-02T15:04:05.000000Z`. */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Leader election for one process and one lease. */
export class LeaderElector {
  readonly name: string;
  readonly namespace: string;
  readonly identity: string;
  readonly #client: ResourceClient<Lease>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #durations: LeaderElectionDurations;
  readonly #releaseOnCancel: boolean;
  readonly #metrics?: LeaderElectionObserver;
  readonly #random: () => number;

  /** The last lease object read or written: its resourceVersion guards our next write. */
  #lease?: Lease;
  #observed: LeaseRecord = emptyRecord();
  #observedRaw = "";
  /** Our clock's time when `#observed` last changed. */
  #observedAt = 0;
  #reportedLeader = "";
  #leading = false;
  #running = false;

  /** @throws {RangeError} when the durations violate client-go's constraints. */
  constructor(options: LeaderElectorOptions) {
    this.#client = options.client;
    this.namespace = options.namespace;
    this.name = options.name ?? DEFAULT_LEASE_NAME;
    this.identity = options.identity ?? defaultIdentity();
    this.#clock = options.clock ?? realClock;
    this.#durations = { ...DEFAULT_LEADER_ELECTION_DURATIONS, ...options.durations };
    this.#releaseOnCancel = options.releaseOnCancel ?? true;
    this.#metrics = options.metrics;
    this.#random = options.random ?? Math.random;
    this.#log = (options.log ?? silentLogger).with({
      lease: `${this.namespace}/${this.name}`,
      identity: this.identity,
    });
    validateDurations(this.#durations, this.name);
    if (!this.identity) {
      throw new RangeError(`Cannot elect on lease "${this.name}": empty identity`);
    }
    this.#metrics?.off(this.name);
  }

  /** True from acquiring the lease until leadership ends. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** The last observed holder; "" when none has been seen. For logs and status only. */
  get leader(): string {
    return this.#observed.holderIdentity;
  }

  /**
   * A liveness check in the shape of `Readiness.addCheck`, like client-go's `HealthzAdaptor`:
   * fails when this process believes it leads but has not renewed for longer than the lease
   * duration plus `toleranceMs`. Renewal failures make the elector step down by themselves;
   * this catches a renew loop that is wedged (a bug, a starved event loop), so the kubelet
   * restarts a process that may otherwise act as a second leader.
   */
  healthCheck(toleranceMs = 20_000): () => { ok: boolean; reason?: string } {
    return () => {
      if (!this.#leading) return { ok: true };
      const sinceRenewalMs = this.#clock.now() - this.#observedAt;
      return sinceRenewalMs > this.#durations.leaseDurationMs + toleranceMs
        ? { ok: false, reason: `lease ${this.name} not renewed for ${sinceRenewalMs} ms` }
        : { ok: true };
    };
  }

  /**
   * Campaigns until the lease is held, leads until `signal` aborts or renewal fails, then
   * releases the lease (on abort) and calls `onStoppedLeading`. Resolves when all that is done.
   * API errors never escape; it rejects only when this elector is already running.
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<void> {
    if (this.#running) {
      throw new Error(`Leader elector for lease "${this.name}" is already running`);
    }
    this.#running = true;
    try {
      if (!(await this.#acquire(signal, callbacks))) return;
      await this.#lead(signal, callbacks);
    } finally {
      this.#leading = false;
      this.#metrics?.off(this.name);
      this.#running = false;
      try {
        callbacks.onStoppedLeading();
      } catch (error) {
        this.#log.error("onStoppedLeading failed", { error });
      }
    }
  }

  /** Retries `tryAcquireOrRenew` every retry period (with jitter) until it wins or aborts. */
  async #acquire(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<boolean> {
    this.#log.info("Attempting to acquire leader lease");
    while (!signal.aborted) {
      const won = await this.#withDeadline(signal, (s) => this.#tryAcquireOrRenew(s), false);
      this.#reportTransition(callbacks);
      if (won) {
        this.#leading = true;
        this.#metrics?.on(this.name);
        this.#log.info("Successfully acquired lease");
        return true;
      }
      const jitter = this.#random() * JITTER_FACTOR * this.#durations.retryPeriodMs;
      if (!(await this.#sleep(this.#durations.retryPeriodMs + jitter, signal))) break;
    }
    return false;
  }

  /** Runs the leading work and renews until abort, a failed renewal, or a failed callback. */
  async #lead(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<void> {
    const leading = new AbortController();
    const stopLeading = () => leading.abort(signal.reason);
    signal.addEventListener("abort", stopLeading, { once: true });
    let work: Promise<void> = Promise.resolve();
    try {
      work = Promise.resolve()
        .then(() => callbacks.onStartedLeading(leading.signal))
        .catch((error) => {
          this.#log.error("Leading work failed; stepping down", { error });
          leading.abort(error);
        });
      const renewed = await this.#renewUntilLost(leading.signal, callbacks);
      if (renewed) {
        // Stopped on purpose: let the guarded work finish before a successor can start.
        leading.abort(signal.reason);
        await work;
        this.#leading = false;
        if (this.#releaseOnCancel) await this.#release();
      } else {
        this.#leading = false;
        this.#metrics?.off(this.name);
        this.#log.error("Failed to renew lease; leadership lost");
        leading.abort(new Error(`Lost leadership of lease "${this.name}"`));
      }
    } finally {
      signal.removeEventListener("abort", stopLeading);
    }
  }

  /**
   * client-go's `renew`: every retry period, try to renew, retrying for up to the renew
   * deadline. Returns true when stopped by `signal`, false when a renewal ran out of time.
   */
  async #renewUntilLost(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<boolean> {
    while (!signal.aborted) {
      const renewed = await this.#withDeadline(signal, async (deadline) => {
        while (!deadline.aborted) {
          if (await this.#tryAcquireOrRenew(deadline)) return true;
          if (!(await this.#sleep(this.#durations.retryPeriodMs, deadline))) break;
        }
        return false;
      }, false);
      this.#reportTransition(callbacks);
      if (signal.aborted) return true;
      if (!renewed) return false;
      if (!(await this.#sleep(this.#durations.retryPeriodMs, signal))) return true;
    }
    return true;
  }

  /** One attempt; a port of client-go's `tryAcquireOrRenew`. Never throws. */
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = this.#clock.now();
    const record: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.#durations.leaseDurationMs / 1000)),
      acquireTime: formatMicroTime(now),
      renewTime: formatMicroTime(now),
      leaseTransitions: 0,
    };

    // 1. Fast path: the leader updates the lease it last wrote, without reading it first.
    if (this.#observedIsUs() && this.#isLeaseValid(now) && this.#lease) {
      record.acquireTime = this.#observed.acquireTime;
      record.leaseTransitions = this.#observed.leaseTransitions;
      try {
        await this.#update(record, signal);
        return true;
      } catch (error) {
        this.#log.debug("Failed to update lease optimistically, falling back to slow path", {
          error,
        });
      }
    }

    // 2. Read the lease, or create it if there is none.
    let lease: Lease;
    try {
      lease = await this.#client.get(this.name, this.namespace, signal);
    } catch (error) {
      if (!(error instanceof NotFoundError)) {
        this.#log.warn("Error retrieving lease", { error });
        return false;
      }
      try {
        const created = await this.#client.create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.name, namespace: this.namespace },
          spec: { ...record },
        }, { signal });
        this.#lease = created;
        this.#setObserved(record);
        return true;
      } catch (createError) {
        this.#log.info("Error initially creating lease", { error: createError });
        return false;
      }
    }
    this.#lease = lease;

    // 3. A changed record restarts the expiry clock; a valid lease held by another wins.
    const observed = recordOf(lease.spec);
    const raw = JSON.stringify(observed);
    if (raw !== this.#observedRaw) {
      this.#setObserved(observed);
      this.#observedRaw = raw;
    }
    if (observed.holderIdentity && this.#isLeaseValid(now) && !this.#observedIsUs()) {
      this.#log.debug("Lease is held by another and has not yet expired", {
        holder: observed.holderIdentity,
      });
      return false;
    }

    // 4. Renew our own lease, or take over a released or expired one.
    if (this.#observedIsUs()) {
      record.acquireTime = observed.acquireTime;
      record.leaseTransitions = observed.leaseTransitions;
      this.#metrics?.slowpathExercised(this.name);
    } else {
      record.leaseTransitions = observed.leaseTransitions + 1;
    }
    try {
      await this.#update(record, signal);
      return true;
    } catch (error) {
      // A Conflict means another candidate wrote first: it won this round, nothing is wrong.
      if (error instanceof ConflictError) this.#log.debug("Lost a race to update lease");
      else this.#log.warn("Failed to update lease", { error });
      return false;
    }
  }

  /**
   * client-go's `release`: writes an empty holder so a successor need not wait for expiry.
   * Re-reads on Conflict (an in-flight renewal may have bumped the resourceVersion), within
   * the renew deadline. Never throws.
   */
  async #release(): Promise<void> {
    await this.#withDeadline(new AbortController().signal, async (deadline) => {
      while (!deadline.aborted) {
        let lease: Lease;
        try {
          lease = await this.#client.get(this.name, this.namespace, deadline);
        } catch (error) {
          this.#log.warn("Cannot release lease: cannot read it", { error });
          return;
        }
        this.#lease = lease;
        const current = recordOf(lease.spec);
        // Unlike client-go, trust the fresh read over our memory: never clear another's hold.
        if (current.holderIdentity !== this.identity) return;
        const now = formatMicroTime(this.#clock.now());
        const released: LeaseRecord = {
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.leaseTransitions,
        };
        try {
          await this.#update(released, deadline);
          this.#log.info("Released lease");
          return;
        } catch (error) {
          if (error instanceof ConflictError) continue;
          this.#log.warn("Failed to release lease", { error });
          return;
        }
      }
    }, undefined);
  }

  /** Writes `record` over the last lease read, guarded by its resourceVersion. */
  async #update(record: LeaseRecord, signal: AbortSignal): Promise<void> {
    // Like client-go, the record replaces the whole spec (dropping preferredHolder/strategy).
    this.#lease = await this.#client.update({ ...this.#lease!, spec: { ...record } }, { signal });
    this.#setObserved(record);
  }

  #setObserved(record: LeaseRecord): void {
    this.#observed = record;
    this.#observedAt = this.#clock.now();
  }

  #observedIsUs(): boolean {
    return this.#observed.holderIdentity === this.identity;
  }

  #isLeaseValid(now: number): boolean {
    return this.#observedAt + this.#observed.leaseDurationSeconds * 1000 > now;
  }

  #reportTransition(callbacks: LeaderCallbacks): void {
    const holder = this.#observed.holderIdentity;
    if (!holder || holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    this.#log.info("New leader observed", { leader: holder });
    try {
      callbacks.onNewLeader?.(holder);
    } catch (error) {
      this.#log.error("onNewLeader failed", { error });
    }
  }

  /**
   * Runs `fn` with a signal that aborts at the renew deadline or with `signal`. Returns
   * `timedOut` at that moment even if `fn` has not returned: a transport that ignores the
   * abort must not keep a leader that cannot renew from stepping down.
   */
  async #withDeadline<R>(
    signal: AbortSignal,
    fn: (deadline: AbortSignal) => Promise<R>,
    timedOut: R,
  ): Promise<R> {
    const deadline = new AbortController();
    const timer = this.#clock.setTimer(
      this.#durations.renewDeadlineMs,
      () => deadline.abort(new DOMException("Renew deadline exceeded", "TimeoutError")),
    );
    const onAbort = () => deadline.abort(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    const expired = new Promise<R>((resolve) => {
      if (deadline.signal.aborted) resolve(timedOut);
      deadline.signal.addEventListener("abort", () => resolve(timedOut), { once: true });
    });
    const work = fn(deadline.signal);
    work.catch(() => {}); // fn handles its own errors; this only guards an abandoned run.
    try {
      return await Promise.race([work, expired]);
    } finally {
      timer.cancel();
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Sleeps on the clock; false when `signal` aborted instead. */
  async #sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    try {
      await this.#clock.sleep(ms, signal);
      return true;
    } catch {
      return false;
    }
  }
}

function emptyRecord(): LeaseRecord {
  return {
    holderIdentity: "",
    leaseDurationSeconds: 0,
    acquireTime: "",
    renewTime: "",
    leaseTransitions: 0,
  };
}

function recordOf(spec: LeaseSpec | undefined): LeaseRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? "",
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: spec?.acquireTime ?? "",
    renewTime: spec?.renewTime ?? "",
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

function validateDurations(d: LeaderElectionDurations, name: string): void {
  const problem = !(d.leaseDurationMs > 0 && d.renewDeadlineMs > 0 && d.retryPeriodMs > 0)
    ? "durations must be greater than zero"
    : d.leaseDurationMs <= d.renewDeadlineMs
    ? "lease duration must be greater than renew deadline"
    : d.renewDeadlineMs <= JITTER_FACTOR * d.retryPeriodMs
    ? `renew deadline must be greater than retry period × ${JITTER_FACTOR}`
    : d.renewDeadlineMs + d.retryPeriodMs >= d.leaseDurationMs
    ? "renew deadline plus retry period must be less than the lease duration"
    : undefined;
  if (problem) {
    throw new RangeError(
      `Cannot elect on lease "${name}" with durations ${JSON.stringify(d)}: ${problem}`,
    );
  }
}
