/**
 * The VMware Cloud Director (`capvcd`) section of values.yaml (§6, §8.2).
 *
 * Read verbatim from the Go operator: `credentials.{url,username,password,org,insecure}` and a
 * single-object `locations: {name, vdc, catalog, hardwareVersion, org}` (its `org` is accepted
 * and ignored: the Go operator overwrote it with `credentials.org`). New, all optional:
 * - `locations` as a map of named locations (`locations.<name>.{vdc, catalog, …}`), told apart
 *   from the single object by its values all being mappings;
 * - `locations[.<name>].storageProfile`: the VDC storage profile for the template (default: the
 *   VDC's default profile);
 * - `credentials.caCert`: a PEM CA bundle for the API certificate (the same key as Proxmox);
 * - `credentials.refreshToken`: a VCD API token (`/oauth/.../token` refresh grant) instead of
 *   `username` and `password`;
 * - `uploadPieceSizeMiB`: size of one ranged PUT of a disk (default 64).
 *
 * `downloadDir` is read for compatibility and not used: nothing is written to disk.
 */
import {
  type Decoder,
  field,
  httpUrlProblem,
  isObject,
  join,
  Secret,
  type YamlObject,
} from "../../lib/config/mod.ts";

export interface VcdCredentials {
  /** `https://host` or `https://host/api`. */
  url: string;
  /** Without the `@org`; empty when a refresh token is used. */
  username: string;
  /** Empty (`reveal() === ""`) when a refresh token is used. */
  password: Secret;
  /** An API token (OAuth refresh token); replaces `username` and `password` when set. */
  refreshToken?: Secret;
  org: string;
  /** Skip TLS verification. */
  insecure: boolean;
  /** PEM CA bundle for the API certificate; absent means the system roots. */
  caCert?: string;
}

export interface VcdLocation {
  /** The VDC whose storage holds the template. */
  vdc: string;
  catalog: string;
  /** Virtual hardware version patched into the OVF; 0 means no patching. */
  hardwareVersion: number;
  /** A storage profile of `vdc`; "" means the VDC's default. */
  storageProfile: string;
  /** Accepted from the Go operator's file and ignored (`credentials.org` is used). */
  org?: string;
}

export interface VcdConfig {
  /** The Go operator's scratch directory, when given; not used (nothing goes to disk). */
  downloadDir?: string;
  /** Re-authenticate proactively once the session is this old. */
  sessionRefreshThresholdMs: number;
  /** Bytes per ranged PUT of a disk. */
  uploadPieceBytes: number;
  credentials: VcdCredentials;
  locations: Readonly<Record<string, VcdLocation>>;
}

const MIB = 1024 * 1024;

/** The chart's defaults, applied when the section leaves a field out. */
export const VCD_DEFAULTS = {
  sessionRefreshThresholdMs: 20 * 3_600_000,
  hardwareVersion: 19,
  uploadPieceBytes: 64 * MIB,
} as const;

/** Keys of the Go operator's single location object. */
const SINGLE_LOCATION_KEYS = ["name", "vdc", "catalog", "hardwareVersion", "org", "storageProfile"];

/** Reads the `vcd` section (already known to be enabled). */
export function parseVcdSection(section: YamlObject, d: Decoder, path: string): VcdConfig {
  const threshold = d.duration(
    section,
    "sessionRefreshThreshold",
    path,
    VCD_DEFAULTS.sessionRefreshThresholdMs,
  );
  const pieceMiB = d.count(
    section,
    "uploadPieceSizeMiB",
    path,
    VCD_DEFAULTS.uploadPieceBytes / MIB,
  );
  if (pieceMiB < 1 || pieceMiB > 4096) {
    d.issue(join(path, "uploadPieceSizeMiB"), `must be between 1 and 4096, got ${pieceMiB}`);
  }
  const downloadDir = d.optionalString(section, "downloadDir", path, "");
  return {
    ...(downloadDir ? { downloadDir } : {}),
    // The Go operator treats a threshold ≤ 0 as "use the default".
    sessionRefreshThresholdMs: threshold > 0 ? threshold : VCD_DEFAULTS.sessionRefreshThresholdMs,
    uploadPieceBytes: Math.min(Math.max(pieceMiB, 1), 4096) * MIB,
    credentials: parseVcdCredentials(
      d.object(field(section, "credentials"), join(path, "credentials")) ?? {},
      d,
      join(path, "credentials"),
    ),
    locations: parseVcdLocations(section, "locations", d, path),
  };
}

/** Reads VCD credentials (the `credentials` subtree, or the whole credentials file). */
export function parseVcdCredentials(raw: YamlObject, d: Decoder, path: string): VcdCredentials {
  const url = d.requiredString(raw, "url", path);
  const urlProblem = httpUrlProblem(url);
  if (urlProblem) d.issue(join(path, "url"), urlProblem);
  const caCert = d.optionalString(raw, "caCert", path, "");
  if (caCert !== "" && !caCert.includes("-----BEGIN CERTIFICATE-----")) {
    d.issue(join(path, "caCert"), "expected PEM certificates (-----BEGIN CERTIFICATE-----)");
  }
  const refreshToken = d.optionalString(raw, "refreshToken", path, "");
  const username = refreshToken
    ? d.optionalString(raw, "username", path, "")
    : d.requiredString(raw, "username", path);
  const password = refreshToken
    ? new Secret(d.optionalString(raw, "password", path, ""))
    : d.requiredSecret(raw, "password", path);
  if (refreshToken && password.reveal() !== "") {
    d.issue(join(path, "refreshToken"), "give either password or refreshToken, not both");
  }
  return {
    url,
    username,
    password,
    ...(refreshToken ? { refreshToken: new Secret(refreshToken) } : {}),
    org: d.requiredString(raw, "org", path),
    insecure: d.boolean(raw, "insecure", path, false),
    ...(caCert ? { caCert } : {}),
  };
}

/**
 * Reads `parent[key]`: the Go operator's single location object, or a map of named locations.
 * The whole locations file is read with `parent = {"": root}` and `key = ""`.
 */
export function parseVcdLocations(
  parent: YamlObject,
  key: string,
  d: Decoder,
  path: string,
): Record<string, VcdLocation> {
  const at = join(path, key);
  const raw = d.object(field(parent, key), at) ?? {};
  const values = Object.values(raw);
  const isMap = values.length > 0 && values.every((value) => isObject(value)) &&
    !Object.keys(raw).some((k) => SINGLE_LOCATION_KEYS.includes(k) && !isObject(raw[k]));
  if (!isMap) {
    const name = d.requiredString(raw, "name", at);
    // Built from entries so a location named "__proto__" stays an ordinary key.
    return Object.fromEntries([[name, parseVcdLocation(raw, d, at)]]);
  }
  const locations: [string, VcdLocation][] = [];
  for (const [name, item] of d.entries(parent, key, path)) {
    locations.push([name, parseVcdLocation(item, d, join(at, name))]);
  }
  return Object.fromEntries(locations);
}

/** Reads one location's fields (both forms). */
export function parseVcdLocation(raw: YamlObject, d: Decoder, path: string): VcdLocation {
  const org = d.optionalString(raw, "org", path, "");
  return {
    vdc: d.requiredString(raw, "vdc", path),
    catalog: d.requiredString(raw, "catalog", path),
    hardwareVersion: d.count(raw, "hardwareVersion", path, VCD_DEFAULTS.hardwareVersion),
    storageProfile: d.optionalString(raw, "storageProfile", path, ""),
    ...(org ? { org } : {}),
  };
}
