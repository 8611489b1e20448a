import assert from "node:assert/strict";
import { Controller } from "../../lib/controller/controller.ts";
import { done, requeueAfter, TerminalError } from "../../lib/controller/result.ts";
import type { Change } from "../../lib/kube/store.ts";
import type { KubeObject } from "../../lib/kube/resource.ts";
import { ControllerMetrics, createRegistry } from "../../lib/metrics.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** An in-process change source standing in for an informer's notifications. */
class ChangeFeed {
  #handlers = new Set<(change: Change<KubeObject>) => void>();
  onChange(handler: (change: Change<KubeObject>) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }
  emit(namespace: string | undefined, name: string, type: Change<KubeObject>["type"] = "added") {
    const object: KubeObject = { metadata: { namespace, name } };
    for (const handler of this.#handlers) handler({ type, object });
  }
  get subscribers(): number {
    return this.#handlers.size;
  }
}

interface Harness {
  clock: FakeClock;
  feed: ChangeFeed;
  calls: string[];
  controller: Controller;
  metrics: ControllerMetrics;
  registry: ReturnType<typeof createRegistry>;
  stop: () => Promise<void>;
}

function start(
  reconcile: (key: string, signal: AbortSignal) => Promise<ReturnType<typeof done> | void>,
  options: { secondaryMap?: (object: KubeObject) => string[]; workers?: number } = {},
): Harness & { secondary: ChangeFeed } {
  const clock = new FakeClock();
  const feed = new ChangeFeed();
  const secondary = new ChangeFeed();
  const registry = createRegistry();
  const metrics = new ControllerMetrics(registry);
  const calls: string[] = [];
  const controller = new Controller({
    name: "test",
    clock,
    metrics,
    workers: options.workers ?? 1,
    reconcile: async (key, signal) => {
      calls.push(key);
      return await reconcile(key, signal);
    },
    watches: [
      { informer: feed },
      ...(options.secondaryMap ? [{ informer: secondary, map: options.secondaryMap }] : []),
    ],
  });
  const abort = new AbortController();
  const running = controller.run(abort.signal);
  return {
    clock,
    feed,
    secondary,
    calls,
    controller,
    metrics,
    registry,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

async function metricValue(
  registry: ReturnType<typeof createRegistry>,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l)
  );
  return value?.value ?? 0;
}

Deno.test("a change to a primary object reconciles its namespace/name key", async () => {
  const h = start(() => Promise.resolve(done()));
  h.feed.emit("giantswarm", "a");
  h.feed.emit(undefined, "cluster-scoped");
  await h.clock.flush();
  assert.deepEqual(h.calls, ["giantswarm/a", "cluster-scoped"]);
  await h.stop();
});

Deno.test("a secondary change is mapped to the primary keys it affects", async () => {
  const h = start(() => Promise.resolve(done()), {
    secondaryMap: (object) => [`giantswarm/owner-of-${object.metadata.name}`],
  });
  h.secondary.emit("other", "child");
  await h.clock.flush();
  assert.deepEqual(h.calls, ["giantswarm/owner-of-child"]);
  await h.stop();
});

Deno.test("requeueAfter runs the key again after exactly that delay", async () => {
  const h = start(() => Promise.resolve(requeueAfter(60_000)));
  h.feed.emit("ns", "a");
  await h.clock.flush();
  assert.equal(h.calls.length, 1);
  await h.clock.advance(59_999);
  assert.equal(h.calls.length, 1);
  await h.clock.advance(1);
  assert.equal(h.calls.length, 2);
  await h.stop();
});

Deno.test("a thrown error is retried with per-key exponential backoff", async () => {
  let failures = 3;
  const h = start(() => {
    if (failures-- > 0) return Promise.reject(new Error("transient"));
    return Promise.resolve(done());
  });
  h.feed.emit("ns", "a");
  await h.clock.flush();
  assert.equal(h.calls.length, 1);
  await h.clock.advance(5); // first retry after 5 ms
  assert.equal(h.calls.length, 2);
  await h.clock.advance(9);
  assert.equal(h.calls.length, 2, "second retry waits 10 ms");
  await h.clock.advance(1);
  assert.equal(h.calls.length, 3);
  await h.clock.advance(20);
  assert.equal(h.calls.length, 4);
  await h.clock.advance(10_000);
  assert.equal(h.calls.length, 4, "success ends the retries");
  assert.equal(h.controller.queue.numRequeues("ns/a"), 0, "success forgets the backoff");
  assert.equal(
    await metricValue(h.registry, "controller_runtime_reconcile_errors_total", {
      controller: "test",
    }),
    3,
  );
  assert.equal(
    await metricValue(h.registry, "controller_runtime_reconcile_total", {
      controller: "test",
      result: "success",
    }),
    1,
  );
  await h.stop();
});

Deno.test("a TerminalError is recorded and not retried", async () => {
  const h = start(() => Promise.reject(new TerminalError("bad input")));
  h.feed.emit("ns", "a");
  await h.clock.flush();
  await h.clock.advance(1_000_000);
  assert.deepEqual(h.calls, ["ns/a"]);
  assert.equal(
    await metricValue(h.registry, "controller_runtime_terminal_reconcile_errors_total", {
      controller: "test",
    }),
    1,
  );
  await h.stop();
});

Deno.test("an exception in reconcile never stops other keys from being processed", async () => {
  const h = start((key) => {
    if (key === "ns/bad") throw new Error("synchronous throw");
    return Promise.resolve(done());
  });
  h.feed.emit("ns", "bad");
  h.feed.emit("ns", "good");
  await h.clock.flush();
  assert.deepEqual(h.calls, ["ns/bad", "ns/good"]);
  h.feed.emit("ns", "later");
  await h.clock.flush();
  assert.ok(h.calls.includes("ns/later"));
  await h.stop();
});

Deno.test("a thrown non-Error counts as a panic and is retried", async () => {
  let thrown = false;
  const h = start(() => {
    if (!thrown) {
      thrown = true;
      return Promise.reject("not an Error");
    }
    return Promise.resolve(done());
  });
  h.feed.emit("ns", "a");
  await h.clock.flush();
  await h.clock.advance(5);
  assert.equal(h.calls.length, 2);
  assert.equal(
    await metricValue(h.registry, "controller_runtime_reconcile_panics_total", {
      controller: "test",
    }),
    1,
  );
  await h.stop();
});

Deno.test("stopping waits for the in-flight reconcile and passes it the abort signal", async () => {
  let sawAbort = false;
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => (release = resolve));
  const h = start(async (_key, signal) => {
    signal.addEventListener("abort", () => {
      sawAbort = true;
      release();
    });
    await blocked;
    return done();
  });
  h.feed.emit("ns", "a");
  await h.clock.flush();
  await h.stop();
  assert.ok(sawAbort);
  assert.equal(h.feed.subscribers, 0, "handlers are removed on stop");
});
