import assert from "node:assert/strict";
import type { Clock, TimerHandle } from "../../lib/clock.ts";
import { EventLoopMonitor } from "../../lib/server/event_loop_monitor.ts";

/** A clock whose time moves only when the test says so; timers fire on `advance`. */
class ManualClock implements Clock {
  #now = 1_000_000;
  #timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  now(): number {
    return this.#now;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.#now + ms, fn, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }
  sleep(): Promise<void> {
    throw new Error("not used");
  }
  /** Moves time forward by `ms` without running timers (a blocked event loop). */
  jump(ms: number): void {
    this.#now += ms;
  }
  /** Runs every due timer. */
  fireDue(): void {
    const due = this.#timers.filter((t) => t.at <= this.#now && !t.cancelled);
    this.#timers = this.#timers.filter((t) => !due.includes(t));
    for (const t of due) t.fn();
  }
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }
}

Deno.test("a loop that ticks on time is healthy", () => {
  const clock = new ManualClock();
  const monitor = new EventLoopMonitor({ clock, intervalMs: 1000, maxLagMs: 5000 });
  const stop = new AbortController();
  monitor.start(stop.signal);
  for (let i = 0; i < 5; i++) {
    clock.jump(1000);
    clock.fireDue();
    assert.deepEqual(monitor.check(), { ok: true });
  }
  stop.abort();
});

Deno.test("a blocked loop fails the check until it ticks on time again", () => {
  const clock = new ManualClock();
  const monitor = new EventLoopMonitor({ clock, intervalMs: 1000, maxLagMs: 5000 });
  const stop = new AbortController();
  monitor.start(stop.signal);
  clock.jump(7000); // blocked: the tick is overdue and has not run
  const blocked = monitor.check();
  assert.equal(blocked.ok, false);
  assert.match(blocked.reason ?? "", /event loop lagging 6000 ms/);
  clock.fireDue(); // the late tick runs and records its lag
  assert.equal(monitor.check().ok, false);
  clock.jump(1000);
  clock.fireDue();
  assert.deepEqual(monitor.check(), { ok: true });
  stop.abort();
});

Deno.test("aborting the signal cancels the monitor's timer", () => {
  const clock = new ManualClock();
  const monitor = new EventLoopMonitor({ clock });
  const stop = new AbortController();
  monitor.start(stop.signal);
  assert.equal(clock.pending, 1);
  stop.abort();
  assert.equal(clock.pending, 0);
});
