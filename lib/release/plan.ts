/**
 * Pure planning for the release controller: from a snapshot of what is observed (the Release,
 * the cached NodeImages, configuration) to the list of actions the executor performs, in order.
 *
 * Classify, then act (kube-rs `finalizer` style):
 * - **Gone**: the Release no longer exists. Drop its name from any NodeImage still listing it
 *   (a reference left behind, e.g. by a finalizer removed by hand).
 * - **Deleting**: unregister it from its NodeImage and from any other listing it, then remove
 *   the finalizer. This never depends on the provider still being configured or the Release
 *   still parsing (§11.3). Deleting or keeping the image is the garbage collector's decision.
 * - **Skipped**: not ours (provider not configured, vintage name, missing component): one
 *   Warning Event per generation, no finalizer, no error, no retry (§11.21). A finalizer left
 *   from before (provider since disabled) stays until deletion, which removes it. A Release
 *   edited so that it names no image any more (a bad version) is taken out of the images it
 *   was registered with, and its Warning says so; one whose provider was disabled still names
 *   its image and stays listed.
 * - A component listed twice: the first wins, as in the Go operator, with one Warning per
 *   generation.
 * - **Active**: finalizer first (so a deletion always finds the reference to clean), then the
 *   NodeImage, then the registration, then unregistration from images it no longer needs
 *   (its components changed).
 * - **Waiting**: as Active, but its NodeImage is terminating. A terminating NodeImage never
 *   gains a Release: its platform templates are about to be removed, and a Release listed in
 *   it would be dropped with it. The Release is taken out of it if it was listed (the image was
 *   deleted by hand), says why it waits in one Warning per incarnation of the image, and
 *   registers into a new NodeImage once the old one is gone (its disappearance wakes it).
 */
import {
  type DerivedNodeImage,
  deriveNodeImage,
  duplicateComponents,
  providerNameOf,
  ReleaseParseError,
} from "./derive.ts";
import { providerIdOf, type ReleaseNaming } from "./naming.ts";
import { hasReleaseFinalizer } from "./finalizer.ts";
import { newNodeImage, type NodeImage, type Release, releasesOf } from "./objects.ts";
import { isRegistered } from "./registration.ts";
import type { AwaitedNodeImage } from "./awaits.ts";

/** Everything `planRelease` looks at: plain values, so tests write them as literals. */
export interface ReleaseObservation {
  /** The Release's name (the queue key). */
  name: string;
  /** The Release, or `undefined` when it no longer exists. */
  release: Release | undefined;
  /** NodeImages in the operator's namespace, as cached. */
  nodeImages: readonly NodeImage[];
  /** Namespace NodeImages are created in (`--namespace`). */
  namespace: string;
  /** Provider ids with a configured section (`capv`, `capvcd`, `capmox`). */
  configuredProviders: readonly string[];
  /** `--flatcar-channel`; a Release annotation may override it. */
  channel: string;
  /** Release prefixes and image layouts of the provider modules. */
  naming: ReleaseNaming;
  /** The Release generation already reported as skipped, if any. */
  skippedGeneration?: number;
  /** The terminating NodeImage the Release already waits for, if any. */
  awaiting?: AwaitedNodeImage;
  /** The Release generation whose duplicate components were already reported, if any. */
  duplicatesReported?: number;
}

/** One step for the executor. */
export type ReleaseAction =
  | { type: "AddFinalizer" }
  | { type: "RemoveFinalizer" }
  | { type: "CreateNodeImage"; nodeImage: NodeImage }
  /** Make the NodeImage list the Release (and leave `""`/`AwaitingDeletion`). */
  | { type: "Register"; nodeImage: string }
  /** Remove the Release from the NodeImage; `fresh` reads it from the API server first. */
  | { type: "Unregister"; nodeImage: string; fresh: boolean }
  /** Tell the user once per generation why the Release is ignored. */
  | { type: "ReportSkipped"; generation: number; reason: SkipReason; message: string }
  /** Forget the remembered skipped generation (the Release is ours now, or gone). */
  | { type: "ForgetSkipped" }
  /**
   * Wait for the terminating NodeImage to be gone; `report` (first time for this incarnation)
   * says why in a Warning.
   */
  | {
    type: "AwaitNodeImageDeletion";
    nodeImage: string;
    uid?: string;
    report: boolean;
    message: string;
  }
  /** Stop waiting (the old NodeImage is gone, or the Release no longer needs it). */
  | { type: "ForgetAwait" }
  /** Tell the user once per generation that a component is listed twice (the first wins). */
  | { type: "ReportDuplicateComponents"; generation: number; message: string };

export type SkipReason = "ProviderNotConfigured" | "NotANodeImageRelease";

export type ReleaseClassification = "Gone" | "Deleting" | "Skipped" | "Active" | "Waiting";

export interface ReleasePlan {
  classification: ReleaseClassification;
  /** The NodeImage the Release needs, when it can be derived. */
  derived?: DerivedNodeImage;
  actions: ReleaseAction[];
}

/**
 * Plans one reconcile of a Release.
 *
 * @example
 * ```ts
 * const plan = planRelease({
 *   name: "vsphere-35.0.0", release, nodeImages: [], namespace: "giantswarm",
 *   configuredProviders: ["capv"], channel: "stable", naming: releaseNaming(modules),
 * });
 * // plan.actions: AddFinalizer, CreateNodeImage, Register
 * ```
 */
export function planRelease(observed: ReleaseObservation): ReleasePlan {
  const { release, name } = observed;
  const listing = observed.nodeImages.filter((image) => releasesOf(image).includes(name));
  const forgetAwait: ReleaseAction[] = observed.awaiting ? [{ type: "ForgetAwait" }] : [];
  const forget: ReleaseAction[] = observed.skippedGeneration !== undefined
    ? [{ type: "ForgetSkipped" }, ...forgetAwait]
    : forgetAwait;

  if (!release) {
    return {
      classification: "Gone",
      actions: [...forget, ...listing.map((image) => unregister(image, false))],
    };
  }

  const derivation = derive(release, observed.channel, observed.naming);
  const derived = derivation instanceof ReleaseParseError ? undefined : derivation;

  if (release.metadata.deletionTimestamp) {
    const actions: ReleaseAction[] = [...forget];
    if (!hasReleaseFinalizer(release)) {
      // We never registered it (the finalizer comes first), so only stray references remain.
      actions.push(...listing.map((image) => unregister(image, false)));
      return { classification: "Deleting", derived, actions };
    }
    // Read the derived image fresh: the cache may not show our own registration yet, and a
    // reference left behind would keep the image alive forever.
    if (derived) actions.push({ type: "Unregister", nodeImage: derived.objectName, fresh: true });
    for (const image of listing) {
      if (image.metadata.name !== derived?.objectName) actions.push(unregister(image, false));
    }
    actions.push({ type: "RemoveFinalizer" });
    return { classification: "Deleting", derived, actions };
  }

  const skip = skipReason(name, derivation, observed);
  if (skip) {
    const generation = release.metadata.generation ?? 0;
    // Registrations with images it no longer names are dropped (a bad edit): keeping them
    // would keep those images, and their templates, alive for nothing.
    const stale = listing.filter((image) => image.metadata.name !== derived?.objectName);
    const dropped = stale.length
      ? `; it no longer uses NodeImage ${stale.map((i) => i.metadata.name).join(", ")}`
      : "";
    const actions: ReleaseAction[] = observed.skippedGeneration === generation
      ? []
      // The generation in the note keeps the Event recorder from folding a new generation's
      // report into the previous one's series.
      : [{
        type: "ReportSkipped",
        generation,
        reason: skip.reason,
        message: `${skip.message}${dropped} (generation ${generation})`,
      }];
    actions.push(...stale.map((image) => unregister(image, false)));
    return { classification: "Skipped", derived, actions: [...forgetAwait, ...actions] };
  }

  const target = derived!;
  const duplicates = reportDuplicates(release, observed);
  const cached = observed.nodeImages.find((image) => image.metadata.name === target.objectName);
  if (cached?.metadata.deletionTimestamp) {
    const actions = waitFor(cached, observed);
    return { classification: "Waiting", derived: target, actions: [...duplicates, ...actions] };
  }
  const actions: ReleaseAction[] = [...forget];
  if (!hasReleaseFinalizer(release)) actions.push({ type: "AddFinalizer" });
  actions.push(...duplicates);
  if (!cached) {
    actions.push({
      type: "CreateNodeImage",
      nodeImage: newNodeImage(target.objectName, observed.namespace, {
        name: target.imageName,
        provider: target.providerId,
      }),
    });
  }
  if (!cached || !isRegistered(cached, name)) {
    actions.push({ type: "Register", nodeImage: target.objectName });
  }
  for (const image of listing) {
    if (image.metadata.name !== target.objectName) actions.push(unregister(image, false));
  }
  return { classification: "Active", derived: target, actions };
}

/** The duplicate-component Warning, unless this generation was already told. */
function reportDuplicates(release: Release, observed: ReleaseObservation): ReleaseAction[] {
  const generation = release.metadata.generation ?? 0;
  if (observed.duplicatesReported === generation) return [];
  const duplicates = duplicateComponents(release);
  if (duplicates.length === 0) return [];
  const listed = duplicates.map(({ name, versions }) =>
    `"${name}" ${versions.length} times (${versions.join(", ")}); it uses the first, ` +
    versions[0]
  );
  return [{
    type: "ReportDuplicateComponents",
    generation,
    message: `spec.components lists ${listed.join("; ")}, as the Go operator did ` +
      `(generation ${generation})`,
  }];
}

/** The actions of a Release whose NodeImage `dying` is terminating. */
function waitFor(dying: NodeImage, observed: ReleaseObservation): ReleaseAction[] {
  const { name, release } = observed;
  const actions: ReleaseAction[] = [];
  if (observed.skippedGeneration !== undefined) actions.push({ type: "ForgetSkipped" });
  if (!hasReleaseFinalizer(release!)) actions.push({ type: "AddFinalizer" });
  const imageName = dying.metadata.name!;
  if (releasesOf(dying).includes(name)) actions.push(unregister(dying, false));
  const uid = dying.metadata.uid;
  actions.push({
    type: "AwaitNodeImageDeletion",
    nodeImage: imageName,
    uid,
    report: observed.awaiting?.nodeImage !== imageName || observed.awaiting.uid !== uid,
    message: awaitMessage(dying),
  });
  for (const image of observed.nodeImages) {
    if (image.metadata.name !== imageName && releasesOf(image).includes(name)) {
      actions.push(unregister(image, false));
    }
  }
  return actions;
}

/** Why a Release waits: which NodeImage, since when, and what still holds it. */
export function awaitMessage(dying: NodeImage): string {
  const { namespace, name, deletionTimestamp, finalizers } = dying.metadata;
  const held = finalizers?.length ? `; held by finalizer ${finalizers.join(", ")}` : "";
  return `Not registering with NodeImage ${namespace}/${name}: it is being deleted (since ` +
    `${deletionTimestamp}${held}). A new NodeImage will be created for this Release once it ` +
    `is gone`;
}

function unregister(image: NodeImage, fresh: boolean): ReleaseAction {
  return { type: "Unregister", nodeImage: image.metadata.name!, fresh };
}

function derive(
  release: Release,
  channel: string,
  naming: ReleaseNaming,
): DerivedNodeImage | ReleaseParseError {
  try {
    return deriveNodeImage(release, { channel, naming });
  } catch (error) {
    if (error instanceof ReleaseParseError) return error;
    throw error;
  }
}

function skipReason(
  name: string,
  derivation: DerivedNodeImage | ReleaseParseError,
  { configuredProviders: configured, naming }: ReleaseObservation,
): { reason: SkipReason; message: string } | undefined {
  // The provider first: another provider's Release is "not ours" even if its components are odd.
  let providerName: string;
  try {
    providerName = providerNameOf(name);
  } catch (error) {
    if (!(error instanceof ReleaseParseError)) throw error;
    return { reason: "NotANodeImageRelease", message: `Ignoring Release: ${error.message}` };
  }
  const providerId = providerIdOf(naming, providerName);
  if (!configured.includes(providerId)) {
    return {
      reason: "ProviderNotConfigured",
      message: `Ignoring Release: provider "${providerId}" (from the name prefix ` +
        `"${providerName}") is not configured; configured: ` +
        `${configured.length ? configured.join(", ") : "none"}`,
    };
  }
  if (derivation instanceof ReleaseParseError) {
    return { reason: "NotANodeImageRelease", message: `Ignoring Release: ${derivation.message}` };
  }
  return undefined;
}
