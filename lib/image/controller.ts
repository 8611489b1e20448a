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
 * - Deletion is planned too (`planImageDeletion`) and carried out by `ImageDeletion`
 *   (deletion.ts): transfers cancelled first, then every location cleaned; the finalizer goes
 *   only when all succeeded, when another NodeImage still uses the image, or when no client
 *   for the provider can exist (see plan_deletion.ts).
 * - Status writes carry a resourceVersion test and only the owned fields; progress-only changes
 *   (bytes) are written at most every `progressIntervalMs` per NodeImage, so watchers see
 *   progress without a write storm.
 * - Events (start, success, failure, missing source, removal) are recorded after the write
 *   that reports them.
 */
import { type Clock, realClock } from "../clock.ts";
import { done, type ReconcileResult, requeueAfter } from "../controller/result.ts";
import { ResourceClient } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import { parseObjectKey } from "../kube/resource.ts";
import type { Store } from "../kube/store.ts";
import type { KubeTransport } from "../kube/transport.ts";
import { type Logger, silentLogger } from "../log.ts";
import { NODE_IMAGES } from "../names.ts";
import type { ImageLayout } from "../provider_module.ts";
import { type NodeImage, nodeImageReference } from "../release/objects.ts";
import { ImageDeletion } from "./deletion.ts";
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
import { platformCall } from "./platform_call.ts";
import { statusDiff } from "./status.ts";
import type { TransferPool } from "./transfers.ts";
import {
  patchImageFinalizer,
  REFRESH_ANNOTATION,
  removeRefreshAnnotation,
  writeOwnedStatus,
} from "./writes.ts";
import { errorMessage } from "../redact.ts";

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

/** Distributes NodeImages to their provider's locations; hand `reconcile` to a `Controller`. */
export class ImageReconciler {
  readonly #options: ImageReconcilerOptions;
  readonly #client: ResourceClient<NodeImage>;
  readonly #timings: PlanTimings;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #deletion: ImageDeletion;
  /** Clock time of the last progress-only status write, per key. */
  readonly #lastProgressWrite = new Map<string, number>();

  constructor(options: ImageReconcilerOptions) {
    this.#options = options;
    this.#client = new ResourceClient<NodeImage>(options.transport, NODE_IMAGES);
    this.#timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? silentLogger;
    this.#deletion = new ImageDeletion({
      client: this.#client,
      nodeImages: options.nodeImages,
      registry: options.registry,
      inventory: options.inventory,
      pool: options.pool,
      recorder: options.recorder,
      timings: this.#timings,
      platformCallTimeoutMs: options.platformCallTimeoutMs ?? 120_000,
      clock: this.#clock,
      log: this.#log,
    });
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
    if (image.metadata.deletionTimestamp) {
      this.#lastProgressWrite.delete(key);
      return await this.#deletion.finalize(key, image, imageSpec(key, image), signal);
    }
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
        return { ok: false, message: errorMessage(error) };
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
        view: { ok: false, missing: false, message: `cannot read source: ${errorMessage(error)}` },
      };
    }
  }

  /** Runs one short platform call with its own deadline, on top of the reconcile's signal. */
  #platformCall<T>(signal: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeoutMs = this.#options.platformCallTimeoutMs ?? 120_000;
    return platformCall(call, { signal, timeoutMs, clock: this.#clock });
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
