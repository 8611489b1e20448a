/** The retry delays the watcher uses between failed steps. */
import assert from "node:assert/strict";
import { ExponentialBackoff } from "../../lib/kube/backoff.ts";

const take = (backoff: ExponentialBackoff, n: number) =>
  Array.from({ length: n }, () => backoff.next());

Deno.test("the default backoff doubles from 800 ms and stops at 30 s", () => {
  const backoff = new ExponentialBackoff({ jitter: 0 });
  assert.deepEqual(take(backoff, 8), [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
});

Deno.test("reset starts the backoff sequence over", () => {
  const backoff = new ExponentialBackoff({ initialMs: 10, maxMs: 1000, jitter: 0 });
  take(backoff, 5);
  backoff.reset();
  assert.deepEqual(take(backoff, 3), [10, 20, 40]);
});

Deno.test("jitter spreads each delay within ±jitter of the base and never beyond the cap", async (t) => {
  await t.step("lowest draw", () => {
    const backoff = new ExponentialBackoff({ initialMs: 1000, maxMs: 4000, random: () => 0 });
    assert.deepEqual(take(backoff, 4), [500, 1000, 2000, 2000]);
  });
  await t.step("highest draw", () => {
    const backoff = new ExponentialBackoff({ initialMs: 1000, maxMs: 4000, random: () => 0.9999 });
    assert.deepEqual(take(backoff, 4), [1500, 3000, 4000, 4000]);
  });
});

Deno.test("a backoff that would grow without bound stays finite after many failures", () => {
  const backoff = new ExponentialBackoff({ jitter: 0 });
  const delays = take(backoff, 5000);
  assert.equal(delays.at(-1), 30000);
});

Deno.test("impossible backoff settings are refused with a message naming the value", () => {
  assert.throws(() => new ExponentialBackoff({ initialMs: 5000, maxMs: 100 }), /initialMs 5000/);
  assert.throws(() => new ExponentialBackoff({ factor: 0.5 }), /factor 0.5/);
  assert.throws(() => new ExponentialBackoff({ jitter: 2 }), /jitter 2/);
});
