/**
 * Liveness of the event loop: a timer that should tick every `intervalMs` records how late it
 * runs. A loop blocked by synchronous work (a runaway parse, a hot loop) makes ticks late, and
 * `/healthz` then fails so the kubelet restarts a process that can no longer serve its watches.
 *
 * Guarantees: the timer is unref'd (through the clock) and stops when the signal aborts.
 * Caveats: one late tick after a long GC pause fails a single probe; the kubelet's
 * failureThreshold absorbs that.
 */
import { type Clock, realClock, type TimerHandle } from "../clock.ts";
import type { CheckResult } from "./health_checks.ts";

export interface EventLoopMonitorOptions {
  /** How often to tick; default 1000 ms. */
  intervalMs?: number;
  /** Lateness beyond which the loop counts as unresponsive; default 5000 ms. */
  maxLagMs?: number;
  clock?: Clock;
}

/** Measures event loop lag and reports it as a health check. */
export class EventLoopMonitor {
  readonly #intervalMs: number;
  readonly #maxLagMs: number;
  readonly #clock: Clock;
  #timer?: TimerHandle;
  #lastTick = 0;
  #lastLagMs = 0;

  constructor(options: EventLoopMonitorOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxLagMs = options.maxLagMs ?? 5000;
    this.#clock = options.clock ?? realClock;
  }

  /** Starts ticking until `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.#timer || signal.aborted) return;
    this.#lastTick = this.#clock.now();
    const schedule = () => {
      const expected = this.#clock.now() + this.#intervalMs;
      this.#timer = this.#clock.setTimer(this.#intervalMs, () => {
        this.#lastTick = this.#clock.now();
        this.#lastLagMs = Math.max(0, this.#lastTick - expected);
        schedule();
      });
    };
    schedule();
    signal.addEventListener("abort", () => {
      this.#timer?.cancel();
      this.#timer = undefined;
    }, { once: true });
  }

  /** Fails when the last tick was late, or when the next one is overdue right now. */
  check = (): CheckResult => {
    if (!this.#timer) return { ok: true };
    const overdueMs = this.#clock.now() - this.#lastTick - this.#intervalMs;
    const lagMs = Math.max(this.#lastLagMs, overdueMs);
    if (lagMs > this.#maxLagMs) {
      return { ok: false, reason: `event loop lagging ${Math.round(lagMs)} ms` };
    }
    return { ok: true };
  };
}
