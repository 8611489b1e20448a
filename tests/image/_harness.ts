/**
 * Test harness for the image controller: the fake API server with `crds/` (via the release
 * tests' `TestCluster`), fake catalogs or real platform clients as providers, the real S3
 * resolver over s3rver as the image source (`_s3.ts`), and the controller run through a real
 * `Manager` as `main.ts` wires it.
 */
import { Manager } from "../../lib/controller/manager.ts";
import type { Clock } from "../../lib/clock.ts";
import type { PlanTimings } from "../../lib/image/plan.ts";
import { ProviderRegistry } from "../../lib/image/providers.ts";
import { type ImageController, setupImageController } from "../../lib/image/setup.ts";
import type { ImageSourceResolver } from "../../lib/image/source.ts";
import { ConflictError } from "../../lib/kube/errors.ts";
import { type Logger, silentLogger } from "../../lib/log.ts";
import { createRegistry } from "../../lib/metrics.ts";
import { createSetupContext } from "../../lib/operator.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { Readiness } from "../../lib/server/mod.ts";
import { RecordingTransport, type TestCluster } from "../release/_cluster.ts";
import { nodeImage, TEST_NAMESPACE } from "../support/builders.ts";
import type { FakeCatalog, FakeProvider } from "../support/fake_provider.ts";
import { catalogModule } from "../support/fake_module.ts";
import type { ConfiguredProvider } from "../../lib/provider_module.ts";
import type { LocationStatus } from "../../lib/image/status.ts";

/** A running image controller ("one operator process"). */
export interface ImageRun {
  image: ImageController;
  registry: ProviderRegistry;
  readiness: Readiness;
  transport: RecordingTransport;
  /** Provider clients this process made, by provider id (latest last). */
  connections: Map<string, FakeProvider[]>;
  /** Graceful stop: workers stop, transfers are cancelled and cleaned up. */
  stop(): Promise<void>;
  /** A crash: every provider client dies first (nothing can clean up), then everything stops. */
  kill(): Promise<void>;
}

export interface RunImageOptions {
  catalogs?: FakeCatalog[];
  /**
   * Configured providers by id, as `main.ts` hands the registry the loaded config (real
   * platform clients in end-to-end tests); they replace catalogs of the same id.
   */
  providers?: Record<string, ConfiguredProvider>;
  resolver: ImageSourceResolver;
  /** Receives every log line of the manager, registry and controller; default silent. */
  log?: Logger;
  maxConcurrentTransfers?: number;
  transferTimeoutMs?: number;
  inventoryResyncMs?: number;
  timings?: Partial<PlanTimings>;
  clock?: Clock;
  workers?: number;
}

/** Fast timings so tests do not wait on real time. */
export const FAST_TIMINGS: Partial<PlanTimings> = {
  progressIntervalMs: 50,
  errorRetryMs: 200,
  missingRetryMs: 200,
  failureBackoffMs: 100,
  maxFailureBackoffMs: 400,
};

/** Starts the image controller against `cluster`. */
export async function runImageController(
  cluster: TestCluster,
  options: RunImageOptions,
): Promise<ImageRun> {
  const inner = cluster.api.operatorTransport();
  const transport = new RecordingTransport(inner);
  const registry = createRegistry();
  const log = options.log ?? silentLogger;
  const catalogs = options.catalogs ?? [];
  const manager = new Manager({ transport, log });
  const readiness = new Readiness();
  const ctx = createSetupContext(manager, transport, {
    namespace: "default",
    log: log,
    identity: "test-operator",
    readiness,
    registry,
  });
  const connections = new Map<string, FakeProvider[]>();
  const configured: Record<string, ConfiguredProvider> = Object.fromEntries(
    catalogs.map((catalog) => [
      catalog.id,
      catalogModule(catalog, (provider) => {
        connections.set(catalog.id, [...connections.get(catalog.id) ?? [], provider]);
      }).configure({}),
    ]),
  );
  const providers = new ProviderRegistry({
    initialBackoffMs: 20,
    retryCount: 3,
    clock: options.clock,
    log,
  });
  await providers.update({ ...configured, ...options.providers });
  const image = setupImageController(ctx, {
    registry: providers,
    resolver: options.resolver,
    maxConcurrentTransfers: options.maxConcurrentTransfers,
    transferTimeoutMs: options.transferTimeoutMs,
    inventoryResyncMs: options.inventoryResyncMs,
    timings: { ...FAST_TIMINGS, ...options.timings },
    workers: options.workers,
    clock: options.clock,
  });
  const abort = new AbortController();
  const informers = manager.runInformers(abort.signal);
  const running = manager.runControllers(abort.signal);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    abort.abort();
    await Promise.all([informers, running]);
    await providers.close();
    inner.close();
  };
  cluster.onClose(stop);
  return {
    image,
    registry: providers,
    readiness,
    transport,
    connections,
    stop,
    kill: async () => {
      for (const list of connections.values()) for (const p of list) p.sever();
      await stop();
    },
  };
}

/** Creates a NodeImage used by `releases`, in state Pending (as the release controller leaves it). */
export async function createImage(
  cluster: TestCluster,
  name: string,
  options: { releases?: string[]; state?: string } = {},
): Promise<NodeImage> {
  await cluster.nodeImages.create(nodeImage(name).buildForCreate());
  // No resourceVersion precondition: the controller may already have added its finalizer.
  return await cluster.nodeImages.patchStatus(name, TEST_NAMESPACE, {
    status: {
      releases: options.releases ?? ["vsphere-35.0.0"],
      state: options.state ?? "Pending",
    },
  });
}

/**
 * Writes `status` fields as another writer (the release controller) would: read, patch with the
 * read's resourceVersion, and on a Conflict (the image controller wrote in between) read again.
 */
export async function patchStatusAsOtherWriter(
  cluster: TestCluster,
  name: string,
  status: Record<string, unknown>,
): Promise<NodeImage> {
  for (let attempt = 1;; attempt++) {
    const current = await cluster.nodeImages.get(name, TEST_NAMESPACE);
    try {
      return await cluster.nodeImages.patchStatus(name, TEST_NAMESPACE, {
        metadata: { resourceVersion: current.metadata.resourceVersion },
        status,
      });
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= 50) throw error;
    }
  }
}

/** The location entry of a NodeImage's status. */
export function locationOf(
  image: NodeImage | undefined,
  location: string,
): LocationStatus | undefined {
  const list = (image?.status?.locations ?? []) as LocationStatus[];
  return list.find((l) => l.name === location);
}

/** The image name in `spec.name` for a NodeImage named `<provider>-<image>`. */
export function specName(objectName: string): string {
  return objectName.slice(objectName.indexOf("-") + 1);
}

export { TEST_NAMESPACE };
