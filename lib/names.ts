/**
 * The exact strings the Go operator put on clusters (reference spec §12), in one place.
 *
 * They live at the top of `lib/` rather than under `lib/release/` because the release
 * controller, the image controller, the entry point and the tests all share them; changing one
 * of them breaks drop-in compatibility with objects the Go operator already wrote.
 */
import type { ResourceType } from "./kube/resource.ts";

/** Finalizer the release controller puts on each Release it has registered with a NodeImage. */
export const RELEASE_FINALIZER =
  "image-distribution-operator.finalizers.giantswarm.io/release-controller";

/** Finalizer the image controller puts on each NodeImage before touching a platform. */
export const NODE_IMAGE_FINALIZER =
  "image-distribution-operator.finalizers.giantswarm.io/node-image-controller";

/** RFC3339 (second precision) moment a NodeImage lost its last Release. */
export const LAST_USED_ANNOTATION = "image-distribution-operator.giantswarm.io/last-used";

/**
 * Per-Release override of the Flatcar channel (the Go operator hard-coded `stable`; §11.11).
 * New in this implementation; it uses the operator's own annotation namespace so it cannot
 * collide with annotations other tools put on Releases.
 */
export const FLATCAR_CHANNEL_ANNOTATION =
  "image-distribution-operator.giantswarm.io/flatcar-channel";

/** Channel used when neither `--flatcar-channel` nor the annotation says otherwise. */
export const DEFAULT_FLATCAR_CHANNEL = "stable";

/** Leader election lease name; the same as the Go operator so the two never run at once. */
export const LEADER_ELECTION_ID = "fcf824fa.giantswarm.io";

/** Controller names, used as the `controller` label on metrics and in logs. */
export const RELEASE_CONTROLLER_NAME = "release";
export const IMAGE_CONTROLLER_NAME = "image-nodeimage";

/** Namespace NodeImages are created in unless `--namespace` says otherwise. */
export const DEFAULT_NODE_IMAGE_NAMESPACE = "giantswarm";

/**
 * NodeImage `status.state` values, exactly as the Go operator writes them. The empty string
 * (freshly created, no release registered yet) is deliberately not listed: it is the absence
 * of a state, and garbage collection must skip it (§10.10).
 */
export const NodeImageState = {
  Pending: "Pending",
  Uploading: "Uploading",
  Available: "Available",
  Error: "Error",
  Missing: "Missing",
  Deleting: "Deleting",
  Deleted: "Deleted",
  AwaitingDeletion: "AwaitingDeletion",
} as const;

/** One of the `NodeImageState` values. */
export type NodeImageState = typeof NodeImageState[keyof typeof NodeImageState];

/** `image.giantswarm.io/v1alpha1` NodeImage, namespaced; owned by this operator. */
export const NODE_IMAGES: ResourceType = {
  group: "image.giantswarm.io",
  version: "v1alpha1",
  plural: "nodeimages",
  kind: "NodeImage",
  namespaced: true,
};

/** `release.giantswarm.io/v1alpha1` Release, cluster-scoped; owned by release-operator. */
export const RELEASES: ResourceType = {
  group: "release.giantswarm.io",
  version: "v1alpha1",
  plural: "releases",
  kind: "Release",
  namespaced: false,
};
