/**
 * Work queue metrics: the small interface the queue reports through, and its Prometheus
 * implementation with controller-runtime's metric names, help texts, labels and buckets, so
 * dashboards and alerts written for Go operators keep working.
 *
 * The names follow controller-runtime v0.24 (`pkg/metrics/workqueue.go`), the version the
 * reference operator uses: histograms have 12 buckets from 1e-8 s to 1000 s (older releases had
 * 10, ending at 10 s), and `workqueue_depth` carries a `priority` label that is always empty
 * because this queue has no priorities.
 *
 * Guarantees: creating metrics for several queues on one registry is safe; each metric is
 * registered once per registry and each queue writes its own label values (`name` and
 * `controller`, both the queue's name, as controller-runtime does).
 *
 * @module
 */

import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Work in progress that has not been observed by the work duration histogram yet. */
export interface UnfinishedWork {
  /** Sum of the ages of all in-flight runs. Large values indicate stuck workers. */
  totalSeconds: number;
  /** Age of the oldest in-flight run. */
  longestSeconds: number;
}

/** What a queue reports. Implementations must not throw. */
export interface QueueMetrics {
  /** A key became dirty (`workqueue_adds_total`). */
  add(): void;
  /** The number of keys waiting for a run changed (`workqueue_depth`). */
  setDepth(depth: number): void;
  /** A key waited this long between add and hand-out (`workqueue_queue_duration_seconds`). */
  observeQueueLatency(seconds: number): void;
  /** A run took this long, from hand-out to `done()` (`workqueue_work_duration_seconds`). */
  observeWorkDuration(seconds: number): void;
  /** A delayed or rate-limited re-add was requested (`workqueue_retries_total`). */
  retry(): void;
  /**
   * Gives the metrics a way to read in-flight work. It is read when the metrics are collected,
   * so a stuck worker shows up without a timer in the queue (client-go polls every 500 ms).
   */
  watchUnfinishedWork(read: () => UnfinishedWork): void;
}

/** Metrics that record nothing; the queue's default. */
export const noQueueMetrics: QueueMetrics = Object.freeze({
  add() {},
  setDepth() {},
  observeQueueLatency() {},
  observeWorkDuration() {},
  retry() {},
  watchUnfinishedWork() {},
});

/** controller-runtime's histogram buckets: `prometheus.ExponentialBuckets(10e-9, 10, 12)`. */
export const WORKQUEUE_DURATION_BUCKETS: readonly number[] = exponentialBuckets(1e-8, 10, 12);

/**
 * Creates the metrics for one queue on `registry`, registering the workqueue metric families the
 * first time they are needed on that registry and reusing them afterwards.
 *
 * @param registry The registry served on `/metrics`.
 * @param name The queue's name; controller-runtime uses the controller name.
 * @returns Metrics to pass to the queue.
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * const registry = new Registry();
 * const metrics = prometheusQueueMetrics(registry, "image-nodeimage");
 * metrics.add();
 * ```
 */
export function prometheusQueueMetrics(registry: Registry, name: string): QueueMetrics {
  const families = workqueueFamilies(registry);
  const labels = { name, controller: name };
  return {
    add: () => families.adds.inc(labels),
    setDepth: (depth) => families.depth.set({ ...labels, priority: "" }, depth),
    observeQueueLatency: (seconds) => families.latency.observe(labels, seconds),
    observeWorkDuration: (seconds) => families.workDuration.observe(labels, seconds),
    retry: () => families.retries.inc(labels),
    watchUnfinishedWork(read) {
      families.unfinished.sources.set(name, () => read().totalSeconds);
      families.longestRunning.sources.set(name, () => read().longestSeconds);
    },
  };
}

type QueueLabel = "name" | "controller";

interface WorkqueueFamilies {
  depth: Gauge<QueueLabel | "priority">;
  adds: Counter<QueueLabel>;
  latency: Histogram<QueueLabel>;
  workDuration: Histogram<QueueLabel>;
  unfinished: SampledGauge;
  longestRunning: SampledGauge;
  retries: Counter<QueueLabel>;
}

/**
 * A gauge whose per-queue values are read from the queues at collection time. The readers live
 * on the gauge itself, so a second queue on the same registry finds them through the registry.
 */
class SampledGauge extends Gauge<QueueLabel> {
  /** Queue name → reader of the current value. */
  readonly sources = new Map<string, () => number>();

  constructor(name: string, help: string, registry: Registry) {
    super({
      name,
      help,
      labelNames: ["name", "controller"],
      registers: [registry],
      collect(this: Gauge<QueueLabel>) {
        for (const [queue, read] of (this as SampledGauge).sources) {
          this.set({ name: queue, controller: queue }, read());
        }
      },
    });
  }
}

function workqueueFamilies(registry: Registry): WorkqueueFamilies {
  const labelNames: QueueLabel[] = ["name", "controller"];
  const buckets = [...WORKQUEUE_DURATION_BUCKETS];
  return {
    depth: reuseOrCreate(registry, "workqueue_depth", Gauge, () =>
      new Gauge({
        name: "workqueue_depth",
        help: "Current depth of workqueue by workqueue and priority",
        labelNames: ["name", "controller", "priority"],
        registers: [registry],
      })),
    adds: reuseOrCreate(registry, "workqueue_adds_total", Counter, () =>
      new Counter({
        name: "workqueue_adds_total",
        help: "Total number of adds handled by workqueue",
        labelNames,
        registers: [registry],
      })),
    latency: reuseOrCreate(
      registry,
      "workqueue_queue_duration_seconds",
      Histogram,
      () =>
        new Histogram({
          name: "workqueue_queue_duration_seconds",
          help: "How long in seconds an item stays in workqueue before being requested",
          labelNames,
          buckets,
          registers: [registry],
        }),
    ),
    workDuration: reuseOrCreate(
      registry,
      "workqueue_work_duration_seconds",
      Histogram,
      () =>
        new Histogram({
          name: "workqueue_work_duration_seconds",
          help: "How long in seconds processing an item from workqueue takes.",
          labelNames,
          buckets,
          registers: [registry],
        }),
    ),
    unfinished: reuseOrCreate(
      registry,
      "workqueue_unfinished_work_seconds",
      SampledGauge,
      () =>
        new SampledGauge(
          "workqueue_unfinished_work_seconds",
          "How many seconds of work has been done that is in progress and hasn't been observed " +
            "by work_duration. Large values indicate stuck threads. One can deduce the number of " +
            "stuck threads by observing the rate at which this increases.",
          registry,
        ),
    ),
    longestRunning: reuseOrCreate(
      registry,
      "workqueue_longest_running_processor_seconds",
      SampledGauge,
      () =>
        new SampledGauge(
          "workqueue_longest_running_processor_seconds",
          "How many seconds has the longest running processor for workqueue been running.",
          registry,
        ),
    ),
    retries: reuseOrCreate(registry, "workqueue_retries_total", Counter, () =>
      new Counter({
        name: "workqueue_retries_total",
        help: "Total number of retries handled by workqueue",
        labelNames,
        registers: [registry],
      })),
  };
}

/** Returns the metric already registered under `name`, or registers a new one. */
function reuseOrCreate<T extends object>(
  registry: Registry,
  name: string,
  // deno-lint-ignore no-explicit-any
  kind: abstract new (...args: any[]) => T,
  create: () => T,
): T {
  const existing: unknown = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (existing instanceof kind) return existing;
  throw new TypeError(
    `Cannot register workqueue metric "${name}": the registry already has a different metric ` +
      `of that name (expected ${kind.name})`,
  );
}

/** Go's `prometheus.ExponentialBuckets`, multiplying step by step to get the same floats. */
function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const buckets: number[] = [];
  let bound = start;
  for (let i = 0; i < count; i++) {
    buckets.push(bound);
    bound *= factor;
  }
  return buckets;
}
