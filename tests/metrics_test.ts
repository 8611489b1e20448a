import assert from "node:assert/strict";
import {
  ControllerMetrics,
  createRegistry,
  LeaderElectionMetrics,
  RECONCILE_TIME_BUCKETS,
} from "../lib/metrics.ts";
import { Registry } from "prom-client";

/** Finds the value of one sample line, e.g. `name{a="b"} 3`, in the text exposition. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("a new controller publishes every reconcile series at zero", async () => {
  const registry = new Registry();
  new ControllerMetrics(registry).setWorkers("nodeimage", 4);
  const text = await registry.metrics();
  for (const result of ["success", "error", "requeue", "requeue_after"]) {
    assert.equal(
      sample(text, `controller_runtime_reconcile_total{controller="nodeimage",result="${result}"}`),
      0,
    );
  }
  assert.equal(
    sample(text, `controller_runtime_reconcile_errors_total{controller="nodeimage"}`),
    0,
  );
  assert.equal(
    sample(text, `controller_runtime_terminal_reconcile_errors_total{controller="nodeimage"}`),
    0,
  );
  assert.equal(
    sample(text, `controller_runtime_reconcile_panics_total{controller="nodeimage"}`),
    0,
  );
  assert.equal(
    sample(text, `controller_runtime_max_concurrent_reconciles{controller="nodeimage"}`),
    4,
  );
  assert.equal(sample(text, `controller_runtime_active_workers{controller="nodeimage"}`), 0);
});

Deno.test("reconcile results are counted per controller and result", async () => {
  const registry = new Registry();
  const metrics = new ControllerMetrics(registry);
  metrics.setWorkers("a", 1);
  metrics.reconcileStarted("a");
  metrics.reconciled("a", "success", 0.02);
  metrics.reconcileStarted("a");
  metrics.reconciled("a", "error", 0.2);
  metrics.reconcileStarted("a");
  metrics.reconciled("a", "terminal", 0.3);
  metrics.reconcileStarted("a");
  metrics.reconciled("a", "requeue_after", 2);
  const text = await registry.metrics();
  assert.equal(
    sample(text, `controller_runtime_reconcile_total{controller="a",result="success"}`),
    1,
  );
  assert.equal(
    sample(text, `controller_runtime_reconcile_total{controller="a",result="error"}`),
    2,
  );
  assert.equal(
    sample(text, `controller_runtime_reconcile_total{controller="a",result="requeue_after"}`),
    1,
  );
  assert.equal(sample(text, `controller_runtime_reconcile_errors_total{controller="a"}`), 2);
  assert.equal(
    sample(text, `controller_runtime_terminal_reconcile_errors_total{controller="a"}`),
    1,
  );
  assert.equal(sample(text, `controller_runtime_active_workers{controller="a"}`), 0);
  assert.equal(sample(text, `controller_runtime_reconcile_time_seconds_count{controller="a"}`), 4);
  assert.equal(
    sample(text, `controller_runtime_reconcile_time_seconds_bucket{le="0.025",controller="a"}`),
    1,
  );
});

Deno.test("reconcile time uses controller-runtime's buckets and help text", async () => {
  const registry = new Registry();
  new ControllerMetrics(registry).reconciled("a", "success", 1);
  const text = await registry.metrics();
  assert.match(
    text,
    /# HELP controller_runtime_reconcile_time_seconds Length of time per reconciliation per controller\n/,
  );
  const bounds = [
    ...text.matchAll(/controller_runtime_reconcile_time_seconds_bucket\{le="([^"]+)"/g),
  ]
    .map((m) => m[1]);
  assert.deepEqual(bounds, [...RECONCILE_TIME_BUCKETS.map(String), "+Inf"]);
  assert.equal(RECONCILE_TIME_BUCKETS.length, 40);
});

Deno.test("several controllers and electors share one registry without clashing", async () => {
  const registry = new Registry();
  const first = new ControllerMetrics(registry);
  const second = new ControllerMetrics(registry);
  first.reconciled("one", "success", 0.1);
  second.reconciled("two", "requeue", 0.1);
  new LeaderElectionMetrics(registry).on("fcf824fa.giantswarm.io");
  new LeaderElectionMetrics(registry).off("other");
  const text = await registry.metrics();
  assert.equal(
    sample(text, `controller_runtime_reconcile_total{controller="one",result="success"}`),
    1,
  );
  assert.equal(
    sample(text, `controller_runtime_reconcile_total{controller="two",result="requeue"}`),
    1,
  );
  assert.equal(sample(text, `leader_election_master_status{name="fcf824fa.giantswarm.io"}`), 1);
  assert.equal(sample(text, `leader_election_master_status{name="other"}`), 0);
});

Deno.test("active workers count reconciles in flight and never go negative", async () => {
  const registry = new Registry();
  const metrics = new ControllerMetrics(registry);
  metrics.setWorkers("a", 2);
  metrics.reconcileStarted("a");
  metrics.reconcileStarted("a");
  const series = `controller_runtime_active_workers{controller="a"}`;
  assert.equal(sample(await registry.metrics(), series), 2);
  metrics.reconciled("a", "success", 0.1);
  assert.equal(sample(await registry.metrics(), series), 1);
  metrics.reconciled("a", "success", 0.1);
  metrics.reconciled("a", "success", 0.1); // no matching start: the gauge stays at zero
  assert.equal(sample(await registry.metrics(), series), 0);
});

Deno.test("separate registries keep separate counts", async () => {
  const a = new Registry();
  const b = new Registry();
  new ControllerMetrics(a).reconciled("x", "success", 0.1);
  new ControllerMetrics(b);
  assert.equal(
    sample(
      await a.metrics(),
      `controller_runtime_reconcile_total{controller="x",result="success"}`,
    ),
    1,
  );
  assert.equal(
    sample(
      await b.metrics(),
      `controller_runtime_reconcile_total{controller="x",result="success"}`,
    ),
    undefined,
  );
});

Deno.test("the registry factory includes default process metrics", async () => {
  const text = await createRegistry().metrics();
  assert.match(text, /^process_resident_memory_bytes \d+/m);
  assert.match(text, /^nodejs_eventloop_lag_seconds /m);
});

Deno.test("without /proc/self, resident memory comes from Deno and the /proc-only metrics go", async () => {
  const { fitProcessMetrics } = await import("../lib/process_metrics.ts");
  const { collectDefaultMetrics, Registry } = await import("prom-client");
  const scoped = new Registry();
  collectDefaultMetrics({ register: scoped });
  fitProcessMetrics(scoped, false);
  const text = await scoped.metrics();
  const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1]);
  assert.ok(rss > 10 * 1024 * 1024, `a plausible RSS, not 0: ${rss}`);
  for (const name of ["process_open_fds", "process_max_fds", "process_virtual_memory_bytes"]) {
    assert.doesNotMatch(
      text,
      new RegExp(`^${name} `, "m"),
      `${name} is left out, not reported as 0`,
    );
  }
  assert.match(text, /^process_cpu_seconds_total /m);

  const full = new Registry();
  collectDefaultMetrics({ register: full });
  fitProcessMetrics(full, true);
  assert.equal((await full.getSingleMetric("process_open_fds")?.get())?.values.length, 1);
});
