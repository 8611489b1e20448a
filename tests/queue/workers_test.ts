import assert from "node:assert/strict";
import { Queue, runWorkers, WorkQueue } from "../../lib/queue/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** A small seeded PRNG (mulberry32) so the concurrency test is random but repeatable. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A promise with its resolver, to hold a processor until the test releases it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

Deno.test("queue never hands one key to two workers, with many workers and random re-adds", async () => {
  const random = seededRandom(20260821);
  const clock = new FakeClock();
  const queue = new WorkQueue({ name: "concurrency", clock });
  const controller = new AbortController();
  const keys = Array.from({ length: 40 }, (_, i) => `ns/key-${i}`);
  const pick = () => keys[Math.floor(random() * keys.length)];

  const inFlight = new Map<string, number>();
  const violations: string[] = [];
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  // Sequence numbers: the last run of every key must start after its last add (nothing lost).
  let seq = 0;
  const lastAdded = new Map<string, number>();
  const lastStarted = new Map<string, number>();
  const add = (key: string) => {
    lastAdded.set(key, ++seq);
    queue.add(key);
  };

  const finished = runWorkers(queue, 16, async (key, signal) => {
    lastStarted.set(key, ++seq);
    const count = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, count);
    if (count > 1) violations.push(`${key} ran ${count} times at once at ${clock.now()}`);
    running++;
    maxRunning = Math.max(maxRunning, running);
    runs++;
    try {
      // Re-add keys while running, including this one, to exercise the dirty/processing sets.
      if (random() < 0.5) add(key);
      if (random() < 0.5) add(pick());
      await clock.sleep(1 + Math.floor(random() * 20), signal);
    } finally {
      inFlight.set(key, inFlight.get(key)! - 1);
      running--;
    }
  }, controller.signal);

  for (const key of keys) add(key);
  for (let step = 0; step < 400; step++) {
    const burst = Math.floor(random() * 4);
    for (let i = 0; i < burst; i++) add(pick());
    await clock.advance(1 + Math.floor(random() * 5));
  }
  // Let the queue run dry: each run re-adds itself with probability 1/2, so this ends.
  for (let i = 0; i < 10_000 && (queue.len() > 0 || running > 0); i++) await clock.advance(5);

  controller.abort();
  queue.shutDown();
  await finished;

  assert.deepEqual(violations, []);
  assert.ok(maxRunning > 1, `workers must actually overlap (max ${maxRunning} at once)`);
  assert.ok(runs > keys.length, `re-adds must cause extra runs (${runs} runs)`);
  for (const key of keys) {
    assert.ok(
      lastStarted.get(key)! > lastAdded.get(key)!,
      `${key}: its last add was followed by a run`,
    );
  }
});

Deno.test("runWorkers survives a throwing processor and marks the key done", async () => {
  const clock = new FakeClock();
  const queue = new Queue({ clock });
  const controller = new AbortController();
  const errors: [string, string][] = [];
  const processed: string[] = [];

  const finished = runWorkers(
    queue,
    2,
    (key) => {
      processed.push(key);
      if (key === "ns/sync-throw") throw new Error("sync failure");
      if (key === "ns/reject") return Promise.reject(new Error("async failure"));
      return Promise.resolve();
    },
    controller.signal,
    { onError: (error, key) => errors.push([key, (error as Error).message]) },
  );

  queue.add("ns/sync-throw");
  queue.add("ns/reject");
  queue.add("ns/fine");
  await clock.flush();
  // Both failed keys were done(): adding them again makes them run again.
  queue.add("ns/sync-throw");
  queue.add("ns/reject");
  await clock.flush();

  queue.shutDown();
  await finished;
  assert.deepEqual(errors.sort(), [
    ["ns/reject", "async failure"],
    ["ns/reject", "async failure"],
    ["ns/sync-throw", "sync failure"],
    ["ns/sync-throw", "sync failure"],
  ]);
  assert.equal(processed.length, 5);
});

Deno.test("a throwing error hook does not stop the workers", async () => {
  const clock = new FakeClock();
  const queue = new Queue({ clock });
  const processed: string[] = [];
  const reported: unknown[] = [];
  const originalConsoleError = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    const finished = runWorkers(
      queue,
      1,
      (key) => {
        processed.push(key);
        return Promise.reject(new Error(`failed ${key}`));
      },
      new AbortController().signal,
      {
        onError: () => {
          throw new Error("hook is broken");
        },
      },
    );
    queue.add("ns/a");
    queue.add("ns/b");
    await clock.flush();
    queue.shutDown();
    await finished;
  } finally {
    console.error = originalConsoleError;
  }
  assert.deepEqual(processed, ["ns/a", "ns/b"]);
  assert.equal(reported.length, 2, "each hook failure is reported, not thrown");
});

Deno.test("abort stops the workers cleanly and passes the signal to in-flight work", async () => {
  const clock = new FakeClock();
  const queue = new Queue({ clock });
  const controller = new AbortController();
  const started: string[] = [];
  const sawAbort: string[] = [];
  const release = deferred();

  let workersDone = false;
  const finished = runWorkers(queue, 3, async (key, signal) => {
    started.push(key);
    try {
      await clock.sleep(60_000, signal);
    } catch (error) {
      assert.equal(error, signal.reason);
      sawAbort.push(key);
      await release.promise; // cleanup that takes a while: runWorkers must wait for it
    }
  }, controller.signal).then(() => workersDone = true);

  for (const key of ["ns/a", "ns/b", "ns/c", "ns/d", "ns/e"]) queue.add(key);
  await clock.flush();
  assert.deepEqual(started, ["ns/a", "ns/b", "ns/c"], "three workers, three keys in flight");

  controller.abort();
  await clock.flush();
  assert.deepEqual(sawAbort.sort(), ["ns/a", "ns/b", "ns/c"]);
  assert.equal(workersDone, false, "in-flight work has not returned yet");

  release.resolve();
  await finished;
  assert.equal(workersDone, true);
  assert.deepEqual(started, ["ns/a", "ns/b", "ns/c"], "no new key after the abort");
  assert.equal(queue.len(), 2, "the remaining keys stay queued for the queue's owner");
  assert.deepEqual(clock.pendingTimers(), []);
  queue.shutDown();
});

Deno.test("runWorkers resolves once the queue shuts down", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  const finished = runWorkers(queue, 4, () => Promise.resolve(), new AbortController().signal);

  queue.shutDown();

  await finished;
});

Deno.test("runWorkers rejects a worker count that is not a positive integer", async () => {
  const queue = new Queue({ clock: new FakeClock() });
  const signal = new AbortController().signal;
  for (const count of [0, -1, 1.5, NaN]) {
    await assert.rejects(
      runWorkers(queue, count, () => Promise.resolve(), signal),
      RangeError,
    );
  }
  queue.shutDown();
});
