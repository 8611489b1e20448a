/**
 * The Proxmox operations the provider composes: import files, VM destroy with an ownership
 * check, and task-returning calls that wait for their task. Each takes the location it works
 * in, so no call can wander to another node (the Go operator's cluster-wide lookups, §11.7)
 * or to another location's import file on a shared storage.
 */
import type { ProxmoxLocation } from "./config.ts";
import { apiPath, type ProxmoxClient, type ProxmoxParams } from "./client.ts";
import { ProxmoxApiError } from "./errors.ts";
import {
  DESCRIPTION_MARKER,
  importFileName,
  importVolid,
  legacyImportFileName,
  PARTIAL_TAG,
  splitTags,
} from "./names.ts";
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

/** The volids of the import files in the location's import storage. */
async function importVolids(
  ops: OpsContext,
  location: NamedLocation,
  signal: AbortSignal,
): Promise<Set<string>> {
  const items = await ops.client.get<StorageItem[]>(
    apiPath`/nodes/${location.node}/storage/${location.importStorage}/content`,
    { content: "import" },
    signal,
  );
  return new Set((items ?? []).map((item) => item.volid));
}

/**
 * The import files a step of `location` may delete for `imageName`: its own file
 * (`<image>_<location>.qcow2`), plus with `legacy` the `<image>.qcow2` of the Go operator and of
 * older builds.
 *
 * Never another location's file: several nodes can share one import storage (NFS, CephFS), and
 * a file we can see there may be another location's finished download waiting for its import.
 * The legacy file is safe to delete because nothing of this build writes it: an older build or
 * the Go operator that is gone left it behind, and a download still running under that name
 * writes a temporary file that is not listed until it is complete.
 */
export function importFilesOf(
  location: NamedLocation,
  imageName: string,
  { legacy }: { legacy: boolean },
): string[] {
  const own = importFileName(imageName, location.name);
  return legacy ? [own, legacyImportFileName(imageName)] : [own];
}

/**
 * Deletes those of `files` that are in the location's import storage; absent is success, and so
 * is a file that disappears between listing and deleting (a location sharing the storage removed
 * the same legacy file). Returns the volids deleted.
 */
export async function deleteImportFiles(
  ops: OpsContext,
  location: NamedLocation,
  files: readonly string[],
  signal: AbortSignal,
): Promise<string[]> {
  const present = await importVolids(ops, location, signal);
  const deleted: string[] = [];
  for (const file of files) {
    const volid = importVolid(location.importStorage, file);
    if (!present.has(volid)) continue;
    try {
      await runTask(
        ops,
        ops.client.delete<string | null>(
          apiPath`/nodes/${location.node}/storage/${location.importStorage}/content/${volid}`,
          undefined,
          signal,
        ),
        signal,
      );
    } catch (error) {
      if (signal.aborted || (await importVolids(ops, location, signal)).has(volid)) throw error;
      continue;
    }
    deleted.push(volid);
  }
  return deleted;
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
