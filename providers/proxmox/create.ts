/**
 * Building one template from a qcow2 in the object store (issue 6 item 3), step by step:
 *
 * 1. clean import file: a leftover of this location's `<image>_<location>.qcow2` from a crash
 *    would make download-url refuse forever (§11.7), so it goes first, with a legacy
 *    `<image>.qcow2` (see `importFilesOf`); another location's file is never touched;
 * 2. download: `download-url` with `content=import` and, when the digest is known, `checksum`
 *    and `checksum-algorithm`; the node pulls from the URL itself (no bytes through us);
 * 3. allocate VMID + create VM: `nextid`, then create with the name, shape, tag `ido-partial`
 *    and our description; "already exists" (another client took the id) retries with a fresh id;
 * 4. import disk: asynchronous POST config `scsi0=<pool>:0,import-from=<storage>:import/<file>`;
 * 5. boot order; 6. convert to template; 7. tags (version tags replace `ido-partial`);
 * 8. delete import file (this location's own file only).
 *
 * Guarantees: any failure after step 1 destroys the VM we created (purge; only after checking it
 * carries our marker) and deletes the import file; the thrown error names the step, and for task
 * failures carries the exit status and last log lines (`cause` is the `ProxmoxTaskError`).
 * Errors from the rollback itself are added to the message, not dropped.
 * Caveats: when the signal aborts, nothing is rolled back (the process is probably stopping);
 * `cleanupPartial` removes the leftovers later.
 */
import type { ProxmoxVmShape } from "./config.ts";
import {
  type ImageSource,
  type ImageSpec,
  PlatformError,
  ProviderUnavailableError,
  type TransferProgress,
} from "../types.ts";
import { apiPath, type ProxmoxParams } from "./client.ts";
import { ProxmoxApiError } from "./errors.ts";
import { vmReference } from "./inventory.ts";
import { importFileName, importVolid, PARTIAL_TAG, versionTags, vmDescription } from "./names.ts";
import { ProxmoxTaskError } from "./tasks.ts";
import {
  deleteImportFiles,
  destroyVm,
  importFilesOf,
  type NamedLocation,
  type OpsContext,
  runTask,
} from "./vm_ops.ts";

export interface CreateOptions {
  /** Lifetime asked of the source URL; the node starts downloading right away. */
  urlTtlMs: number;
  /** Attempts at nextid + create when another client takes the id in between. */
  vmidAttempts: number;
  /** Called when a step starts and ends, for the bench and debug logs. */
  onStep?: (step: string, event: "start" | "end") => void;
}

export interface CreateRequest {
  image: ImageSpec;
  location: NamedLocation;
  source: ImageSource;
  progress: TransferProgress;
}

/** Runs the whole sequence; returns the template's `node/vmid`. */
export async function createTemplate(
  ops: OpsContext,
  request: CreateRequest,
  options: CreateOptions,
  signal: AbortSignal,
): Promise<string> {
  const { image, location, source, progress } = request;
  const node = location.node;
  const file = importFileName(image.name, location.name);
  let vmid: number | undefined;
  let step = "clean import file";

  const run = async <T>(name: string, phase: string, fn: () => Promise<T>): Promise<T> => {
    step = name;
    progress.phase(phase);
    options.onStep?.(name, "start");
    const result = await fn();
    options.onStep?.(name, "end");
    return result;
  };

  try {
    await run(
      "clean import file",
      `removing a leftover ${file} on ${node}`,
      () =>
        deleteImportFiles(
          ops,
          location,
          importFilesOf(location, image.name, { legacy: true }),
          signal,
        ),
    );

    await run("download", `downloading on ${node}`, async () => {
      const params: ProxmoxParams = {
        url: await source.url(options.urlTtlMs),
        content: "import",
        filename: file,
      };
      if (source.digest) {
        params.checksum = source.digest.hex;
        params["checksum-algorithm"] = source.digest.algorithm;
      }
      await runTask(
        ops,
        ops.client.post<string>(
          apiPath`/nodes/${node}/storage/${location.importStorage}/download-url`,
          params,
          signal,
        ),
        signal,
      );
      progress.bytes(source.size, source.size);
    });

    for (let attempt = 1;; attempt++) {
      const id = await run(
        "allocate VMID",
        `allocating a VM id on ${node}`,
        async () =>
          Number(await ops.client.get<string | number>("/cluster/nextid", undefined, signal)),
      );
      const created = await run("create VM", `creating VM ${id} on ${node}`, async () => {
        let upid: string;
        try {
          upid = await ops.client.post<string>(
            apiPath`/nodes/${node}/qemu`,
            vmParams(id, image, location),
            signal,
          );
        } catch (error) {
          if (error instanceof ProxmoxApiError && error.isVmidTaken) return false;
          throw error;
        }
        vmid = id;
        progress.reference(vmReference(node, id));
        try {
          await runTask(ops, Promise.resolve(upid), signal);
        } catch (error) {
          if (!(error instanceof ProxmoxTaskError) || !/already exists/.test(error.exitStatus)) {
            throw error;
          }
          vmid = undefined; // the VM with this id is somebody else's
          return false;
        }
        return true;
      });
      if (created) break;
      if (attempt >= options.vmidAttempts) {
        throw new PlatformError(
          `VM id ${id} was taken by another client; gave up after ${attempt} attempts`,
        );
      }
    }
    const id = vmid!;
    const config = apiPath`/nodes/${node}/qemu/${id}/config`;

    await run("import disk", `importing the disk into ${location.storagePool}`, () =>
      runTask(
        ops,
        ops.client.post<string | null>(config, {
          scsi0: `${location.storagePool}:0,import-from=${
            importVolid(location.importStorage, file)
          }`,
        }, signal),
        signal,
      ));

    await run(
      "boot order",
      "setting the boot order",
      () => ops.client.put<null>(config, { boot: "order=scsi0" }, signal),
    );

    await run("convert to template", "converting to a template", () =>
      runTask(
        ops,
        ops.client.post<string>(apiPath`/nodes/${node}/qemu/${id}/template`, {}, signal),
        signal,
      ));

    await run("tags", "tagging the template", () => {
      const tags = versionTags(image.name);
      return ops.client.put<null>(
        config,
        tags.length ? { tags: tags.join(";") } : { delete: "tags" },
        signal,
      );
    });

    await run(
      "delete import file",
      `removing ${file} from ${location.importStorage}`,
      () => deleteImportFiles(ops, location, [file], signal),
    );

    return vmReference(node, id);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const rollback = await rollBack(ops, location, image.name, vmid, signal);
    throw stepError(location, image, step, error, rollback);
  }
}

/** The POST /nodes/{node}/qemu parameters. */
export function vmParams(vmid: number, image: ImageSpec, location: NamedLocation): ProxmoxParams {
  const vm: ProxmoxVmShape = location.vm;
  const params: ProxmoxParams = {
    vmid,
    name: image.name,
    memory: vm.memory,
    cores: vm.cores,
    scsihw: vm.scsihw,
    bios: vm.bios,
    agent: vm.agent ? 1 : 0,
    net0: `${vm.netModel},bridge=${location.bridge}`,
    ostype: vm.ostype,
    tags: PARTIAL_TAG,
    description: vmDescription(image.objectKey),
  };
  if (vm.cpu) params.cpu = vm.cpu;
  if (vm.serial0) params.serial0 = vm.serial0;
  if (vm.vga) params.vga = vm.vga;
  return params;
}

/** Destroys our VM and this location's import file; returns what went wrong, if anything. */
async function rollBack(
  ops: OpsContext,
  location: NamedLocation,
  imageName: string,
  vmid: number | undefined,
  signal: AbortSignal,
): Promise<string[]> {
  const problems: string[] = [];
  if (vmid !== undefined) {
    try {
      await destroyVm(ops, location.node, vmid, { imageName }, signal);
    } catch (error) {
      problems.push(`destroying VM ${vmid} failed: ${(error as Error).message}`);
    }
  }
  try {
    await deleteImportFiles(ops, location, [importFileName(imageName, location.name)], signal);
  } catch (error) {
    problems.push(`deleting the import file failed: ${(error as Error).message}`);
  }
  return problems;
}

function stepError(
  location: NamedLocation,
  image: ImageSpec,
  step: string,
  error: unknown,
  rollback: string[],
): Error {
  const cause = error as Error;
  const tail = rollback.length
    ? `; rollback incomplete: ${rollback.join("; ")}`
    : "; the VM and import file were removed";
  const message = `Cannot create template "${image.name}" in Proxmox location ` +
    `"${location.name}" (node ${location.node}): step "${step}" failed: ${cause.message}${tail}`;
  if (error instanceof ProviderUnavailableError) {
    return new ProviderUnavailableError(message, { cause });
  }
  const task = error instanceof ProxmoxTaskError ? error : undefined;
  return new ProxmoxCreateError(message, step, task?.exitStatus, task?.logTail ?? [], { cause });
}

/** A create step failed; `step` names it, task failures add the exit status and log tail. */
export class ProxmoxCreateError extends PlatformError {
  override name = "ProxmoxCreateError";
  constructor(
    message: string,
    step: string,
    /** The failed task's `exitstatus` (undefined when the step failed without a task). */
    readonly exitStatus: string | undefined,
    /** The failed task's last log lines. */
    readonly logTail: readonly string[],
    options?: ErrorOptions,
  ) {
    super(message, step, options);
  }
}
