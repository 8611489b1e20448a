/**
 * The VMware Cloud Director provider (`capvcd`): OVAs from the object store become vApp
 * templates in catalogs (reference spec §6, without the flaws of §11.9, §11.18, §11.19).
 *
 * Guarantees (beyond the `Provider` contract):
 * - Each location is its own org catalog and VDC (`location.ts`); inventory is one query per
 *   catalog, shared by the locations on it (`inventory.ts`).
 * - A template counts only when VCD has resolved it; failed and unresolved leftovers are
 *   partial: `ensure` and `cleanupPartial` delete them, `remove` deletes everything of the name.
 * - Uploads stream (see `create.ts`, `upload.ts`); the template gets its component versions as
 *   metadata, and a metadata failure is logged as a warning without failing the upload.
 *
 * Assumptions: a catalog item named like one of our images is ours (the catalog is the
 * operator's); the controller does not run `ensure`, `remove` and `cleanupPartial` for the
 * same image and location concurrently.
 */
import { type Clock, realClock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/log.ts";
import { createHttpClient, type HttpClient } from "../_http/mod.ts";
import {
  type EnsureResult,
  type ImageSource,
  type ImageSpec,
  type Inventory,
  PlatformError,
  type Provider,
  type TransferProgress,
} from "../types.ts";
import { VcdClient } from "./client.ts";
import type { VcdConfig } from "./config.ts";
import { createTemplate } from "./create.ts";
import { VcdApiError } from "./errors.ts";
import { CatalogListings, classify } from "./inventory.ts";
import { Locations, type ResolvedLocation } from "./location.ts";
import { setMetadata, versionMetadata } from "./metadata.ts";
import type { VcdAuth } from "./session.ts";
import { DEFAULT_POLL_DELAYS_MS, deleteTemplate } from "./tasks.ts";

export interface VcdProviderOptions {
  /** Replaces the platform HTTP client (tests); TLS options are then the fake's business. */
  http?: HttpClient;
  clock?: Clock;
  logger?: Logger;
  /** Overrides `uploadPieceSizeMiB` (tests use pieces of a few bytes). */
  pieceBytes?: number;
  /** Deadline for the upload links after the descriptor, default 5 min. */
  filesDeadlineMs?: number;
  /** Deadline for the import after the last byte, default 60 min. */
  importDeadlineMs?: number;
  /** Deadline for delete and metadata tasks, default 10 min. */
  taskDeadlineMs?: number;
  /** Poll delays for templates and tasks, default 0.25, 0.5, 1, 2, 5 s (the last repeats). */
  pollDelaysMs?: readonly number[];
  /** How long one catalog listing serves inventory calls, default 5 s. */
  inventoryMaxAgeMs?: number;
  /** Failed PUTs per file before the upload fails, default 3. */
  maxPieceFailures?: number;
  onStep?: (step: string, event: "start" | "end") => void;
}

/** Builds the VCD provider from its values.yaml section. */
export function createVcdProvider(
  config: VcdConfig,
  options: VcdProviderOptions = {},
): VcdProvider {
  return new VcdProvider(config, options);
}

export class VcdProvider implements Provider {
  readonly id = "capvcd";
  readonly format = "ova" as const;
  readonly client: VcdClient;
  readonly #locations: Locations;
  readonly #listings: CatalogListings;
  readonly #config: VcdConfig;
  readonly #options: VcdProviderOptions;
  readonly #clock: Clock;

  constructor(config: VcdConfig, options: VcdProviderOptions = {}) {
    const { credentials } = config;
    this.#clock = options.clock ?? realClock;
    const http = options.http ?? createHttpClient({
      tls: { ca: credentials.caCert, insecure: credentials.insecure },
    });
    const auth: VcdAuth = credentials.refreshToken
      ? { kind: "token", refreshToken: credentials.refreshToken, org: credentials.org }
      : {
        kind: "password",
        username: credentials.username,
        password: credentials.password,
        org: credentials.org,
      };
    this.client = new VcdClient({
      url: credentials.url,
      auth,
      http,
      clock: this.#clock,
      refreshThresholdMs: config.sessionRefreshThresholdMs,
      log: options.logger,
    });
    this.#locations = new Locations(this.client, config.locations);
    this.#listings = new CatalogListings(
      this.client,
      this.#clock,
      options.inventoryMaxAgeMs ?? 5_000,
    );
    this.#config = config;
    this.#options = options;
  }

  locations(): string[] {
    return this.#locations.names();
  }

  async probe(signal: AbortSignal): Promise<void> {
    await this.client.api("GET", this.client.url("/api/org"), { signal, step: "probe" });
  }

  async inventory(location: string, signal: AbortSignal): Promise<Inventory> {
    const loc = await this.#resolve(location, signal);
    return classify(await this.#guard(location, () => this.#listings.list(loc, signal)));
  }

  async ensure(
    image: ImageSpec,
    location: string,
    source: ImageSource,
    progress: TransferProgress,
    signal: AbortSignal,
  ): Promise<EnsureResult> {
    const loc = await this.#resolve(location, signal);
    if (source.format !== "ova") {
      throw new PlatformError(
        `Cannot import "${source.key}" into VCD location "${location}": expected an OVA ` +
          `source, got ${source.format}`,
        "validate source",
      );
    }
    try {
      const templates = await this.#guard(location, () => this.#listings.fresh(loc, signal));
      const present = classify(templates).items.get(image.name);
      if (present?.complete) return { reference: present.reference };
      await this.#removeAll(templates, image.name, { partialOnly: true }, signal);
      const created = await createTemplate(this.client, {
        image,
        location: loc,
        source,
        progress,
      }, {
        pieceBytes: this.#options.pieceBytes ?? this.#config.uploadPieceBytes,
        clock: this.#clock,
        filesDeadlineMs: this.#options.filesDeadlineMs ?? 5 * 60_000,
        importDeadlineMs: this.#options.importDeadlineMs ?? 60 * 60_000,
        taskDeadlineMs: this.#taskDeadlineMs,
        pollDelaysMs: this.#options.pollDelaysMs,
        maxPieceFailures: this.#options.maxPieceFailures ?? 3,
        log: this.#options.logger?.with({ image: image.name, location }),
        onStep: this.#options.onStep,
      }, signal);
      progress.phase("setting the template's metadata");
      await this.#metadata(image, location, created.href, signal);
      this.#options.logger?.info("created VCD vApp template", {
        image: image.name,
        location,
        reference: created.href,
        hardware: created.hardware.join(" "),
      });
      return { reference: created.href, verified: created.verified };
    } catch (error) {
      // A catalog or VDC recreated under the same name is found again on the next attempt.
      this.#locations.forget(location);
      throw error;
    } finally {
      this.#listings.invalidate();
    }
  }

  async remove(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    const loc = await this.#resolve(location, signal);
    try {
      const templates = await this.#guard(location, () => this.#listings.fresh(loc, signal));
      await this.#removeAll(templates, image.name, { partialOnly: false }, signal);
    } finally {
      this.#listings.invalidate();
    }
  }

  async cleanupPartial(image: ImageSpec, location: string, signal: AbortSignal): Promise<void> {
    const loc = await this.#resolve(location, signal);
    try {
      const templates = await this.#guard(location, () => this.#listings.fresh(loc, signal));
      await this.#removeAll(templates, image.name, { partialOnly: true }, signal);
    } finally {
      this.#listings.invalidate();
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }

  get #taskDeadlineMs(): number {
    return this.#options.taskDeadlineMs ?? 10 * 60_000;
  }

  async #removeAll(
    templates: readonly { name: string; href: string; complete: boolean }[],
    imageName: string,
    { partialOnly }: { partialOnly: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    for (const template of templates) {
      if (template.name !== imageName || (partialOnly && template.complete)) continue;
      await deleteTemplate(this.client, template.href, {
        clock: this.#clock,
        deadlineMs: this.#taskDeadlineMs,
        delaysMs: this.#options.pollDelaysMs ?? DEFAULT_POLL_DELAYS_MS,
        signal,
      });
    }
  }

  /** Sets the version metadata; a failure is a warning, the template stays. */
  async #metadata(image: ImageSpec, location: string, href: string, signal: AbortSignal) {
    try {
      await setMetadata(this.client, href, versionMetadata(image.name), {
        clock: this.#clock,
        deadlineMs: this.#taskDeadlineMs,
        delaysMs: this.#options.pollDelaysMs,
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      this.#options.logger?.warn(
        "setting the VCD template's version metadata failed; the template is kept",
        {
          image: image.name,
          location,
          reference: href,
          error: (error as Error).message,
        },
      );
    }
  }

  async #resolve(location: string, signal: AbortSignal): Promise<ResolvedLocation> {
    return await this.#locations.resolve(location, signal);
  }

  /** Runs a call on a location's catalog; a catalog VCD no longer knows is looked up again. */
  async #guard<T>(location: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof VcdApiError && error.isMissing) this.#locations.forget(location);
      throw error;
    }
  }
}
