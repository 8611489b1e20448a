/**
 * The vSphere (`capv`) section of values.yaml, or the Go operator's mounted
 * `/home/.vsphere/{credentials,locations}` files, which hold the same two subtrees (§5, §8.2).
 */
import {
  type Decoder,
  field,
  hostPortProblem,
  join,
  type Secret,
  type YamlObject,
} from "../../lib/config/mod.ts";

export interface VsphereCredentials {
  /** vCenter host or host:port, without a scheme. */
  vcenter: string;
  username: string;
  password: Secret;
}

/** One import target. Optional fields are "" when unset, as in the Go operator. */
export interface VsphereLocation {
  datacenter: string;
  datastore: string;
  /** VM folder; also the prefix of the existence path `<folder>/<name>`. */
  folder: string;
  cluster: string;
  /** As configured; the Go operator rewrites it to `/<datacenter>/host/<cluster>/<pool>`. */
  resourcepool: string;
  host: string;
  network: string;
  imagesuffix: string;
}

export interface VsphereConfig {
  /** Let ESXi pull the image from the S3 URL instead of streaming it through the operator. */
  pullFromURL: boolean;
  credentials: VsphereCredentials;
  locations: Readonly<Record<string, VsphereLocation>>;
}

/** Reads the `vsphere` section (already known to be enabled). */
export function parseVsphereSection(section: YamlObject, d: Decoder, path: string): VsphereConfig {
  return {
    pullFromURL: d.boolean(section, "pullFromURL", path, false),
    credentials: parseVsphereCredentials(
      d.object(field(section, "credentials"), join(path, "credentials")) ?? {},
      d,
      join(path, "credentials"),
    ),
    locations: parseVsphereLocations(section, "locations", d, path),
  };
}

/** Reads vSphere credentials (the `credentials` subtree, or the whole credentials file). */
export function parseVsphereCredentials(
  raw: YamlObject,
  d: Decoder,
  path: string,
): VsphereCredentials {
  const vcenter = d.requiredString(raw, "vcenter", path);
  const vcenterProblem = hostPortProblem(vcenter);
  if (vcenterProblem) d.issue(join(path, "vcenter"), vcenterProblem);
  return {
    vcenter,
    username: d.requiredString(raw, "username", path),
    password: d.requiredSecret(raw, "password", path),
  };
}

/** Reads the locations map found under `key` of `parent`. */
export function parseVsphereLocations(
  parent: YamlObject,
  key: string,
  d: Decoder,
  path: string,
): Record<string, VsphereLocation> {
  // Built from entries so a location named "__proto__" stays an ordinary key.
  const locations: [string, VsphereLocation][] = [];
  for (const [name, raw] of d.entries(parent, key, path)) {
    const at = join(join(path, key), name);
    locations.push([name, {
      datacenter: d.requiredString(raw, "datacenter", at),
      datastore: d.requiredString(raw, "datastore", at),
      folder: d.requiredString(raw, "folder", at),
      cluster: d.requiredString(raw, "cluster", at),
      resourcepool: d.optionalString(raw, "resourcepool", at, ""),
      host: d.optionalString(raw, "host", at, ""),
      network: d.optionalString(raw, "network", at, ""),
      imagesuffix: d.optionalString(raw, "imagesuffix", at, ""),
    }]);
  }
  return Object.fromEntries(locations);
}
