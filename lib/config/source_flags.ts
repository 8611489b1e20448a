/**
 * The Go operator's configuration flags (reference §8.1), plus the S3 flags of issue 5, as one
 * plain `ConfigSources` object that `main.ts` fills from the command line. The per-platform
 * flags (`--enable-<p>`, `--<p>-credentials`, …) come from the provider modules.
 *
 * Every field is optional and `undefined` means "not given": the Go defaults are applied by
 * `loadConfigFromSources`, not here, so a flag given on purpose can be told apart from a default
 * and override values.yaml (precedence is documented in `sources.ts`). That is why the flag
 * specs below declare no defaults; their usage text states them instead.
 */
import type { FlagSpec, FlagValues } from "../flags.ts";
import type { ProviderModule } from "../provider_module.ts";
import { parseGoDuration } from "../duration.ts";
import type { ConfigIssue } from "./errors.ts";
import { s3BucketProblem, type S3Config, s3EndpointProblem } from "./s3.ts";
import type { ClientSetupConfig } from "./operator_config.ts";

/** Where the configuration comes from; each field is one flag (see `TABLE`). */
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
  /** A Go duration ≥ 0. */
  imageRetentionPeriod?: string;
  /** A Go duration ≥ 0. */
  clientSetupRetryDuration?: string;
  /** A whole number ≥ 0. */
  clientSetupRetrySteps?: string;
  /**
   * The provider modules' flags that were given (`enable-proxmox`, `vsphere-locations`, …), by
   * flag name without `--`; see `providerFlagSpecs`.
   */
  providerFlags?: Readonly<Record<string, string | boolean>>;
}

type Entry = [flag: string, kind: "string" | "bool", usage: string];

const TABLE: { [K in Exclude<keyof ConfigSources, "providerFlags">]-?: Entry } = {
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

type SourceKey = keyof typeof TABLE;

/** The flag of each source field, with its leading `--`, for messages. */
export function flagOf(key: SourceKey): string {
  return `--${TABLE[key][0]}`;
}

/** Flag specs to merge into `main.ts`'s flags; none has a default (see the module doc). */
export const CONFIG_FLAGS: Readonly<Record<string, FlagSpec>> = Object.fromEntries(
  Object.values(TABLE).map(([flag, kind, usage]) => [flag, { kind, usage }]),
);

/**
 * Flag specs of the provider modules: `--enable-<p>`, `--<p>-credentials`, `--<p>-locations`
 * and each module's own flags, to merge into `main.ts`'s flags. None has a default.
 */
export function providerFlagSpecs(
  modules: readonly ProviderModule[],
): Record<string, FlagSpec> {
  const specs: Record<string, FlagSpec> = {};
  for (const m of modules) {
    specs[m.flags.enable] = { kind: "bool", usage: `Enable the ${m.platform} provider (${m.id})` };
    specs[m.flags.credentials] = {
      kind: "string",
      usage: `${m.platform} credentials file (default ${m.files.credentials})`,
    };
    specs[m.flags.locations] = {
      kind: "string",
      usage: `${m.platform} locations file (default ${m.files.locations})`,
    };
    for (const flag of m.extraFlags ?? []) {
      specs[flag.name] = { kind: flag.kind, usage: flag.usage };
    }
  }
  return specs;
}

/** Picks the configuration flags (the operator's and the modules') out of `parseFlags`' result. */
export function configSourcesFromFlags(
  values: FlagValues,
  modules: readonly ProviderModule[] = [],
): ConfigSources {
  const sources: Record<string, string | boolean> = {};
  for (const [key, [flag, kind]] of Object.entries(TABLE)) {
    const value = values[flag];
    if (value !== undefined && typeof value === (kind === "bool" ? "boolean" : "string")) {
      sources[key] = value;
    }
  }
  const providerFlags: Record<string, string | boolean> = {};
  for (const [flag, spec] of Object.entries(providerFlagSpecs(modules))) {
    const value = values[flag];
    if (value !== undefined && typeof value === (spec.kind === "bool" ? "boolean" : "string")) {
      providerFlags[flag] = value;
    }
  }
  return (Object.keys(providerFlags).length
    ? { ...sources, providerFlags }
    : sources) as ConfigSources;
}

/** The values the flags set, decoded; a field is present only when its flag was given. */
export interface FlagOverrides {
  s3: Partial<S3Config>;
  retentionMs?: number;
  clientSetup: Partial<ClientSetupConfig>;
}

/**
 * Decodes the value flags (durations, numbers, URLs). Every flag is checked, even one for a
 * disabled provider, as Go's flag package did at start-up. Problems are pushed to `issues`.
 */
export function decodeFlagOverrides(sources: ConfigSources, issues: ConfigIssue[]): FlagOverrides {
  const problem = (key: SourceKey, message: string) =>
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

  const duration = (key: SourceKey): number | undefined => {
    const text = sources[key];
    if (typeof text !== "string") return undefined;
    try {
      const ms = parseGoDuration(text);
      if (ms >= 0) return ms;
      problem(key, `must not be negative, got "${text}"`);
    } catch (error) {
      const message = (error as Error).message;
      problem(key, message[0].toLowerCase() + message.slice(1));
    }
    return undefined;
  };
  const overrides: FlagOverrides = { s3, clientSetup: {} };
  const retentionMs = duration("imageRetentionPeriod");
  if (retentionMs !== undefined) overrides.retentionMs = retentionMs;
  const initialBackoffMs = duration("clientSetupRetryDuration");
  if (initialBackoffMs !== undefined) overrides.clientSetup.initialBackoffMs = initialBackoffMs;
  if (sources.clientSetupRetrySteps !== undefined) {
    const text = sources.clientSetupRetrySteps;
    if (/^[0-9]+$/.test(text)) overrides.clientSetup.retryCount = Number(text);
    else problem("clientSetupRetrySteps", `expected a whole number ≥ 0, got "${text}"`);
  }
  return overrides;
}
