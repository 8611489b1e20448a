/**
 * The Proxmox (`capmox`) section of values.yaml (§7, §8.2).
 */
import { type Decoder, field, join, type YamlObject } from "./_decode.ts";
import type { Secret } from "./secret.ts";

export interface ProxmoxCredentials {
  /** `host:port` without a scheme, e.g. `pve.example.com:8006`. */
  url: string;
  user: string;
  realm: string;
  tokenId: string;
  /** The API token secret. */
  secret: Secret;
  insecure: boolean;
}

export interface ProxmoxLocation {
  node: string;
  /** Target disk storage. */
  storagePool: string;
  /** Storage with content type `import` that receives the downloaded image. */
  importStorage: string;
  bridge: string;
}

export interface ProxmoxConfig {
  credentials: ProxmoxCredentials;
  locations: Readonly<Record<string, ProxmoxLocation>>;
}

export const PROXMOX_DEFAULTS = { realm: "pam", importStorage: "local" } as const;

/** Reads the `proxmox` section (already known to be enabled). */
export function parseProxmoxSection(section: YamlObject, d: Decoder, path: string): ProxmoxConfig {
  return {
    credentials: parseProxmoxCredentials(
      d.object(field(section, "credentials"), join(path, "credentials")) ?? {},
      d,
      join(path, "credentials"),
    ),
    locations: parseProxmoxLocations(section, "locations", d, path),
  };
}

/** Reads Proxmox credentials (the `credentials` subtree, or the whole credentials file). */
export function parseProxmoxCredentials(
  raw: YamlObject,
  d: Decoder,
  path: string,
): ProxmoxCredentials {
  const url = d.requiredString(raw, "url", path);
  // The Go operator prepends https:// itself; a scheme here breaks every request (§11.23).
  if (url.includes("://")) d.issue(join(path, "url"), "expected host:port without a scheme");
  return {
    url,
    user: d.requiredString(raw, "user", path),
    realm: d.optionalString(raw, "realm", path, "") || PROXMOX_DEFAULTS.realm,
    tokenId: d.requiredString(raw, "tokenId", path),
    secret: d.requiredSecret(raw, "secret", path),
    insecure: d.boolean(raw, "insecure", path, false),
  };
}

/** Reads the locations map found under `key` of `parent`. */
export function parseProxmoxLocations(
  parent: YamlObject,
  key: string,
  d: Decoder,
  path: string,
): Record<string, ProxmoxLocation> {
  // Built from entries so a location named "__proto__" stays an ordinary key.
  const locations: [string, ProxmoxLocation][] = [];
  for (const [name, raw] of d.entries(parent, key, path)) {
    const at = join(join(path, key), name);
    locations.push([name, {
      node: d.requiredString(raw, "node", at),
      storagePool: d.requiredString(raw, "storagePool", at),
      importStorage: d.optionalString(raw, "importStorage", at, "") ||
        PROXMOX_DEFAULTS.importStorage,
      bridge: d.requiredString(raw, "bridge", at),
    }]);
  }
  return Object.fromEntries(locations);
}
