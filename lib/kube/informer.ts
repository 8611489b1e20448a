/**
 * An informer: a watcher feeding a store, with change handlers and health counters.
 *
 * Guarantees:
 * - Handlers run synchronously, in registration order, right after the store applied the
 *   change, so a handler reading the store sees the new state.
 * - A throwing handler is logged and skipped; it never stops the informer or other handlers.
 * - `run` resolves when its signal aborts and never rejects because of API or network errors
 *   (the watcher retries those itself). Should the watcher itself fail unexpectedly, the
 *   informer logs it and starts a new one (which relists) after backoff.
 *
 * Caveats: `run` may be active only once at a time per informer.
 */
import { type Clock, realClock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type Backoff, ExponentialBackoff } from "./backoff.ts";
import { type KubeObject, objectKey, type ResourceType } from "./resource.ts";
import { type Change, Store } from "./store.ts";
import type { KubeTransport } from "./transport.ts";
import { watcher, type WatcherOptions } from "./watcher.ts";

export type InformerOptions = Omit<WatcherOptions, "signal" | "onWatchStart">;

/** Receives every change to the informer's store. */
export type ChangeHandler<T extends KubeObject> = (change: Change<T>) => void;

/** Keeps a `Store` in sync with the API server and notifies handlers of changes. */
export class Informer<T extends KubeObject> {
  /** The cache; read it freely, never write it. */
  readonly store: Store<T> = new Store<T>();
  /** Lists after the first one (each follows a 410 Gone or a watcher restart). */
  relists = 0;
  /** Watch requests after the first one (each resumes an ended or failed stream). */
  watchRestarts = 0;
  /** Failed list or watch attempts. */
  errors = 0;
  /** Clock time (ms) of the last list result or watch event; undefined before the first. */
  lastEventAt: number | undefined;

  readonly #transport: KubeTransport;
  readonly #type: ResourceType;
  readonly #options: InformerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #handlers = new Set<ChangeHandler<T>>();
  readonly #synced: Promise<void>;
  #resolveSynced!: () => void;
  #running = false;
  #watchStarts = 0;
  #lists = 0;

  constructor(transport: KubeTransport, type: ResourceType, options: InformerOptions = {}) {
    this.#transport = transport;
    this.#type = type;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#log = (options.log ?? silentLogger).with({ informer: type.kind });
    this.#backoff = options.backoff ?? new ExponentialBackoff();
    this.#synced = new Promise((resolve) => (this.#resolveSynced = resolve));
  }

  /** Registers a handler; returns a function that unregisters it. */
  onChange(handler: ChangeHandler<T>): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** True once the initial list has been applied to the store. */
  hasSynced(): boolean {
    return this.store.synced;
  }

  /** Resolves once synced; rejects with the signal's reason if it aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.store.synced) return Promise.resolve();
    if (!signal) return this.#synced;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#synced.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  /** Lists and watches until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error(`Cannot run the ${this.#type.kind} informer twice at once`);
    this.#running = true;
    try {
      while (!signal.aborted) {
        try {
          await this.#consume(signal);
        } catch (error) {
          // Only a bug can get here: the watcher handles API errors itself.
          this.errors++;
          const retryInMs = this.#backoff.next();
          this.#log.error("watcher failed unexpectedly; restarting", { error, retryInMs });
          await this.#clock.sleep(retryInMs, signal).catch(() => {});
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #consume(signal: AbortSignal): Promise<void> {
    const events = watcher<T>(this.#transport, this.#type, {
      ...this.#options,
      backoff: this.#backoff,
      signal,
      onWatchStart: () => {
        if (this.#watchStarts++ > 0) this.watchRestarts++;
      },
    });
    for await (const event of events) {
      if (event.type === "Error") {
        this.errors++;
        continue;
      }
      if (event.type === "Restarted" && this.#lists++ > 0) this.relists++;
      this.lastEventAt = this.#clock.now();
      const changes = this.store.apply(event);
      if (event.type === "Restarted") this.#resolveSynced();
      for (const change of changes) this.#notify(change);
    }
  }

  #notify(change: Change<T>): void {
    for (const handler of [...this.#handlers]) {
      try {
        handler(change);
      } catch (error) {
        this.#log.error("change handler failed", {
          error,
          object: objectKey(change.object),
          change: change.type,
        });
      }
    }
  }
}
