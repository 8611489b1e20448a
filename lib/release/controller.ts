/**
 * The release controller's reconcile: observe (caches, plus a read where the cache may lag),
 * plan (`planRelease`, pure), execute the actions in order. Keys are Release names.
 *
 * Guarantees:
 * - Level-triggered: every call re-reads the state; a no-op reconcile makes no API request.
 * - Releases are only ever patched on `/metadata/finalizers` with a `test` op (§11.4).
 * - NodeImage writes are conditional and re-planned after a Conflict (see node_image_writes).
 * - Bad input never error-loops: a Release that is not ours resolves `done()` after one
 *   Warning Event per generation; an image the API server refuses to create is a
 *   `TerminalError`. Other failures throw and are retried with backoff, so nothing is lost.
 *
 * Caveats: the skipped generations are remembered in memory only, so a restart (or a new
 * leader) reports each skipped Release once more.
 */
import type { ReconcileResult } from "../controller/result.ts";
import { done, requeueAfter, TerminalError } from "../controller/result.ts";
import { ResourceClient } from "../kube/client.ts";
import { AlreadyExistsError, InvalidError, NotFoundError } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { KubeTransport } from "../kube/transport.ts";
import type { Store } from "../kube/store.ts";
import type { StoreReader } from "../kube/store_view.ts";
import { type Logger, silentLogger } from "../log.ts";
import { NODE_IMAGES, NodeImageState, RELEASES } from "../names.ts";
import { patchReleaseFinalizer } from "./finalizer.ts";
import { writeNodeImage } from "./node_image_writes.ts";
import {
  type NodeImage,
  nodeImageReference,
  type Release,
  releaseReference,
  releasesOf,
  stateOf,
} from "./objects.ts";
import type { ReleaseNaming } from "./naming.ts";
import { awaitMessage, planRelease, type ReleaseAction } from "./plan.ts";
import { NodeImageAwaits } from "./awaits.ts";
import type { NamespaceGate } from "./namespace_gate.ts";
import { registrationWrites, unregistrationWrites } from "./registration.ts";
import { ImageNameMemo, releasesNeedingImage } from "./siblings.ts";

/**
 * Event reasons of the release controller, for `kubectl events` and alerts.
 *
 * Each registration and unregistration records exactly one Event, on the NodeImage: it is the
 * operator's own object, in the operator's namespace, and its status lists the Releases, so
 * `kubectl describe nodeimage` tells an image's whole story (created for a Release, Releases
 * added and removed, transfers, deletion). Releases are cluster-scoped objects of another
 * operator (their Events would land in `default`); they get only the Warnings about them.
 */
export const ReleaseEventReason = {
  /** NodeImage: created for a Release (its first registration). */
  NodeImageCreated: "NodeImageCreated",
  /** NodeImage: a Release was added to it. */
  ReleaseAdded: "ReleaseAdded",
  /** NodeImage: a Release was removed from it. */
  ReleaseRemoved: "ReleaseRemoved",
  /** Release (Warning): its NodeImage is being deleted; it waits to register into a new one. */
  NodeImageTerminating: "NodeImageTerminating",
  /** Release (Warning): `--namespace` does not exist, so its NodeImage cannot be created. */
  NamespaceNotFound: "NamespaceNotFound",
  /** Release (Warning): an image component is listed more than once; the first is used. */
  DuplicateComponent: "DuplicateComponent",
} as const;

export interface ReleaseReconcilerOptions {
  transport: KubeTransport;
  /** Cache of Releases (cluster-scoped). */
  releases: Store<Release>;
  /** Cache of NodeImages in `namespace`. */
  nodeImages: StoreReader<NodeImage>;
  /** Where NodeImages live (`--namespace`). */
  namespace: string;
  /** Provider ids with a configured section. */
  configuredProviders: readonly string[];
  /** `--flatcar-channel`. */
  channel: string;
  /** Release prefixes and image layouts of the provider modules. */
  naming: ReleaseNaming;
  recorder: EventRecorder;
  /** Releases waiting for a terminating NodeImage; shared with the NodeImage watch's mapping. */
  awaits?: NodeImageAwaits;
  /** Creates in `namespace` while it may be missing; without it every create is tried. */
  namespaceGate?: NamespaceGate;
  log?: Logger;
}

/** Reconciles one Release per call; hand `reconcile` to a `Controller`. */
export class ReleaseReconciler {
  #options: ReleaseReconcilerOptions;
  readonly #releases: ResourceClient<Release>;
  readonly #nodeImages: ResourceClient<NodeImage>;
  readonly #log: Logger;
  /** Release name → generation already reported as skipped. */
  readonly #skipped = new Map<string, number>();
  /** Release name → generation whose duplicate components were reported. */
  readonly #duplicates = new Map<string, number>();
  readonly #awaits: NodeImageAwaits;
  readonly #imageNames = new ImageNameMemo();

  constructor(options: ReleaseReconcilerOptions) {
    this.#options = options;
    this.#awaits = options.awaits ?? new NodeImageAwaits();
    this.#releases = new ResourceClient<Release>(options.transport, RELEASES);
    this.#nodeImages = new ResourceClient<NodeImage>(options.transport, NODE_IMAGES);
    this.#log = options.log ?? silentLogger;
  }

  /**
   * Replaces the configured provider ids after a config reload. Releases skipped before are
   * reported again if they are still not ours.
   */
  setConfiguredProviders(ids: readonly string[]): void {
    this.#options = { ...this.#options, configuredProviders: ids };
    this.#skipped.clear();
  }

  /** The `Reconciler` for a `Controller`: key = Release name. */
  reconcile = async (name: string, signal: AbortSignal): Promise<ReconcileResult> => {
    const { namespace, configuredProviders, channel, naming } = this.#options;
    const nodeImages = this.#options.nodeImages.list();
    let release = this.#options.releases.get(name);
    if (!release && nodeImages.some((image) => releasesOf(image).includes(name))) {
      // Confirm before dropping references: the Release cache may lag behind the image's.
      release = await this.#readRelease(name, signal);
    }
    const plan = planRelease({
      name,
      release,
      nodeImages,
      namespace,
      configuredProviders,
      channel,
      naming,
      skippedGeneration: this.#skipped.get(name),
      awaiting: this.#awaits.get(name),
      duplicatesReported: this.#duplicates.get(name),
    });
    if (!release) this.#duplicates.delete(name);
    const context: ExecutionContext = {
      options: this.#options,
      releases: this.#releases,
      nodeImages: this.#nodeImages,
      log: this.#log.with({ release: name }),
      skipped: this.#skipped,
      awaits: this.#awaits,
      duplicates: this.#duplicates,
      imageNames: this.#imageNames,
    };
    const run = new Execution(context, name, release, nodeImages, signal);
    for (const action of plan.actions) {
      if (!await run.perform(action)) break;
    }
    return run.requeueAfterMs === undefined ? done() : requeueAfter(run.requeueAfterMs);
  };

  async #readRelease(name: string, signal: AbortSignal): Promise<Release | undefined> {
    try {
      return await this.#releases.get(name, undefined, signal);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }
}

/** What an `Execution` works with; built by the reconciler for each call. */
interface ExecutionContext {
  options: ReleaseReconcilerOptions;
  releases: ResourceClient<Release>;
  nodeImages: ResourceClient<NodeImage>;
  log: Logger;
  skipped: Map<string, number>;
  awaits: NodeImageAwaits;
  duplicates: Map<string, number>;
  imageNames: ImageNameMemo;
}

/** Carries out one plan; keeps what earlier actions learnt (the patched Release, a new image). */
class Execution {
  readonly #context: ExecutionContext;
  readonly #name: string;
  readonly #cachedImages: readonly NodeImage[];
  readonly #signal: AbortSignal;
  #release: Release | undefined;
  #created: NodeImage | undefined;
  /** Set when the reconcile should run again after this delay (a missing namespace). */
  requeueAfterMs: number | undefined;

  constructor(
    context: ExecutionContext,
    name: string,
    release: Release | undefined,
    cachedImages: readonly NodeImage[],
    signal: AbortSignal,
  ) {
    this.#context = context;
    this.#name = name;
    this.#release = release;
    this.#cachedImages = cachedImages;
    this.#signal = signal;
  }

  /** Performs one action; false when the rest of the plan no longer applies. */
  async perform(action: ReleaseAction): Promise<boolean> {
    const { options, releases, log, skipped } = this.#context;
    switch (action.type) {
      case "AddFinalizer":
      case "RemoveFinalizer": {
        const change = action.type === "AddFinalizer" ? "add" : "remove";
        this.#release = await patchReleaseFinalizer(releases, this.#release!, change, this.#signal);
        if (this.#release && change === "remove") log.info("Removed finalizer");
        return this.#release !== undefined || change === "remove";
      }
      case "CreateNodeImage":
        return await this.#create(action.nodeImage);
      case "Register":
        await this.#register(action.nodeImage);
        return true;
      case "Unregister":
        await this.#unregister(action.nodeImage, action.fresh);
        return true;
      case "ReportSkipped":
        skipped.set(this.#name, action.generation);
        log.info("Skipping Release", {
          reason: action.reason,
          detail: action.message,
        });
        await options.recorder.event(
          releaseReference(this.#release!),
          "Warning",
          action.reason,
          action.message,
          "Skip",
        );
        return true;
      case "ForgetSkipped":
        skipped.delete(this.#name);
        return true;
      case "AwaitNodeImageDeletion":
        await this.#await(action.nodeImage, action.uid, action.report, action.message);
        return true;
      case "ForgetAwait":
        this.#context.awaits.delete(this.#name);
        return true;
      case "ReportDuplicateComponents":
        this.#context.duplicates.set(this.#name, action.generation);
        log.info("Release lists an image component twice", { detail: action.message });
        await options.recorder.event(
          releaseReference(this.#release!),
          "Warning",
          ReleaseEventReason.DuplicateComponent,
          action.message,
          "Register",
        );
        return true;
    }
  }

  /** Records the wait (so the image's disappearance wakes this Release) and, once, says why. */
  async #await(imageName: string, uid: string | undefined, report: boolean, message: string) {
    const { options, log, awaits } = this.#context;
    awaits.set(this.#name, { nodeImage: imageName, uid });
    if (!report || !this.#release) return;
    log.info("Waiting for the NodeImage to be deleted before registering", {
      nodeImage: imageName,
    });
    await options.recorder.event(
      releaseReference(this.#release),
      "Warning",
      ReleaseEventReason.NodeImageTerminating,
      message,
      "Wait",
    );
  }

  /** Creates the NodeImage; false when the namespace is missing (the Release waits). */
  async #create(image: NodeImage): Promise<boolean> {
    const { nodeImages, log, options } = this.#context;
    const gate = options.namespaceGate;
    const admission = gate?.admit(this.#name);
    if (admission && !admission.go) {
      this.requeueAfterMs = admission.retryInMs;
      if (admission.first) await this.#namespaceMissing(image, admission.retryInMs);
      return false;
    }
    try {
      this.#created = await nodeImages.create(image, { signal: this.#signal });
      log.info("Created NodeImage", { nodeImage: image.metadata.name });
      gate?.succeeded(this.#name);
      return true;
    } catch (error) {
      if (gate && isMissingNamespace(error, image.metadata.namespace)) {
        const { report, retryInMs } = gate.failed(this.#name);
        this.requeueAfterMs = retryInMs;
        if (report) {
          log.warn("The NodeImage namespace does not exist; NodeImages cannot be created", {
            namespace: image.metadata.namespace,
            flag: "--namespace",
            retryInMs,
          });
        }
        await this.#namespaceMissing(image, retryInMs);
        return false;
      }
      if (error instanceof AlreadyExistsError) {
        gate?.succeeded(this.#name);
        return true; // created meanwhile: adopt it
      }
      gate?.released(this.#name);
      if (error instanceof InvalidError) {
        // The object is derived from the Release alone: the same request fails every time.
        throw new TerminalError(
          `Cannot create NodeImage "${image.metadata.namespace}/${image.metadata.name}" for ` +
            `Release "${this.#name}": ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** The Warning on this Release while `--namespace` is missing. */
  async #namespaceMissing(image: NodeImage, retryInMs: number): Promise<void> {
    const { namespace, name } = image.metadata;
    await this.#context.options.recorder.event(
      releaseReference(this.#release!),
      "Warning",
      ReleaseEventReason.NamespaceNotFound,
      `Cannot create NodeImage ${namespace}/${name}: namespace "${namespace}" does not exist ` +
        `(--namespace); trying again in ${Math.ceil(retryInMs / 1000)}s`,
      "Create",
    );
  }

  async #register(imageName: string): Promise<void> {
    const { options, nodeImages, log } = this.#context;
    const start = this.#created ?? this.#cached(imageName) ?? await this.#read(imageName);
    if (!start) {
      throw new Error(
        `Cannot register Release "${this.#name}" with NodeImage "${options.namespace}/` +
          `${imageName}": it was deleted meanwhile; it will be created again`,
      );
    }
    // Every live Release needing this image joins the same write (see siblings.ts).
    const along = releasesNeedingImage(options.releases.list(), imageName, this.#name, {
      channel: options.channel,
      naming: options.naming,
      memo: this.#context.imageNames,
    });
    /**
     * Names the last round planned to add. A round that hit a Conflict wrote nothing (status is
     * its first write), and the next one plans from a fresh read, so what it finds listed was
     * added by someone else and is not reported again.
     */
    let planned: string[] = [];
    let revivedFrom: string | undefined;
    const result = await writeNodeImage(nodeImages, start, (image) => {
      const writes = registrationWrites(image, this.#name, along);
      const writesStatus = writes.some((w) => w.kind === "status");
      const listed = releasesOf(image);
      planned = writesStatus ? [this.#name, ...along].filter((n) => !listed.includes(n)) : [];
      if (writesStatus) {
        const state = stateOf(image);
        if (state === NodeImageState.AwaitingDeletion) revivedFrom = state;
      }
      return writes;
    }, { signal: this.#signal });
    if (!result) {
      throw new Error(
        `Cannot register Release "${this.#name}" with NodeImage "${options.namespace}/` +
          `${imageName}": it was deleted meanwhile; it will be created again`,
      );
    }
    if (result.metadata.deletionTimestamp && !releasesOf(result).includes(this.#name)) {
      // Deleted since the cache showed it: wait like the plan would have (told once per image).
      const awaited = this.#context.awaits.get(this.#name);
      const uid = result.metadata.uid;
      const report = awaited?.nodeImage !== imageName || awaited.uid !== uid;
      await this.#await(imageName, uid, report, awaitMessage(result));
      return;
    }
    const listed = releasesOf(result);
    const added = planned.filter((name) => listed.includes(name));
    const alongAdded = added.filter((name) => name !== this.#name);
    // One Event per registration, on the NodeImage (see ReleaseEventReason).
    if (added.includes(this.#name) || revivedFrom) {
      const revived = revivedFrom
        ? `; it left ${revivedFrom} and is ${NodeImageState.Pending}`
        : "";
      log.info("Registered Release with NodeImage", {
        nodeImage: imageName,
        revived: revivedFrom !== undefined,
      });
      await this.#event(
        result,
        this.#created ? ReleaseEventReason.NodeImageCreated : ReleaseEventReason.ReleaseAdded,
        this.#created
          ? `Created for Release ${this.#name}`
          : `Release ${this.#name} added${revived}`,
      );
    }
    if (alongAdded.length) {
      log.info("Registered Releases needing the same NodeImage along", {
        nodeImage: imageName,
        releases: alongAdded,
      });
    }
    for (const name of alongAdded) {
      await this.#event(result, ReleaseEventReason.ReleaseAdded, `Release ${name} added`);
    }
  }

  async #unregister(imageName: string, fresh: boolean): Promise<void> {
    const { nodeImages, log } = this.#context;
    const start = fresh
      ? await this.#read(imageName)
      : this.#cached(imageName) ?? await this.#read(imageName);
    if (!start) return;
    let removed = false;
    const result = await writeNodeImage(nodeImages, start, (image) => {
      const writes = unregistrationWrites(image, this.#name);
      removed ||= writes.length > 0;
      return writes;
    }, { signal: this.#signal });
    if (!result || !removed) return;
    log.info("Unregistered Release from NodeImage", { nodeImage: imageName });
    const left = releasesOf(result).length;
    await this.#event(
      result,
      ReleaseEventReason.ReleaseRemoved,
      `Release ${this.#name} removed; ${left} Release${left === 1 ? "" : "s"} left`,
    );
  }

  /** A Normal Event on the NodeImage: one per registration or unregistration. */
  async #event(image: NodeImage, reason: string, note: string): Promise<void> {
    await this.#context.options.recorder.event(nodeImageReference(image), "Normal", reason, note);
  }

  #cached(imageName: string): NodeImage | undefined {
    return this.#cachedImages.find((image) => image.metadata.name === imageName);
  }

  async #read(imageName: string): Promise<NodeImage | undefined> {
    const { options, nodeImages } = this.#context;
    try {
      return await nodeImages.get(imageName, options.namespace, this.#signal);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }
}

/** The API server's answer to a create in a namespace that does not exist. */
function isMissingNamespace(error: unknown, namespace: string | undefined): boolean {
  return error instanceof NotFoundError && error.status.details?.kind === "namespaces" &&
    error.status.details?.name === namespace;
}
