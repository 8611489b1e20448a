import assert from "node:assert/strict";
import { FakeClock } from "../support/fake_clock.ts";

Deno.test("fake clock fires due timers in time order, ties in the order they were set", async () => {
  const clock = new FakeClock(1_000);
  const fired: string[] = [];
  clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
  clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
  clock.setTimer(10, () => fired.push(`b@${clock.now()}`));
  clock.setTimer(31, () => fired.push(`late@${clock.now()}`));

  await clock.advance(30);

  assert.deepEqual(fired, ["a@1010", "b@1010", "c@1030"]);
  assert.equal(clock.now(), 1_030);
  assert.deepEqual(clock.pendingTimers(), [1_031]);
});

Deno.test("fake clock fires timers set by callbacks and by awaited sleeps within the window", async () => {
  const clock = new FakeClock(0);
  const fired: number[] = [];
  clock.setTimer(10, () => clock.setTimer(10, () => fired.push(clock.now())));
  (async () => {
    await clock.sleep(5);
    await clock.sleep(5);
    await clock.sleep(5);
    fired.push(clock.now());
  })();

  await clock.advance(100);

  assert.deepEqual(fired, [15, 20]);
  assert.equal(clock.now(), 100);
});

Deno.test("fake clock leaves timers beyond the window pending and cancelled ones unfired", async () => {
  const clock = new FakeClock(0);
  let fired = 0;
  clock.setTimer(50, () => fired++).cancel();
  clock.setTimer(200, () => fired++);

  await clock.advance(100);

  assert.equal(fired, 0);
  assert.deepEqual(clock.pendingTimers(), [200]);
  assert.equal(await clock.advanceToNextTimer(), true);
  assert.equal(fired, 1);
  assert.equal(clock.now(), 200);
  assert.equal(await clock.advanceToNextTimer(), false);
});

Deno.test("fake clock sleep rejects with the signal's reason and cancels its timer", async () => {
  const clock = new FakeClock(0);
  const controller = new AbortController();
  const sleeping = clock.sleep(1_000, controller.signal);

  controller.abort(new Error("stop"));

  await assert.rejects(sleeping, /stop/);
  assert.deepEqual(clock.pendingTimers(), []);
  await assert.rejects(clock.sleep(1, AbortSignal.abort(new Error("already"))), /already/);
});

Deno.test("fake clock rejects a negative or non-finite advance", async () => {
  const clock = new FakeClock(0);
  await assert.rejects(clock.advance(-1), RangeError);
  await assert.rejects(clock.advance(Infinity), RangeError);
  assert.equal(clock.now(), 0);
});
