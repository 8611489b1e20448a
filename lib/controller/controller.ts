/**
 * A controller: watches feed keys into a work queue; workers call `reconcile(key, signal)`.
 *
 * Guarantees:
 * - Level-triggered: reconcile receives only the `namespace/name` key and re-reads state.
 * - One key is never reconciled by two workers at once (the queue's processing set).
 * - An exception in reconcile never escapes: it is logged, counted and retried with backoff;
 *   a `TerminalError` is logged and counted but not retried.
 * - Metrics use controller-runtime's names, so existing dashboards work.
 * Assumptions: informers are started by the `Manager`, which runs controllers only once every
 * informer has synced.
 */
import type { Clock } from "../clock.ts";
import { realClock } from "../clock.ts";
import type { Change } from "../kube/store.ts";
import { type KubeObject, objectKey } from "../kube/resource.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { ControllerMetrics } from "../metrics.ts";
import { runWorkers, WorkQueue } from "../queue/mod.ts";
import type { QueueMetrics } from "../queue/mod.ts";
import { type Reconciler, type ReconcileResult, TerminalError } from "./result.ts";

/** Maps a changed object of a secondary type to the primary keys it affects. */
export type KeyMapper<T extends KubeObject> = (object: T, change: Change<T>) => string[];

/** Anything that reports cache changes; an `Informer` in production. */
export interface ChangeSource<T extends KubeObject = KubeObject> {
  onChange(handler: (change: Change<T>) => void): () => void;
}

export interface WatchSource<T extends KubeObject = KubeObject> {
  informer: ChangeSource<T>;
  /** Omitted for the primary type: the object's own key. */
  map?: KeyMapper<T>;
}

export interface ControllerOptions {
  /** Controller name as in metrics and logs (`release`, `image-nodeimage`). */
  name: string;
  reconcile: Reconciler;
  /** Watched types; the first is usually the primary. */
  watches: WatchSource[];
  /** Concurrent workers (controller-runtime's MaxConcurrentReconciles). */
  workers?: number;
  clock?: Clock;
  log?: Logger;
  metrics?: ControllerMetrics;
  queueMetrics?: QueueMetrics;
  /** Replaces the default rate-limited queue (tests). */
  queue?: WorkQueue;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #options: ControllerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  #unsubscribe: (() => void)[] = [];

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#log = (options.log ?? silentLogger).with({ controller: options.name });
    this.queue = options.queue ?? new WorkQueue({
      name: options.name,
      clock: this.#clock,
      metrics: options.queueMetrics,
    });
    for (const watch of options.watches) this.#subscribe(watch);
  }

  /** Enqueues a key by hand (e.g. a periodic resync). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Runs the workers until `signal` aborts; resolves once in-flight reconciles have returned. */
  async run(signal: AbortSignal): Promise<void> {
    const workers = this.#options.workers ?? 1;
    this.#options.metrics?.setWorkers(this.name, workers);
    this.#log.info("Starting workers", { workers });
    const stop = () => this.queue.shutDown();
    signal.addEventListener("abort", stop, { once: true });
    try {
      await runWorkers(
        this.queue,
        workers,
        (key, workerSignal) => this.#process(key, workerSignal),
        signal,
      );
    } finally {
      signal.removeEventListener("abort", stop);
      for (const unsubscribe of this.#unsubscribe) unsubscribe();
      this.#log.info("Workers stopped");
    }
  }

  #subscribe(watch: WatchSource): void {
    const unsubscribe = watch.informer.onChange((change) => {
      const keys = watch.map ? watch.map(change.object, change) : [objectKey(change.object)];
      for (const key of keys) this.queue.add(key);
    });
    this.#unsubscribe.push(unsubscribe);
  }

  async #process(key: string, signal: AbortSignal): Promise<void> {
    const started = this.#clock.now();
    this.#options.metrics?.reconcileStarted(this.name);
    const log = this.#log.with({ object: key });
    let outcome: "success" | "error" | "requeue_after" | "terminal";
    let result: ReconcileResult | void = undefined;
    let failure: unknown;
    try {
      result = await this.#options.reconcile(key, signal);
      outcome = result?.requeueAfterMs !== undefined ? "requeue_after" : "success";
    } catch (error) {
      failure = error;
      outcome = error instanceof TerminalError ? "terminal" : "error";
      // A thrown non-Error is our equivalent of a Go panic: count it like controller-runtime.
      if (!(error instanceof Error)) this.#options.metrics?.reconcilePanicked(this.name);
    }
    const seconds = (this.#clock.now() - started) / 1000;
    this.#options.metrics?.reconciled(this.name, outcome, seconds);

    switch (outcome) {
      case "success":
        this.queue.forget(key);
        break;
      case "requeue_after":
        this.queue.forget(key);
        this.queue.addAfter(key, result!.requeueAfterMs!);
        break;
      case "terminal":
        this.queue.forget(key);
        log.error("Reconcile failed permanently; not retrying until the object changes", {
          error: failure,
        });
        break;
      case "error":
        if (signal.aborted) break; // shutting down: the next leader will pick the key up
        this.queue.addRateLimited(key);
        log.error("Reconcile failed; retrying with backoff", {
          error: failure,
          retries: this.queue.numRequeues(key),
        });
        break;
    }
  }
}
