/**
 * The manager owns the shared informers and the controllers of one process.
 *
 * Informers run on every replica (so a new leader starts with a warm cache); controllers run
 * only while `runControllers` is active — `main.ts` calls it when leadership is acquired.
 *
 * Guarantees: controllers start only after every informer has synced once; `ready()` reports
 * unsynced informers by name; stopping waits for in-flight reconciles.
 */
import type { Clock } from "../clock.ts";
import { Informer, type InformerOptions } from "../kube/informer.ts";
import type { KubeObject, ResourceType } from "../kube/resource.ts";
import type { KubeTransport } from "../kube/transport.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { Controller } from "./controller.ts";

export interface ManagerOptions {
  transport: KubeTransport;
  clock?: Clock;
  log?: Logger;
  /**
   * controller-runtime's SyncPeriod (`--sync-period`): every informer relists this often (plus
   * up to 10 % jitter) and every object is reconciled again, so an event missed for any reason
   * is repaired within one period. Default: never.
   */
  syncPeriodMs?: number;
}

export interface CacheStatus {
  name: string;
  synced: boolean;
}

export class Manager {
  readonly #options: ManagerOptions;
  readonly #log: Logger;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  readonly #controllers: Controller[] = [];

  constructor(options: ManagerOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
  }

  /** The shared informer for a type (and optional namespace), created on first use. */
  informer<T extends KubeObject>(
    type: ResourceType,
    options: Omit<InformerOptions, "clock" | "log"> = {},
  ): Informer<T> {
    const name = informerName(type, options.namespace);
    let informer = this.#informers.get(name);
    if (!informer) {
      informer = new Informer<KubeObject>(this.#options.transport, type, {
        resyncPeriodMs: this.#options.syncPeriodMs,
        ...options,
        clock: this.#options.clock,
        log: this.#log.with({ informer: name }),
      });
      this.#informers.set(name, informer);
    }
    return informer as unknown as Informer<T>;
  }

  addController(controller: Controller): void {
    this.#controllers.push(controller);
  }

  /** Runs every informer until `signal` aborts. Never rejects because of API errors. */
  async runInformers(signal: AbortSignal): Promise<void> {
    await Promise.all([...this.#informers.values()].map((informer) => informer.run(signal)));
  }

  /** Per-informer sync state, for `/readyz`. */
  caches(): CacheStatus[] {
    return [...this.#informers].map(([name, informer]) => ({ name, synced: informer.hasSynced() }));
  }

  /** Waits for every informer to sync, then runs the controllers until `signal` aborts. */
  async runControllers(signal: AbortSignal): Promise<void> {
    try {
      await Promise.all([...this.#informers.values()].map((i) => i.waitForSync(signal)));
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    this.#log.info("Caches synced; starting controllers", {
      controllers: this.#controllers.map((c) => c.name),
    });
    await Promise.all(this.#controllers.map((controller) => controller.run(signal)));
  }
}

function informerName(type: ResourceType, namespace?: string): string {
  const group = type.group ? `.${type.group}` : "";
  return `${type.plural}${group}${namespace ? `@${namespace}` : ""}`;
}
