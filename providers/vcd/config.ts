/**
 * The VMware Cloud Director (`capvcd`) section of values.yaml (§6, §8.2). Its `locations` is a
 * single object, not a map, as in the Go operator; `locations.org` is accepted and ignored
 * because the Go operator overwrites it with `credentials.org`.
 */
import {
  type Decoder,
  field,
  httpUrlProblem,
  join,
  type Secret,
  type YamlObject,
} from "../../lib/config/mod.ts";

export interface VcdCredentials {
  /** `https://host` or `https://host/api`. */
  url: string;
  username: string;
  password: Secret;
  org: string;
  /** Skip TLS verification. */
  insecure: boolean;
}

export interface VcdLocation {
  name: string;
  /** Required by the Go operator but never used by it. */
  vdc: string;
  catalog: string;
  /** Virtual hardware version patched into the OVF; 0 means no patching. */
  hardwareVersion: number;
}

export interface VcdConfig {
  downloadDir: string;
  /** Re-authenticate proactively once the session is this old. */
  sessionRefreshThresholdMs: number;
  credentials: VcdCredentials;
  location: VcdLocation;
}

/** The chart's defaults, applied when the section leaves a field out. */
export const VCD_DEFAULTS = {
  downloadDir: "/tmp/images",
  sessionRefreshThresholdMs: 20 * 3_600_000,
  hardwareVersion: 19,
} as const;

/** Reads the `vcd` section (already known to be enabled). */
export function parseVcdSection(section: YamlObject, d: Decoder, path: string): VcdConfig {
  const threshold = d.duration(
    section,
    "sessionRefreshThreshold",
    path,
    VCD_DEFAULTS.sessionRefreshThresholdMs,
  );
  return {
    downloadDir: d.optionalString(section, "downloadDir", path, VCD_DEFAULTS.downloadDir) ||
      VCD_DEFAULTS.downloadDir,
    // The Go operator treats a threshold ≤ 0 as "use the default".
    sessionRefreshThresholdMs: threshold > 0 ? threshold : VCD_DEFAULTS.sessionRefreshThresholdMs,
    credentials: parseVcdCredentials(
      d.object(field(section, "credentials"), join(path, "credentials")) ?? {},
      d,
      join(path, "credentials"),
    ),
    location: parseVcdLocation(
      d.object(field(section, "locations"), join(path, "locations")) ?? {},
      d,
      join(path, "locations"),
    ),
  };
}

/** Reads VCD credentials (the `credentials` subtree, or the whole credentials file). */
export function parseVcdCredentials(raw: YamlObject, d: Decoder, path: string): VcdCredentials {
  const url = d.requiredString(raw, "url", path);
  const urlProblem = httpUrlProblem(url);
  if (urlProblem) d.issue(join(path, "url"), urlProblem);
  return {
    url,
    username: d.requiredString(raw, "username", path),
    password: d.requiredSecret(raw, "password", path),
    org: d.requiredString(raw, "org", path),
    insecure: d.boolean(raw, "insecure", path, false),
  };
}

/** Reads the single VCD location (the `locations` subtree, or the whole locations file). */
export function parseVcdLocation(raw: YamlObject, d: Decoder, path: string): VcdLocation {
  return {
    name: d.requiredString(raw, "name", path),
    vdc: d.requiredString(raw, "vdc", path),
    catalog: d.requiredString(raw, "catalog", path),
    hardwareVersion: d.count(raw, "hardwareVersion", path, VCD_DEFAULTS.hardwareVersion),
  };
}
