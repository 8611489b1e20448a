import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { ControllerMetrics } from "../../lib/metrics.ts";
import { OperatorServer } from "../../lib/server/operator_server.ts";
import { Readiness } from "../../lib/server/health_checks.ts";

function urlOf(addr: Deno.NetAddr | undefined, path: string): string {
  assert.ok(addr, "server address");
  return `http://127.0.0.1:${addr.port}${path}`;
}

async function get(url: string): Promise<{ status: number; body: string; type: string }> {
  const response = await fetch(url);
  return {
    status: response.status,
    body: await response.text(),
    type: response.headers.get("content-type") ?? "",
  };
}

/** Starts a server on free loopback ports; the test aborts `stop` and awaits `finished`. */
async function startServer(options: { metrics?: string; health?: string } = {}) {
  const readiness = new Readiness();
  const registry = new Registry();
  const server = new OperatorServer({
    healthProbeBindAddress: options.health ?? "127.0.0.1:0",
    metricsBindAddress: options.metrics ?? "127.0.0.1:0",
    readiness,
    registry,
  });
  const stop = new AbortController();
  const running = await server.start(stop.signal);
  return { server, readiness, registry, stop, running };
}

Deno.test("readyz answers 503 listing the failing check until every check passes", async () => {
  const { readiness, stop, running } = await startServer();
  try {
    let synced = false;
    readiness.addCheck("informer-releases", () => ({ ok: synced, reason: "cache not synced" }));
    readiness.addCheck("provider-capv", () => ({ ok: true }));

    const before = await get(urlOf(running.healthAddress, "/readyz"));
    assert.equal(before.status, 503);
    assert.equal(
      before.body,
      "[-]informer-releases failed: cache not synced\n[+]provider-capv ok\nreadyz check failed\n",
    );

    synced = true;
    const after = await get(urlOf(running.healthAddress, "/readyz"));
    assert.deepEqual([after.status, after.body], [200, "ok"]);
    const verbose = await get(urlOf(running.healthAddress, "/readyz?verbose"));
    assert.equal(
      verbose.body,
      "[+]informer-releases ok\n[+]provider-capv ok\nreadyz check passed\n",
    );
    assert.match(verbose.type, /^text\/plain/);
  } finally {
    stop.abort();
    await running.finished;
  }
});

Deno.test("one readiness check can be probed alone and unknown ones are 404", async () => {
  const { readiness, stop, running } = await startServer();
  try {
    readiness.addCheck("provider-capv", () => ({ ok: false, reason: "not reachable" }));
    const one = await get(urlOf(running.healthAddress, "/readyz/provider-capv"));
    assert.deepEqual([one.status, one.body], [503, "readyz check failed: not reachable\n"]);
    const excluded = await get(urlOf(running.healthAddress, "/readyz?exclude=provider-capv"));
    assert.equal(excluded.status, 200);
    assert.equal((await get(urlOf(running.healthAddress, "/readyz/nope"))).status, 404);
    assert.equal((await get(urlOf(running.healthAddress, "/nope"))).status, 404);
  } finally {
    stop.abort();
    await running.finished;
  }
});

Deno.test("healthz passes while the event loop is responsive and ignores readiness", async () => {
  const { readiness, stop, running } = await startServer();
  try {
    readiness.addCheck("informer-releases", () => ({ ok: false, reason: "not synced" }));
    const health = await get(urlOf(running.healthAddress, "/healthz?verbose"));
    assert.deepEqual([health.status, health.body], [
      200,
      "[+]event-loop ok\nhealthz check passed\n",
    ]);
  } finally {
    stop.abort();
    await running.finished;
  }
});

Deno.test("a failing liveness check makes healthz fail", async () => {
  const { server, stop, running } = await startServer();
  try {
    server.liveness.addCheck("leader-election", () => ({ ok: false, reason: "lease expired" }));
    const health = await get(urlOf(running.healthAddress, "/healthz"));
    assert.equal(health.status, 503);
    assert.match(health.body, /\[-\]leader-election failed: lease expired\n/);
  } finally {
    stop.abort();
    await running.finished;
  }
});

Deno.test("metrics are served in Prometheus text format on their own address", async () => {
  const { registry, stop, running } = await startServer();
  try {
    new ControllerMetrics(registry).reconciled("nodeimage", "success", 0.01);
    assert.notEqual(running.metricsAddress?.port, running.healthAddress?.port);
    const metrics = await get(urlOf(running.metricsAddress, "/metrics"));
    assert.equal(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
    assert.match(
      metrics.body,
      /^controller_runtime_reconcile_total\{controller="nodeimage",result="success"\} 1$/m,
    );
    // Probe paths are not on the metrics listener, nor metrics on the probe listener.
    assert.equal((await get(urlOf(running.metricsAddress, "/readyz"))).status, 404);
    assert.equal((await get(urlOf(running.healthAddress, "/metrics"))).status, 404);
  } finally {
    stop.abort();
    await running.finished;
  }
});

Deno.test("a metrics address of 0 disables the metrics server", async () => {
  const { stop, running } = await startServer({ metrics: "0" });
  try {
    assert.equal(running.metricsAddress, undefined);
    assert.equal((await get(urlOf(running.healthAddress, "/healthz"))).status, 200);
  } finally {
    stop.abort();
    await running.finished;
  }
});

Deno.test("equal addresses share one listener serving probes and metrics", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const address = `127.0.0.1:${port}`;
  const { stop, running } = await startServer({ health: address, metrics: address });
  try {
    assert.equal(running.metricsAddress?.port, port);
    assert.equal((await get(urlOf(running.healthAddress, "/metrics"))).status, 200);
    assert.equal((await get(urlOf(running.healthAddress, "/readyz"))).status, 200);
  } finally {
    stop.abort();
    await running.finished;
  }
});

Deno.test("aborting the signal closes the listeners", async () => {
  const { stop, running } = await startServer();
  const url = urlOf(running.healthAddress, "/healthz");
  assert.equal((await get(url)).status, 200);
  stop.abort();
  await running.finished;
  await assert.rejects(fetch(url));
});

Deno.test("a port already in use fails start and leaves nothing listening", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const server = new OperatorServer({
      healthProbeBindAddress: "127.0.0.1:0",
      metricsBindAddress: `127.0.0.1:${port}`,
      readiness: new Readiness(),
      registry: new Registry(),
    });
    await assert.rejects(server.start(new AbortController().signal), Deno.errors.AddrInUse);
  } finally {
    taken.close();
  }
});

Deno.test("non-GET requests are refused", async () => {
  const { stop, running } = await startServer();
  try {
    const response = await fetch(urlOf(running.healthAddress, "/readyz"), { method: "POST" });
    await response.body?.cancel();
    assert.equal(response.status, 405);
  } finally {
    stop.abort();
    await running.finished;
  }
});
