/**
 * Release → NodeImage derivation: pure functions producing byte-for-byte the strings the Go
 * operator produced (reference spec §2 step 2 and §4), so NodeImages, S3 keys and platform
 * templates made by the Go operator are found again after the swap.
 *
 * Guarantees: no I/O, no clock; the same Release and options always give the same result.
 * Every failure is a `ReleaseParseError` naming the Release and the offending field, so the
 * controller can skip the Release with one Warning Event instead of error-looping (§11.21).
 *
 * Deliberate differences from the Go operator: the provider is derived before the components
 * (so a Release of another provider can be recognised as "not ours" even when its components
 * are odd), the object name is checked to be a valid DNS-1123 subdomain (the Go operator let the
 * API server reject it on every requeue), and the Flatcar channel is configurable (§11.11).
 */
import { DEFAULT_FLATCAR_CHANNEL, FLATCAR_CHANNEL_ANNOTATION } from "../names.ts";
import type { ImageLayout } from "../provider_module.ts";
import { layoutOf, PASS_THROUGH_NAMING, providerIdOf, type ReleaseNaming } from "./naming.ts";

/** The part of a Release this module reads. Structural, so any decoded Release object fits. */
export interface ReleaseLike {
  metadata: { name?: string; annotations?: Record<string, string> };
  spec?: { components?: readonly { name?: string; version?: string }[] };
}

/** Everything the release controller needs to know about a Release's NodeImage. */
export interface DerivedNodeImage {
  /** Prefix of the Release name, e.g. `vsphere`, `cloud-director`. */
  providerName: string;
  /** NodeImage `spec.provider`, e.g. `capv`; unknown prefixes pass through unchanged. */
  providerId: string;
  /** NodeImage `spec.name`, e.g. `flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs`. */
  imageName: string;
  /** NodeImage `metadata.name`: `<providerId>-<imageName>`. */
  objectName: string;
  /** Key of the image in the S3 bucket. */
  s3Key: string;
}

/** A Release whose name, components or annotations do not describe a node image. */
export class ReleaseParseError extends Error {
  override name = "ReleaseParseError";
  /** Name of the Release (may be empty if the object had none). */
  readonly release: string;
  /** Path of the offending field, e.g. `metadata.name`, `spec.components[flatcar].version`. */
  readonly field: string;

  constructor(release: string, field: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.release = release;
    this.field = field;
  }
}

/** A NodeImage name that the API server would reject. */
export class InvalidObjectNameError extends Error {
  override name = "InvalidObjectNameError";
}

/** The three components the image name is built from, looked up by exact name. */
export const IMAGE_COMPONENTS = ["flatcar", "kubernetes", "os-tooling"] as const;

const PROVIDER_PREFIX = /^([a-z-]+)-\d+\.\d+\.\d+/;
const CHANNEL = /^[a-z]+$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MAX = 253;

/**
 * Derives the NodeImage a Release needs.
 *
 * @param release The Release (only its name, annotations and `spec.components` are read).
 * @param options.channel The `--flatcar-channel` default; the Release's
 *   `FLATCAR_CHANNEL_ANNOTATION` overrides it.
 * @param options.naming Prefixes and layouts of the provider modules; without it every prefix
 *   is its own provider id.
 * @returns Names, provider and S3 key of the NodeImage.
 * @throws {ReleaseParseError} when the name has no provider prefix, a component is missing or
 *   empty, the channel annotation is invalid, or the result is not a valid object name.
 *
 * @example
 * ```ts
 * const derived = deriveNodeImage(release, { channel: "stable", naming });
 * // derived.objectName === "capv-flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs"
 * ```
 */
export function deriveNodeImage(
  release: ReleaseLike,
  options: { channel?: string; naming?: ReleaseNaming } = {},
): DerivedNodeImage {
  const naming = options.naming ?? PASS_THROUGH_NAMING;
  const releaseName = release.metadata.name ?? "";
  const providerName = providerNameOf(releaseName);
  const providerId = providerIdOf(naming, providerName);
  const imageName = buildImageName({
    channel: flatcarChannelFor(release, options.channel ?? DEFAULT_FLATCAR_CHANNEL),
    flatcar: componentVersion(release, "flatcar"),
    kubernetes: componentVersion(release, "kubernetes"),
    tooling: componentVersion(release, "os-tooling"),
  });
  let objectName: string;
  try {
    objectName = nodeImageObjectName(providerId, imageName);
  } catch (error) {
    throw new ReleaseParseError(
      releaseName,
      "spec.components",
      `Cannot derive a NodeImage from Release "${releaseName}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  return {
    providerName,
    providerId,
    imageName,
    objectName,
    s3Key: s3KeyFor(imageName, layoutOf(naming, providerId)),
  };
}

/**
 * The provider prefix of a Release name: the first capture of `^([a-z-]+)-\d+\.\d+\.\d+`.
 * `cloud-director-0.10.5` gives `cloud-director`; `v20.1.0` (a vintage release) is an error.
 */
export function providerNameOf(releaseName: string): string {
  const match = PROVIDER_PREFIX.exec(releaseName);
  if (!match) {
    throw new ReleaseParseError(
      releaseName,
      "metadata.name",
      `Cannot parse Release name "${releaseName}": expected <provider>-<X.Y.Z>, ` +
        `e.g. "vsphere-35.0.0" (vintage names like "v20.1.0" have no provider)`,
    );
  }
  return match[1];
}

/**
 * The version of the first component with exactly this name.
 * @throws {ReleaseParseError} when the component is missing or its version is empty.
 */
export function componentVersion(release: ReleaseLike, component: string): string {
  const releaseName = release.metadata.name ?? "";
  const field = `spec.components[${component}].version`;
  const found = componentEntries(release).find((c) => c.name === component);
  if (!found) {
    throw new ReleaseParseError(
      releaseName,
      `spec.components[${component}]`,
      `Release "${releaseName}" has no component "${component}" in spec.components`,
    );
  }
  if (typeof found.version !== "string" || found.version === "") {
    throw new ReleaseParseError(
      releaseName,
      field,
      typeof found.version === "string" || found.version === undefined
        ? `Release "${releaseName}" has an empty version for component "${component}"`
        : `Release "${releaseName}" has a version for component "${component}" that is not ` +
          `a string: ${JSON.stringify(found.version)}`,
    );
  }
  return found.version;
}

/**
 * `spec.components` as a list of objects. A relaxed or outdated CRD lets any shape through, and
 * a shape we cannot read must be a clear parse error (reported once), not a crash retried
 * for ever.
 * @throws {ReleaseParseError} when it is not a list, or an entry is not an object.
 */
function componentEntries(release: ReleaseLike): readonly { name?: unknown; version?: unknown }[] {
  const releaseName = release.metadata.name ?? "";
  const components: unknown = release.spec?.components;
  if (components === undefined || components === null) return [];
  if (!Array.isArray(components)) {
    throw new ReleaseParseError(
      releaseName,
      "spec.components",
      `Release "${releaseName}" has spec.components that is not a list: ` +
        `${JSON.stringify(components).slice(0, 80)}`,
    );
  }
  const index = components.findIndex((c) => typeof c !== "object" || c === null);
  if (index >= 0) {
    throw new ReleaseParseError(
      releaseName,
      `spec.components[${index}]`,
      `Release "${releaseName}" has spec.components[${index}] that is not an object: ` +
        `${JSON.stringify(components[index])}`,
    );
  }
  return components;
}

/**
 * The image components listed more than once, with every version in the order listed. The Go
 * operator used the first silently; we use it too, and the caller says so.
 */
export function duplicateComponents(
  release: ReleaseLike,
): { name: string; versions: string[] }[] {
  const out: { name: string; versions: string[] }[] = [];
  for (const name of IMAGE_COMPONENTS) {
    let entries: readonly { name?: unknown; version?: unknown }[];
    try {
      entries = componentEntries(release).filter((c) => c.name === name);
    } catch {
      return out; // An unreadable list is reported by the derivation itself.
    }
    if (entries.length > 1) out.push({ name, versions: entries.map((c) => String(c.version)) });
  }
  return out;
}

/**
 * The image name `flatcar-<channel>-<flatcar>-kube-<k8s>-tooling-<tooling>-gs` (format of
 * giantswarm/capi-image-builder). One leading `v` is stripped from the kubernetes and tooling
 * versions only; the flatcar version is used as it is, as the Go operator does.
 */
export function buildImageName(
  versions: { channel: string; flatcar: string; kubernetes: string; tooling: string },
): string {
  const { channel, flatcar, kubernetes, tooling } = versions;
  return `flatcar-${channel}-${flatcar}-kube-${stripV(kubernetes)}-tooling-${stripV(tooling)}-gs`;
}

const IMAGE_NAME = /^flatcar-([a-z]+)-(.+?)-kube-(.+?)-tooling-(.+?)-gs$/;

/**
 * The component versions an image name carries, the inverse of `buildImageName`; undefined for
 * names of another shape. Platforms label their templates with these (Proxmox tags, VCD
 * metadata).
 */
export function parseImageName(
  imageName: string,
): { channel: string; flatcar: string; kubernetes: string; tooling: string } | undefined {
  const match = IMAGE_NAME.exec(imageName);
  if (!match) return undefined;
  const [, channel, flatcar, kubernetes, tooling] = match;
  return { channel, flatcar, kubernetes, tooling };
}

/**
 * The NodeImage object name `<providerId>-<imageName>`.
 * @throws {InvalidObjectNameError} when it is not a DNS-1123 subdomain (≤253 characters,
 *   lower-case alphanumerics, `-` and `.`, alphanumeric at both ends of each label).
 */
export function nodeImageObjectName(providerId: string, imageName: string): string {
  const name = `${providerId}-${imageName}`;
  if (name.length > DNS1123_SUBDOMAIN_MAX) {
    throw new InvalidObjectNameError(
      `NodeImage name "${name}" is ${name.length} characters long; at most ` +
        `${DNS1123_SUBDOMAIN_MAX} are allowed`,
    );
  }
  if (!DNS1123_SUBDOMAIN.test(name)) {
    throw new InvalidObjectNameError(
      `NodeImage name "${name}" is not a valid DNS-1123 subdomain (lower-case letters, ` +
        `digits, '-' and '.', starting and ending with a letter or digit)`,
    );
  }
  return name;
}

/**
 * The S3 key of an image, as the Go operator's `GetImageKey` builds it:
 * `<layout.directory>/<imageName>/<base>.<layout.format>`, where base = `imageName` up to the
 * first `-tooling`, with every `kube-X.Y.Z` turned into `kube-vX.Y.Z`. With the Go operator's
 * layouts: capmox `capmox/…/<base>.qcow2`; capv and capvcd share `capv/…/<base>.ova`.
 */
export function s3KeyFor(imageName: string, layout: ImageLayout): string {
  const base = imageName.split("-tooling")[0].replace(/(kube-)(\d+\.\d+\.\d+)/g, "$1v$2");
  return `${layout.directory}/${imageName}/${base}.${layout.format}`;
}

/**
 * The Flatcar channel for a Release: its `FLATCAR_CHANNEL_ANNOTATION` if set, else `fallback`.
 * @throws {ReleaseParseError} when the annotation is not lower-case letters only.
 */
export function flatcarChannelFor(release: ReleaseLike, fallback: string): string {
  const value = release.metadata.annotations?.[FLATCAR_CHANNEL_ANNOTATION];
  if (value === undefined) return fallback;
  if (!CHANNEL.test(value)) {
    const releaseName = release.metadata.name ?? "";
    throw new ReleaseParseError(
      releaseName,
      `metadata.annotations[${FLATCAR_CHANNEL_ANNOTATION}]`,
      `Release "${releaseName}" has an invalid Flatcar channel "${value}" in annotation ` +
        `${FLATCAR_CHANNEL_ANNOTATION}: expected lower-case letters, e.g. "stable" or "beta"`,
    );
  }
  return value;
}

/**
 * Checks a Flatcar channel given on the command line (`--flatcar-channel`).
 * @throws {RangeError} naming the flag and the value when it is not lower-case letters only.
 */
export function validateFlatcarChannel(value: string, source = "--flatcar-channel"): string {
  if (!CHANNEL.test(value)) {
    throw new RangeError(
      `Invalid Flatcar channel "${value}" in ${source}: expected lower-case letters, ` +
        `e.g. "stable" or "beta"`,
    );
  }
  return value;
}

function stripV(version: string): string {
  return version.startsWith("v") ? version.slice(1) : version;
}
