/**
 * What the last configuration reloads did, for eyes other than the log's: a `/readyz` entry and
 * two metrics.
 *
 * - `config_reload_failures_total`: reloads that failed since start (Prometheus and Alertmanager
 *   call theirs the same way); alert on `increase(...) > 0`.
 * - `config_last_reload_success_timestamp_seconds`: when a load last succeeded (the start-up
 *   load included), changed or not.
 * - The `config` readiness check passes either way, since the last good configuration keeps
 *   serving, but after a failure it carries the file and the error as a warning, which
 *   `/readyz` shows without `?verbose` (`[+]config ok: reload of … failed: …`).
 *
 * Guarantees: messages are `ConfigError` messages (file and field, never a secret value); a
 * successful reload clears the warning.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { CheckResult } from "../server/health_checks.ts";
import { ConfigError } from "./errors.ts";

/** Tracks reload outcomes; `main` reports to it, the probe and metrics read it. */
export class ConfigReloadStatus {
  #failures = 0;
  #lastSuccessMs: number;
  #lastFailure: string | undefined;
  readonly #now: () => number;

  /** @param now Wall clock in ms (injected in tests); the start-up load counts as a success. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#lastSuccessMs = now();
  }

  /** A reload loaded a valid configuration (changed or not). */
  succeeded(): void {
    this.#lastSuccessMs = this.#now();
    this.#lastFailure = undefined;
  }

  /** A reload failed; the previous configuration stays in use. */
  failed(error: unknown): void {
    this.#failures++;
    const message = error instanceof ConfigError
      ? error.message
      : `cannot load the configuration: ${error instanceof Error ? error.message : error}`;
    const at = new Date(this.#lastSuccessMs).toISOString();
    this.#lastFailure = `reload failed: ${message}; serving the configuration loaded by ${at}`;
  }

  get failures(): number {
    return this.#failures;
  }

  /** For `Readiness.addCheck("config", …)`: passes, with the last failure as its warning. */
  readonly check = (): CheckResult =>
    this.#lastFailure === undefined ? { ok: true } : { ok: true, warning: this.#lastFailure };

  /** Registers the two metrics on `registry`; they read this object when scraped. */
  registerMetrics(registry: Registry): void {
    const failures = () => this.#failures;
    const lastSuccessSeconds = () => this.#lastSuccessMs / 1000;
    new Counter({
      name: "config_reload_failures_total",
      help: "Configuration reloads that failed (the previous configuration stayed in use)",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(failures());
      },
    });
    new Gauge({
      name: "config_last_reload_success_timestamp_seconds",
      help: "Unix time of the last configuration load that succeeded, start-up included",
      registers: [registry],
      collect() {
        this.set(lastSuccessSeconds());
      },
    });
  }
}
