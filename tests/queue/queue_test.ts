import assert from "node:assert/strict";
import { Queue } from "../../lib/queue/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** Tracks whether a promise has settled, to assert that a `get()` is still waiting. */
function track<T>(promise: Promise<T>): { settled: boolean; value: T | undefined } {
  const state = { settled: false, value: undefined as T | undefined };
  promise.then((value) => {
    state.settled = true;
    state.value = value;
  });
  return state;
}

Deno.test("adding a key that is already queued is a no-op", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  queue.add("default/a");
  queue.add("default/a");
  queue.add("default/b");
  queue.add("default/a");

  assert.equal(queue.len(), 2);
  assert.equal(await queue.get(), "default/a");
  assert.equal(await queue.get(), "default/b");
  assert.equal(queue.len(), 0);
  queue.shutDown();
});

Deno.test("keys are handed out in first-in, first-out order", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  const keys = ["ns/c", "ns/a", "ns/e", "ns/b", "ns/d"];
  for (const key of keys) queue.add(key);

  const handed: (string | undefined)[] = [];
  for (let i = 0; i < keys.length; i++) handed.push(await queue.get());

  assert.deepEqual(handed, keys);
  queue.shutDown();
});

Deno.test("waiting getters are served in the order they called get", async () => {
  const clock = new FakeClock();
  const queue = new Queue({ clock });
  const first = queue.get();
  const second = queue.get();

  queue.add("ns/one");
  queue.add("ns/two");

  assert.equal(await first, "ns/one");
  assert.equal(await second, "ns/two");
  queue.shutDown();
});

Deno.test("a key being processed is not handed to a second getter", async () => {
  const clock = new FakeClock();
  const queue = new Queue({ clock });
  queue.add("ns/a");
  assert.equal(await queue.get(), "ns/a");

  queue.add("ns/a");
  const second = track(queue.get());
  await clock.flush();

  assert.equal(second.settled, false, "the re-added key must wait for done()");
  assert.equal(queue.len(), 0);

  queue.done("ns/a");
  await clock.flush();
  assert.equal(second.settled, true);
  assert.equal(second.value, "ns/a");
  queue.shutDown();
});

Deno.test("re-adding a key while it is processed runs it once more after done", async () => {
  const clock = new FakeClock();
  const queue = new Queue({ clock });
  queue.add("ns/a");
  assert.equal(await queue.get(), "ns/a");

  queue.add("ns/a");
  queue.add("ns/a");
  queue.done("ns/a");

  assert.equal(queue.len(), 1, "collapsed into one more run");
  assert.equal(await queue.get(), "ns/a");
  queue.done("ns/a");
  assert.equal(queue.len(), 0, "no third run");
  queue.shutDown();
});

Deno.test("a key not re-added is not queued again by done", () => {
  const queue = new Queue({ clock: new FakeClock() });
  queue.add("ns/a");
  queue.done("ns/never-handed-out");
  assert.equal(queue.len(), 1);
  queue.shutDown();
});

Deno.test("shutDown wakes blocked getters with undefined", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  const blocked = [queue.get(), queue.get(), queue.get()];

  queue.shutDown();

  assert.deepEqual(await Promise.all(blocked), [undefined, undefined, undefined]);
  assert.equal(await queue.get(), undefined, "later getters do not block either");
});

Deno.test("after shutDown, adds are ignored and queued keys are not handed out", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  queue.add("ns/queued");
  queue.shutDown();
  queue.add("ns/late");

  assert.equal(queue.shuttingDown, true);
  assert.equal(queue.len(), 0);
  assert.equal(await queue.get(), undefined);
});

Deno.test("get resolves undefined when its signal aborts, and the key goes to the next getter", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  const controller = new AbortController();
  const abandoned = queue.get(controller.signal);
  const next = queue.get();

  controller.abort();
  queue.add("ns/a");

  assert.equal(await abandoned, undefined);
  assert.equal(await next, "ns/a");
  assert.equal(await queue.get(AbortSignal.abort()), undefined, "already aborted: no key taken");
  queue.shutDown();
});

Deno.test("shutDownWithDrain hands out queued keys and resolves once they are done", async () => {
  const clock = new FakeClock();
  const queue = new Queue({ clock });
  queue.add("ns/a");
  queue.add("ns/b");
  assert.equal(await queue.get(), "ns/a");
  queue.add("ns/a"); // dirty while processing: still owed a run

  const drained = track(queue.shutDownWithDrain());
  queue.add("ns/late"); // ignored: the queue is shutting down

  assert.equal(await queue.get(), "ns/b");
  queue.done("ns/b");
  queue.done("ns/a");
  assert.equal(await queue.get(), "ns/a", "the re-add from before the shutdown still runs");
  await clock.flush();
  assert.equal(drained.settled, false, "a key is still processing");

  queue.done("ns/a");
  await clock.flush();
  assert.equal(drained.settled, true);
  assert.equal(await queue.get(), undefined);
});

Deno.test("shutDown after shutDownWithDrain stops waiting for the drain", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  queue.add("ns/a");
  assert.equal(await queue.get(), "ns/a");
  const drained = queue.shutDownWithDrain();

  queue.shutDown();

  await drained;
  queue.done("ns/a");
});
