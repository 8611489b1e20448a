/**
 * A fake VM platform that behaves like a slow, fallible catalog, for image controller tests and
 * the bench.
 *
 * - `FakeCatalog` is the platform's state (what each location holds) and its knobs; it outlives
 *   operator "processes". `catalog.connect()` returns a `FakeProvider` (one process's client);
 *   `provider.sever()` simulates that process dying: its calls in flight fail at once, nothing
 *   it started is cleaned up, and later calls fail. The catalog keeps whatever was half made.
 *   `provider.close()` likewise ends calls in flight and fails later ones (a closed HTTP agent).
 * - `ensure` really reads `source.open()`, at `bytesPerSecond` measured on the catalog's clock
 *   (a `FakeClock` makes transfers advance only when the test steps it). While it reads, the
 *   image is a partial artefact (`complete: false`) with its reference reported at once.
 *   At the end the bytes are checked like a real platform would: the size against the source,
 *   and the format's magic (OVA: a tar header; qcow2: `QFI\xfb`). Bad bytes fail with
 *   `PlatformError` and leave the partial artefact behind, as real platforms do.
 * - Like real catalogs it rejects a second artefact with the same name (`ensure` while a partial
 *   one exists fails "already exists"); `ensure` of a complete image is a no-op; `remove` and
 *   `cleanupPartial` of something absent succeed.
 * - Failures can be injected per location and step, and the whole platform can be made
 *   unreachable (every call throws `ProviderUnavailableError`).
 * - Every platform call is counted by kind and location.
 */
import type { Clock } from "../../lib/clock.ts";
import { realClock } from "../../lib/clock.ts";
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
} from "../../lib/image/provider.ts";

export type FakeStep = "probe" | "inventory" | "ensure" | "remove" | "cleanup";

export interface FakeCatalogOptions {
  /** Provider id; default `capv`. */
  id?: string;
  locations: string[];
  format?: "ova" | "qcow2";
  /** Simulated bandwidth per transfer; default unlimited. */
  bytesPerSecond?: number;
  /** Clock the bandwidth is measured on; default the wall clock. */
  clock?: Clock;
  /** Bytes accounted (progress, bandwidth) per step; default 64 KiB. */
  chunkBytes?: number;
}

/** One artefact in a location. */
export interface FakeItem {
  name: string;
  reference: string;
  complete: boolean;
  bytes: number;
}

interface Injected {
  location?: string;
  step: FakeStep;
  /** A function gets the number of the failing call (1, 2, …): messages that vary per call. */
  message: string | ((call: number) => string);
  remaining: number;
  failed: number;
}

/** The platform: state, knobs and counters. */
export class FakeCatalog {
  readonly id: string;
  readonly format: "ova" | "qcow2";
  readonly locations: string[];
  readonly clock: Clock;
  bytesPerSecond: number;
  readonly chunkBytes: number;
  /** When set, every call fails with `ProviderUnavailableError` carrying this reason. */
  unreachable: string | undefined;
  /**
   * Awaited before a `remove` that will delete a complete image, e.g. to look at the cluster
   * at that moment (tests asserting what referenced the image when it went).
   */
  beforeRemove: ((name: string, location: string) => Promise<void> | void) | undefined;
  /** Calls by step, and by `step@location`. */
  readonly calls = new Map<string, number>();
  /** Transfers reading right now, and the most at once. */
  active = 0;
  peakActive = 0;
  readonly #items = new Map<string, Map<string, FakeItem>>();
  readonly #injected: Injected[] = [];
  #nextReference = 100;

  constructor(options: FakeCatalogOptions) {
    this.id = options.id ?? "capv";
    this.format = options.format ?? "ova";
    this.locations = [...options.locations];
    this.clock = options.clock ?? realClock;
    this.bytesPerSecond = options.bytesPerSecond ?? Infinity;
    this.chunkBytes = options.chunkBytes ?? 64 * 1024;
    for (const location of this.locations) this.#items.set(location, new Map());
  }

  /** A client for one operator process. */
  connect(): FakeProvider {
    return new FakeProvider(this);
  }

  /** What a location holds (complete and partial), by name. */
  items(location: string): Map<string, FakeItem> {
    const items = this.#items.get(location);
    if (!items) throw new UnknownLocationError(`Location "${location}" is not configured`);
    return items;
  }

  /** Puts a complete image into a location (as if uploaded earlier). */
  seed(location: string, name: string, complete = true): FakeItem {
    const item = { name, reference: this.newReference(), complete, bytes: 0 };
    this.items(location).set(name, item);
    return item;
  }

  /** Every partial artefact left anywhere, as `location/name`. */
  partials(): string[] {
    return [...this.#items].flatMap(([location, items]) =>
      [...items.values()].filter((i) => !i.complete).map((i) => `${location}/${i.name}`)
    );
  }

  /**
   * Fails the next `count` calls (`Infinity`: all) of `step` (in `location`, or anywhere) with
   * `PlatformError`.
   */
  failNext(
    step: FakeStep,
    message: string | ((call: number) => string),
    options: { location?: string; count?: number } = {},
  ) {
    this.#injected.push({
      step,
      message,
      location: options.location,
      remaining: options.count ?? 1,
      failed: 0,
    });
  }

  /** Calls of `step` (optionally only in `location`). */
  count(step: FakeStep, location?: string): number {
    return this.calls.get(location ? `${step}@${location}` : step) ?? 0;
  }

  /** Calls of every step except probes: what a platform API would be asked. */
  platformCalls(): number {
    return (["inventory", "ensure", "remove", "cleanup"] as FakeStep[])
      .reduce((sum, step) => sum + this.count(step), 0);
  }

  /** @internal counts a call and applies faults. */
  enter(step: FakeStep, location?: string): void {
    this.calls.set(step, (this.calls.get(step) ?? 0) + 1);
    if (location) {
      const key = `${step}@${location}`;
      this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    }
    if (this.unreachable !== undefined) {
      throw new ProviderUnavailableError(`Cannot reach ${this.id}: ${this.unreachable}`);
    }
    if (location !== undefined && !this.#items.has(location)) {
      throw new UnknownLocationError(`Location "${location}" is not configured for ${this.id}`);
    }
    const index = this.#injected.findIndex((f) =>
      f.step === step && (f.location === undefined || f.location === location)
    );
    if (index >= 0) {
      const fault = this.#injected[index];
      if (--fault.remaining <= 0) this.#injected.splice(index, 1);
      fault.failed++;
      const message = typeof fault.message === "string"
        ? fault.message
        : fault.message(fault.failed);
      throw new PlatformError(
        `${step} of location ${location ?? "-"} failed: ${message}`,
        step,
      );
    }
  }

  /** @internal */
  newReference(): string {
    return `vm-${this.#nextReference++}`;
  }
}

/** One process's client of a `FakeCatalog`. */
export class FakeProvider implements Provider {
  readonly id: string;
  readonly format: "ova" | "qcow2";
  readonly #catalog: FakeCatalog;
  readonly #severed = new AbortController();
  readonly #closing = new AbortController();
  closed = false;

  constructor(catalog: FakeCatalog) {
    this.#catalog = catalog;
    this.id = catalog.id;
    this.format = catalog.format;
  }

  locations(): string[] {
    return [...this.#catalog.locations];
  }

  /** Simulates the process dying: calls in flight fail now, later calls fail, nothing cleans up. */
  sever(): void {
    this.#severed.abort(new Error(`process using ${this.id} is gone`));
  }

  async probe(signal: AbortSignal): Promise<void> {
    await this.#call(signal, () => this.#catalog.enter("probe"));
  }

  async inventory(location: string, signal: AbortSignal): Promise<Inventory> {
    return await this.#call(signal, () => {
      this.#catalog.enter("inventory", location);
      const items = new Map(
        [...this.#catalog.items(location)].map(([name, item]) => [name, {
          name,
          reference: item.reference,
          complete: item.complete,
        }]),
      );
      return { items };
    });
  }

  async ensure(
    image: ImageSpec,
    location: string,
    source: ImageSource,
    progress: TransferProgress,
    signal: AbortSignal,
  ): Promise<EnsureResult> {
    return await this.#call(signal, async (both) => {
      const catalog = this.#catalog;
      catalog.enter("ensure", location);
      const items = catalog.items(location);
      const existing = items.get(image.name);
      if (existing?.complete) return { reference: existing.reference };
      if (existing) {
        throw new PlatformError(
          `Cannot import ${image.name} into location ${location}: an artefact with that name ` +
            `already exists (${existing.reference})`,
          "import",
        );
      }
      const item: FakeItem = {
        name: image.name,
        reference: catalog.newReference(),
        complete: false,
        bytes: 0,
      };
      items.set(image.name, item);
      progress.reference(item.reference);
      progress.phase(`uploading to ${location}`);
      catalog.active++;
      catalog.peakActive = Math.max(catalog.peakActive, catalog.active);
      try {
        const head = await this.#read(source, item, progress, both);
        if (item.bytes !== source.size) {
          throw new PlatformError(
            `Import of ${image.name} into ${location} received ${item.bytes} bytes, expected ` +
              `${source.size}`,
            "import",
          );
        }
        if (!validMagic(this.format, head)) {
          throw new PlatformError(
            `Import of ${image.name} into ${location} failed: not a valid ${this.format} image`,
            "import",
          );
        }
        progress.phase("converting to template");
        item.complete = true;
        return {
          reference: item.reference,
          verified: [...source.verified?.() ?? [], "size", `${this.format} header`],
        };
      } finally {
        catalog.active--;
      }
    });
  }

  async remove(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    await this.#call(signal, async () => {
      this.#catalog.enter("remove", location);
      const items = this.#catalog.items(location);
      if (!items.get(image.name)?.complete) return;
      await this.#catalog.beforeRemove?.(image.name, location);
      if (items.get(image.name)?.complete) items.delete(image.name);
    });
  }

  async cleanupPartial(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    await this.#call(signal, () => {
      this.#catalog.enter("cleanup", location);
      const items = this.#catalog.items(location);
      if (items.get(image.name)?.complete === false) items.delete(image.name);
    });
  }

  /** Like closing a real client's HTTP agent: calls in flight fail now, later calls fail. */
  close(): Promise<void> {
    this.closed = true;
    this.#closing.abort(new Error(`client of ${this.id} is closed`));
    return Promise.resolve();
  }

  /** Reads the whole source at the simulated bandwidth; returns its first 512 bytes. */
  async #read(
    source: ImageSource,
    item: FakeItem,
    progress: TransferProgress,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const stream = await source.open({ signal });
    const reader = stream.getReader();
    const head = new Uint8Array(512);
    let headLength = 0;
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        signal.throwIfAborted();
        if (headLength < head.length) {
          const take = value.subarray(0, head.length - headLength);
          head.set(take, headLength);
          headLength += take.length;
        }
        for (let offset = 0; offset < value.length; offset += this.#catalog.chunkBytes) {
          const length = Math.min(this.#catalog.chunkBytes, value.length - offset);
          item.bytes += length;
          progress.bytes(item.bytes, source.size);
          const bps = this.#catalog.bytesPerSecond;
          if (Number.isFinite(bps) && bps > 0) {
            await this.#catalog.clock.sleep((length / bps) * 1000, signal);
          }
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    return head.subarray(0, headLength);
  }

  /** Runs `fn` unless this process is severed; a sever or abort ends the call at once. */
  async #call<T>(signal: AbortSignal, fn: (signal: AbortSignal) => T | Promise<T>): Promise<T> {
    const both = AbortSignal.any([signal, this.#severed.signal, this.#closing.signal]);
    both.throwIfAborted();
    const { promise, reject } = Promise.withResolvers<never>();
    const onAbort = () => reject(both.reason);
    both.addEventListener("abort", onAbort, { once: true });
    try {
      // A turn of the event loop first, like a network round trip.
      return await Promise.race([Promise.resolve().then(() => fn(both)), promise]);
    } finally {
      both.removeEventListener("abort", onAbort);
    }
  }
}

/** OVA: a tar archive (`ustar` at offset 257); qcow2: `QFI\xfb`. */
function validMagic(format: "ova" | "qcow2", head: Uint8Array): boolean {
  if (format === "qcow2") {
    return head[0] === 0x51 && head[1] === 0x46 && head[2] === 0x49 && head[3] === 0xfb;
  }
  return new TextDecoder().decode(head.subarray(257, 262)) === "ustar";
}

/** Bytes that pass the fake platform's format check, padded to `size`. */
export function validImageBytes(format: "ova" | "qcow2", size = 4096): Uint8Array {
  const bytes = new Uint8Array(Math.max(size, 512));
  if (format === "qcow2") bytes.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
  else bytes.set(new TextEncoder().encode("ustar"), 257);
  return bytes;
}
