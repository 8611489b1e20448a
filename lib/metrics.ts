/**
 * Prometheus metrics with controller-runtime's exact names, help texts, labels and buckets, so
 * dashboards and alerts written for the Go operator keep working.
 *
 * Sources: controller-runtime `pkg/internal/controller/metrics/metrics.go` (reconcile metrics,
 * initialised per controller as `initMetrics()` does) and `pkg/metrics/leaderelection.go`
 * (leader election gauge and slow-path counter).
 *
 * Guarantees: nothing is global; every metric lives in the registry passed in. Several
 * `ControllerMetrics` (or `LeaderElectionMetrics`) built on one registry share the same
 * collectors instead of failing on duplicate registration.
 */
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  type Metric,
  Registry,
} from "prom-client";
import { fitProcessMetrics } from "./process_metrics.ts";

/** A registry with the default process metrics (CPU, memory, file descriptors, event loop). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  fitProcessMetrics(registry);
  return registry;
}

/** How one reconcile ended, as controller-runtime labels it. */
export type ReconcileResult = "success" | "error" | "requeue" | "requeue_after";

/** A result, or `"terminal"` for an error that is recorded but not retried. */
export type ReconcileOutcome = ReconcileResult | "terminal";

const RECONCILE_RESULTS: readonly ReconcileResult[] = [
  "error",
  "requeue_after",
  "requeue",
  "success",
];

/** controller-runtime's `ReconcileTime` buckets, in seconds. */
export const RECONCILE_TIME_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.35,
  0.4,
  0.45,
  0.5,
  0.6,
  0.7,
  0.8,
  0.9,
  1.0,
  1.25,
  1.5,
  1.75,
  2.0,
  2.5,
  3.0,
  3.5,
  4.0,
  4.5,
  5,
  6,
  7,
  8,
  9,
  10,
  15,
  20,
  25,
  30,
  40,
  50,
  60,
];

/** Returns the collector named `name` in `registry`, creating it with `create` the first time. */
function shared<M extends Metric>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/** Reconcile metrics for any number of controllers, labelled by controller name. */
export class ControllerMetrics {
  readonly #reconcileTotal: Counter<"controller" | "result">;
  readonly #reconcileErrors: Counter<"controller">;
  readonly #terminalErrors: Counter<"controller">;
  readonly #panics: Counter<"controller">;
  readonly #timeouts: Counter<"controller">;
  readonly #reconcileTime: Histogram<"controller">;
  readonly #maxConcurrent: Gauge<"controller">;
  readonly #activeWorkers: Gauge<"controller">;
  /** Reconciles started and not yet ended, so `reconciled` never drives the gauge negative. */
  readonly #inFlight = new Map<string, number>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.#reconcileTotal = shared(
      registry,
      "controller_runtime_reconcile_total",
      () =>
        new Counter({
          name: "controller_runtime_reconcile_total",
          help: "Total number of reconciliations per controller",
          labelNames: ["controller", "result"],
          registers,
        }),
    );
    this.#reconcileErrors = shared(
      registry,
      "controller_runtime_reconcile_errors_total",
      () =>
        new Counter({
          name: "controller_runtime_reconcile_errors_total",
          help: "Total number of reconciliation errors per controller",
          labelNames: ["controller"],
          registers,
        }),
    );
    this.#terminalErrors = shared(
      registry,
      "controller_runtime_terminal_reconcile_errors_total",
      () =>
        new Counter({
          name: "controller_runtime_terminal_reconcile_errors_total",
          help: "Total number of terminal reconciliation errors per controller",
          labelNames: ["controller"],
          registers,
        }),
    );
    this.#panics = shared(registry, "controller_runtime_reconcile_panics_total", () =>
      new Counter({
        name: "controller_runtime_reconcile_panics_total",
        help: "Total number of reconciliation panics per controller",
        labelNames: ["controller"],
        registers,
      }));
    this.#timeouts = shared(
      registry,
      "controller_runtime_reconcile_timeouts_total",
      () =>
        new Counter({
          name: "controller_runtime_reconcile_timeouts_total",
          help: "Total number of reconciliation timeouts per controller",
          labelNames: ["controller"],
          registers,
        }),
    );
    this.#reconcileTime = shared(
      registry,
      "controller_runtime_reconcile_time_seconds",
      () =>
        new Histogram({
          name: "controller_runtime_reconcile_time_seconds",
          help: "Length of time per reconciliation per controller",
          labelNames: ["controller"],
          buckets: [...RECONCILE_TIME_BUCKETS],
          registers,
        }),
    );
    this.#maxConcurrent = shared(
      registry,
      "controller_runtime_max_concurrent_reconciles",
      () =>
        new Gauge({
          name: "controller_runtime_max_concurrent_reconciles",
          help: "Maximum number of concurrent reconciles per controller",
          labelNames: ["controller"],
          registers,
        }),
    );
    this.#activeWorkers = shared(registry, "controller_runtime_active_workers", () =>
      new Gauge({
        name: "controller_runtime_active_workers",
        help: "Number of currently used workers per controller",
        labelNames: ["controller"],
        registers,
      }));
  }

  /**
   * Records a controller's worker count and publishes every series of `controller` at zero, as
   * controller-runtime's `initMetrics()` does, so rate() queries see them before the first
   * reconcile. Call once when the controller starts.
   */
  setWorkers(controller: string, maxConcurrentReconciles: number): void {
    for (const result of RECONCILE_RESULTS) this.#reconcileTotal.inc({ controller, result }, 0);
    this.#reconcileErrors.inc({ controller }, 0);
    this.#terminalErrors.inc({ controller }, 0);
    this.#panics.inc({ controller }, 0);
    this.#timeouts.inc({ controller }, 0);
    this.#maxConcurrent.set({ controller }, maxConcurrentReconciles);
    this.#activeWorkers.set({ controller }, 0);
    this.#inFlight.set(controller, 0);
  }

  /** A worker picked up a key: counts towards `controller_runtime_active_workers`. */
  reconcileStarted(controller: string): void {
    this.#inFlight.set(controller, (this.#inFlight.get(controller) ?? 0) + 1);
    this.#activeWorkers.inc({ controller });
  }

  /**
   * A reconcile ended after `seconds`. `"terminal"` is an error that will not be retried; it
   * counts as `result="error"` and in both error counters, like controller-runtime. Releases
   * the active-worker slot taken by `reconcileStarted`, if one was taken.
   */
  reconciled(controller: string, outcome: ReconcileOutcome, seconds: number): void {
    const inFlight = this.#inFlight.get(controller) ?? 0;
    if (inFlight > 0) {
      this.#inFlight.set(controller, inFlight - 1);
      this.#activeWorkers.dec({ controller });
    }
    const result: ReconcileResult = outcome === "terminal" ? "error" : outcome;
    this.#reconcileTotal.inc({ controller, result });
    if (result === "error") this.#reconcileErrors.inc({ controller });
    if (outcome === "terminal") this.#terminalErrors.inc({ controller });
    this.#reconcileTime.observe({ controller }, seconds);
  }

  /** Reconcile threw something that is not an Error (our equivalent of a Go panic). */
  reconcilePanicked(controller: string): void {
    this.#panics.inc({ controller });
  }

  /** Reconcile was cancelled by the controller's own per-reconcile timeout. */
  reconcileTimedOut(controller: string): void {
    this.#timeouts.inc({ controller });
  }
}

/** Leader election metrics, as controller-runtime registers them for client-go. */
export class LeaderElectionMetrics {
  readonly #status: Gauge<"name">;
  readonly #slowpath: Counter<"name">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#status = shared(registry, "leader_election_master_status", () =>
      new Gauge({
        name: "leader_election_master_status",
        help:
          "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
        labelNames: ["name"],
        registers,
      }));
    this.#slowpath = shared(registry, "leader_election_slowpath_total", () =>
      new Counter({
        name: "leader_election_slowpath_total",
        help:
          "Total number of slow path exercised in renewing leader leases. 'name' is the string used to identify the lease. Please make sure to group by name.",
        labelNames: ["name"],
        registers,
      }));
  }

  /** This process now holds lease `name`. */
  on(name: string): void {
    this.#status.set({ name }, 1);
  }

  /** This process is a backup for lease `name` (or just lost it). */
  off(name: string): void {
    this.#status.set({ name }, 0);
  }

  /** A renewal had to re-read the lease because the optimistic update failed. */
  slowpathExercised(name: string): void {
    this.#slowpath.inc({ name });
  }
}
