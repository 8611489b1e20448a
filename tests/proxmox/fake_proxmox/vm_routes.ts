/**
 * VM handlers of the fake: create (the sparse shape until its task ends), config read and
 * writes (POST runs a task and can import a disk; PUT is synchronous), template, destroy.
 */
import { createHash } from "node:crypto";
import { HttpError, node, type RouteContext } from "./context.ts";
import type { FakeVm } from "./state.ts";
import { normaliseTags, type Params } from "./validate.ts";

/** Config keys a request sets (path parameters and control parameters left out). */
function configChanges(params: Params): Record<string, string> {
  const skip = new Set(["node", "vmid", "delete", "background_delay", "digest", "skiplock"]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (!skip.has(k)) out[k] = k === "tags" ? normaliseTags(v) : v;
  }
  return out;
}

export function createVm(ctx: RouteContext): string {
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

export function getConfig(ctx: RouteContext): Record<string, unknown> {
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

export function postConfig(ctx: RouteContext): string {
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

export function putConfig(ctx: RouteContext): null {
  const vm = unlocked(vmOf(ctx));
  checkOptions(vm, ctx.params);
  if (Object.values(ctx.params).some((v) => v.includes("import-from="))) {
    throw new HttpError(500, "importing disks requires an asynchronous request (POST)");
  }
  applyConfig(vm, ctx.params);
  return null;
}

export function template(ctx: RouteContext): string {
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

export function destroy(ctx: RouteContext): string {
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
