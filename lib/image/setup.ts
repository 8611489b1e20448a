/**
 * Registers the image controller (`image-nodeimage`) on the manager, with its transfer pool and
 * inventory cache. `main.ts` builds the `ProviderRegistry` (with the platform factories from
 * `providers/`) and the `ImageSourceResolver` (S3), and passes them in.
 *
 * Wiring:
 * - NodeImages are watched in all namespaces, like the Go operator (§3).
 * - A settled transfer, or a newly known partial-artefact reference, enqueues its NodeImage.
 * - A provider state change enqueues every NodeImage of that provider, so a provider coming
 *   back is used at once instead of after the next requeue.
 * - `/readyz` lists each provider (`provider-<id>`, informational).
 * - When the controller stops (shutdown, lost leadership), running transfers are cancelled and
 *   their partial artefacts removed before `run` resolves.
 */
import type { Clock } from "../clock.ts";
import { Controller } from "../controller/controller.ts";
import { EventRecorder } from "../kube/events.ts";
import { IMAGE_CONTROLLER_NAME, NODE_IMAGES } from "../names.ts";
import type { SetupContext } from "../operator.ts";
import type { NodeImage } from "../release/objects.ts";
import { ImageReconciler } from "./controller.ts";
import { InventoryCache } from "./inventory.ts";
import { DEFAULT_TIMINGS, type PlanTimings } from "./plan.ts";
import type { ProviderRegistry } from "./providers.ts";
import type { ImageSourceResolver } from "./source.ts";
import { TransferPool } from "./transfers.ts";

export interface ImageControllerOptions {
  registry: ProviderRegistry;
  resolver: ImageSourceResolver;
  /** `--max-concurrent-transfers`, default 4. */
  maxConcurrentTransfers?: number;
  /** `--transfer-timeout` in ms, default 2 h. */
  transferTimeoutMs?: number;
  /** `--inventory-resync` in ms, default 10 min. */
  inventoryResyncMs?: number;
  /** Reconcile workers, default 4 (transfers do not occupy them). */
  workers?: number;
  /** Deadline for cleaning up partial artefacts after a cancel (shutdown); default 5 s. */
  shutdownCleanupMs?: number;
  /** Planner timings other than the resync (tests, bench). */
  timings?: Partial<PlanTimings>;
  clock?: Clock;
}

/** What `setupImageController` built; the controller is already on the manager. */
export interface ImageController {
  controller: Controller;
  reconciler: ImageReconciler;
  pool: TransferPool;
  inventory: InventoryCache;
}

/** Adds the image controller to `ctx.manager`. */
export function setupImageController(
  ctx: SetupContext,
  options: ImageControllerOptions,
): ImageController {
  const resyncMs = options.inventoryResyncMs ?? 10 * 60_000;
  const log = ctx.log.with({ controller: IMAGE_CONTROLLER_NAME });
  const nodeImages = ctx.manager.informer<NodeImage>(NODE_IMAGES);
  const inventory = new InventoryCache({
    resyncMs,
    // A failed listing is tried again when the planner retries errors, not on every write.
    failureRetryMs: options.timings?.errorRetryMs ?? DEFAULT_TIMINGS.errorRetryMs,
    clock: options.clock,
  });
  // The pool and the registry enqueue into the controller, which is built after them.
  const holder: { controller?: Controller } = {};
  const enqueue = (key: string) => holder.controller?.enqueue(key);
  const pool = new TransferPool({
    maxConcurrent: options.maxConcurrentTransfers ?? 4,
    timeoutMs: options.transferTimeoutMs ?? 2 * 3_600_000,
    shutdownCleanupMs: options.shutdownCleanupMs ?? 5_000,
    onSettled: enqueue,
    onProgress: enqueue,
    onLocationChanged: (provider, location) => inventory.invalidate(provider, location),
    clock: options.clock,
    log,
  });
  const recorder = new EventRecorder({
    transport: ctx.transport,
    reportingInstance: ctx.identity,
    clock: options.clock,
    log: ctx.log,
  });
  const reconciler = new ImageReconciler({
    transport: ctx.transport,
    nodeImages: nodeImages.store,
    registry: options.registry,
    resolver: options.resolver,
    inventory,
    pool,
    recorder,
    timings: { ...options.timings, resyncMs },
    clock: options.clock,
    log,
  });
  const controller = new ImageNodeController(pool, inventory, {
    name: IMAGE_CONTROLLER_NAME,
    reconcile: reconciler.reconcile,
    watches: [{ informer: nodeImages }],
    workers: options.workers ?? 4,
    clock: options.clock,
    log: ctx.log,
    metrics: ctx.controllerMetrics,
    queueMetrics: ctx.queueMetrics(IMAGE_CONTROLLER_NAME),
  });
  holder.controller = controller;
  options.registry.onChange((providerId) => {
    // A provider that changed state (came back, got new credentials) is listed again at once.
    inventory.forgetFailures(providerId);
    for (const image of nodeImages.store.list()) {
      if (image.spec?.provider === providerId) {
        enqueue(`${image.metadata.namespace}/${image.metadata.name}`);
      }
    }
  });
  options.registry.attachReadiness(ctx.readiness);
  ctx.log.info("Image controller configured", {
    maxConcurrentTransfers: options.maxConcurrentTransfers ?? 4,
    transferTimeoutMs: options.transferTimeoutMs ?? 2 * 3_600_000,
    inventoryResyncMs: resyncMs,
    providers: options.registry.statuses().map((s) => s.id),
  });
  ctx.manager.addController(controller);
  return { controller, reconciler, pool, inventory };
}

/** A `Controller` that cancels and cleans up its transfers when it stops. */
class ImageNodeController extends Controller {
  readonly #pool: TransferPool;
  readonly #inventory: InventoryCache;

  constructor(
    pool: TransferPool,
    inventory: InventoryCache,
    options: ConstructorParameters<typeof Controller>[0],
  ) {
    super(options);
    this.#pool = pool;
    this.#inventory = inventory;
  }

  override async run(signal: AbortSignal): Promise<void> {
    try {
      await super.run(signal);
    } finally {
      await this.#pool.shutdown();
      this.#inventory.close();
    }
  }
}
