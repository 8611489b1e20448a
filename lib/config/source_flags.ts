/**
 * The Go operator's configuration flags (reference §8.1), plus the S3 flags of issue 5, as one
 * plain `ConfigSources` object that `main.ts` fills from the command line.
 *
 * Every field is optional and `undefined` means "not given": the Go defaults are applied by
 * `loadConfigFromSources`, not here, so a flag given on purpose can be told apart from a default
 * and override values.yaml (precedence is documented in `sources.ts`). That is why the flag
 * specs below declare no defaults; their usage text states them instead.
 */
import type { FlagSpec, FlagValues } from "../flags.ts";
import { parseGoDuration } from "../duration.ts";
import type { ConfigIssue } from "./errors.ts";
import { s3BucketProblem, type S3Config, s3EndpointProblem } from "./s3.ts";
import type { ClientSetupConfig } from "./operator_config.ts";

/** Where the configuration comes from; each field is one flag (named in `CONFIG_FLAG_NAMES`). */
export interface ConfigSources {
  /** `--config`: a values.yaml in the Helm values shape. */
  config?: string;
  s3Bucket?: string;
  s3Region?: string;
  s3Http?: boolean;
  /** Whole seconds > 0, as the Go flag. */
  s3TimeoutSeconds?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  s3Presign?: boolean;
  s3CredentialsFile?: string;
  enableVsphere?: boolean;
  enableCloudDirector?: boolean;
  enableProxmox?: boolean;
  vsphereCredentials?: string;
  vsphereLocations?: string;
  vspherePullFromUrl?: boolean;
  vcdCredentials?: string;
  vcdLocations?: string;
  vcdDownloadDir?: string;
  /** A Go duration; ≤ 0 means the default 20h, as in the Go operator. */
  vcdSessionRefreshThreshold?: string;
  proxmoxCredentials?: string;
  proxmoxLocations?: string;
  /** A Go duration ≥ 0. */
  imageRetentionPeriod?: string;
  /** A Go duration ≥ 0. */
  clientSetupRetryDuration?: string;
  /** A whole number ≥ 0. */
  clientSetupRetrySteps?: string;
}

type Entry = [flag: string, kind: "string" | "bool", usage: string];

const TABLE: { [K in keyof Required<ConfigSources>]: Entry } = {
  config: ["config", "string", "values.yaml in the Go operator's Helm values shape"],
  s3Bucket: ["s3-bucket", "string", "S3 bucket of the node images"],
  s3Region: ["s3-region", "string", "S3 region"],
  s3Http: ["s3-http", "bool", "Use http instead of https in S3 URLs (default false)"],
  s3TimeoutSeconds: ["s3-timeout-seconds", "string", "S3 request timeout in seconds (default 90)"],
  s3Endpoint: ["s3-endpoint", "string", "Custom S3 endpoint URL, e.g. http://minio:9000"],
  s3ForcePathStyle: ["s3-force-path-style", "bool", "Path-style S3 URLs (default false)"],
  s3Presign: ["s3-presign", "bool", "Give platforms presigned S3 URLs (default false)"],
  s3CredentialsFile: [
    "s3-credentials-file",
    "string",
    "YAML file with accessKeyId, secretAccessKey, sessionToken; without it, anonymous access",
  ],
  enableVsphere: ["enable-vsphere", "bool", "Enable the vSphere provider (capv)"],
  enableCloudDirector: ["enable-cloud-director", "bool", "Enable the Cloud Director provider"],
  enableProxmox: ["enable-proxmox", "bool", "Enable the Proxmox provider (capmox)"],
  vsphereCredentials: [
    "vsphere-credentials",
    "string",
    "vSphere credentials file (default /home/.vsphere/credentials)",
  ],
  vsphereLocations: [
    "vsphere-locations",
    "string",
    "vSphere locations file (default /home/.vsphere/locations)",
  ],
  vspherePullFromUrl: ["vsphere-pull-from-url", "bool", "Let ESXi pull images from S3"],
  vcdCredentials: ["vcd-credentials", "string", "VCD credentials (default /home/.vcd/credentials)"],
  vcdLocations: ["vcd-locations", "string", "VCD location file (default /home/.vcd/locations)"],
  vcdDownloadDir: ["vcd-download-dir", "string", "VCD OVA scratch dir (default /tmp/images)"],
  vcdSessionRefreshThreshold: [
    "vcd-session-refresh-threshold",
    "string",
    "Re-authenticate to VCD after this long (default 20h)",
  ],
  proxmoxCredentials: [
    "proxmox-credentials",
    "string",
    "Proxmox credentials file (default /home/.proxmox/credentials)",
  ],
  proxmoxLocations: [
    "proxmox-locations",
    "string",
    "Proxmox locations file (default /home/.proxmox/locations)",
  ],
  imageRetentionPeriod: [
    "image-retention-period",
    "string",
    "Keep unused images this long, Go duration (default 0: delete at once)",
  ],
  clientSetupRetryDuration: [
    "client-setup-retry-duration",
    "string",
    "First delay of the provider start-up retry (default 5s)",
  ],
  clientSetupRetrySteps: [
    "client-setup-retry-steps",
    "string",
    "Attempts of the provider start-up retry (default 5)",
  ],
};

/** The flag of each source field, with its leading `--`, for messages. */
export function flagOf(key: keyof ConfigSources): string {
  return `--${TABLE[key][0]}`;
}

/** Flag specs to merge into `main.ts`'s flags; none has a default (see the module doc). */
export const CONFIG_FLAGS: Readonly<Record<string, FlagSpec>> = Object.fromEntries(
  Object.values(TABLE).map(([flag, kind, usage]) => [flag, { kind, usage }]),
);

/** Picks the configuration flags out of `parseFlags`' result. */
export function configSourcesFromFlags(values: FlagValues): ConfigSources {
  const sources: Record<string, string | boolean> = {};
  for (const [key, [flag, kind]] of Object.entries(TABLE)) {
    const value = values[flag];
    if (value !== undefined && typeof value === (kind === "bool" ? "boolean" : "string")) {
      sources[key] = value;
    }
  }
  return sources as ConfigSources;
}

/** The values the flags set, decoded; a field is present only when its flag was given. */
export interface FlagOverrides {
  s3: Partial<S3Config>;
  retentionMs?: number;
  clientSetup: Partial<ClientSetupConfig>;
  pullFromURL?: boolean;
  vcdDownloadDir?: string;
  vcdSessionRefreshThresholdMs?: number;
}

/**
 * Decodes the value flags (durations, numbers, URLs). Every flag is checked, even one for a
 * disabled provider, as Go's flag package did at start-up. Problems are pushed to `issues`.
 */
export function decodeFlagOverrides(sources: ConfigSources, issues: ConfigIssue[]): FlagOverrides {
  const problem = (key: keyof ConfigSources, message: string) =>
    issues.push({ file: flagOf(key), path: "", message });
  const s3: Partial<S3Config> = {};
  if (sources.s3Bucket !== undefined) {
    const bad = s3BucketProblem(sources.s3Bucket);
    if (bad) problem("s3Bucket", bad);
    s3.bucket = sources.s3Bucket;
  }
  if (sources.s3Region !== undefined) s3.region = sources.s3Region;
  if (sources.s3Http !== undefined) s3.http = sources.s3Http;
  if (sources.s3TimeoutSeconds !== undefined) {
    const text = sources.s3TimeoutSeconds;
    if (/^[0-9]+$/.test(text) && Number(text) > 0) s3.timeoutMs = Number(text) * 1000;
    else problem("s3TimeoutSeconds", `expected whole seconds > 0, got "${text}"`);
  }
  if (sources.s3Endpoint) {
    const bad = s3EndpointProblem(sources.s3Endpoint);
    if (bad) problem("s3Endpoint", bad);
    s3.endpoint = sources.s3Endpoint;
  }
  if (sources.s3ForcePathStyle !== undefined) s3.forcePathStyle = sources.s3ForcePathStyle;
  if (sources.s3Presign !== undefined) s3.presign = sources.s3Presign;
  if (sources.s3CredentialsFile) s3.credentialsFile = sources.s3CredentialsFile;

  const duration = (key: keyof ConfigSources, allowNegative: boolean): number | undefined => {
    const text = sources[key];
    if (typeof text !== "string") return undefined;
    try {
      const ms = parseGoDuration(text);
      if (ms >= 0 || allowNegative) return ms;
      problem(key, `must not be negative, got "${text}"`);
    } catch (error) {
      const message = (error as Error).message;
      problem(key, message[0].toLowerCase() + message.slice(1));
    }
    return undefined;
  };
  const overrides: FlagOverrides = { s3, clientSetup: {} };
  const retentionMs = duration("imageRetentionPeriod", false);
  if (retentionMs !== undefined) overrides.retentionMs = retentionMs;
  const initialBackoffMs = duration("clientSetupRetryDuration", false);
  if (initialBackoffMs !== undefined) overrides.clientSetup.initialBackoffMs = initialBackoffMs;
  if (sources.clientSetupRetrySteps !== undefined) {
    const text = sources.clientSetupRetrySteps;
    if (/^[0-9]+$/.test(text)) overrides.clientSetup.retryCount = Number(text);
    else problem("clientSetupRetrySteps", `expected a whole number ≥ 0, got "${text}"`);
  }
  if (sources.vspherePullFromUrl !== undefined) overrides.pullFromURL = sources.vspherePullFromUrl;
  // The Go operator falls back to the defaults for "" and for a threshold ≤ 0.
  if (sources.vcdDownloadDir) overrides.vcdDownloadDir = sources.vcdDownloadDir;
  const threshold = duration("vcdSessionRefreshThreshold", true);
  if (threshold !== undefined && threshold > 0) overrides.vcdSessionRefreshThresholdMs = threshold;
  return overrides;
}
