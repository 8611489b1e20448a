/**
 * Inventory from `/cluster/resources?type=vm`: one call answers every location of a cluster.
 *
 * Guarantees:
 * - Concurrent `list()` calls share one request, and an answer is reused for `maxAgeMs`, so a
 *   resync over N locations makes one platform call. `invalidate()` (after our own writes) makes
 *   the next `list()` ask again.
 * - `classify` counts an image as present in a location only as a qemu **template** with that
 *   name **on that location's node** without our partial tag; our own leftovers (tag
 *   `ido-partial`) are reported `complete: false`; anything else with the name (somebody's VM,
 *   containers, other nodes) and entries in the sparse shape (no name yet) are ignored.
 */
import type { Clock } from "../../lib/clock.ts";
import type { Inventory, InventoryItem } from "../types.ts";
import type { ProxmoxClient } from "./client.ts";
import { PARTIAL_TAG, splitTags } from "./names.ts";

/** One `/cluster/resources` entry; right after creation only id, vmid, node, type, status. */
export interface ClusterVm {
  id: string;
  vmid: number;
  node: string;
  type: string;
  status?: string;
  name?: string;
  template?: number;
  tags?: string;
  lock?: string;
}

/** Fetches the cluster's VM list, coalescing concurrent callers and caching briefly. */
export class ClusterResources {
  readonly #client: ProxmoxClient;
  readonly #clock: Clock;
  readonly #maxAgeMs: number;
  #inFlight?: Promise<ClusterVm[]>;
  #cached?: { at: number; vms: ClusterVm[] };
  #generation = 0;

  constructor(client: ProxmoxClient, clock: Clock, maxAgeMs: number) {
    this.#client = client;
    this.#clock = clock;
    this.#maxAgeMs = maxAgeMs;
  }

  /** The VM list, from the cache when it is fresh enough. */
  list(signal: AbortSignal): Promise<ClusterVm[]> {
    if (this.#cached && this.#clock.now() - this.#cached.at < this.#maxAgeMs) {
      return Promise.resolve(this.#cached.vms);
    }
    // The shared request runs without any one caller's signal, so one caller giving up does
    // not fail the others; each caller still stops waiting when its own signal aborts.
    this.#inFlight ??= this.#fetch();
    return raceSignal(this.#inFlight, signal);
  }

  /** A list that no earlier answer can satisfy (for cleanup and create decisions). */
  fresh(signal: AbortSignal): Promise<ClusterVm[]> {
    this.invalidate();
    return this.list(signal);
  }

  /** Forgets the cached answer; an in-flight request is not reused either. */
  invalidate(): void {
    this.#cached = undefined;
    this.#inFlight = undefined;
    this.#generation++;
  }

  async #fetch(): Promise<ClusterVm[]> {
    const generation = this.#generation;
    const controller = new AbortController();
    try {
      const vms = await this.#client.get<ClusterVm[]>(
        "/cluster/resources",
        { type: "vm" },
        controller.signal,
      );
      const list = Array.isArray(vms) ? vms : [];
      if (generation === this.#generation) this.#cached = { at: this.#clock.now(), vms: list };
      return list;
    } finally {
      if (generation === this.#generation) this.#inFlight = undefined;
    }
  }
}

/** Our view of one location (one node) in the cluster list. */
export function classify(vms: readonly ClusterVm[], node: string): Inventory {
  const items = new Map<string, InventoryItem>();
  for (const vm of vms) {
    const item = ownedItem(vm, node);
    if (!item) continue;
    // A complete template wins over a leftover with the same name.
    const existing = items.get(item.name);
    if (!existing || (!existing.complete && item.complete)) items.set(item.name, item);
  }
  return { items };
}

/** The inventory item an entry stands for, or undefined when it is not ours to report. */
export function ownedItem(vm: ClusterVm, node: string): InventoryItem | undefined {
  if (vm.type !== "qemu" || vm.node !== node || !vm.name) return undefined;
  const partial = splitTags(vm.tags).includes(PARTIAL_TAG);
  const template = vm.template === 1;
  if (!template && !partial) return undefined;
  return {
    name: vm.name,
    reference: vmReference(vm.node, vm.vmid),
    complete: template && !partial,
  };
}

/** `node/vmid`, the provider's platform reference. */
export function vmReference(node: string, vmid: number): string {
  return `${node}/${vmid}`;
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
