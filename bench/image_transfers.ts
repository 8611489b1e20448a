/**
 * Issue 5 bench: the image controller against the fake API server (own process) and the fake
 * catalog provider.
 *
 * 1. Throughput: 20 images × 3 locations, every transfer at the same simulated bandwidth (wall
 *    clock). Wall time until all 20 are Available with `--max-concurrent-transfers=1` and with
 *    the default 4, in the same run; the ratio is the gain over serial uploads (the Go operator
 *    uploads strictly one at a time).
 * 2. Steady state: 300 images × 3 locations, all already present, over one simulated hour on a
 *    fake clock: platform calls per hour, against the Go operator's one existence call per image
 *    per location every 5 minutes (300 × 3 × 12 = 10,800/h).
 */
import { Manager } from "../lib/controller/manager.ts";
import type { Clock } from "../lib/clock.ts";
import type { ImageSource } from "../lib/image/provider.ts";
import { ProviderRegistry } from "../lib/image/providers.ts";
import { setupImageController } from "../lib/image/setup.ts";
import type { ImageSourceResolver } from "../lib/image/source.ts";
import { ResourceClient } from "../lib/kube/client.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import { silentLogger } from "../lib/log.ts";
import { createRegistry } from "../lib/metrics.ts";
import { NODE_IMAGES } from "../lib/names.ts";
import { createSetupContext } from "../lib/operator.ts";
import type { NodeImage } from "../lib/release/objects.ts";
import { FakeClock } from "../tests/support/fake_clock.ts";
import { FakeCatalog, validImageBytes } from "../tests/support/fake_provider.ts";
import { catalogConfigs } from "../tests/support/fake_module.ts";
import { type FakeClusterProcess, line, startFakeCluster } from "./_support.ts";

const NAMESPACE = "giantswarm";
const LOCATIONS = ["dc-a", "dc-b", "dc-c"];
const IMAGE_BYTES = 256 * 1024;
const BYTES_PER_SECOND = 8 * 1024 * 1024;

export async function benchImageTransfers(): Promise<void> {
  console.log("image controller: transfers and steady-state platform calls");
  const cluster = await startFakeCluster(new URL("../crds", import.meta.url).pathname);
  try {
    await new ResourceClient(cluster.transport, NAMESPACES).create({
      metadata: { name: NAMESPACE },
    });
    const serialMs = await timeTransfers(cluster, 1, "serial");
    const parallelMs = await timeTransfers(cluster, 4, "parallel");
    line(
      "20 images × 3 locations, 256 KiB at 8 MiB/s each",
      `${(serialMs / 1000).toFixed(2)} s with 1 transfer, ${(parallelMs / 1000).toFixed(2)} s ` +
        `with 4 (${(serialMs / parallelMs).toFixed(1)}× faster)`,
    );
    await steadyState(cluster, 300);
  } finally {
    await cluster.stop();
  }
}

async function timeTransfers(
  cluster: FakeClusterProcess,
  maxConcurrentTransfers: number,
  prefix: string,
): Promise<number> {
  const catalog = new FakeCatalog({ locations: LOCATIONS, bytesPerSecond: BYTES_PER_SECOND });
  const names = Array.from({ length: 20 }, (_, i) => imageName(prefix, i));
  const run = await startController(cluster, catalog, { maxConcurrentTransfers });
  try {
    const started = performance.now();
    await createImages(cluster, names);
    await waitUntil(() => allAvailable(cluster, names, 5));
    const elapsed = performance.now() - started;
    if (catalog.peakActive > maxConcurrentTransfers) {
      throw new Error(`Transfer limit broken: ${catalog.peakActive} > ${maxConcurrentTransfers}`);
    }
    return elapsed;
  } finally {
    await run.stop();
  }
}

async function steadyState(cluster: FakeClusterProcess, count: number): Promise<void> {
  const clock = new FakeClock(Date.now());
  const catalog = new FakeCatalog({ locations: LOCATIONS });
  const names = Array.from({ length: count }, (_, i) => imageName("steady", i));
  for (const name of names) {
    for (const location of LOCATIONS) catalog.seed(location, specOf(name));
  }
  const run = await startController(cluster, catalog, { clock });
  try {
    await createImages(cluster, names);
    await waitUntil(() => allAvailable(cluster, names, count));
    const before = catalog.platformCalls();
    const listingsBefore = catalog.count("inventory");
    for (let minute = 0; minute < 60; minute++) {
      await clock.advance(60_000);
      await waitUntil(() => run.idle());
    }
    const calls = catalog.platformCalls() - before;
    const goCalls = count * LOCATIONS.length * 12;
    line(
      `steady state, ${count} images × 3 locations, 1 simulated hour`,
      `${calls} platform calls (${catalog.count("inventory") - listingsBefore} listings, ` +
        `${catalog.count("ensure")} uploads) vs the Go operator's ${goCalls} ` +
        `(${(goCalls / Math.max(1, calls)).toFixed(0)}× fewer)`,
    );
  } finally {
    await run.stop();
  }
}

interface BenchRun {
  idle(): boolean;
  stop(): Promise<void>;
}

async function startController(
  cluster: FakeClusterProcess,
  catalog: FakeCatalog,
  options: { maxConcurrentTransfers?: number; clock?: Clock },
): Promise<BenchRun> {
  const registry = createRegistry();
  const manager = new Manager({ transport: cluster.transport, log: silentLogger });
  const ctx = createSetupContext(manager, cluster.transport, {
    namespace: NAMESPACE,
    log: silentLogger,
    identity: "bench",
    registry,
  });
  const providers = new ProviderRegistry({
    initialBackoffMs: 100,
    retryCount: 3,
    clock: options.clock,
  });
  await providers.update(catalogConfigs(catalog));
  const image = setupImageController(ctx, {
    registry: providers,
    resolver: memoryResolver(),
    maxConcurrentTransfers: options.maxConcurrentTransfers,
    clock: options.clock,
  });
  const abort = new AbortController();
  const informers = manager.runInformers(abort.signal);
  const controllers = manager.runControllers(abort.signal);
  return {
    idle: () => image.controller.queue.len() === 0,
    async stop() {
      abort.abort();
      await Promise.all([informers, controllers]);
      await providers.close();
      // Leave nothing behind for the next phase.
      const client = new ResourceClient<NodeImage>(cluster.transport, NODE_IMAGES);
      const list = await client.list({ namespace: NAMESPACE });
      await Promise.all(list.items.map((item) =>
        client.jsonPatch(item.metadata.name!, NAMESPACE, [
          { op: "remove", path: "/metadata/finalizers" },
        ]).then(() => client.delete(item.metadata.name!, NAMESPACE)).catch(() => {})
      ));
    },
  };
}

function memoryResolver(): ImageSourceResolver {
  const bytes = validImageBytes("ova", IMAGE_BYTES);
  return {
    resolve(image, layout): Promise<ImageSource> {
      return Promise.resolve({
        key: `${layout.directory}/${image.name}/image.${layout.format}`,
        format: layout.format,
        size: bytes.length,
        url: () => Promise.resolve("http://bench.invalid/image.ova"),
        open: () =>
          Promise.resolve(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(bytes);
                controller.close();
              },
            }),
          ),
      });
    },
  };
}

async function createImages(cluster: FakeClusterProcess, names: string[]): Promise<void> {
  const client = new ResourceClient<NodeImage>(cluster.transport, NODE_IMAGES);
  const batch = 20;
  for (let i = 0; i < names.length; i += batch) {
    await Promise.all(
      names.slice(i, i + batch).map(async (name) => {
        const created = await client.create({
          apiVersion: "image.giantswarm.io/v1alpha1",
          kind: "NodeImage",
          metadata: { name, namespace: NAMESPACE },
          spec: { name: specOf(name), provider: "capv" },
        });
        // As the release controller registers its Release (the image controller may already
        // have added its finalizer, so no resourceVersion precondition here).
        await client.patchStatus(created.metadata.name!, NAMESPACE, {
          status: { releases: ["vsphere-35.0.0"], state: "Pending" },
        });
      }),
    );
  }
}

async function allAvailable(
  cluster: FakeClusterProcess,
  names: string[],
  expected: number,
): Promise<boolean> {
  const client = new ResourceClient<NodeImage>(cluster.transport, NODE_IMAGES);
  const wanted = new Set(names);
  const list = await client.list({ namespace: NAMESPACE });
  const available = list.items.filter((i) =>
    wanted.has(i.metadata.name!) && i.status?.state === "Available"
  );
  return available.length >= Math.min(expected, names.length) &&
    available.length === names.length;
}

async function waitUntil(probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error("Bench phase did not finish in 10 minutes");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function imageName(prefix: string, i: number): string {
  return `capv-flatcar-stable-${prefix.length}.${i}.0-kube-1.35.6-tooling-1.32.1-gs-${prefix}`;
}

function specOf(name: string): string {
  return name.slice("capv-".length);
}
