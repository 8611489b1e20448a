import assert from "node:assert/strict";
import { armedDelay, realClock } from "../lib/clock.ts";

Deno.test("a timer longer than setTimeout can hold does not fire early", async () => {
  // 30 days: the 720h retention period of the example values. A plain setTimeout overflows
  // and fires after 1 ms; the real clock must not.
  let fired = false;
  const timer = realClock.setTimer(30 * 24 * 3_600_000, () => (fired = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  timer.cancel();
  assert.equal(fired, false);
});

Deno.test("a long sleep can be aborted", async () => {
  const abort = new AbortController();
  const sleeping = realClock.sleep(30 * 24 * 3_600_000, abort.signal);
  abort.abort(new Error("stop"));
  await assert.rejects(sleeping, /stop/);
});

Deno.test("a short timer fires", async () => {
  // Real-clock timers are unref'd (a requeue never keeps the process alive): hold the loop open.
  const keepAlive = setTimeout(() => {}, 10_000);
  const fired = Promise.withResolvers<void>();
  realClock.setTimer(1, () => fired.resolve());
  await fired.promise;
  clearTimeout(keepAlive);
});

Deno.test("timers are armed from a bounded set of delays whose chain adds up to the delay asked", () => {
  // Deno's timers keep a list per distinct delay that clearTimeout leaves behind: every delay
  // (up to 30 days, in ms) must be reached through steps from a small set, never overshooting.
  const used = new Set<number>();
  const delays = [0, 1, 999, 1_000, 1_001, 1_023, 1_024, 65_537, 2 ** 31 - 1, 2 ** 31 + 5];
  for (let i = 0; i < 20_000; i++) delays.push(Math.floor(Math.random() * 30 * 24 * 3_600_000));
  for (const delay of delays) {
    let left = delay;
    let steps = 0;
    do {
      const step = armedDelay(left);
      assert.ok(step <= left || left <= 0, `step ${step} overshoots ${left} (of ${delay})`);
      used.add(step);
      left -= step;
      steps++;
    } while (left > 0 && steps < 1_000);
    assert.equal(left, 0, `the steps for ${delay} ms do not add up`);
    assert.ok(steps <= 30, `${delay} ms took ${steps} steps`);
  }
  assert.ok(used.size <= 2_400, `${used.size} distinct delays`);
  // Up to a second a delay is armed as it is.
  assert.equal(armedDelay(750), 750);
});
