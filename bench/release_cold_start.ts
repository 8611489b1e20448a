/**
 * Cold start of the release controller and the NodeImage garbage collector: 2,000 Releases
 * across vsphere, cloud-director and proxmox sharing 300 images, on the fake API server.
 *
 * The fake API server runs in a subprocess (`tests/fake_apiserver/main.ts`) so the RSS figures
 * are the operator's own. Prints plain lines: seconds until every Release carries the
 * finalizer and every NodeImage lists exactly its Releases (state Pending), API requests the
 * operator made until it went quiet (counted by a wrapping transport; watches separately; Event
 * creates and series patches apart), and peak RSS against a
 * baseline taken before the controllers start. No pass/fail.
 *
 * Run: `deno task bench release`
 */
import { OperatorConfig } from "../lib/config/mod.ts";
import { Manager } from "../lib/controller/manager.ts";
import { ResourceClient } from "../lib/kube/client.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import { silentLogger } from "../lib/log.ts";
import { createRegistry } from "../lib/metrics.ts";
import { NODE_IMAGES, NodeImageState, RELEASE_FINALIZER, RELEASES } from "../lib/names.ts";
import { createSetupContext } from "../lib/operator.ts";
import { deriveNodeImage } from "../lib/release/derive.ts";
import type { NodeImage, Release } from "../lib/release/objects.ts";
import { setupReleaseControllers } from "../lib/release/setup.ts";
import { testModule } from "../tests/support/fake_module.ts";
import { NAMING } from "../tests/support/provider_configs.ts";
import {
  collectGarbage,
  CountingTransport,
  mib,
  RssSampler,
  seed,
  startFakeCluster,
} from "./_support.ts";

const RELEASE_COUNT = 2_000;
const IMAGES_PER_PROVIDER = 100;
const PROVIDERS = ["vsphere", "cloud-director", "proxmox"] as const;
const NAMESPACE = "giantswarm";
const DEADLINE_MS = 10 * 60_000;

function buildReleases(): Release[] {
  const releases: Release[] = [];
  for (let i = 0; i < RELEASE_COUNT; i++) {
    const provider = PROVIDERS[i % PROVIDERS.length];
    const serial = Math.floor(i / PROVIDERS.length);
    const image = serial % IMAGES_PER_PROVIDER;
    releases.push({
      apiVersion: "release.giantswarm.io/v1alpha1",
      kind: "Release",
      metadata: { name: `${provider}-${serial + 1}.0.0` },
      spec: {
        apps: [],
        components: [
          { name: `cluster-${provider}`, version: "1.0.0" },
          { name: "flatcar", version: `4000.${image}.0` },
          { name: "kubernetes", version: `1.${30 + (image % 5)}.${image}` },
          { name: "os-tooling", version: `1.${image % 7}.0` },
        ],
        date: "2026-03-02T09:00:00Z",
        state: "active",
      },
    });
  }
  return releases;
}

/** Runs the benchmark and prints its figures. */
export async function benchReleaseColdStart(): Promise<void> {
  const cluster = await startFakeCluster(new URL("../crds", import.meta.url).pathname);
  const abort = new AbortController();
  let running: Promise<unknown> | undefined;
  try {
    // Arrange: the namespace and the Releases, from another process.
    const releases = buildReleases();
    const expected = new Map<string, Set<string>>();
    for (const release of releases) {
      // The operator names images by provider id (`vsphere` → `capv-…`): derive with the same
      // naming, or the expected names never appear and the bench cannot converge.
      const { objectName } = deriveNodeImage(release, { channel: "stable", naming: NAMING });
      if (!expected.has(objectName)) expected.set(objectName, new Set());
      expected.get(objectName)!.add(release.metadata.name!);
    }
    await seed(cluster, [
      { type: NAMESPACES, object: { metadata: { name: NAMESPACE } } },
      ...releases.map((object) => ({ type: RELEASES, object })),
    ]);

    collectGarbage();
    const baseline = Deno.memoryUsage().rss;
    const sampler = new RssSampler(20);

    // Act: the operator from cold (empty caches), as main.ts wires it.
    const transport = new CountingTransport(cluster.transport);
    const registry = createRegistry();
    const manager = new Manager({ transport, log: silentLogger });
    const ctx = createSetupContext(manager, transport, {
      namespace: "default",
      log: silentLogger,
      identity: "bench",
      registry,
    });
    const config = new OperatorConfig({
      file: "bench-values.yaml",
      s3: { bucket: "node-images", region: "us-west-2", http: false, timeoutMs: 90_000 },
      retentionMs: 0,
      clientSetup: { initialBackoffMs: 5_000, retryCount: 5 },
      providers: Object.fromEntries(
        ["capv", "capvcd", "capmox"].map((id) => [id, testModule(id).configure({})]),
      ),
    });
    setupReleaseControllers(ctx, {
      config,
      namespace: NAMESPACE,
      flatcarChannel: "stable",
      naming: NAMING,
      retentionMs: 24 * 3_600_000,
    });
    const releaseCache = manager.informer<Release>(RELEASES).store;
    const imageCache = manager.informer<NodeImage>(NODE_IMAGES, { namespace: NAMESPACE }).store;
    const started = performance.now();
    running = Promise.all([
      manager.runInformers(abort.signal),
      manager.runControllers(abort.signal),
    ]);

    const converged = () =>
      releaseCache.size === RELEASE_COUNT && imageCache.size === expected.size &&
      releaseCache.list().every((r) => r.metadata.finalizers?.includes(RELEASE_FINALIZER)) &&
      imageCache.list().every((image) => {
        const want = expected.get(image.metadata.name!);
        const listed = image.status?.releases ?? [];
        return want !== undefined && image.status?.state === NodeImageState.Pending &&
          listed.length === want.size && listed.every((name) => want.has(name));
      });
    while (!converged()) {
      if (performance.now() - started > DEADLINE_MS) {
        throw new Error(`Did not converge within ${DEADLINE_MS / 60_000} minutes`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const seconds = (performance.now() - started) / 1000;
    // Events follow the writes they report: count once the operator has gone quiet.
    let lastTotal = -1;
    while (transport.total !== lastTotal) {
      lastTotal = transport.total;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    sampler.stop();
    const peak = Math.max(sampler.peak, sampler.sample());

    // Check the server agrees with the caches (uncounted reads).
    const images = await new ResourceClient<NodeImage>(cluster.transport, NODE_IMAGES).list({
      namespace: NAMESPACE,
    });
    const listedTotal = images.items.reduce((n, i) => n + (i.status?.releases?.length ?? 0), 0);

    const byKind = transport.summary();
    console.log(`release cold start: ${RELEASE_COUNT} Releases, ${expected.size} NodeImages`);
    console.log(`converged in: ${seconds.toFixed(2)} s`);
    console.log(`API requests: ${transport.total} (plus ${transport.watches} watches)`);
    console.log(`API requests by kind: ${byKind}`);
    console.log(
      `Event writes: ${transport.count("POST", "events")} creates, ` +
        `${transport.count("PATCH", "events")} patches`,
    );
    console.log(
      `server check: ${images.items.length} NodeImages listing ${listedTotal} Releases`,
    );
    console.log(`RSS baseline: ${mib(baseline)}`);
    console.log(
      `RSS peak: ${mib(peak)} (${(peak / baseline).toFixed(2)}x baseline, +${
        mib(peak - baseline)
      })`,
    );
  } finally {
    abort.abort();
    await running?.catch(() => {});
    await cluster.stop();
  }
}
