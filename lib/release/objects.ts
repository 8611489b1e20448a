/**
 * The shapes of the two objects the release controller and the NodeImage garbage collector
 * read and write, limited to the fields they use. Every other field is carried through
 * untouched: objects are never rebuilt from these types, only patched.
 */
import type { KubeObject } from "../kube/resource.ts";
import { apiVersionOf } from "../kube/resource.ts";
import { NODE_IMAGES, RELEASES } from "../names.ts";

/** A `release.giantswarm.io/v1alpha1` Release (owned by release-operator; never updated whole). */
export interface Release extends KubeObject {
  spec?: {
    components?: { name?: string; version?: string }[];
    [field: string]: unknown;
  };
}

/** `status` of a NodeImage: the fields the Go operator wrote, plus our printer-column helper. */
export interface NodeImageStatus {
  /** Names of the Releases using the image: the reference count. */
  releases?: string[];
  /** One of `NodeImageState`, or `""` before the first Release is registered. */
  state?: string;
  /** `releases.length`, for the Releases printer column (JSONPath cannot count). */
  releaseCount?: number;
  [field: string]: unknown;
}

/** An `image.giantswarm.io/v1alpha1` NodeImage. */
export interface NodeImage extends KubeObject {
  spec?: { name?: string; provider?: string; [field: string]: unknown };
  status?: NodeImageStatus;
}

/** The Release names a NodeImage lists (an array even when the status has none). */
export function releasesOf(image: NodeImage): readonly string[] {
  const releases = image.status?.releases;
  return Array.isArray(releases) ? releases : [];
}

/** The NodeImage's state, `""` when unset. */
export function stateOf(image: NodeImage): string {
  return typeof image.status?.state === "string" ? image.status.state : "";
}

/** A new NodeImage as the release controller creates it (status comes in a second write). */
export function newNodeImage(
  name: string,
  namespace: string,
  spec: { name: string; provider: string },
): NodeImage {
  return {
    apiVersion: apiVersionOf(NODE_IMAGES),
    kind: NODE_IMAGES.kind,
    metadata: { name, namespace },
    spec: { name: spec.name, provider: spec.provider },
  };
}

/**
 * The object as an Event should refer to it. Cached objects normally carry apiVersion and
 * kind; this makes sure an Event's `regarding` is complete even when they do not.
 */
export function releaseReference(release: Release): Release {
  return { ...release, apiVersion: apiVersionOf(RELEASES), kind: RELEASES.kind };
}

/** See `releaseReference`. */
export function nodeImageReference(image: NodeImage): NodeImage {
  return { ...image, apiVersion: apiVersionOf(NODE_IMAGES), kind: NODE_IMAGES.kind };
}
