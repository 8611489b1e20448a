/**
 * Inventory from one vApp-template query per catalog (not one per image): every template in the
 * catalog with its status.
 *
 * Guarantees:
 * - Locations sharing a catalog share one listing; concurrent callers share one request, and an
 *   answer is reused for `maxAgeMs`; `invalidate()` (after our own writes) makes the next call
 *   ask again.
 * - Only templates of the location's catalog count (admin queries see other orgs' catalogs of
 *   the same name). A template is complete only when VCD reports it resolved; a failed or
 *   unresolved one (an upload in progress or abandoned) is reported `complete: false`.
 */
import type { Clock } from "../../lib/clock.ts";
import { type Inventory, type InventoryItem, ProviderUnavailableError } from "../types.ts";
import type { QueryRecord, VcdClient } from "./client.ts";
import { type ResolvedLocation, sameEntity } from "./location.ts";
import { raceSignal, withDeadline } from "./_signal.ts";

/**
 * Record statuses of a usable template. Query records carry the status as a name; VCD's
 * numeric 8 for templates maps to `POWERED_OFF` in go-vcd's `VAppStatuses` table, while
 * resolved templates are commonly listed as `RESOLVED` [UNVERIFIED which one VCD 10.4+ uses
 * for vAppTemplate records], so both count.
 */
const COMPLETE_STATUSES = new Set(["RESOLVED", "POWERED_OFF", "8"]);

/** A template of a catalog, as the listing reports it. */
export interface CatalogTemplate {
  name: string;
  href: string;
  status: string;
  complete: boolean;
}

export class CatalogListings {
  readonly #client: VcdClient;
  readonly #clock: Clock;
  readonly #maxAgeMs: number;
  readonly #entries = new Map<string, {
    at?: number;
    templates?: CatalogTemplate[];
    inFlight?: Promise<CatalogTemplate[]>;
  }>();
  #generation = 0;

  constructor(client: VcdClient, clock: Clock, maxAgeMs: number) {
    this.#client = client;
    this.#clock = clock;
    this.#maxAgeMs = maxAgeMs;
  }

  /** The templates of the location's catalog, from a recent listing when there is one. */
  list(location: ResolvedLocation, signal: AbortSignal): Promise<CatalogTemplate[]> {
    const key = location.catalogHref;
    const entry = this.#entries.get(key) ?? {};
    this.#entries.set(key, entry);
    if (entry.templates && this.#clock.now() - entry.at! < this.#maxAgeMs) {
      return Promise.resolve(entry.templates);
    }
    // Shared by every caller, so one caller giving up does not fail the others.
    entry.inFlight ??= this.#fetch(location, entry);
    return raceSignal(entry.inFlight, signal);
  }

  /** A listing no earlier answer satisfies (for create and delete decisions). */
  fresh(location: ResolvedLocation, signal: AbortSignal): Promise<CatalogTemplate[]> {
    this.invalidate();
    return this.list(location, signal);
  }

  /** Forgets every listing; in-flight requests are not reused either. */
  invalidate(): void {
    this.#entries.clear();
    this.#generation++;
  }

  async #fetch(
    location: ResolvedLocation,
    entry: { at?: number; templates?: CatalogTemplate[]; inFlight?: Promise<CatalogTemplate[]> },
  ): Promise<CatalogTemplate[]> {
    const generation = this.#generation;
    try {
      const type = this.#client.session.isProvider ? "adminVAppTemplate" : "vAppTemplate";
      const records = await withDeadline(
        120_000,
        () =>
          new ProviderUnavailableError(
            `Listing VCD catalog "${location.config.catalog}" took over 120 s`,
          ),
        (signal) => this.#client.query(type, [["catalogName", location.config.catalog]], signal),
      );
      const templates = records
        .filter((r) => r.catalog === undefined || sameEntity(r.catalog, location.catalogHref))
        .map(templateOf);
      if (generation === this.#generation) {
        entry.templates = templates;
        entry.at = this.#clock.now();
      }
      return templates;
    } finally {
      if (generation === this.#generation) entry.inFlight = undefined;
    }
  }
}

/** The inventory of one location from its catalog's templates. */
export function classify(templates: readonly CatalogTemplate[]): Inventory {
  const items = new Map<string, InventoryItem>();
  for (const template of templates) {
    const existing = items.get(template.name);
    // A complete template wins over a leftover with the same name.
    if (existing && (existing.complete || !template.complete)) continue;
    items.set(template.name, {
      name: template.name,
      reference: template.href,
      complete: template.complete,
    });
  }
  return { items };
}

function templateOf(record: QueryRecord): CatalogTemplate {
  const status = record.status ?? "";
  return {
    name: record.name ?? "",
    href: record.href ?? "",
    status,
    complete: COMPLETE_STATUSES.has(status),
  };
}
