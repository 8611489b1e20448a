/**
 * The fake cluster's state: nodes, storages with their files, VMs. Tests read and seed it
 * directly (`addVm`, `addFile`) to set up leftovers and foreign VMs.
 *
 * Storages are per node (`local`, `local-lvm`) unless declared shared: a shared storage (NFS,
 * CephFS) is one object in the map of every node it is enabled on, so a file downloaded through
 * one node is listed, blocks same-named downloads and can be deleted through every other, as
 * with Proxmox's `shared` storages.
 */

export interface FakeStorage {
  name: string;
  /** One content list for all nodes it is enabled on. */
  shared: boolean;
  /** `dir` storages hold files (import); `lvmthin` only VM disks. */
  type: "dir" | "lvmthin";
  content: Set<string>;
  /** Files by volid (`local:import/x.qcow2`), for file-based storages. */
  files: Map<string, { size: number; ctime: number; format: string; content: string }>;
}

export interface FakeVm {
  vmid: number;
  node: string;
  /** Config keys as Proxmox stores them (`name`, `tags`, `scsi0`, `template`, …). */
  config: Record<string, string>;
  /** Set while a task holds the VM (`create`, `disk`, `destroyed`…). */
  lock?: string;
  /** True until the creating task finished: `/cluster/resources` shows the sparse shape. */
  creating: boolean;
  type: "qemu" | "lxc";
}

/** A storage enabled on several nodes with one content list (`shared 1` in storage.cfg). */
export interface SharedStorageSpec {
  name: string;
  /** Nodes it is enabled on (its `nodes` restriction). */
  nodes: string[];
  /** Content types, default `import` and `iso`. */
  content?: string[];
}

export class FakeCluster {
  readonly nodes = new Map<string, Map<string, FakeStorage>>();
  readonly vms = new Map<number, FakeVm>();

  constructor(nodes: readonly string[], shared: readonly SharedStorageSpec[] = []) {
    for (const node of nodes) {
      this.nodes.set(
        node,
        new Map([
          ["local", storage("local", "dir", ["iso", "vztmpl", "backup", "import"])],
          ["local-lvm", storage("local-lvm", "lvmthin", ["images", "rootdir"])],
        ]),
      );
    }
    for (const spec of shared) {
      const one = storage(spec.name, "dir", spec.content ?? ["import", "iso"], true);
      for (const node of spec.nodes) {
        const storages = this.nodes.get(node);
        if (!storages) throw new Error(`shared storage ${spec.name}: no node ${node}`);
        if (storages.has(spec.name)) throw new Error(`storage ${spec.name} exists on ${node}`);
        storages.set(spec.name, one);
      }
    }
  }

  storage(node: string, name: string): FakeStorage | undefined {
    return this.nodes.get(node)?.get(name);
  }

  /** Adds a VM as if created long ago (tests: foreign VMs, leftovers). */
  addVm(vm: {
    vmid: number;
    node: string;
    name?: string;
    template?: boolean;
    tags?: string;
    description?: string;
    type?: "qemu" | "lxc";
  }): FakeVm {
    const config: Record<string, string> = {};
    if (vm.name) config.name = vm.name;
    if (vm.tags) config.tags = vm.tags;
    if (vm.description) config.description = vm.description;
    if (vm.template) config.template = "1";
    const added: FakeVm = {
      vmid: vm.vmid,
      node: vm.node,
      config,
      creating: false,
      type: vm.type ?? "qemu",
    };
    this.vms.set(vm.vmid, added);
    return added;
  }

  /** Adds a file to a storage (tests: leftover import files). */
  addFile(node: string, storageName: string, volid: string, size = 512): void {
    const target = this.storage(node, storageName);
    if (!target) throw new Error(`no storage ${storageName} on ${node}`);
    target.files.set(volid, {
      size,
      ctime: Math.floor(Date.now() / 1000),
      format: volid.split(".").pop() ?? "raw",
      content: volid.includes(":import/") ? "import" : "iso",
    });
  }

  /**
   * Every file volid, for "nothing left behind" checks: `<node>/<volid>` for node-local
   * storages, `shared/<volid>` (once) for shared ones.
   */
  allFiles(): string[] {
    const out: string[] = [];
    const seen = new Set<FakeStorage>();
    for (const [node, storages] of this.nodes) {
      for (const s of storages.values()) {
        if (seen.has(s)) continue;
        seen.add(s);
        for (const volid of s.files.keys()) out.push(`${s.shared ? "shared" : node}/${volid}`);
      }
    }
    return out;
  }

  /** The lowest free VMID ≥ 100. */
  nextFreeVmid(): number {
    let id = 100;
    while (this.vms.has(id)) id++;
    return id;
  }

  /** A `/cluster/resources` entry as Proxmox returns it. */
  resource(vm: FakeVm): Record<string, unknown> {
    const id = `${vm.type}/${vm.vmid}`;
    if (vm.creating) return { id, vmid: vm.vmid, node: vm.node, type: vm.type, status: "unknown" };
    const entry: Record<string, unknown> = {
      id,
      vmid: vm.vmid,
      node: vm.node,
      type: vm.type,
      status: "stopped",
      template: vm.config.template === "1" ? 1 : 0,
      cpu: 0,
      maxcpu: Number(vm.config.cores ?? 1),
      mem: 0,
      maxmem: Number(vm.config.memory ?? 512) * 1024 * 1024,
      disk: 0,
      maxdisk: vm.config.scsi0 ? 8 * 1024 ** 3 : 0,
      netin: 0,
      netout: 0,
      diskread: 0,
      diskwrite: 0,
      uptime: 0,
    };
    if (vm.config.name) entry.name = vm.config.name;
    if (vm.config.tags) entry.tags = vm.config.tags;
    if (vm.lock) entry.lock = vm.lock;
    return entry;
  }
}

function storage(
  name: string,
  type: FakeStorage["type"],
  content: string[],
  shared = false,
): FakeStorage {
  return { name, shared, type, content: new Set(content), files: new Map() };
}
