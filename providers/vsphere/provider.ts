/**
 * The vSphere provider (`capv`): VM templates in vCenter made from OVAs in the object store
 * (reference §5, without the flaws of §11.2, §11.6, §11.8, §11.17, §11.18).
 *
 * Guarantees (beyond the `Provider` contract):
 * - One vCenter session for the provider (`soap/client.ts`): re-login on expiry, keep-alive,
 *   Logout on close; TLS verified unless `insecure`, with `caCert` as roots when given.
 * - `probe` logs in and resolves every location (datacenter, folder, cluster, pool, datastore,
 *   network, explicit host); a location that does not match vCenter is remembered and its
 *   `inventory` fails with the `LocationError` naming the missing object, while the other
 *   locations work. Resolutions are cached and looked up again after a ManagedObjectNotFound.
 * - `inventory` is one PropertyCollector retrieval per location (its folder's VMs).
 * - The location's `imagesuffix` is applied the same way by inventory, ensure, remove and
 *   cleanupPartial (`names.ts`).
 * - Only our VMs are ever destroyed: templates with the image's name, and non-template VMs
 *   carrying our annotation (a half-made import). A same-named VM of somebody else makes
 *   `ensure` fail with a message saying so, and is left alone.
 * - Version tags are attached after the template is made (`tags.ts`); a tagging failure is a
 *   warning on the result (a Warning Event), never a failed import.
 */
import { type Clock, realClock } from "../../lib/clock.ts";
import { type Logger, silentLogger } from "../../lib/log.ts";
import { createHttpClient, type HttpClient } from "../_http/mod.ts";
import {
  type EnsureResult,
  type ImageSource,
  type ImageSpec,
  type Inventory,
  PlatformError,
  type Provider,
  ProviderUnavailableError,
  type TransferProgress,
  UnknownLocationError,
} from "../types.ts";
import type { VsphereConfig, VsphereLocation } from "./config.ts";
import { createTemplate } from "./create.ts";
import { classify, listFolderVms, roleOf } from "./inventory.ts";
import { type ResolvedLocation, resolveLocation } from "./locations.ts";
import { versionTags, vmName } from "./names.ts";
import type { DeviceUrl } from "./lease.ts";
import type { PullOptions } from "./pull.ts";
import { SoapClient } from "./soap/client.ts";
import { ManagedObjectNotFoundFault } from "./soap/faults.ts";
import { TaggingClient } from "./tags.ts";
import { destroyVm, findVm } from "./vm_ops.ts";

export interface VsphereProviderOptions {
  /** Replaces the vCenter HTTP client (tests). */
  http?: HttpClient;
  /** Builds the client for NFC hosts pinned by a lease thumbprint (tests may replace it). */
  pinnedHttp?: (fingerprint: string) => HttpClient;
  clock?: Clock;
  logger?: Logger;
  /** Per-request timeout, default 60 s. */
  requestTimeoutMs?: number;
  /** Keep-alive period of an idle session, default 10 min. */
  keepAliveMs?: number;
  /** HttpNfcLeaseProgress period, default 2 s (the Go operator's). */
  progressIntervalMs?: number;
  /** How long the import lease may take to be ready, default 5 min. */
  leaseReadyMs?: number;
  /** Deadline of tasks (destroy), default 10 min. */
  taskDeadlineMs?: number;
  /** Pull mode settings beyond `pullFromURL`. */
  pull?: Partial<PullOptions>;
  /** Called for every SOAP request sent (bench, tests). */
  onSoapCall?: (method: string) => void;
  /** Called when a create step starts and ends (bench). */
  onStep?: (step: string, event: "start" | "end") => void;
}

/** Builds the vSphere provider from its values.yaml section. */
export function createVsphereProvider(
  config: VsphereConfig,
  options: VsphereProviderOptions = {},
): VsphereProvider {
  return new VsphereProvider(config, options);
}

export class VsphereProvider implements Provider {
  readonly id = "capv";
  readonly format = "ova" as const;
  readonly client: SoapClient;
  readonly #config: VsphereConfig;
  readonly #options: VsphereProviderOptions;
  readonly #http: HttpClient;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #tags: TaggingClient;
  /** Successful resolutions; failures are kept as errors until the next probe or inventory. */
  readonly #resolved = new Map<string, Promise<ResolvedLocation>>();

  constructor(config: VsphereConfig, options: VsphereProviderOptions = {}) {
    const { credentials } = config;
    this.#config = config;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#log = (options.logger ?? silentLogger).with({ provider: "capv" });
    this.#http = options.http ?? createHttpClient({
      tls: { ca: credentials.caCert, insecure: credentials.insecure },
    });
    this.client = new SoapClient({
      host: credentials.vcenter,
      username: credentials.username,
      password: credentials.password,
      http: this.#http,
      clock: this.#clock,
      log: this.#log,
      timeoutMs: options.requestTimeoutMs,
      keepAliveMs: options.keepAliveMs,
      onCall: options.onSoapCall,
    });
    this.#tags = new TaggingClient({
      origin: this.client.origin,
      username: credentials.username,
      password: credentials.password,
      http: this.#http,
      log: this.#log,
    });
  }

  locations(): string[] {
    return Object.keys(this.#config.locations);
  }

  async probe(signal: AbortSignal): Promise<void> {
    await this.client.connect(signal);
    // Every location is looked up now, so a wrong name shows before any import; one bad
    // location leaves the provider ready for the others (its inventory reports the error).
    for (const name of this.locations()) this.#resolved.delete(name);
    await Promise.all(
      this.locations().map((name) =>
        this.#location(name, signal).catch((error) => {
          if (error instanceof ProviderUnavailableError) throw error;
          this.#log.warn("vSphere location does not match vCenter", {
            location: name,
            error: (error as Error).message,
          });
        })
      ),
    );
  }

  async inventory(location: string, signal: AbortSignal): Promise<Inventory> {
    const loc = await this.#location(location, signal);
    const vms = await this.#stale(location, () => listFolderVms(this.client, loc.folder, signal));
    return classify(vms, loc.config.imagesuffix);
  }

  async ensure(
    image: ImageSpec,
    location: string,
    source: ImageSource,
    progress: TransferProgress,
    signal: AbortSignal,
  ): Promise<EnsureResult> {
    if (source.format !== "ova") {
      throw new PlatformError(
        `Cannot import "${source.key}" into vSphere location "${location}": expected an OVA, ` +
          `got ${source.format}`,
        "validate source",
      );
    }
    const loc = await this.#location(location, signal);
    const name = vmName(image.name, loc.config.imagesuffix);
    const present = await this.#stale(
      location,
      () => findVm(this.client, loc.folder, name, signal),
    );
    if (present) {
      const role = roleOf(present);
      if (role === "template") return { reference: present.ref.value };
      if (role === "foreign") {
        throw new PlatformError(
          `a VM named "${name}" that is not a template and not made by this operator exists in ` +
            `${loc.folderPath}; rename or remove it`,
          "check name",
        );
      }
      progress.phase("removing a half-made import");
      await destroyVm(this.client, present.ref, this.#taskOptions(), signal);
    }
    const created = await createTemplate(
      {
        client: this.client,
        clock: this.#clock,
        log: this.#log,
        http: this.#http,
        targets: () => this.#nfcTargets(),
        leaseReadyMs: this.#options.leaseReadyMs ?? 5 * 60_000,
        progressIntervalMs: this.#options.progressIntervalMs ?? 2_000,
        taskDeadlineMs: this.#options.taskDeadlineMs ?? 10 * 60_000,
        pull: this.#config.pullFromURL
          ? {
            urlTtlMs: this.#options.pull?.urlTtlMs ?? 3_600_000,
            deadlineMs: this.#options.pull?.deadlineMs ?? 2 * 3_600_000,
            sourceCa: this.#options.pull?.sourceCa,
          }
          : undefined,
        onStep: this.#options.onStep,
      },
      { image, location: loc, vmName: name, source, progress },
      signal,
    );
    const warnings = [...created.warnings];
    const tags = versionTags(image.name);
    if (tags.length > 0) {
      progress.phase("tagging");
      try {
        await this.#tags.attach(created.vm, tags, signal);
      } catch (error) {
        if (signal.aborted) throw error;
        const message = `tagging ${name} failed: ${(error as Error).message}`;
        this.#log.warn("vSphere tagging failed; the template stays", {
          image: image.name,
          location,
          error: (error as Error).message,
        });
        warnings.push(message);
      }
    }
    this.#log.info("created vSphere template", {
      image: image.name,
      location,
      reference: created.vm.value,
    });
    return { reference: created.vm.value, verified: created.verified, warnings };
  }

  async remove(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    await this.#removeOurs(image, location, { partialOnly: false }, signal);
  }

  async cleanupPartial(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    await this.#removeOurs(image, location, { partialOnly: true }, signal);
  }

  async close(): Promise<void> {
    await this.#tags.close();
    await this.client.close();
  }

  async #removeOurs(
    image: ImageSpec,
    location: string,
    { partialOnly }: { partialOnly: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    const loc = await this.#location(location, signal);
    const name = vmName(image.name, loc.config.imagesuffix);
    const vm = await this.#stale(location, () => findVm(this.client, loc.folder, name, signal));
    if (!vm) return;
    const role = roleOf(vm);
    if (role === "foreign" || (partialOnly && role === "template")) return;
    await destroyVm(this.client, vm.ref, this.#taskOptions(), signal);
    this.#log.info(role === "template" ? "removed vSphere template" : "removed half-made VM", {
      image: image.name,
      location,
      reference: vm.ref.value,
    });
  }

  /** Runs `fn`; a ManagedObjectNotFound (a folder deleted meanwhile) forgets the resolution. */
  async #stale<T>(location: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof ManagedObjectNotFoundFault) this.#resolved.delete(location);
      throw error;
    }
  }

  #location(name: string, signal: AbortSignal): Promise<ResolvedLocation> {
    const config: VsphereLocation | undefined = Object.hasOwn(this.#config.locations, name)
      ? this.#config.locations[name]
      : undefined;
    if (!config) {
      return Promise.reject(
        new UnknownLocationError(
          `vSphere location "${name}" is not configured (known: ${this.locations().join(", ")})`,
        ),
      );
    }
    let resolved = this.#resolved.get(name);
    if (!resolved) {
      resolved = resolveLocation(this.client, name, config, signal);
      this.#resolved.set(name, resolved);
      // A failed lookup is tried again next time (the object may have been created since).
      resolved.catch(() => {
        if (this.#resolved.get(name) === resolved) this.#resolved.delete(name);
      });
    }
    return resolved;
  }

  #taskOptions() {
    return { clock: this.#clock, deadlineMs: this.#options.taskDeadlineMs ?? 10 * 60_000 };
  }

  /** NFC clients for one import: pinned ones per lease thumbprint, closed afterwards. */
  #nfcTargets() {
    const pinned = new Map<string, HttpClient>();
    const make = this.#options.pinnedHttp ??
      ((fingerprint: string) => createHttpClient({ tls: { pinnedFingerprint: fingerprint } }));
    return {
      clientFor: (device: DeviceUrl): HttpClient => {
        if (!device.sslThumbprint) return this.#http;
        let client = pinned.get(device.sslThumbprint);
        if (!client) {
          client = make(device.sslThumbprint);
          pinned.set(device.sslThumbprint, client);
        }
        return client;
      },
      close: async () => {
        await Promise.all([...pinned.values()].map((c) => c.close()));
      },
    };
  }
}
