/**
 * The image controller's reconcile (`image-nodeimage`, key `namespace/name`, NodeImages in all
 * namespaces): observe → `planImage` (pure) → start transfers → one status write, last.
 *
 * Guarantees:
 * - A reconcile never waits for a transfer: uploads run in the `TransferPool`; the reconcile
 *   starts them and reports what the pool says. It waits only for short platform calls: one
 *   listing per location when the cache is stale (shared by all images), the source lookup
 *   when a transfer is needed, and removals during deletion.
 * - The finalizer is on the object before any platform is touched.
 * - Deletion: transfers are cancelled (and cleaned up) first, then every location is
 *   `remove`d and `cleanupPartial`ed; the finalizer goes only when all succeeded. NodeImages
 *   naming the same provider and image (in other namespaces) share one catalog entry and one
 *   transfer: while another one that is not being deleted exists, deletion removes nothing and
 *   only lets go of the finalizer, with a Normal `StillInUse` Event naming the other. A provider
 *   that is not configured any more cannot be cleaned: the finalizer is removed and a Warning
 *   Event names what may remain where.
 * - Status writes carry a resourceVersion test and only the owned fields; progress-only changes
 *   (bytes) are written at most every `progressIntervalMs` per NodeImage, so watchers see
 *   progress without a write storm.
 * - Events (start, success, failure, missing source, removal) are recorded after the status
 *   write that reports them.
 */
import { type Clock, realClock } from "../clock.ts";
import { done, type ReconcileResult, requeueAfter } from "../controller/result.ts";
import { ResourceClient } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import { parseObjectKey } from "../kube/resource.ts";
import type { Store } from "../kube/store.ts";
import type { KubeTransport } from "../kube/transport.ts";
import { type Logger, silentLogger } from "../log.ts";
import { NODE_IMAGES, NodeImageState } from "../names.ts";
import type { ImageLayout } from "../provider_module.ts";
import { type NodeImage, nodeImageReference } from "../release/objects.ts";
import type { InventoryCache } from "./inventory.ts";
import {
  DEFAULT_TIMINGS,
  ImageEventReason,
  type ImageObservation,
  type ImagePlan,
  type InventoryView,
  planImage,
  type PlanTimings,
  type ProviderView,
  type SourceView,
} from "./plan.ts";
import {
  type ImageSource,
  type ImageSpec,
  type Provider,
  ProviderUnavailableError,
  SourceMissingError,
} from "./provider.ts";
import type { ProviderRegistry } from "./providers.ts";
import type { ImageSourceResolver } from "./source.ts";
import {
  formatTime,
  locationsOf,
  type LocationStatus,
  type OwnedStatus,
  statusDiff,
} from "./status.ts";
import type { TransferPool } from "./transfers.ts";
import {
  hasImageFinalizer,
  patchImageFinalizer,
  REFRESH_ANNOTATION,
  removeRefreshAnnotation,
  writeOwnedStatus,
} from "./writes.ts";

export interface ImageReconcilerOptions {
  transport: KubeTransport;
  /** Cache of NodeImages in all namespaces. */
  nodeImages: Store<NodeImage>;
  registry: ProviderRegistry;
  resolver: ImageSourceResolver;
  inventory: InventoryCache;
  pool: TransferPool;
  recorder: EventRecorder;
  timings?: Partial<PlanTimings>;
  /** Deadline for one location listing or removal; default 2 minutes. */
  platformCallTimeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** Some locations could not be cleaned up; the finalizer stays and the key is retried. */
export class ImageRemovalError extends Error {
  override name = "ImageRemovalError";
}

/** Distributes NodeImages to their provider's locations; hand `reconcile` to a `Controller`. */
export class ImageReconciler {
  readonly #options: ImageReconcilerOptions;
  readonly #client: ResourceClient<NodeImage>;
  readonly #timings: PlanTimings;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Clock time of the last progress-only status write, per key. */
  readonly #lastProgressWrite = new Map<string, number>();

  constructor(options: ImageReconcilerOptions) {
    this.#options = options;
    this.#client = new ResourceClient<NodeImage>(options.transport, NODE_IMAGES);
    this.#timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? silentLogger;
  }

  /** The `Reconciler` for a `Controller`. */
  reconcile = async (key: string, signal: AbortSignal): Promise<ReconcileResult> => {
    const image = this.#options.nodeImages.get(key);
    if (!image) {
      // Gone without our finalizer (or after it): nothing to clean, stop what still runs.
      await this.#options.pool.cancel(key, "the NodeImage no longer exists");
      this.#lastProgressWrite.delete(key);
      return done();
    }
    if (image.metadata.deletionTimestamp) return await this.#finalize(key, image, signal);
    const current = await patchImageFinalizer(this.#client, image, "add", signal);
    if (!current) return done();
    return await this.#distribute(key, current, signal);
  };

  async #distribute(key: string, image: NodeImage, signal: AbortSignal): Promise<ReconcileResult> {
    const spec = imageSpec(key, image);
    const handle = this.#options.registry.get(spec.provider);
    const provider = handle?.status.phase === "ready" ? handle.provider : undefined;
    // Held for this reconcile's platform calls: a credential rotation meanwhile closes the
    // old client only after them.
    const lease = provider ? this.#options.registry.acquire(provider) : undefined;
    try {
      return await this.#distributeWith(key, image, spec, provider, signal);
    } finally {
      lease?.release();
    }
  }

  async #distributeWith(
    key: string,
    image: NodeImage,
    spec: ImageSpec,
    provider: Provider | undefined,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const log = this.#log.with({ nodeImage: key });
    const handle = this.#options.registry.get(spec.provider);
    const refresh = image.metadata.annotations?.[REFRESH_ANNOTATION];
    const now = this.#clock.now();
    const observation: ImageObservation = {
      image,
      provider: providerView(handle),
      inventory: provider
        ? await this.#listings(provider, spec, refresh !== undefined ? now : undefined, signal)
        : new Map(),
      transfers: this.#options.pool.snapshot(key, spec),
      now,
    };
    let plan = planImage(observation, this.#timings);
    let source: ImageSource | undefined;
    if (plan.needsSource && provider && handle) {
      const found = await this.#lookUp(spec, handle.layout, signal);
      source = found.source;
      observation.source = found.view;
      plan = planImage(observation, this.#timings);
    }

    for (const { location, cleanupFirst } of plan.start) {
      this.#options.pool.start({
        objectKey: key,
        location,
        image: spec,
        provider: provider!,
        source: source!,
        cleanupFirst,
        // The transfer (and its cleanup) keeps the client open through a credential rotation.
        release: this.#options.registry.acquire(provider!).release,
      });
    }
    for (const location of plan.cleanup) {
      await this.#platformCall(signal, (s) => provider!.cleanupPartial(spec, location, s));
      this.#options.inventory.invalidate(spec.provider, location);
    }
    let current: NodeImage | undefined = image;
    // Only a ready provider was listed: while it is not, the request waits (the registry
    // enqueues the image when the provider changes state) instead of being lost.
    if (refresh !== undefined && provider) {
      current = await removeRefreshAnnotation(this.#client, image, refresh, signal);
      if (!current) return done();
      log.info("Refreshed every location against a fresh inventory");
    }

    const written = await this.#writeStatus(key, current, plan, observation, signal);
    if (written === "gone") return done();
    if (written === "deferred") {
      const wait = this.#timings.progressIntervalMs;
      return requeueAfter(Math.min(wait, plan.requeueAfterMs ?? wait));
    }
    for (const location of plan.acknowledge) this.#options.pool.acknowledge(key, location);
    const reference = nodeImageReference(current);
    for (const event of plan.events) {
      await this.#options.recorder.event(reference, event.type, event.reason, event.message);
    }
    if (plan.mode === "no-provider" && stateChanged(image, plan)) {
      await this.#options.recorder.event(
        reference,
        "Warning",
        ImageEventReason.ProviderNotConfigured,
        `Provider ${spec.provider} is not configured; ${spec.name} is not distributed`,
      );
    }
    return plan.requeueAfterMs !== undefined ? requeueAfter(plan.requeueAfterMs) : done();
  }

  /**
   * Writes the plan's status. A progress-only change within `progressIntervalMs` of the last
   * one is deferred. On conflict the status is planned again from the fresh object.
   */
  async #writeStatus(
    key: string,
    image: NodeImage,
    plan: ImagePlan,
    observation: ImageObservation,
    signal: AbortSignal,
  ): Promise<"written" | "unchanged" | "deferred" | "gone"> {
    const now = this.#clock.now();
    const diff = statusDiff(image, plan.status);
    if (!diff.changed) return "unchanged";
    const last = this.#lastProgressWrite.get(key);
    if (diff.progressOnly && last !== undefined && now - last < this.#timings.progressIntervalMs) {
      return "deferred";
    }
    const result = await writeOwnedStatus(this.#client, image, (fresh) => {
      if (fresh === image) return plan.status;
      const again = planImage({
        ...observation,
        image: fresh,
        transfers: this.#options.pool.snapshot(key, imageSpec(key, fresh)),
      }, this.#timings);
      return statusDiff(fresh, again.status).changed ? again.status : undefined;
    }, signal);
    if (!result) return "gone";
    this.#lastProgressWrite.set(key, now);
    return "written";
  }

  async #listings(
    provider: Provider,
    spec: ImageSpec,
    notBefore: number | undefined,
    signal: AbortSignal,
  ): Promise<Map<string, InventoryView>> {
    const locations = provider.locations();
    const views = await Promise.all(locations.map(async (location): Promise<InventoryView> => {
      try {
        const inventory = await this.#platformCall(
          signal,
          (s) => this.#options.inventory.get(provider, location, { signal: s, notBefore }),
        );
        return { ok: true, item: inventory.items.get(spec.name) };
      } catch (error) {
        signal.throwIfAborted();
        if (error instanceof ProviderUnavailableError) {
          this.#options.registry.reportUnavailable(provider.id, error);
        }
        return { ok: false, message: messageOf(error) };
      }
    }));
    return new Map(locations.map((location, i) => [location, views[i]]));
  }

  async #lookUp(
    spec: ImageSpec,
    layout: ImageLayout,
    signal: AbortSignal,
  ): Promise<{ source?: ImageSource; view: SourceView }> {
    try {
      const source = await this.#platformCall(
        signal,
        (s) => this.#options.resolver.resolve(spec, layout, s),
      );
      return { source, view: { ok: true, size: source.size, key: source.key } };
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof SourceMissingError) {
        return { view: { ok: false, missing: true, message: error.message } };
      }
      return {
        view: { ok: false, missing: false, message: `cannot read source: ${messageOf(error)}` },
      };
    }
  }

  async #finalize(key: string, image: NodeImage, signal: AbortSignal): Promise<ReconcileResult> {
    const log = this.#log.with({ nodeImage: key });
    await this.#options.pool.cancel(key);
    this.#lastProgressWrite.delete(key);
    if (!hasImageFinalizer(image)) return done();
    const spec = imageSpec(key, image);
    const reference = nodeImageReference(image);
    const user = this.#otherUser(key, spec);
    if (user) {
      // The same catalog entry serves another NodeImage (another namespace): removing it, or
      // "cleaning up" what that one is uploading, would break the image it reports Available.
      await this.#options.recorder.event(
        reference,
        "Normal",
        ImageEventReason.StillInUse,
        `${spec.name} was not removed from ${spec.provider}: it is still used by NodeImage ` +
          `${user}`,
        "Finalize",
      );
      log.info("Image still used by another NodeImage; removing the finalizer only", { user });
      await patchImageFinalizer(this.#client, image, "remove", signal);
      return done();
    }
    const handle = this.#options.registry.get(spec.provider);
    // No client at all (not configured, or none can be built from its config): nothing can
    // be removed, and waiting would keep the NodeImage (and its namespace) terminating forever.
    if (!handle?.provider) {
      const known = locationsOf(image).map((l) => l.name);
      const where = known.length
        ? `locations ${known.join(", ")}`
        : "its locations (unknown: none were recorded in status)";
      const why = handle
        ? `has no usable client (${handle.status.message ?? handle.status.phase})`
        : "is not configured";
      await this.#options.recorder.event(
        reference,
        "Warning",
        ImageEventReason.ProviderNotConfigured,
        `Provider ${spec.provider} ${why}, so ${spec.name} was not removed; it may ` +
          `remain in the ${spec.provider} catalog in ${where}`,
        "Finalize",
      );
      log.warn("No client for the provider; removing the finalizer without cleanup", {
        provider: spec.provider,
        reason: why,
      });
      await patchImageFinalizer(this.#client, image, "remove", signal);
      return done();
    }
    const provider = handle.status.phase === "ready" ? handle.provider : undefined;
    if (!provider) {
      const message = `provider ${spec.provider} not reachable: ${
        handle.status.message ?? handle.status.phase
      }`;
      await this.#writeDeletionStatus(image, [], message, signal);
      return requeueAfter(this.#timings.errorRetryMs);
    }
    const lease = this.#options.registry.acquire(provider);
    try {
      return await this.#removeEverywhere(key, image, spec, provider, signal);
    } finally {
      lease.release();
    }
  }

  /** Removes the image (and any partial artefact) from every location; then the finalizer. */
  async #removeEverywhere(
    key: string,
    image: NodeImage,
    spec: ImageSpec,
    provider: Provider,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const log = this.#log.with({ nodeImage: key });
    const reference = nodeImageReference(image);
    const locations = provider.locations();
    const outcomes = await Promise.all(locations.map(async (location) => {
      try {
        await this.#platformCall(signal, (s) => provider.remove(spec, location, s));
        await this.#platformCall(signal, (s) => provider.cleanupPartial(spec, location, s));
        return undefined;
      } catch (error) {
        signal.throwIfAborted();
        if (error instanceof ProviderUnavailableError) {
          this.#options.registry.reportUnavailable(provider.id, error);
        }
        return messageOf(error);
      } finally {
        this.#options.inventory.invalidate(provider.id, location);
      }
    }));
    const failed = locations.flatMap((l, i) => outcomes[i] ? [`${l}: ${outcomes[i]}`] : []);
    if (failed.length > 0) {
      const now = formatTime(this.#clock.now());
      const entries: LocationStatus[] = locations.map((name, i) => ({
        name,
        state: outcomes[i] ? NodeImageState.Error : NodeImageState.Deleted,
        lastTransitionTime: now,
        ...(outcomes[i] ? { message: `remove failed: ${outcomes[i]}` } : {}),
      }));
      await this.#writeDeletionStatus(image, entries, failed.join("; "), signal);
      await this.#options.recorder.event(
        reference,
        "Warning",
        ImageEventReason.RemoveFailed,
        `Cannot remove ${spec.name}: ${failed.join("; ")}`,
        "Finalize",
      );
      throw new ImageRemovalError(
        `Cannot remove NodeImage "${key}" (${spec.name}) from ${failed.length} of ` +
          `${locations.length} locations: ${failed.join("; ")}`,
      );
    }
    await this.#options.recorder.event(
      reference,
      "Normal",
      ImageEventReason.Removed,
      `Removed ${spec.name} from ${
        locations.length ? `locations ${locations.join(", ")}` : "no locations"
      }`,
      "Finalize",
    );
    log.info("Removed from every location; removing the finalizer");
    await patchImageFinalizer(this.#client, image, "remove", signal);
    return done();
  }

  async #writeDeletionStatus(
    image: NodeImage,
    locations: LocationStatus[],
    message: string,
    signal: AbortSignal,
  ): Promise<void> {
    const status: OwnedStatus = {
      state: NodeImageState.Error,
      conditions: [{
        type: "Ready",
        status: "False",
        reason: "DeletionFailed",
        message: message.slice(0, 32_000),
        lastTransitionTime: formatTime(this.#clock.now()),
      }],
      locations: locations.length ? locations : locationsOf(image),
      ready: `0/${locations.length}`,
      releaseCount: image.status?.releases?.length ?? 0,
    };
    await writeOwnedStatus(this.#client, image, () => status, signal);
  }

  /** Another NodeImage, not being deleted, with the same provider and image name, if any. */
  #otherUser(key: string, spec: ImageSpec): string | undefined {
    for (const other of this.#options.nodeImages.list()) {
      const otherKey = `${other.metadata.namespace}/${other.metadata.name}`;
      if (otherKey === key || other.metadata.deletionTimestamp) continue;
      if (other.spec?.provider === spec.provider && other.spec?.name === spec.name) {
        return otherKey;
      }
    }
    return undefined;
  }

  /** Runs one short platform call with its own deadline, on top of the reconcile's signal. */
  async #platformCall<T>(
    signal: AbortSignal,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const deadline = new AbortController();
    const timeoutMs = this.#options.platformCallTimeoutMs ?? 120_000;
    const timer = this.#clock.setTimer(
      timeoutMs,
      () => deadline.abort(new Error(`platform call exceeded ${Math.round(timeoutMs / 1000)}s`)),
    );
    try {
      return await call(AbortSignal.any([signal, deadline.signal]));
    } finally {
      timer.cancel();
    }
  }
}

/** The provider as the planner sees it. */
export function providerView(
  handle: ReturnType<ProviderRegistry["get"]>,
): ProviderView {
  if (!handle) return { phase: "not-configured" };
  const locations = handle.locations;
  if (handle.status.phase === "ready") return { phase: "ready", locations };
  return { phase: handle.status.phase, message: handle.status.message, locations };
}

function imageSpec(key: string, image: NodeImage): ImageSpec {
  const { namespace, name } = parseObjectKey(key);
  return {
    name: image.spec?.name ?? "",
    provider: image.spec?.provider ?? "",
    objectKey: `${namespace}/${name}`,
  };
}

function stateChanged(image: NodeImage, plan: ImagePlan): boolean {
  return plan.status.state !== undefined && image.status?.state !== plan.status.state;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
