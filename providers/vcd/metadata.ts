/**
 * The component versions of an image as VCD metadata entries on its template, as Proxmox
 * templates carry them as tags (the Go operator labelled VCD templates with nothing but a
 * description, §11.24).
 *
 * One merge request (`POST <template>/metadata`, go-vcd's `MergeMetadata`) sets every entry:
 * string values in the GENERAL domain, which VCD answers with a task.
 */
import { parseImageName } from "../../lib/release/derive.ts";
import type { VcdClient } from "./client.ts";
import { taskOf, waitForTask, type WaitOptions } from "./tasks.ts";
import { escapeXml, VCLOUD_NS } from "./xml.ts";

const METADATA_TYPE = "application/vnd.vmware.vcloud.metadata+xml";
const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";

/** `flatcar`, `kubernetes`, `os-tooling`, `release-channel`; none for names of another shape. */
export function versionMetadata(imageName: string): [string, string][] {
  const versions = parseImageName(imageName);
  if (!versions) return [];
  return [
    ["flatcar", versions.flatcar],
    ["kubernetes", versions.kubernetes],
    ["os-tooling", versions.tooling],
    ["release-channel", versions.channel],
  ];
}

/** The `<Metadata>` body that merges `entries` into an entity's metadata. */
export function metadataBody(entries: readonly [string, string][]): string {
  const items = entries.map(([key, value]) =>
    `  <MetadataEntry>\n` +
    `    <Key>${escapeXml(key)}</Key>\n` +
    `    <TypedValue xsi:type="MetadataStringValue"><Value>${
      escapeXml(value)
    }</Value></TypedValue>\n` +
    `  </MetadataEntry>\n`
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<Metadata xmlns="${VCLOUD_NS}" xmlns:xsi="${XSI_NS}">\n${items}</Metadata>\n`;
}

/** Merges `entries` into the template's metadata and waits for VCD's task. */
export async function setMetadata(
  client: VcdClient,
  templateHref: string,
  entries: readonly [string, string][],
  options: Omit<WaitOptions, "what">,
): Promise<void> {
  if (entries.length === 0) return;
  const { node } = await client.api("POST", `${templateHref}/metadata`, {
    body: metadataBody(entries),
    contentType: METADATA_TYPE,
    signal: options.signal,
    step: "set metadata",
  });
  const task = taskOf(node);
  if (task.href) await waitForTask(client, task.href, { ...options, what: "set metadata" });
}
