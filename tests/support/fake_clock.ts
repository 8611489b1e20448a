/**
 * A `Clock` whose time only moves when a test says so. Code under test takes a `Clock`; the test
 * passes a `FakeClock` and steps it with `advance()`, so nothing sleeps and nothing asserts on
 * wall-clock durations.
 *
 * Guarantees:
 * - Time never moves by itself; `now()` changes only in `advance()`.
 * - `advance(ms)` fires every timer due within the window in due-time order (ties in the order
 *   they were set), setting `now()` to each timer's due time before running it. Timers set while
 *   advancing, directly by a callback or by promise continuations it triggered, fire in the same
 *   call when they fall inside the window.
 * - Between timers, and before `advance()` returns, pending promise continuations run (one
 *   macrotask turn), so `await clock.sleep()` chains progress as they would on real time.
 *
 * Assumptions: code under test waits only through this clock (real `setTimeout` or I/O is not
 * awaited by `advance()`). Callers must `await` every `advance()` and `flush()`.
 *
 * Caveats: a timer callback that throws makes `advance()` reject with that error (the timer is
 * gone; later timers stay pending), so bugs surface in the test instead of being lost.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * let fired = false;
 * clock.setTimer(100, () => fired = true);
 * await clock.advance(99); // fired === false
 * await clock.advance(1); // fired === true
 * ```
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Clock, TimerHandle } from "../../lib/clock.ts";

/** 2025-01-01T00:00:00Z: a realistic epoch so formatted dates look normal. */
const DEFAULT_START_MS = Date.UTC(2025, 0, 1);

interface FakeTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly fn: () => void;
}

/** A manually stepped clock for tests. */
export class FakeClock implements Clock {
  #now: number;
  readonly #timers = new Map<number, FakeTimer>();
  #nextId = 1;

  /** @param startMs The initial `now()`, in milliseconds since the epoch. */
  constructor(startMs: number = DEFAULT_START_MS) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms` (negative delays count as 0). It runs inside `advance()`. */
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.#nextId++;
    const delay = Number.isFinite(ms) ? Math.max(0, ms) : ms > 0 ? Infinity : 0;
    this.#timers.set(id, { id, dueAt: this.#now + delay, fn });
    return { cancel: () => void this.#timers.delete(id) };
  }

  /** Resolves when the clock is advanced past `ms`; rejects with the signal's reason on abort. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        timer.cancel();
        reject(signal!.reason);
      };
      const timer = this.setTimer(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Due times (ms since the epoch) of the timers not yet fired or cancelled, earliest first. */
  pendingTimers(): number[] {
    return [...this.#timers.values()].sort(byDueTime).map((timer) => timer.dueAt);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order (see the module guarantees), then
   * leaves `now()` at the end of the window.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(`Cannot advance the fake clock by ${ms} ms: expected a finite ms >= 0`);
    }
    const end = this.#now + ms;
    await flushPromises();
    for (let timer = this.#nextDue(end); timer; timer = this.#nextDue(end)) {
      this.#timers.delete(timer.id);
      this.#now = Math.max(this.#now, timer.dueAt);
      timer.fn();
      await flushPromises();
    }
    this.#now = end;
  }

  /**
   * Advances exactly to the earliest pending timer and fires it (and any due at the same time).
   * @returns false when no timer is pending.
   */
  async advanceToNextTimer(): Promise<boolean> {
    const next = this.pendingTimers()[0];
    if (next === undefined || !Number.isFinite(next)) return false;
    await this.advance(next - this.#now);
    return true;
  }

  /** Lets pending promise continuations run without moving time. */
  async flush(): Promise<void> {
    await flushPromises();
  }

  #nextDue(end: number): FakeTimer | undefined {
    let earliest: FakeTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.dueAt <= end && (!earliest || byDueTime(timer, earliest) < 0)) earliest = timer;
    }
    return earliest;
  }
}

function byDueTime(a: FakeTimer, b: FakeTimer): number {
  return a.dueAt - b.dueAt || a.id - b.id;
}

/** One macrotask turn: every queued microtask (promise continuation) runs before it ends. */
function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
