/**
 * Registers the release controller and the NodeImage garbage collector on the manager.
 *
 * - `release` (key: Release name) watches Releases, and NodeImages in `--namespace` mapped to
 *   the Releases they list (before and after the change) and to those waiting for them to
 *   finish terminating, so a NodeImage deleted or edited by hand while still in use is put
 *   right at once, without the Go operator's 5-minute requeue.
 * - `nodeimage-gc` (key: `namespace/name`) watches NodeImages in `--namespace` and owns every
 *   decision to mark or delete one.
 * Both share one NodeImage cache, the cluster-wide one the image controller uses too (viewed
 * through `--namespace`), and one Event recorder.
 */
import type { Clock } from "../clock.ts";
import { Controller } from "../controller/controller.ts";
import type { OperatorConfig } from "../config/mod.ts";
import { NodeImageGarbageCollector } from "../gc/controller.ts";
import { EventRecorder } from "../kube/events.ts";
import type { Change } from "../kube/store.ts";
import { namespaceView } from "../kube/store_view.ts";
import { objectKey } from "../kube/resource.ts";
import { NODE_IMAGES, RELEASE_CONTROLLER_NAME, RELEASES } from "../names.ts";
import type { SetupContext } from "../operator.ts";
import { ReleaseReconciler } from "./controller.ts";
import { validateFlatcarChannel } from "./derive.ts";
import type { ReleaseNaming } from "./naming.ts";
import { type NodeImage, type Release, releasesOf } from "./objects.ts";
import { NodeImageAwaits } from "./awaits.ts";
import { NamespaceGate } from "./namespace_gate.ts";
import { realClock } from "../clock.ts";

/** Controller name of the NodeImage garbage collector (metrics label, logs). */
export const NODE_IMAGE_GC_CONTROLLER_NAME = "nodeimage-gc";

export interface ReleaseControllersOptions {
  /** Decides which providers' Releases are ours. */
  config: OperatorConfig;
  /** Where NodeImages live (`--namespace`, default `giantswarm`). */
  namespace: string;
  /** `--flatcar-channel` (default `stable`). */
  flatcarChannel: string;
  /** Release prefixes and image layouts of the provider modules (`releaseNaming(modules)`). */
  naming: ReleaseNaming;
  /** `--image-retention-period` in milliseconds (0: delete unused images at once). */
  retentionMs: number;
  /** Time for the retention period and for requeues; the wall clock by default. */
  clock?: Clock;
  /** Workers of the release controller (default 4; one key never runs twice at once). */
  releaseWorkers?: number;
  /** Workers of the garbage collector (default 2). */
  gcWorkers?: number;
}

/** The two controllers, already added to `ctx.manager`. */
export interface ReleaseControllers {
  release: Controller;
  gc: Controller;
  /**
   * Applies a reloaded configuration: the configured providers and the retention period. Every
   * Release (or NodeImage) is reconciled again when what decides its fate changed.
   */
  applyConfig(config: OperatorConfig): void;
}

/**
 * Adds the release controller and the NodeImage garbage collector to `ctx.manager`.
 * @throws {RangeError} when `flatcarChannel` is not lower-case letters, or `retentionMs` is
 *   negative or not finite.
 */
export function setupReleaseControllers(
  ctx: SetupContext,
  options: ReleaseControllersOptions,
): ReleaseControllers {
  const channel = validateFlatcarChannel(options.flatcarChannel);
  if (!(options.retentionMs >= 0) || !Number.isFinite(options.retentionMs)) {
    throw new RangeError(
      `Invalid image retention period ${options.retentionMs} ms: expected a finite value >= 0`,
    );
  }
  const configuredProviders = options.config.configuredProviderIds();
  const releases = ctx.manager.informer<Release>(RELEASES);
  // The image controller's cluster-wide informer, viewed through the operator's namespace: a
  // second, namespaced informer would cache every NodeImage twice (README, "Memory").
  const nodeImages = ctx.manager.informer<NodeImage>(NODE_IMAGES);
  const ownNodeImages = namespaceView(nodeImages.store, options.namespace);
  const inNamespace = (image: NodeImage) => image.metadata.namespace === options.namespace;
  const recorder = new EventRecorder({
    transport: ctx.transport,
    reportingInstance: ctx.identity,
    clock: options.clock,
    log: ctx.log,
  });
  ctx.log.info("Release controller configured", {
    namespace: options.namespace,
    flatcarChannel: channel,
    providers: configuredProviders,
    retentionMs: options.retentionMs,
  });

  const awaits = new NodeImageAwaits();
  const namespaceGate = new NamespaceGate(options.namespace, options.clock ?? realClock);
  ctx.readiness.addCheck("nodeimage-namespace", namespaceGate.check);
  const reconciler = new ReleaseReconciler({
    transport: ctx.transport,
    releases: releases.store,
    nodeImages: ownNodeImages,
    namespace: options.namespace,
    configuredProviders,
    channel,
    naming: options.naming,
    recorder,
    awaits,
    namespaceGate,
    log: ctx.log.with({ controller: RELEASE_CONTROLLER_NAME }),
  });
  const release = new Controller({
    name: RELEASE_CONTROLLER_NAME,
    reconcile: reconciler.reconcile,
    watches: [
      { informer: releases },
      {
        informer: nodeImages,
        // Listed Releases, and those waiting for it to go (a terminating image lists none).
        map: (image, change) =>
          inNamespace(image)
            ? [...releasesListedBy(image, change), ...awaits.releasesAwaiting(image.metadata.name!)]
            : [],
      },
    ],
    workers: options.releaseWorkers ?? 4,
    clock: options.clock,
    log: ctx.log,
    metrics: ctx.controllerMetrics,
    queueMetrics: ctx.queueMetrics(RELEASE_CONTROLLER_NAME),
  });

  const collector = new NodeImageGarbageCollector({
    transport: ctx.transport,
    nodeImages: ownNodeImages,
    retentionMs: options.retentionMs,
    recorder,
    clock: options.clock,
    log: ctx.log.with({ controller: NODE_IMAGE_GC_CONTROLLER_NAME }),
  });
  const gc = new Controller({
    name: NODE_IMAGE_GC_CONTROLLER_NAME,
    reconcile: collector.reconcile,
    watches: [{
      informer: nodeImages,
      map: (image) => inNamespace(image) ? [objectKey(image)] : [],
    }],
    workers: options.gcWorkers ?? 2,
    clock: options.clock,
    log: ctx.log,
    metrics: ctx.controllerMetrics,
    queueMetrics: ctx.queueMetrics(NODE_IMAGE_GC_CONTROLLER_NAME),
  });

  namespaceGate.onOpen = (waiting) => {
    for (const name of waiting) release.enqueue(name);
  };
  ctx.manager.addController(release);
  ctx.manager.addController(gc);

  let current = { providers: configuredProviders.join(","), retentionMs: options.retentionMs };
  const applyConfig = (config: OperatorConfig) => {
    const providers = config.configuredProviderIds();
    if (providers.join(",") !== current.providers) {
      reconciler.setConfiguredProviders(providers);
      for (const key of releases.store.keys()) release.enqueue(key);
    }
    if (config.retentionMs !== current.retentionMs) {
      collector.setRetention(config.retentionMs);
      for (const key of ownNodeImages.keys()) gc.enqueue(key);
    }
    current = { providers: providers.join(","), retentionMs: config.retentionMs };
  };
  return { release, gc, applyConfig };
}

/** Release names a NodeImage change concerns: those listed before and after it. */
export function releasesListedBy(image: NodeImage, change: Change<NodeImage>): string[] {
  const names = new Set(releasesOf(image));
  if (change.old) { for (const name of releasesOf(change.old)) names.add(name); }
  return [...names];
}
