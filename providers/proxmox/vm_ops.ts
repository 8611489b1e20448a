/**
 * The Proxmox operations the provider composes: import files, VM destroy with an ownership
 * check, and task-returning calls that wait for their task. Each takes the location it works
 * in, so no call can wander to another node (the Go operator's cluster-wide lookups, §11.7).
 */
import type { ProxmoxLocation } from "./config.ts";
import { apiPath, type ProxmoxClient, type ProxmoxParams } from "./client.ts";
import { ProxmoxApiError } from "./errors.ts";
import { DESCRIPTION_MARKER, importVolid, PARTIAL_TAG, splitTags } from "./names.ts";
import { type TaskWaitOptions, waitForTask } from "./tasks.ts";

/** A configured location with its name. */
export interface NamedLocation extends ProxmoxLocation {
  name: string;
}

/** What every operation needs. */
export interface OpsContext {
  client: ProxmoxClient;
  tasks: TaskWaitOptions;
}

interface StorageItem {
  volid: string;
  format?: string;
  size?: number;
  content?: string;
}

/** Runs a call that answers with a UPID (or null for a synchronous success) and waits for it. */
export async function runTask(
  ops: OpsContext,
  call: Promise<string | null>,
  signal: AbortSignal,
): Promise<void> {
  const upid = await call;
  if (upid) await waitForTask(ops.client, upid, ops.tasks, signal);
}

/** True when the image's import file exists in the location's import storage. */
export async function importFilePresent(
  ops: OpsContext,
  location: NamedLocation,
  imageName: string,
  signal: AbortSignal,
): Promise<boolean> {
  const volid = importVolid(location.importStorage, imageName);
  const items = await ops.client.get<StorageItem[]>(
    apiPath`/nodes/${location.node}/storage/${location.importStorage}/content`,
    { content: "import" },
    signal,
  );
  return (items ?? []).some((item) => item.volid === volid);
}

/** Deletes the image's import file if it is there; absent is success. */
export async function deleteImportFile(
  ops: OpsContext,
  location: NamedLocation,
  imageName: string,
  signal: AbortSignal,
): Promise<boolean> {
  if (!await importFilePresent(ops, location, imageName, signal)) return false;
  const volid = importVolid(location.importStorage, imageName);
  await runTask(
    ops,
    ops.client.delete<string | null>(
      apiPath`/nodes/${location.node}/storage/${location.importStorage}/content/${volid}`,
      undefined,
      signal,
    ),
    signal,
  );
  return true;
}

interface VmConfig {
  name?: string;
  tags?: string;
  description?: string;
  template?: number;
}

/** The VM's config, or undefined when the VM does not exist (Proxmox says 500). */
export async function vmConfig(
  ops: OpsContext,
  node: string,
  vmid: number,
  signal: AbortSignal,
): Promise<VmConfig | undefined> {
  try {
    return await ops.client.get<VmConfig>(
      apiPath`/nodes/${node}/qemu/${vmid}/config`,
      undefined,
      signal,
    );
  } catch (error) {
    if (error instanceof ProxmoxApiError && error.isMissing) return undefined;
    throw error;
  }
}

/** True when a VM config is one we made for this image (name plus our tag or description). */
export function isOurs(config: VmConfig, imageName: string): boolean {
  if (config.name !== imageName) return false;
  return splitTags(config.tags).includes(PARTIAL_TAG) ||
    (config.description ?? "").includes(DESCRIPTION_MARKER);
}

/**
 * Destroys VM `vmid` on `node` with `purge`, but only after reading its config and finding
 * `imageName` and our marker (or, with `template: true`, a template named `imageName`); a VM
 * that is gone is success. Returns whether a VM was destroyed.
 */
export async function destroyVm(
  ops: OpsContext,
  node: string,
  vmid: number,
  expect: { imageName: string; template?: boolean },
  signal: AbortSignal,
): Promise<boolean> {
  const config = await vmConfig(ops, node, vmid, signal);
  if (!config) return false;
  const ours = isOurs(config, expect.imageName) ||
    (expect.template === true && config.template === 1 && config.name === expect.imageName);
  if (!ours) return false;
  const params: ProxmoxParams = { purge: 1, "destroy-unreferenced-disks": 1 };
  try {
    await runTask(
      ops,
      ops.client.delete<string>(apiPath`/nodes/${node}/qemu/${vmid}`, params, signal),
      signal,
    );
  } catch (error) {
    if (error instanceof ProxmoxApiError && error.isMissing) return false;
    throw error;
  }
  return true;
}
