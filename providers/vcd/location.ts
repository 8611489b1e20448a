/**
 * What a configured location names, found in VCD: the org (from the credentials), its catalog
 * and that catalog's upload link, the VDC and the storage profile that places the template in
 * it.
 *
 * Why a storage profile: `action/upload` on a catalog has no VDC parameter; the VDC storage
 * profile in `UploadVAppTemplateParams` is what puts the template's disks into a given VDC
 * (its named profile, or the VDC's default).
 *
 * Guarantees: a location is looked up once and cached; `forget` drops it (after VCD said an id
 * we hold does not exist), so a recreated catalog is found again. Errors name the location,
 * the missing object and what exists instead.
 */
import { PlatformError, ProviderUnavailableError, UnknownLocationError } from "../types.ts";
import type { VcdClient } from "./client.ts";
import type { VcdLocation } from "./config.ts";
import { attr, children, linksOf } from "./xml.ts";
import { raceSignal, withDeadline } from "./_signal.ts";

const CATALOG_TYPE = "application/vnd.vmware.vcloud.catalog+xml";
const VDC_TYPE = "application/vnd.vmware.vcloud.vdc+xml";
export const UPLOAD_PARAMS_TYPE = "application/vnd.vmware.vcloud.uploadVAppTemplateParams+xml";

/** A location resolved to VCD references. */
export interface ResolvedLocation {
  name: string;
  config: VcdLocation;
  org: string;
  catalogHref: string;
  /** `POST` here with `UploadVAppTemplateParams` to create a catalog item. */
  uploadHref: string;
  vdcHref: string;
  storageProfile: { name: string; href: string };
}

export class Locations {
  readonly #client: VcdClient;
  readonly #configs: ReadonlyMap<string, VcdLocation>;
  readonly #resolved = new Map<string, Promise<ResolvedLocation>>();

  constructor(client: VcdClient, configs: Readonly<Record<string, VcdLocation>>) {
    this.#client = client;
    this.#configs = new Map(Object.entries(configs));
  }

  names(): string[] {
    return [...this.#configs.keys()];
  }

  /** The configured location, or `UnknownLocationError`. */
  config(name: string): VcdLocation {
    const config = this.#configs.get(name);
    if (!config) {
      throw new UnknownLocationError(
        `VCD location "${name}" is not configured (known: ${this.names().join(", ")})`,
      );
    }
    return config;
  }

  /** The location's VCD references (cached after the first success). */
  resolve(name: string, signal: AbortSignal): Promise<ResolvedLocation> {
    const config = this.config(name);
    let pending = this.#resolved.get(name);
    if (!pending) {
      // Shared by every caller, so one caller giving up does not fail the others.
      pending = withDeadline(
        120_000,
        () => new ProviderUnavailableError(`Looking up VCD location "${name}" took over 120 s`),
        (deadline) => this.#lookUp(name, config, deadline),
      );
      this.#resolved.set(name, pending);
      pending.catch(() => {
        if (this.#resolved.get(name) === pending) this.#resolved.delete(name);
      });
    }
    return raceSignal(pending, signal);
  }

  /** Looks the location up again next time. */
  forget(name: string): void {
    this.#resolved.delete(name);
  }

  async #lookUp(name: string, config: VcdLocation, signal: AbortSignal): Promise<ResolvedLocation> {
    const client = this.#client;
    const org = client.session.org;
    const where = `VCD location "${name}"`;
    const { node: orgList } = await client.api("GET", client.url("/api/org"), {
      signal,
      step: "find org",
    });
    const orgs = children(orgList, "Org").map((o) => ({
      name: attr(o, "name"),
      href: attr(o, "href"),
    }));
    const orgRef = orgs.find((o) => o.name === org) ??
      orgs.find((o) => o.name.toLowerCase() === org.toLowerCase());
    if (!orgRef) {
      throw new PlatformError(
        `${where}: org "${org}" is not visible to this user (visible: ${list(orgs)})`,
        "find org",
      );
    }
    const { node: orgDoc } = await client.api("GET", orgRef.href, { signal, step: "find org" });
    const links = linksOf(orgDoc);
    const catalogs = links.filter((l) => l.type === CATALOG_TYPE && l.rel === "down");
    const catalog = catalogs.find((l) => l.name === config.catalog);
    if (!catalog) {
      throw new PlatformError(
        `${where}: catalog "${config.catalog}" not found in org "${org}" ` +
          `(catalogs: ${list(catalogs)})`,
        "find catalog",
      );
    }
    const vdcs = links.filter((l) => l.type === VDC_TYPE && l.rel === "down");
    const vdc = vdcs.find((l) => l.name === config.vdc);
    if (!vdc) {
      throw new PlatformError(
        `${where}: VDC "${config.vdc}" not found in org "${org}" (VDCs: ${list(vdcs)})`,
        "find VDC",
      );
    }
    const { node: catalogDoc } = await client.api("GET", catalog.href, {
      signal,
      step: "find catalog",
    });
    const upload = linksOf(catalogDoc).find((l) =>
      l.rel === "add" && l.type === UPLOAD_PARAMS_TYPE
    );
    if (!upload) {
      throw new PlatformError(
        `${where}: catalog "${config.catalog}" offers no upload link (a subscribed catalog, or ` +
          `the user may not add items to it)`,
        "find catalog",
      );
    }
    const type = client.session.isProvider ? "adminOrgVdcStorageProfile" : "orgVdcStorageProfile";
    const profiles = (await client.query(type, [["vdcName", config.vdc]], signal))
      .filter((p) => sameEntity(p.vdc, vdc.href) && p.isEnabled !== "false");
    const profile = config.storageProfile
      ? profiles.find((p) => p.name === config.storageProfile)
      : profiles.find((p) => p.isDefaultStorageProfile === "true");
    if (!profile) {
      const wanted = config.storageProfile
        ? `storage profile "${config.storageProfile}"`
        : "a default storage profile";
      throw new PlatformError(
        `${where}: VDC "${config.vdc}" has no enabled ${wanted} ` +
          `(profiles: ${profiles.map((p) => `"${p.name}"`).join(", ") || "none"})`,
        "find storage profile",
      );
    }
    return {
      name,
      config,
      org: orgRef.name,
      catalogHref: catalog.href,
      uploadHref: upload.href,
      vdcHref: vdc.href,
      storageProfile: { name: profile.name, href: profile.href },
    };
  }
}

/**
 * True when two references name the same entity. Query records give hrefs or URNs
 * (`urn:vcloud:vdc:<uuid>`), entity documents hrefs (`…/api/vdc/<uuid>`): the UUID decides.
 */
export function sameEntity(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const id = (s: string) =>
    /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i
      .exec(s)?.[1]?.toLowerCase() ?? s;
  return id(a) === id(b);
}

function list(items: { name: string }[]): string {
  return items.map((i) => `"${i.name}"`).join(", ") || "none";
}
