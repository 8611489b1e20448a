import assert from "node:assert/strict";
import { Counter, Registry } from "prom-client";
import { prometheusQueueMetrics, WorkQueue } from "../../lib/queue/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** Reads one sample back through the registry, as a scrape would. */
async function sample(
  registry: Registry,
  metricName: string,
  labels: Record<string, string>,
  sampleName = metricName,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(metricName);
  assert.ok(metric, `metric ${metricName} is registered`);
  const { values } = await metric.get();
  const match = values.find((value) =>
    ((value as { metricName?: string }).metricName ?? metricName) === sampleName &&
    Object.entries(labels).every(([k, v]) => String(value.labels[k]) === v)
  );
  return match?.value;
}

function namedQueue(registry: Registry, name: string, clock: FakeClock): WorkQueue {
  return new WorkQueue({ name, clock, metrics: prometheusQueueMetrics(registry, name) });
}

Deno.test("queue adds, depth and retries are counted in the registry", async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const queue = namedQueue(registry, "release", clock);
  const labels = { name: "release", controller: "release" };

  queue.add("ns/a");
  queue.add("ns/b");
  queue.add("ns/a"); // de-duplicated: not an add
  assert.equal(await sample(registry, "workqueue_adds_total", labels), 2);
  assert.equal(await sample(registry, "workqueue_depth", { ...labels, priority: "" }), 2);

  assert.equal(await queue.get(), "ns/a");
  assert.equal(await sample(registry, "workqueue_depth", labels), 1);

  queue.addRateLimited("ns/a");
  queue.addAfter("ns/c", 1_000);
  assert.equal(await sample(registry, "workqueue_retries_total", labels), 2);
  queue.shutDown();
  assert.equal(await sample(registry, "workqueue_depth", labels), 0);
});

Deno.test("queue latency and work duration are observed on the injected clock", async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const queue = namedQueue(registry, "release", clock);
  const labels = { name: "release", controller: "release" };
  const latency = "workqueue_queue_duration_seconds";
  const work = "workqueue_work_duration_seconds";

  queue.add("ns/a");
  await clock.advance(2_000);
  assert.equal(await queue.get(), "ns/a");
  assert.equal(await sample(registry, latency, labels, `${latency}_count`), 1);
  assert.equal(await sample(registry, latency, labels, `${latency}_sum`), 2);

  await clock.advance(500);
  queue.done("ns/a");
  assert.equal(await sample(registry, work, labels, `${work}_count`), 1);
  assert.equal(await sample(registry, work, labels, `${work}_sum`), 0.5);
  assert.equal(await sample(registry, work, { ...labels, le: "1" }, `${work}_bucket`), 1);
  assert.equal(await sample(registry, work, { ...labels, le: "0.1" }, `${work}_bucket`), 0);
  queue.shutDown();
});

Deno.test("unfinished work and the longest running processor are read at scrape time", async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const queue = namedQueue(registry, "image", clock);
  const labels = { name: "image", controller: "image" };

  queue.add("ns/a");
  queue.add("ns/b");
  await queue.get();
  await clock.advance(3_000);
  await queue.get();
  await clock.advance(1_000);

  assert.equal(await sample(registry, "workqueue_unfinished_work_seconds", labels), 4 + 1);
  assert.equal(await sample(registry, "workqueue_longest_running_processor_seconds", labels), 4);

  queue.done("ns/a");
  queue.done("ns/b");
  assert.equal(await sample(registry, "workqueue_unfinished_work_seconds", labels), 0);
  assert.deepEqual(clock.pendingTimers(), [], "no polling timer");
  queue.shutDown();
});

Deno.test("several queues share one set of workqueue metrics per registry, one label set each", async () => {
  const registry = new Registry();
  const clock = new FakeClock();
  const release = namedQueue(registry, "release", clock);
  const image = namedQueue(registry, "image-nodeimage", clock);

  release.add("ns/a");
  image.add("ns/x");
  image.add("ns/y");

  assert.equal(await sample(registry, "workqueue_adds_total", { controller: "release" }), 1);
  assert.equal(
    await sample(registry, "workqueue_adds_total", { controller: "image-nodeimage" }),
    2,
  );
  const text = await registry.metrics();
  assert.equal(text.match(/^# TYPE workqueue_adds_total counter$/gm)?.length, 1);
  release.shutDown();
  image.shutDown();
});

Deno.test("the exposition uses controller-runtime's names, help, labels and buckets", async () => {
  const registry = new Registry();
  const queue = namedQueue(registry, "release", new FakeClock());
  queue.add("ns/a");
  queue.add("ns/b");
  queue.done((await queue.get())!);
  const text = await registry.metrics();

  for (
    const [name, type] of [
      ["workqueue_depth", "gauge"],
      ["workqueue_adds_total", "counter"],
      ["workqueue_retries_total", "counter"],
      ["workqueue_queue_duration_seconds", "histogram"],
      ["workqueue_work_duration_seconds", "histogram"],
      ["workqueue_unfinished_work_seconds", "gauge"],
      ["workqueue_longest_running_processor_seconds", "gauge"],
    ]
  ) {
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, "m"));
  }
  assert.match(
    text,
    /^# HELP workqueue_queue_duration_seconds How long in seconds an item stays in workqueue before being requested$/m,
  );
  assert.match(text, /^workqueue_depth\{name="release",controller="release",priority=""\} 1$/m);
  assert.match(text, /^workqueue_adds_total\{name="release",controller="release"\} 2$/m);

  const bounds = [...text.matchAll(/^workqueue_queue_duration_seconds_bucket\{le="([^"]+)"/gm)]
    .map((match) => match[1]);
  assert.equal(bounds.length, 13, "12 buckets and +Inf");
  assert.equal(Number(bounds[0]), 1e-8);
  assert.equal(Number(bounds[8]), 1);
  assert.equal(Number(bounds[11]), 1000);
  assert.equal(bounds[12], "+Inf");
  queue.shutDown();
});

Deno.test("a conflicting metric of the same name is reported, not silently reused", () => {
  const registry = new Registry();
  new Counter({ name: "workqueue_depth", help: "something else", registers: [registry] });

  assert.throws(() => prometheusQueueMetrics(registry, "release"), /workqueue_depth/);
});
