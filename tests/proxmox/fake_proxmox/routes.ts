/**
 * The fake's API handlers, one per route we use, with Proxmox's answers (wire-facts §A):
 * sync errors as 500 with the handler's message, parameter problems as 400 `errors`, a UPID for
 * every write that Proxmox runs as a task, `nextid` as a string, 500 for a missing VM.
 */
import { createHash } from "node:crypto";
import type { FakeCluster, FakeVm } from "./state.ts";
import type { TaskRunner } from "./tasks.ts";
import { normaliseFilename, normaliseTags, type Params } from "./validate.ts";

/** A handler's error answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A `data` value with a `total` next to it (task logs). */
export class WithTotal {
  constructor(readonly data: unknown, readonly total: number) {}
}

export interface RouteContext {
  cluster: FakeCluster;
  tasks: TaskRunner;
  /** The token user (`root@pam!ido`), as UPIDs show it. */
  user: string;
  /** Path parameters and request parameters together. */
  params: Params;
  /** How download-url fetches (the fake uses the global fetch unless a test swaps it). */
  fetch: typeof fetch;
  /** Fault: the next `nextid` answers are taken by another client right away. */
  takeNextId(): boolean;
}

export type Handler = (ctx: RouteContext) => unknown | Promise<unknown>;

export interface Route {
  method: string;
  /** Path template as in the API schema, e.g. `/nodes/{node}/qemu/{vmid}/config`. */
  template: string;
  handler: Handler;
}

export const ROUTES: Route[] = [
  {
    method: "GET",
    template: "/version",
    handler: () => ({ version: "9.2.11", release: "9.2", repoid: "1b0d7d2f5e9c4a31" }),
  },
  { method: "GET", template: "/cluster/resources", handler: clusterResources },
  { method: "GET", template: "/cluster/nextid", handler: nextId },
  {
    method: "POST",
    template: "/nodes/{node}/storage/{storage}/download-url",
    handler: downloadUrl,
  },
  { method: "GET", template: "/nodes/{node}/storage/{storage}/content", handler: listContent },
  {
    method: "DELETE",
    template: "/nodes/{node}/storage/{storage}/content/{volume}",
    handler: deleteContent,
  },
  { method: "POST", template: "/nodes/{node}/qemu", handler: createVm },
  { method: "GET", template: "/nodes/{node}/qemu/{vmid}/config", handler: getConfig },
  { method: "POST", template: "/nodes/{node}/qemu/{vmid}/config", handler: postConfig },
  { method: "PUT", template: "/nodes/{node}/qemu/{vmid}/config", handler: putConfig },
  { method: "POST", template: "/nodes/{node}/qemu/{vmid}/template", handler: template },
  { method: "DELETE", template: "/nodes/{node}/qemu/{vmid}", handler: destroy },
  { method: "GET", template: "/nodes/{node}/tasks/{upid}/status", handler: taskStatus },
  { method: "GET", template: "/nodes/{node}/tasks/{upid}/log", handler: taskLog },
];

function clusterResources({ cluster, params }: RouteContext): unknown[] {
  const vms = [...cluster.vms.values()].sort((a, b) => a.vmid - b.vmid).map((vm) =>
    cluster.resource(vm)
  );
  const nodes = [...cluster.nodes.keys()].map((node) => ({
    id: `node/${node}`,
    node,
    type: "node",
    status: "online",
  }));
  const storages = [...cluster.nodes].flatMap(([node, storages]) =>
    [...storages.values()].map((s) => ({
      id: `storage/${node}/${s.name}`,
      node,
      storage: s.name,
      type: "storage",
      plugintype: s.type,
      content: [...s.content].join(","),
      status: "available",
    }))
  );
  switch (params.type) {
    case "vm":
      return vms;
    case "node":
      return nodes;
    case "storage":
      return storages;
    default:
      return [...nodes, ...storages, ...vms];
  }
}

function nextId(ctx: RouteContext): string {
  const { cluster, params } = ctx;
  if (params.vmid !== undefined) {
    const vmid = Number(params.vmid);
    if (cluster.vms.has(vmid)) {
      throw new HttpError(400, "Parameter verification failed.", {
        vmid: `VM ${vmid} already exists`,
      });
    }
    return String(vmid);
  }
  const vmid = cluster.nextFreeVmid();
  if (ctx.takeNextId()) {
    cluster.addVm({ vmid, node: [...cluster.nodes.keys()][0], name: "someone-else" });
  }
  return String(vmid);
}

function node(ctx: RouteContext): string {
  const name = ctx.params.node;
  if (!ctx.cluster.nodes.has(name)) {
    throw new HttpError(
      500,
      `hostname lookup '${name}' failed - failed to get address info for: ${name}: ` +
        `Name or service not known`,
    );
  }
  return name;
}

function storageOf(ctx: RouteContext, name: string) {
  const storage = ctx.cluster.storage(node(ctx), name);
  if (!storage) throw new HttpError(500, `storage '${name}' does not exist`);
  return storage;
}

function downloadUrl(ctx: RouteContext): string {
  const { params } = ctx;
  const storage = storageOf(ctx, params.storage);
  const content = params.content;
  if (!storage.content.has(content)) {
    throw new HttpError(
      500,
      `storage '${storage.name}' is not configured for content-type '${content}'`,
    );
  }
  if (storage.type !== "dir") {
    throw new HttpError(
      500,
      `can't upload to storage type '${storage.type}', not a file based storage!`,
    );
  }
  const filename = normaliseFilename(params.filename);
  if (content === "import" && !/\.(ova|qcow2|raw|vmdk)$/.test(filename)) {
    throw new HttpError(400, "Parameter verification failed.", {
      filename: "invalid filename or wrong extension",
    });
  }
  const volid = `${storage.name}:${content}/${filename}`;
  const path = `/var/lib/vz/${content === "vztmpl" ? "template/cache" : content}/${filename}`;
  if (storage.files.has(volid)) {
    throw new HttpError(500, `refusing to override existing file '${path}'`);
  }
  const algorithm = params["checksum-algorithm"];
  const expected = params.checksum?.toLowerCase();
  return ctx.tasks.start(node(ctx), "download", filename, ctx.user, {
    work: async (log) => {
      if (params.compression && content !== "iso") {
        throw new Error(`compression is only supported for content 'iso'`);
      }
      log(`downloading ${params.url} to ${path}`);
      let bytes: Uint8Array;
      try {
        const response = await ctx.fetch(params.url);
        if (!response.ok) {
          await response.body?.cancel();
          throw new Error(`${response.status} ${response.statusText}`);
        }
        bytes = new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        throw new Error(`download failed: ${(error as Error).message}`);
      }
      log(`${bytes.length} bytes downloaded`);
      if (algorithm && expected) {
        const got = createHash(algorithm).update(bytes).digest("hex");
        log(`calculating checksum...`);
        if (got !== expected) {
          throw new Error(`checksum mismatch: got '${got}' != expect '${expected}'`);
        }
        log(`checksum verified`);
      }
      if (filename.endsWith(".qcow2") && !isQcow2(bytes)) {
        throw new Error(`download failed: '${filename}' is not a valid qcow2 image`);
      }
      storage.files.set(volid, {
        size: bytes.length,
        ctime: Math.floor(Date.now() / 1000),
        format: filename.split(".").pop()!,
        content,
      });
      log(`download of '${params.url}' to '${path}' finished`);
    },
  });
}

function isQcow2(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x51 && bytes[1] === 0x46 && bytes[2] === 0x49 &&
    bytes[3] === 0xfb;
}

function listContent(ctx: RouteContext): unknown[] {
  const storage = storageOf(ctx, ctx.params.storage);
  return [...storage.files].filter(([, f]) =>
    !ctx.params.content || f.content === ctx.params.content
  )
    .map(([volid, f]) => ({
      volid,
      format: f.format,
      size: f.size,
      ctime: f.ctime,
      content: f.content,
    }));
}

function deleteContent(ctx: RouteContext): string {
  const storage = storageOf(ctx, ctx.params.storage);
  let volid = ctx.params.volume;
  const prefix = /^([a-zA-Z][a-zA-Z0-9._-]*):/.exec(volid)?.[1];
  if (prefix && prefix !== storage.name) {
    throw new HttpError(400, "Parameter verification failed.", {
      volume: `storage ID mismatch (${prefix} != ${storage.name})`,
    });
  }
  if (!prefix) volid = `${storage.name}:${volid}`;
  // Proxmox names the task after the storage (`[<owner vmid>@]<storage>`), not the volume.
  return ctx.tasks.start(node(ctx), "imgdel", storage.name, ctx.user, {
    work: (log) => {
      if (!storage.files.delete(volid)) throw new Error(`volume '${volid}' does not exist`);
      log(`Removed volume '${volid}'`);
    },
  });
}

/** Config keys a request sets (path parameters and control parameters left out). */
function configChanges(params: Params): Record<string, string> {
  const skip = new Set(["node", "vmid", "delete", "background_delay", "digest", "skiplock"]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (!skip.has(k)) out[k] = k === "tags" ? normaliseTags(v) : v;
  }
  return out;
}

function createVm(ctx: RouteContext): string {
  const here = node(ctx);
  const vmid = Number(ctx.params.vmid);
  const existing = ctx.cluster.vms.get(vmid);
  if (existing) {
    throw new HttpError(
      500,
      `unable to create VM ${vmid} - VM ${vmid} already exists on node '${existing.node}'`,
    );
  }
  const vm: FakeVm = {
    vmid,
    node: here,
    config: configChanges(ctx.params),
    lock: "create",
    creating: true,
    type: "qemu",
  };
  ctx.cluster.vms.set(vmid, vm);
  return ctx.tasks.start(here, "qmcreate", String(vmid), ctx.user, {
    work: (log) => {
      vm.creating = false;
      vm.lock = undefined;
      log(`created VM ${vmid}`);
    },
    // A failed create removes its own config, as qemu-server does.
    rollback: () => {
      if (ctx.cluster.vms.get(vmid) === vm) ctx.cluster.vms.delete(vmid);
    },
  });
}

function vmOf(ctx: RouteContext): FakeVm {
  const here = node(ctx);
  const vmid = Number(ctx.params.vmid);
  const vm = ctx.cluster.vms.get(vmid);
  if (!vm || vm.node !== here || vm.type !== "qemu") {
    throw new HttpError(
      500,
      `Configuration file 'nodes/${here}/qemu-server/${vmid}.conf' does not exist`,
    );
  }
  return vm;
}

function unlocked(vm: FakeVm): FakeVm {
  if (vm.lock) throw new HttpError(500, `VM is locked (${vm.lock})`);
  return vm;
}

function getConfig(ctx: RouteContext): Record<string, unknown> {
  const vm = vmOf(ctx);
  const config: Record<string, unknown> = { ...vm.config };
  if (config.template) config.template = 1;
  config.digest = createHash("sha1").update(JSON.stringify(vm.config)).digest("hex");
  return config;
}

function applyConfig(vm: FakeVm, params: Params): void {
  for (const key of (params.delete ?? "").split(/[,;\s]+/).filter(Boolean)) delete vm.config[key];
  Object.assign(vm.config, configChanges(params));
}

function checkOptions(vm: FakeVm, params: Params): void {
  const changes = configChanges(params);
  if (Object.keys(changes).length === 0 && !params.delete) {
    throw new HttpError(500, "no options specified");
  }
  if (
    vm.config.template === "1" &&
    Object.keys(changes).some((k) => /^(scsi|virtio|ide|sata)\d+$/.test(k))
  ) {
    throw new HttpError(500, "you can't change disks of a template");
  }
}

function postConfig(ctx: RouteContext): string {
  const vm = unlocked(vmOf(ctx));
  checkOptions(vm, ctx.params);
  const disks = Object.entries(ctx.params).filter(([k]) => /^scsi\d+$/.test(k));
  const rest: Params = Object.fromEntries(
    Object.entries(ctx.params).filter(([k]) => !/^scsi\d+$/.test(k)),
  );
  vm.lock = disks.length ? "disk" : undefined;
  return ctx.tasks.start(vm.node, "qmconfig", String(vm.vmid), ctx.user, {
    work: (log) => {
      try {
        for (const [key, value] of disks) {
          vm.config[key] = importDisk(ctx, vm, key, value, log);
        }
        applyConfig(vm, rest);
      } finally {
        vm.lock = undefined;
      }
    },
    rollback: () => {
      vm.lock = undefined;
    },
  });
}

/** `pool:0,import-from=local:import/x.qcow2` → a new disk on the pool. */
function importDisk(
  ctx: RouteContext,
  vm: FakeVm,
  key: string,
  value: string,
  log: (line: string) => void,
): string {
  const [volume, ...options] = value.split(",");
  const from = options.find((o) => o.startsWith("import-from="))?.slice("import-from=".length);
  const [poolName, size] = volume.split(":");
  const pool = ctx.cluster.storage(vm.node, poolName);
  if (!pool) throw new Error(`storage '${poolName}' does not exist`);
  if (!pool.content.has("images")) {
    throw new Error(`storage '${poolName}' does not support content-type 'images'`);
  }
  if (!from) {
    if (size === "0" || !/^\d+$/.test(size)) return value;
    return `${poolName}:vm-${vm.vmid}-disk-0,size=${size}G`;
  }
  const sourceStorage = ctx.cluster.storage(vm.node, from.split(":")[0]);
  const file = sourceStorage?.files.get(from);
  if (!file) throw new Error(`volume '${from}' does not exist`);
  log(`importing disk '${from}' to VM ${vm.vmid} ...`);
  log(`transferred ${file.size} of ${file.size} bytes (100.00%)`);
  log(`${key}: successfully created disk '${poolName}:vm-${vm.vmid}-disk-0,size=8G'`);
  return `${poolName}:vm-${vm.vmid}-disk-0,size=8G`;
}

function putConfig(ctx: RouteContext): null {
  const vm = unlocked(vmOf(ctx));
  checkOptions(vm, ctx.params);
  if (Object.values(ctx.params).some((v) => v.includes("import-from="))) {
    throw new HttpError(500, "importing disks requires an asynchronous request (POST)");
  }
  applyConfig(vm, ctx.params);
  return null;
}

function template(ctx: RouteContext): string {
  const vm = unlocked(vmOf(ctx));
  if (vm.config.template === "1") {
    throw new HttpError(500, "you can't convert a template to a template");
  }
  vm.lock = "template";
  return ctx.tasks.start(vm.node, "qmtemplate", String(vm.vmid), ctx.user, {
    work: () => {
      vm.lock = undefined;
      vm.config.template = "1";
      for (const [k, v] of Object.entries(vm.config)) {
        if (/^scsi\d+$/.test(k)) {
          vm.config[k] = v.replace(`vm-${vm.vmid}-disk`, `base-${vm.vmid}-disk`);
        }
      }
    },
    rollback: () => {
      vm.lock = undefined;
    },
  });
}

function destroy(ctx: RouteContext): string {
  const vm = unlocked(vmOf(ctx));
  vm.lock = "destroyed";
  return ctx.tasks.start(vm.node, "qmdestroy", String(vm.vmid), ctx.user, {
    work: (log) => {
      ctx.cluster.vms.delete(vm.vmid);
      log(`Removing image: 100% complete...done.`);
    },
    rollback: () => {
      vm.lock = undefined;
    },
  });
}

function taskOf(ctx: RouteContext) {
  const upid = ctx.params.upid;
  if (!/^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$/.test(upid)) {
    throw new HttpError(400, "Parameter verification failed.", {
      upid: "unable to parse worker upid",
    });
  }
  const task = ctx.tasks.tasks.get(upid);
  if (!task || task.node !== ctx.params.node) {
    throw new HttpError(400, "Parameter verification failed.", { upid: "no such task" });
  }
  return task;
}

function taskStatus(ctx: RouteContext): Record<string, unknown> {
  const task = taskOf(ctx);
  const status: Record<string, unknown> = {
    upid: task.upid,
    node: task.node,
    pid: task.pid,
    pstart: task.pstart,
    starttime: task.starttime,
    type: task.type,
    id: task.id,
    user: task.user,
    status: task.status,
  };
  if (task.status === "stopped") status.exitstatus = task.exitstatus;
  return status;
}

function taskLog(ctx: RouteContext): WithTotal {
  const task = taskOf(ctx);
  const start = Number(ctx.params.start ?? 0);
  const limit = Number(ctx.params.limit ?? 50);
  const lines = task.log.length ? task.log : ["no content"];
  const page = lines.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
  return new WithTotal(page, lines.length);
}
