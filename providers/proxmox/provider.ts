/**
 * The Proxmox VE provider (`capmox`): VM templates made from qcow2 images the nodes download
 * themselves (reference spec §7, without the flaws of §11.7 and §11.23).
 *
 * Guarantees (beyond the `Provider` contract):
 * - Everything is scoped to the location's node: a template on another node, a same-named VM
 *   that is not a template, or a container is never counted, changed or removed.
 * - Inventory for all locations comes from one shared `/cluster/resources?type=vm` call (see
 *   `inventory.ts`); our own writes invalidate it.
 * - Our half-made VMs carry the tag `ido-partial` (see `names.ts`); `cleanupPartial` and
 *   `ensure` remove them, and a destroy happens only after the VM's config shows our marker.
 * - Import files are named per location (`<image>_<location>.qcow2`), and every step deletes
 *   only its own location's file (plus a legacy `<image>.qcow2`, see `importFilesOf`), so
 *   locations on nodes that share an import storage never block or delete each other's
 *   downloads.
 *
 * Assumptions: one operator instance acts on a cluster at a time (leader election), and the
 * controller does not run `ensure`, `remove` and `cleanupPartial` for the same image and
 * location concurrently.
 */
import type { ProxmoxConfig } from "./config.ts";
import { type Clock, realClock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/log.ts";
import {
  type EnsureResult,
  type ImageSource,
  type ImageSpec,
  type Inventory,
  PlatformError,
  type Provider,
  type TransferProgress,
  UnknownLocationError,
} from "../types.ts";
import { createHttpClient, type HttpClient } from "../_http/mod.ts";
import { ProxmoxClient } from "./client.ts";
import { createTemplate } from "./create.ts";
import { classify, ClusterResources, type ClusterVm, ownedItem } from "./inventory.ts";
import { assertVmName } from "./names.ts";
import { DEFAULT_TASK_DEADLINE_MS, DEFAULT_TASK_DELAYS_MS } from "./tasks.ts";
import {
  deleteImportFiles,
  destroyVm,
  importFilesOf,
  type NamedLocation,
  type OpsContext,
} from "./vm_ops.ts";

export interface ProxmoxProviderOptions {
  /** Replaces the platform HTTP client (tests); TLS options are then the fake's business. */
  http?: HttpClient;
  /** PEM CA bundle; overrides `credentials.caCert`. */
  ca?: string;
  clock?: Clock;
  logger?: Logger;
  /** Per-request timeout, default 30 s. */
  requestTimeoutMs?: number;
  /** Task poll delays, default 2, 4, 8, 16, 30 s (the last repeats). */
  taskDelaysMs?: readonly number[];
  /** Task deadline, default 30 min. */
  taskDeadlineMs?: number;
  /** How long one cluster listing serves inventory calls, default 5 s. */
  inventoryMaxAgeMs?: number;
  /** Lifetime asked of presigned source URLs, default 1 h. */
  urlTtlMs?: number;
  /** nextid + create attempts, default 5. */
  vmidAttempts?: number;
  /** Step start/end hook (bench, debugging). */
  onStep?: (step: string, event: "start" | "end") => void;
}

/** Builds the Proxmox provider from its values.yaml section. */
export function createProxmoxProvider(
  config: ProxmoxConfig,
  options: ProxmoxProviderOptions = {},
): ProxmoxProvider {
  return new ProxmoxProvider(config, options);
}

export class ProxmoxProvider implements Provider {
  readonly id = "capmox";
  readonly format = "qcow2" as const;
  readonly #locations: Map<string, NamedLocation>;
  readonly #ops: OpsContext;
  readonly #resources: ClusterResources;
  readonly #options: ProxmoxProviderOptions;

  constructor(config: ProxmoxConfig, options: ProxmoxProviderOptions = {}) {
    const { credentials } = config;
    const clock = options.clock ?? realClock;
    const http = options.http ?? createHttpClient({
      tls: { ca: options.ca ?? credentials.caCert, insecure: credentials.insecure },
    });
    const client = new ProxmoxClient({
      host: credentials.url,
      user: credentials.user,
      realm: credentials.realm,
      tokenId: credentials.tokenId,
      secret: credentials.secret,
      http,
      timeoutMs: options.requestTimeoutMs,
    });
    this.#ops = {
      client,
      tasks: {
        clock,
        delaysMs: options.taskDelaysMs ?? DEFAULT_TASK_DELAYS_MS,
        deadlineMs: options.taskDeadlineMs ?? DEFAULT_TASK_DEADLINE_MS,
      },
    };
    this.#resources = new ClusterResources(client, clock, options.inventoryMaxAgeMs ?? 5_000);
    this.#locations = new Map(
      Object.entries(config.locations).map(([name, location]) => [name, { ...location, name }]),
    );
    this.#options = options;
  }

  locations(): string[] {
    return [...this.#locations.keys()];
  }

  async probe(signal: AbortSignal): Promise<void> {
    await this.#ops.client.get<unknown>("/version", undefined, signal);
  }

  async inventory(location: string, signal: AbortSignal): Promise<Inventory> {
    const { node } = this.#location(location);
    return classify(await this.#resources.list(signal), node);
  }

  async ensure(
    image: ImageSpec,
    location: string,
    source: ImageSource,
    progress: TransferProgress,
    signal: AbortSignal,
  ): Promise<EnsureResult> {
    const loc = this.#location(location);
    if (source.format !== "qcow2") {
      throw new PlatformError(
        `Cannot import "${source.key}" into Proxmox location "${location}": expected a qcow2 ` +
          `source, got ${source.format}`,
        "validate source",
      );
    }
    assertVmName(image.name);
    const vms = await this.#resources.fresh(signal);
    const present = classify(vms, loc.node).items.get(image.name);
    if (present?.complete) return { reference: present.reference };
    try {
      await this.#removeOurs(vms, image.name, loc, { partialOnly: true }, signal);
      const reference = await createTemplate(
        this.#ops,
        { image, location: loc, source, progress },
        {
          urlTtlMs: this.#options.urlTtlMs ?? 3_600_000,
          vmidAttempts: this.#options.vmidAttempts ?? 5,
          onStep: this.#options.onStep,
        },
        signal,
      );
      this.#options.logger?.info("created Proxmox template", {
        image: image.name,
        location,
        reference,
      });
      return {
        reference,
        verified: source.digest
          ? [`${source.digest.algorithm} checked by Proxmox download-url on ${loc.node}`]
          : [],
      };
    } finally {
      this.#resources.invalidate();
    }
  }

  async remove(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    const loc = this.#location(location);
    try {
      const vms = await this.#resources.fresh(signal);
      await this.#removeOurs(vms, image.name, loc, { partialOnly: false }, signal);
      await deleteImportFiles(
        this.#ops,
        loc,
        importFilesOf(loc, image.name, { legacy: true }),
        signal,
      );
    } finally {
      this.#resources.invalidate();
    }
  }

  async cleanupPartial(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    const loc = this.#location(location);
    try {
      const vms = await this.#resources.fresh(signal);
      await this.#removeOurs(vms, image.name, loc, { partialOnly: true }, signal);
      // Entries in the sparse shape (no name yet) may be a VM created just before a crash.
      for (const vm of vms) {
        if (vm.type !== "qemu" || vm.node !== loc.node || vm.name !== undefined) continue;
        await destroyVm(this.#ops, loc.node, vm.vmid, { imageName: image.name }, signal);
      }
      await deleteImportFiles(
        this.#ops,
        loc,
        importFilesOf(loc, image.name, { legacy: true }),
        signal,
      );
    } finally {
      this.#resources.invalidate();
    }
  }

  close(): Promise<void> {
    return this.#ops.client.close();
  }

  /** Destroys our leftovers (and, unless `partialOnly`, our template) named `imageName`. */
  async #removeOurs(
    vms: readonly ClusterVm[],
    imageName: string,
    location: NamedLocation,
    { partialOnly }: { partialOnly: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    for (const vm of vms) {
      const item = ownedItem(vm, location.node);
      if (!item || item.name !== imageName || (partialOnly && item.complete)) continue;
      await destroyVm(this.#ops, location.node, vm.vmid, {
        imageName,
        template: item.complete,
      }, signal);
    }
  }

  #location(name: string): NamedLocation {
    const location = this.#locations.get(name);
    if (!location) {
      throw new UnknownLocationError(
        `Proxmox location "${name}" is not configured (known: ${this.locations().join(", ")})`,
      );
    }
    return location;
  }
}
