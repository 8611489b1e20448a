/**
 * Names, tags and markers the Proxmox provider puts on the platform.
 *
 * How we recognise our own half-made VMs: a VM is created with the tag `ido-partial` and a
 * description naming the operator and the NodeImage. The tag stays until the very last write of
 * a create (the version tags replace it), so any VM or template with our image name on our node
 * that still carries `ido-partial` is a leftover of an interrupted create. The tag is visible in
 * `/cluster/resources`, so inventory needs no extra call to tell the two apart. A same-named VM
 * without the tag is somebody else's: never counted, never touched.
 */
import { createHash } from "node:crypto";
import { parseImageName } from "../../lib/release/derive.ts";
import { PlatformError } from "../types.ts";

/** Tag on a VM while we build it; removed by the final tags write. */
export const PARTIAL_TAG = "ido-partial";

/** First line of the description of every VM we create. */
export const DESCRIPTION_MARKER = "Created by image-distribution-operator";

/** The VM description: the marker plus the NodeImage it belongs to. */
export function vmDescription(objectKey: string): string {
  return `${DESCRIPTION_MARKER} for NodeImage ${objectKey}.`;
}

/** Longest file name Proxmox's `download-url` accepts. */
const MAX_FILE_NAME = 255;
const EXTENSION = ".qcow2";

/**
 * The file `download-url` writes for `imageName` in `locationName`: `<image>_<location>.qcow2`.
 *
 * Several nodes can share one import storage (NFS, CephFS), so the file carries the location:
 * two locations importing the same image never see, block or delete each other's file. The
 * image part is a DNS name, which has no `_`, so the first `_` ends it and no (image, location)
 * pair names another pair's file or a legacy `<image>.qcow2`. When either part needs changing
 * (characters Proxmox would replace with `_`, an image name with `_`, more than 255
 * characters), the kept prefix gets `-<8 hex of SHA-256 of both names>` instead, so distinct
 * pairs still get distinct names and the volid we compute is the one the node stores.
 */
export function importFileName(imageName: string, locationName: string): string {
  const imageVerbatim = /^[a-zA-Z0-9.-]+$/.test(imageName);
  const locationVerbatim = /^[a-zA-Z0-9_.-]+$/.test(locationName);
  const plain = `${imageName}_${locationName}`.replace(/[^a-zA-Z0-9_.-]/g, "_");
  if (imageVerbatim && locationVerbatim && plain.length + EXTENSION.length <= MAX_FILE_NAME) {
    return plain + EXTENSION;
  }
  const tag = createHash("sha256").update(`${imageName}\0${locationName}`).digest("hex")
    .slice(0, 8);
  const room = MAX_FILE_NAME - EXTENSION.length - tag.length - 1;
  return `${plain.slice(0, room)}-${tag}${EXTENSION}`;
}

/**
 * The import file of the Go operator and of builds before per-location names: `<image>.qcow2`,
 * normalised as Proxmox does. Nothing of this build writes it; cleanup removes it (see
 * `vm_ops.ts` for why that cannot hit a download of ours).
 */
export function legacyImportFileName(imageName: string): string {
  return `${imageName}${EXTENSION}`.replace(/[^a-zA-Z0-9_.-]/g, "_");
}

/** The volid of an import file: `<importStorage>:import/<file>`. */
export function importVolid(importStorage: string, fileName: string): string {
  return `${importStorage}:import/${fileName}`;
}

const DNS_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const DNS_NAME = new RegExp(`^(?:${DNS_LABEL}\\.)*${DNS_LABEL}$`);

/** Throws unless the image name is a valid Proxmox VM name (format `dns-name`). */
export function assertVmName(imageName: string): void {
  if (!DNS_NAME.test(imageName)) {
    throw new PlatformError(
      `Cannot use "${imageName}" as a Proxmox VM name: it must be a DNS name (letters, digits, ` +
        `inner hyphens, dot-separated labels)`,
      "validate name",
    );
  }
}

/**
 * Version tags for an image name, as the Go operator wrote them:
 * `flatcar_<v>;kubernetes_<v>;os-tooling_<v>;release-channel_<channel>`. Unlike the Go operator
 * (which skipped tags when a version had more than digits and dots), every version is kept and
 * only characters Proxmox tags reject are replaced, so `1.30.0-rc.1` stays `1.30.0-rc.1`.
 * Names of another shape get no version tags. Proxmox stores tags lower-cased and sorted.
 */
export function versionTags(imageName: string): string[] {
  const versions = parseImageName(imageName);
  if (!versions) return [];
  const { channel, flatcar, kubernetes, tooling } = versions;
  return [
    `flatcar_${flatcar}`,
    `kubernetes_${kubernetes}`,
    `os-tooling_${tooling}`,
    `release-channel_${channel}`,
  ].map(sanitiseTag);
}

/** Makes one tag valid for Proxmox (`^[a-z0-9_][a-z0-9_\-+.]*$`, stored lower-case). */
export function sanitiseTag(tag: string): string {
  const cleaned = tag.toLowerCase().replace(/[^a-z0-9_\-+.]/g, "_");
  return /^[a-z0-9_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

/** Splits a `tags` value as Proxmox does (on `;`, `,` and whitespace). */
export function splitTags(tags: string | undefined): string[] {
  return (tags ?? "").split(/[;,\s]+/).filter((t) => t !== "").map((t) => t.toLowerCase());
}
