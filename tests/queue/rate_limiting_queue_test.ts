import assert from "node:assert/strict";
import { ItemExponentialFailureRateLimiter, WorkQueue } from "../../lib/queue/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

Deno.test("addRateLimited delays a key by its backoff, and forget starts it over", async () => {
  const clock = new FakeClock();
  const start = clock.now();
  const queue = new WorkQueue({ name: "test", clock });

  queue.addRateLimited("ns/a");
  assert.deepEqual(clock.pendingTimers(), [start + 5], "first retry after 5 ms");
  await clock.advance(5);
  assert.equal(await queue.get(), "ns/a");
  queue.done("ns/a");

  queue.addRateLimited("ns/a");
  assert.deepEqual(clock.pendingTimers(), [start + 5 + 10], "second retry after 10 ms");
  assert.equal(queue.numRequeues("ns/a"), 2);
  await clock.advance(10);
  assert.equal(await queue.get(), "ns/a");
  queue.done("ns/a");

  queue.forget("ns/a");
  assert.equal(queue.numRequeues("ns/a"), 0);
  queue.addRateLimited("ns/a");
  assert.deepEqual(clock.pendingTimers(), [start + 15 + 5], "after forget: 5 ms again");
  queue.shutDown();
});

Deno.test("addRateLimited uses the rate limiter it is given", () => {
  const clock = new FakeClock();
  const queue = new WorkQueue({
    name: "test",
    clock,
    rateLimiter: new ItemExponentialFailureRateLimiter(1_000, 60_000),
  });

  queue.addRateLimited("ns/a");

  assert.deepEqual(clock.pendingTimers(), [clock.now() + 1_000]);
  queue.shutDown();
});

Deno.test("addRateLimited is ignored once the queue shuts down", () => {
  const clock = new FakeClock();
  const queue = new WorkQueue({ name: "test", clock });
  queue.shutDown();

  queue.addRateLimited("ns/a");

  assert.equal(queue.numRequeues("ns/a"), 0, "no failure recorded");
  assert.deepEqual(clock.pendingTimers(), []);
});
