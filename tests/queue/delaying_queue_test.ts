import assert from "node:assert/strict";
import { DelayingQueue } from "../../lib/queue/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** Takes every ready key (marking each done), in hand-out order. */
async function takeReady(queue: DelayingQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) {
    const key = (await queue.get())!;
    keys.push(key);
    queue.done(key);
  }
  return keys;
}

Deno.test("addAfter adds the key once its delay has passed on the fake clock", async () => {
  const clock = new FakeClock();
  const queue = new DelayingQueue({ clock });

  queue.addAfter("ns/a", 100);
  await clock.advance(99);
  assert.equal(queue.len(), 0, "not before 100 ms");

  await clock.advance(1);
  assert.deepEqual(await takeReady(queue), ["ns/a"]);
  assert.deepEqual(clock.pendingTimers(), []);
  queue.shutDown();
});

Deno.test("addAfter keeps the earlier time when the key is already waiting", async () => {
  const clock = new FakeClock();
  const queue = new DelayingQueue({ clock });

  queue.addAfter("ns/a", 100);
  queue.addAfter("ns/a", 30);
  await clock.advance(30);
  assert.deepEqual(await takeReady(queue), ["ns/a"], "the earlier time wins");

  await clock.advance(100);
  assert.deepEqual(await takeReady(queue), [], "the replaced later time does not fire");
  queue.shutDown();
});

Deno.test("a later addAfter for a waiting key is ignored", async () => {
  const clock = new FakeClock();
  const queue = new DelayingQueue({ clock });

  queue.addAfter("ns/a", 30);
  queue.addAfter("ns/a", 100);
  assert.equal(queue.waitingLen(), 1);

  await clock.advance(30);
  assert.deepEqual(await takeReady(queue), ["ns/a"]);
  await clock.advance(100);
  assert.deepEqual(await takeReady(queue), [], "the later request left no second entry");
  queue.shutDown();
});

Deno.test("addAfter with a zero or negative delay adds the key at once", () => {
  const clock = new FakeClock();
  const queue = new DelayingQueue({ clock });

  queue.addAfter("ns/zero", 0);
  queue.addAfter("ns/negative", -5);

  assert.equal(queue.len(), 2);
  assert.deepEqual(clock.pendingTimers(), []);
  queue.shutDown();
});

Deno.test("only one timer is armed, for the earliest waiting key", async () => {
  const clock = new FakeClock();
  const start = clock.now();
  const queue = new DelayingQueue({ clock });

  queue.addAfter("ns/late", 300);
  queue.addAfter("ns/early", 100);
  queue.addAfter("ns/middle", 200);
  assert.deepEqual(clock.pendingTimers(), [start + 100]);

  await clock.advance(100);
  assert.deepEqual(await takeReady(queue), ["ns/early"]);
  assert.deepEqual(clock.pendingTimers(), [start + 200]);
  await clock.advance(200);
  assert.deepEqual(await takeReady(queue), ["ns/middle", "ns/late"]);
  queue.shutDown();
});

Deno.test("keys whose delays end at the same time are added in request order", async () => {
  const clock = new FakeClock();
  const queue = new DelayingQueue({ clock });
  for (const key of ["ns/c", "ns/a", "ns/b"]) queue.addAfter(key, 50);

  await clock.advance(50);

  assert.deepEqual(await takeReady(queue), ["ns/c", "ns/a", "ns/b"]);
  queue.shutDown();
});

Deno.test("shutDown cancels the delay timer and drops waiting keys", async () => {
  const clock = new FakeClock();
  const queue = new DelayingQueue({ clock });
  queue.addAfter("ns/a", 100);

  queue.shutDown();
  queue.addAfter("ns/b", 10);

  assert.deepEqual(clock.pendingTimers(), []);
  assert.equal(queue.waitingLen(), 0);
  await clock.advance(1000);
  assert.equal(await queue.get(), undefined);
});
