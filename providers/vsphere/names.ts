/**
 * Names and markers the vSphere provider puts on the platform.
 *
 * - The VM (template) name is the image name, plus `-<imagesuffix>` when the location has one;
 *   inventory, create, remove and cleanup all go through `vmName`/`imageNameOf`, so the suffix
 *   is applied the same way everywhere (the Go operator applied it in Create only, §11.2).
 * - Every VM we create carries an annotation starting with `ANNOTATION_MARKER` from the moment
 *   ImportVApp creates it (it is part of the import spec). A VM with our name that is not a
 *   template is ours to clean up only when it carries the marker: a half-made import. One
 *   without it is somebody else's and is never destroyed.
 * - Version tags: the components of the image name, one tag category per component.
 */

/** First line of the annotation of every VM we import. */
export const ANNOTATION_MARKER = "Imported by image-distribution-operator";

/** The VM annotation: the marker, the NodeImage and the source object. */
export function annotation(objectKey: string, sourceKey: string): string {
  return `${ANNOTATION_MARKER} for NodeImage ${objectKey} from ${sourceKey}.`;
}

/** True when `text` (a VM's `config.annotation`) says we made the VM. */
export function hasMarker(text: string | undefined): boolean {
  return (text ?? "").startsWith(ANNOTATION_MARKER);
}

/** The VM name of `image` in a location with `suffix` ("" for none). */
export function vmName(image: string, suffix: string): string {
  return suffix ? `${image}-${suffix}` : image;
}

/** The image name of a VM in a location with `suffix`, or undefined when it lacks the suffix. */
export function imageNameOf(vm: string, suffix: string): string | undefined {
  if (!suffix) return vm;
  const tail = `-${suffix}`;
  return vm.endsWith(tail) && vm.length > tail.length ? vm.slice(0, -tail.length) : undefined;
}

const IMAGE_NAME = /^flatcar-([a-z]+)-(.+?)-kube-(.+?)-tooling-(.+?)-gs$/;

/** One version tag: its category (one per component) and its name (the version). */
export interface VersionTag {
  category: string;
  tag: string;
  description: string;
}

/**
 * The version tags of an image name (`flatcar-<channel>-<flatcar>-kube-<k8s>-tooling-<t>-gs`):
 * categories `flatcar`, `kubernetes`, `os-tooling` and `release-channel`. Names of another shape
 * get none.
 */
export function versionTags(imageName: string): VersionTag[] {
  const match = IMAGE_NAME.exec(imageName);
  if (!match) return [];
  const [, channel, flatcar, kubernetes, tooling] = match;
  return [
    { category: "flatcar", tag: flatcar, description: "Flatcar Container Linux release" },
    { category: "kubernetes", tag: kubernetes, description: "Kubernetes version" },
    { category: "os-tooling", tag: tooling, description: "Giant Swarm OS tooling version" },
    { category: "release-channel", tag: channel, description: "Flatcar release channel" },
  ];
}
