/**
 * Cold start of the release controller and the NodeImage garbage collector: 2,000 Releases
 * across vsphere, cloud-director and proxmox sharing 300 images, on the fake API server.
 *
 * The fake API server runs in a subprocess (`tests/fake_apiserver/main.ts`) so the RSS figures
 * are the operator's own. Prints plain lines: seconds until every Release carries the
 * finalizer and every NodeImage lists exactly its Releases (state Pending), API requests the
 * operator made (counted by a wrapping transport; watches separately), and peak RSS against a
 * baseline taken before the controllers start. No pass/fail.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/release_cold_start.ts`
 */
import { KubeConfig } from "@kubernetes/client-node";
import { OperatorConfig } from "../lib/config/mod.ts";
import { Manager } from "../lib/controller/manager.ts";
import { ResourceClient } from "../lib/kube/client.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import {
  KubeConfigTransport,
  type KubeRequest,
  type KubeTransport,
} from "../lib/kube/transport.ts";
import { silentLogger } from "../lib/log.ts";
import { ControllerMetrics, createRegistry } from "../lib/metrics.ts";
import { NODE_IMAGES, NodeImageState, RELEASE_FINALIZER, RELEASES } from "../lib/names.ts";
import type { SetupContext } from "../lib/operator.ts";
import { prometheusQueueMetrics } from "../lib/queue/mod.ts";
import { deriveNodeImage } from "../lib/release/derive.ts";
import type { NodeImage, Release } from "../lib/release/objects.ts";
import { setupReleaseControllers } from "../lib/release/setup.ts";
import { Readiness } from "../lib/server/mod.ts";

const RELEASE_COUNT = 2_000;
const IMAGES_PER_PROVIDER = 100;
const PROVIDERS = ["vsphere", "cloud-director", "proxmox"] as const;
const NAMESPACE = "giantswarm";
const DEADLINE_MS = 10 * 60_000;

/** Counts the requests it passes on, by method (watches apart). */
class CountingTransport implements KubeTransport {
  readonly counts = new Map<string, number>();
  #total = 0;
  #watches = 0;
  readonly #inner: KubeTransport;

  constructor(inner: KubeTransport) {
    this.#inner = inner;
  }

  get server(): string {
    return this.#inner.server;
  }

  get total(): number {
    return this.#total;
  }

  get watches(): number {
    return this.#watches;
  }

  fetch(request: KubeRequest): Promise<Response> {
    const watch = request.query?.watch === true || request.query?.watch === "true";
    if (watch) this.#watches++;
    else {
      this.#total++;
      const key = `${request.method} ${kindOf(request.path)}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
    return this.#inner.fetch(request);
  }
}

function kindOf(path: string): string {
  if (path.includes("/nodeimages")) {
    return path.endsWith("/status") ? "nodeimages/status" : "nodeimages";
  }
  if (path.includes("/releases")) return "releases";
  if (path.includes("/events")) return "events";
  return path;
}

/** The Releases: three providers, each cycling through its 100 image versions. */
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

/** Starts the fake API server in a subprocess; resolves once it prints its ready line. */
async function startFakeServer(kubeconfig: string) {
  const root = new URL("../", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "tests/fake_apiserver/main.ts",
      "--port",
      "0",
      "--kubeconfig",
      kubeconfig,
      "--crds",
      "crds",
    ],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (!buffered.includes("ready")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("The fake API server exited before printing its ready line");
    buffered += value;
  }
  // Keep draining so the child never blocks on a full pipe.
  const drained = (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  return {
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drained.catch(() => {});
    },
  };
}

function transportFor(kubeconfig: string): KubeConfigTransport {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  return new KubeConfigTransport(config);
}

/** Creates the objects with a few requests in flight at once. */
async function createAll(client: ResourceClient<Release>, objects: Release[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) await client.create(objects[next++]);
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function mb(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

/** Runs the benchmark and prints its figures. */
export async function benchReleaseColdStart(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "release-cold-start-" });
  const kubeconfig = `${dir}/kubeconfig`;
  const server = await startFakeServer(kubeconfig);
  const setupTransport = transportFor(kubeconfig);
  const operatorTransport = transportFor(kubeconfig);
  const abort = new AbortController();
  let running: Promise<unknown> | undefined;
  try {
    // Arrange: the namespace and the Releases, through a transport that is not counted.
    await new ResourceClient(setupTransport, NAMESPACES).create({ metadata: { name: NAMESPACE } });
    const releases = buildReleases();
    const expected = new Map<string, Set<string>>();
    for (const release of releases) {
      const { objectName } = deriveNodeImage(release, { channel: "stable" });
      if (!expected.has(objectName)) expected.set(objectName, new Set());
      expected.get(objectName)!.add(release.metadata.name!);
    }
    await createAll(new ResourceClient<Release>(setupTransport, RELEASES), releases);

    gc();
    const baseline = Deno.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, Deno.memoryUsage().rss);
    }, 20);

    // Act: the operator from cold (empty caches), as main.ts wires it.
    const transport = new CountingTransport(operatorTransport);
    const registry = createRegistry();
    const manager = new Manager({ transport, log: silentLogger });
    const ctx: SetupContext = {
      manager,
      transport,
      namespace: "default",
      registry,
      controllerMetrics: new ControllerMetrics(registry),
      queueMetrics: (controller) => prometheusQueueMetrics(registry, controller),
      readiness: new Readiness(),
      log: silentLogger,
      identity: "bench",
    };
    const config = new OperatorConfig({
      file: "bench-values.yaml",
      s3: { bucket: "node-images", region: "us-west-2", http: false, timeoutMs: 90_000 },
      retentionMs: 0,
      clientSetup: { initialBackoffMs: 5_000, retryCount: 5 },
      providers: { capv: {} as never, capvcd: {} as never, capmox: {} as never },
    });
    setupReleaseControllers(ctx, {
      config,
      namespace: NAMESPACE,
      flatcarChannel: "stable",
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
    clearInterval(sampler);
    peak = Math.max(peak, Deno.memoryUsage().rss);

    // Check the server agrees with the caches (uncounted reads).
    const images = await new ResourceClient<NodeImage>(setupTransport, NODE_IMAGES).list({
      namespace: NAMESPACE,
    });
    const listedTotal = images.items.reduce((n, i) => n + (i.status?.releases?.length ?? 0), 0);

    const byKind = [...transport.counts].sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `${key}=${n}`).join(" ");
    console.log(`release cold start: ${RELEASE_COUNT} Releases, ${expected.size} NodeImages`);
    console.log(`converged in: ${seconds.toFixed(2)} s`);
    console.log(`API requests: ${transport.total} (plus ${transport.watches} watches)`);
    console.log(`API requests by kind: ${byKind}`);
    console.log(
      `server check: ${images.items.length} NodeImages listing ${listedTotal} Releases`,
    );
    console.log(`RSS baseline: ${mb(baseline)}`);
    console.log(
      `RSS peak: ${mb(peak)} (${(peak / baseline).toFixed(2)}x baseline, +${mb(peak - baseline)})`,
    );
  } finally {
    abort.abort();
    await running?.catch(() => {});
    operatorTransport.close();
    setupTransport.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await benchReleaseColdStart();
