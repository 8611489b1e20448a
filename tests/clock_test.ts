import assert from "node:assert/strict";
import { realClock } from "../lib/clock.ts";

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
