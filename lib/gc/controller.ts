/**
 * The NodeImage garbage collector's reconcile: plan with `planGc` (pure), then mark, wait or
 * delete. Keys are `namespace/name` of NodeImages in the operator's namespace.
 *
 * Guarantees:
 * - Time comes from the injected `Clock`, so tests step a fake clock instead of waiting.
 * - A mark is a conditional write and a delete carries uid and resourceVersion preconditions;
 *   a Conflict means the image changed (perhaps re-adopted), so it is read again from the API
 *   server and planned again (§11.5), by one `retryOnConflict` around the whole plan-and-act
 *   pass (no retry loop inside it). After a bounded number of rounds the key is retried with
 *   backoff.
 * - An unused image waits with `requeueAfter` (never a sleep), and is looked at again at once
 *   whenever it changes.
 */
import type { Clock } from "../clock.ts";
import { realClock } from "../clock.ts";
import { done, type ReconcileResult, requeueAfter } from "../controller/result.ts";
import { formatGoDuration } from "../duration.ts";
import { ResourceClient } from "../kube/client.ts";
import { unlessNotFound } from "../kube/errors.ts";
import { retryOnConflict } from "../kube/retry_on_conflict.ts";
import type { EventRecorder } from "../kube/events.ts";
import { type NodeImage, nodeImageReference, stateOf } from "../release/objects.ts";
import { parseObjectKey } from "../kube/resource.ts";
import type { StoreReader } from "../kube/store_view.ts";
import type { KubeTransport } from "../kube/transport.ts";
import { type Logger, silentLogger } from "../log.ts";
import { NODE_IMAGES, NodeImageState } from "../names.ts";
import { applyNodeImageWrites } from "../release/node_image_writes.ts";
import { formatLastUsed } from "./last_used.ts";
import { type GcPlan, planGc } from "./plan.ts";

/** Event reasons on NodeImages. */
export const GcEventReason = {
  /** No Release uses the image; it waits out the retention period. */
  Orphaned: "Orphaned",
  /** The retention period of an unused image has passed. */
  Expired: "Expired",
  /** The collector deleted the image. */
  Deleted: "Deleted",
} as const;

/** Plan-and-act rounds per reconcile before handing the key back for backoff. */
const ROUNDS = 8;

export interface NodeImageGcOptions {
  transport: KubeTransport;
  /** Cache of NodeImages in the operator's namespace. */
  nodeImages: StoreReader<NodeImage>;
  /** `--image-retention-period` in milliseconds; 0 deletes unused images at once. */
  retentionMs: number;
  recorder: EventRecorder;
  clock?: Clock;
  log?: Logger;
}

/** Collects unused NodeImages; hand `reconcile` to a `Controller`. */
export class NodeImageGarbageCollector {
  #options: NodeImageGcOptions;
  readonly #client: ResourceClient<NodeImage>;
  readonly #clock: Clock;
  readonly #log: Logger;

  constructor(options: NodeImageGcOptions) {
    this.#options = options;
    this.#client = new ResourceClient<NodeImage>(options.transport, NODE_IMAGES);
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? silentLogger;
  }

  /** Replaces the retention period after a config reload. */
  setRetention(retentionMs: number): void {
    this.#options = { ...this.#options, retentionMs };
  }

  /** The `Reconciler` for a `Controller`: key = `namespace/name`. */
  reconcile = async (key: string, signal: AbortSignal): Promise<ReconcileResult> => {
    const image = this.#options.nodeImages.get(key);
    if (!image) return done();
    const { namespace, name } = parseObjectKey(key);
    const log = this.#log.with({ nodeImage: key });
    const result = await unlessNotFound(retryOnConflict(
      (s) => this.#client.get(name, namespace, s),
      (current) => this.#collect(current, log, signal),
      { start: image, attempts: ROUNDS, action: `collect NodeImage "${key}"`, signal },
    ));
    return result ?? done();
  };

  /** One pass over `image`: plan, then mark, wait or delete. A Conflict ends the pass. */
  async #collect(image: NodeImage, log: Logger, signal: AbortSignal): Promise<ReconcileResult> {
    const now = this.#clock.now();
    const plan = planGc(image, now, this.#options.retentionMs);
    switch (plan.action) {
      case "None":
        return done();
      case "Wait":
        return requeueAfter(plan.requeueAfterMs);
      case "MarkAwaitingDeletion": {
        const marked = await applyNodeImageWrites(this.#client, image, plan.writes, signal);
        await this.#reportOrphaned(image, marked, plan, log);
        // A marked image plans to Wait or Delete, never to be marked again: act on it at once.
        return await this.#collect(marked, log, signal);
      }
      case "Delete": {
        const { name, namespace } = image.metadata;
        await this.#client.delete(name!, namespace, { ...plan.preconditions, signal });
        await this.#deleted(image, plan, log);
        return done();
      }
    }
  }

  /** The Orphaned Event, when the mark moved `image` into AwaitingDeletion. */
  async #reportOrphaned(
    image: NodeImage,
    marked: NodeImage,
    plan: Extract<GcPlan, { action: "MarkAwaitingDeletion" }>,
    log: Logger,
  ): Promise<void> {
    const wasAwaiting = stateOf(image) === NodeImageState.AwaitingDeletion;
    if (wasAwaiting || stateOf(marked) !== NodeImageState.AwaitingDeletion) return;
    const at = formatLastUsed(plan.expiresAtMs);
    log.info("NodeImage unused; awaiting deletion", { deleteAt: at });
    await this.#options.recorder.event(
      nodeImageReference(marked),
      "Normal",
      GcEventReason.Orphaned,
      `No Release uses this image; it will be deleted at ${at} (retention ` +
        `${formatGoDuration(this.#options.retentionMs)}) unless a Release uses it again`,
      "AwaitDeletion",
    );
  }

  async #deleted(
    image: NodeImage,
    plan: Extract<GcPlan, { action: "Delete" }>,
    log: Logger,
  ): Promise<void> {
    const { recorder, retentionMs } = this.#options;
    const reference = nodeImageReference(image);
    log.info("Deleted unused NodeImage", { reason: plan.reason });
    if (plan.reason === "Expired") {
      await recorder.event(
        reference,
        "Normal",
        GcEventReason.Expired,
        `Unused since ${formatLastUsed(plan.lastUsedMs!)}; the retention period of ` +
          `${formatGoDuration(retentionMs)} has passed`,
        "Delete",
      );
    }
    await recorder.event(
      reference,
      "Normal",
      GcEventReason.Deleted,
      plan.reason === "Expired"
        ? "Deleted: no Release used it during the retention period"
        : "Deleted: no Release uses it and the retention period is 0",
      "Delete",
    );
  }
}
