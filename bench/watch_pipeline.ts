/**
 * Issue 3 bench: events through watch → store → queue → no-op reconcile.
 *
 * Phases, all against the fake API server in its own process:
 * 1. cold start: N objects exist; list → cache → queue → reconcile, objects per second;
 * 2. RSS with N objects cached, against the RSS before the cache started (same run);
 * 3. updates: every object patched once; events per second through the pipeline, and
 *    p50/p99 from "patch sent" to "reconcile started". The baseline is a bare watch stream read
 *    in the same process during the same updates (no store, no queue): the ratio is what our
 *    pipeline adds over just reading the wire.
 */
import { Controller } from "../lib/controller/controller.ts";
import { Manager } from "../lib/controller/manager.ts";
import { done } from "../lib/controller/result.ts";
import { ResourceClient } from "../lib/kube/client.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import { WIDGETS } from "./_widgets.ts";
import {
  collectGarbage,
  forEachLimited,
  line,
  mib,
  percentile,
  seed,
  startFakeCluster,
} from "./_support.ts";

const NAMESPACE = "bench";

export async function benchWatchPipeline(count = 10_000): Promise<void> {
  console.log(`watch → queue → no-op reconcile, ${count} objects`);
  const cluster = await startFakeCluster(new URL("./crds", import.meta.url).pathname);
  const stop = new AbortController();
  try {
    const widgets = new ResourceClient(cluster.transport, WIDGETS);
    const names = Array.from({ length: count }, (_, i) => `widget-${i}`);
    await seed(cluster, [
      { type: NAMESPACES, object: { metadata: { name: NAMESPACE } } },
      ...names.map((name) => ({
        type: WIDGETS,
        object: {
          apiVersion: "bench.example.com/v1",
          kind: "Widget",
          metadata: { name, namespace: NAMESPACE },
          spec: { size: 0 },
        },
      })),
    ]);

    collectGarbage();
    const before = Deno.memoryUsage();
    const rssBefore = before.rss;

    // Reconcile bookkeeping: keys patched and not yet seen, with the time the patch was sent.
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let initial = 0;
    let allInitial!: () => void;
    const initialDone = new Promise<void>((resolve) => (allInitial = resolve));
    let allUpdated!: () => void;
    const updatesDone = new Promise<void>((resolve) => (allUpdated = resolve));
    let lastUpdateSeenAt = 0;

    const manager = new Manager({ transport: cluster.transport });
    const informer = manager.informer(WIDGETS, { namespace: NAMESPACE });
    manager.addController(
      new Controller({
        name: "bench",
        watches: [{ informer }],
        reconcile: (key) => {
          const sent = sentAt.get(key);
          if (sent !== undefined) {
            lastUpdateSeenAt = performance.now();
            latencies.push(lastUpdateSeenAt - sent);
            sentAt.delete(key);
            if (latencies.length === count) allUpdated();
          } else if (++initial === count) {
            allInitial();
          }
          return Promise.resolve(done());
        },
      }),
    );

    const coldStart = performance.now();
    const informers = manager.runInformers(stop.signal);
    const controllers = manager.runControllers(stop.signal);
    await initialDone;
    const coldSeconds = (performance.now() - coldStart) / 1000;
    line("cold start: list → reconcile", `${coldSeconds.toFixed(2)} s`);
    line("cold start throughput", `${Math.round(count / coldSeconds)} objects/s`);

    collectGarbage();
    const cached = Deno.memoryUsage();
    const rssCached = cached.rss;
    line("RSS before the cache started", mib(rssBefore));
    line(
      `RSS with ${count} objects cached`,
      `${mib(rssCached)} (×${(rssCached / rssBefore).toFixed(2)})`,
    );
    line("JS heap before → with the cache", `${mib(before.heapUsed)} → ${mib(cached.heapUsed)}`);
    line(
      "JS heap per cached object",
      `${((cached.heapUsed - before.heapUsed) / count / 1024).toFixed(2)} KiB`,
    );

    // Baseline: a bare watch stream from the current resourceVersion, read without any cache.
    const listed = await widgets.list({ namespace: NAMESPACE, limit: 1 });
    const rawLatencies: number[] = [];
    let rawLastAt = 0;
    const raw = rawWatch(
      cluster.transport,
      listed.metadata.resourceVersion!,
      stop.signal,
      (name) => {
        const sent = sentAt.get(`${NAMESPACE}/${name}`) ?? rawSentAt.get(name);
        if (sent === undefined) return;
        rawLastAt = performance.now();
        rawLatencies.push(rawLastAt - sent);
      },
    );
    const rawSentAt = new Map<string, number>();

    const updateStart = performance.now();
    await forEachLimited(names, 32, async (name) => {
      const now = performance.now();
      sentAt.set(`${NAMESPACE}/${name}`, now);
      rawSentAt.set(name, now);
      await widgets.mergePatch(name, NAMESPACE, { spec: { size: 1 } });
    });
    const writeSeconds = (performance.now() - updateStart) / 1000;
    await updatesDone;
    const pipelineSeconds = (lastUpdateSeenAt - updateStart) / 1000;
    const rawSeconds = (rawLastAt - updateStart) / 1000;
    latencies.sort((a, b) => a - b);
    rawLatencies.sort((a, b) => a - b);
    line(
      "updates: API server write rate (ceiling)",
      `${Math.round(count / writeSeconds)} writes/s`,
    );
    line("updates through the pipeline", `${Math.round(count / pipelineSeconds)} events/s`);
    line("updates through a bare watch (baseline)", `${Math.round(count / rawSeconds)} events/s`);
    line(
      "patch sent → reconcile start p50 / p99",
      `${percentile(latencies, 0.5).toFixed(1)} / ${percentile(latencies, 0.99).toFixed(1)} ms`,
    );
    line(
      "patch sent → bare watch event p50 / p99",
      `${percentile(rawLatencies, 0.5).toFixed(1)} / ${
        percentile(rawLatencies, 0.99).toFixed(1)
      } ms`,
    );
    line(
      "pipeline p50 / baseline p50",
      `×${(percentile(latencies, 0.5) / percentile(rawLatencies, 0.5)).toFixed(2)}`,
    );
    stop.abort();
    await Promise.all([informers, controllers, raw]);
  } finally {
    stop.abort();
    await cluster.stop();
  }
}

/** Reads one watch stream and reports each event's object name; no cache, no queue. */
async function rawWatch(
  transport: import("../lib/kube/transport.ts").KubeTransport,
  resourceVersion: string,
  signal: AbortSignal,
  onEvent: (name: string) => void,
): Promise<void> {
  try {
    const response = await transport.fetch({
      method: "GET",
      path: `/apis/bench.example.com/v1/namespaces/${NAMESPACE}/widgets`,
      query: { watch: "true", resourceVersion, timeoutSeconds: 600 },
      signal,
    });
    // Cancel the reader on abort rather than trusting the aborted body to error: under load
    // it does not always (the reason our watcher races every read against a deadline).
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    signal.addEventListener("abort", () => void reader.cancel().catch(() => {}), { once: true });
    let buffered = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const event = JSON.parse(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        onEvent(event.object?.metadata?.name);
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
