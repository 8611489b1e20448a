/**
 * The image controller's deletion executor: observe → `planImageDeletion` (pure) → remove
 * where the plan says → plan again with the outcomes → one write → Events.
 *
 * Guarantees:
 * - Transfers for the NodeImage are cancelled (and cleaned up) before anything is observed,
 *   whatever the plan: nothing keeps uploading for an object being deleted. Transfers other
 *   NodeImages still observe keep running.
 * - Only the plan decides; this file makes the platform calls and the writes it asks for.
 * - One write per pass: the status (while the finalizer stays) or the finalizer's removal
 *   (cleanup done or impossible), never both; the Events after it. A status write that meets
 *   a conflict is planned again from the fresh object, and is skipped when nothing changed.
 * - Removals hold a lease on the provider, so a credential rotation meanwhile closes the old
 *   client only after them; each has its own deadline.
 */
import type { Clock } from "../clock.ts";
import { done, type ReconcileResult, requeueAfter } from "../controller/result.ts";
import type { ResourceClient } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { Store } from "../kube/store.ts";
import type { Logger } from "../log.ts";
import { type NodeImage, nodeImageReference } from "../release/objects.ts";
import type { InventoryCache } from "./inventory.ts";
import type { PlanTimings } from "./plan.ts";
import {
  type DeletionObservation,
  type DeletionPlan,
  deletionProviderView,
  planImageDeletion,
  type RemovalOutcome,
} from "./plan_deletion.ts";
import { platformCall } from "./platform_call.ts";
import { type ImageSpec, type Provider, ProviderUnavailableError } from "./provider.ts";
import type { ProviderRegistry } from "./providers.ts";
import { statusDiff } from "./status.ts";
import type { TransferPool } from "./transfers.ts";
import { patchImageFinalizer, writeOwnedStatus } from "./writes.ts";
import { errorMessage } from "../redact.ts";

export interface ImageDeletionOptions {
  client: ResourceClient<NodeImage>;
  /** Cache of NodeImages in all namespaces (for other users of the same image). */
  nodeImages: Store<NodeImage>;
  registry: ProviderRegistry;
  inventory: InventoryCache;
  pool: TransferPool;
  recorder: EventRecorder;
  timings: PlanTimings;
  /** Deadline for one removal. */
  platformCallTimeoutMs: number;
  clock: Clock;
  log: Logger;
}

/** Some locations could not be cleaned up; the finalizer stays and the key is retried. */
export class ImageRemovalError extends Error {
  override name = "ImageRemovalError";
}

/** Finalizes NodeImages being deleted; the image controller calls `finalize`. */
export class ImageDeletion {
  readonly #options: ImageDeletionOptions;

  constructor(options: ImageDeletionOptions) {
    this.#options = options;
  }

  /**
   * One deletion pass over `image` (which has a `deletionTimestamp`).
   * @throws {ImageRemovalError} when a location could not be cleaned up (after the status
   *   write and the Events that report it).
   */
  async finalize(
    key: string,
    image: NodeImage,
    spec: ImageSpec,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const { pool, registry, clock, timings } = this.#options;
    await pool.cancel(key);
    const handle = registry.get(spec.provider);
    const observation: DeletionObservation = {
      image,
      provider: deletionProviderView(handle),
      otherUser: this.#otherUser(key, spec),
      now: clock.now(),
    };
    let plan = planImageDeletion(observation, timings);
    if (plan.remove.length > 0) {
      const provider = handle?.provider;
      // Unreachable: only a ready provider's locations are planned for removal.
      if (!provider) throw new Error(`Cannot remove NodeImage "${key}": no provider client`);
      const lease = registry.acquire(provider);
      try {
        observation.removals = await this.#remove(provider, spec, plan.remove, signal);
      } finally {
        lease.release();
      }
      observation.now = clock.now();
      plan = planImageDeletion(observation, timings);
    }
    return await this.#execute(key, observation, plan, signal);
  }

  async #execute(
    key: string,
    observation: DeletionObservation,
    plan: DeletionPlan,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const { client, recorder, timings } = this.#options;
    const { image } = observation;
    if (plan.kind === "not-ours") return done();
    const log = this.#options.log.with({ nodeImage: key });
    if (plan.status) {
      // Planned from the object it is written over: the first attempt's is `plan.status`.
      const written = await writeOwnedStatus(client, image, (current) => {
        const status = planImageDeletion({ ...observation, image: current }, timings).status;
        return status && statusDiff(current, status).changed ? status : undefined;
      }, signal);
      if (!written) return done();
    } else if (plan.removeFinalizer) {
      await patchImageFinalizer(client, image, "remove", signal);
    }
    // A failure is logged with the thrown error, by the controller.
    if (!plan.failure) log[plan.kind === "no-client" ? "warn" : "info"](plan.summary);
    const reference = nodeImageReference(image);
    for (const event of plan.events) {
      await recorder.event(reference, event.type, event.reason, event.message, "Finalize");
    }
    if (plan.failure) throw new ImageRemovalError(plan.failure);
    return plan.requeueAfterMs !== undefined ? requeueAfter(plan.requeueAfterMs) : done();
  }

  /** Removes the image and any partial artefact from each location, all at once. */
  async #remove(
    provider: Provider,
    spec: ImageSpec,
    locations: string[],
    signal: AbortSignal,
  ): Promise<Map<string, RemovalOutcome>> {
    const { clock, inventory, registry, platformCallTimeoutMs: timeoutMs } = this.#options;
    const call = { signal, timeoutMs, clock };
    const outcomes = await Promise.all(locations.map(async (location): Promise<RemovalOutcome> => {
      try {
        await platformCall((s) => provider.remove(spec, location, s), call);
        await platformCall((s) => provider.cleanupPartial(spec, location, s), call);
        return { ok: true };
      } catch (error) {
        signal.throwIfAborted();
        if (error instanceof ProviderUnavailableError) {
          registry.reportUnavailable(provider.id, error);
        }
        return { ok: false, message: errorMessage(error) };
      } finally {
        inventory.invalidate(provider.id, location);
      }
    }));
    return new Map(locations.map((location, i) => [location, outcomes[i]]));
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
}
