/**
 * The operator configuration, loaded from one values.yaml in the Go operator's Helm values shape
 * (reference spec §8.2; `--config <file>`): `s3`, `imageRetentionPeriod`, `clientSetup`, and the
 * provider sections `vsphere`, `vcd`, `proxmox`. Keys the operator does not use (the chart's
 * `controllerManager`, `rbac`, …) are ignored, so the chart's own values file loads too.
 *
 * A provider is configured when its section is present and not `enabled: false`: the chart's
 * `enabled` toggle is honoured, and the older form without it still counts as configured. A
 * disabled section is not validated (the chart ships disabled sections full of empty strings).
 *
 * Guarantees: validation happens here, at load; every problem is reported at once with file and
 * field path; secrets are `Secret` objects and never appear in errors, `String()`, JSON or
 * `Deno.inspect()` of the config. Loading is a pure function of the file's text, so a reload is
 * just another load.
 */
import { formatGoDuration } from "../duration.ts";
import { PROVIDER_IDS, type ProviderId } from "../names.ts";
import { Decoder, field, isObject, join, type YamlObject } from "./_decode.ts";
import { parseYaml } from "./_yaml.ts";
import { ConfigError } from "./errors.ts";
import { parseProxmoxSection, type ProxmoxConfig } from "./proxmox.ts";
import { parseVcdSection, type VcdConfig } from "./vcd.ts";
import { parseVsphereSection, type VsphereConfig } from "./vsphere.ts";

export interface S3Config {
  bucket: string;
  region: string;
  /** Plain HTTP instead of HTTPS in object URLs. */
  http: boolean;
  /** Per-request timeout; `s3.timeout` (seconds or a Go duration), default 90 s. */
  timeoutMs: number;
}

export interface ClientSetupConfig {
  /** First delay of the provider start-up retry (`clientSetup.initialBackoffDelay`, 5s). */
  initialBackoffMs: number;
  /** Attempts of the provider start-up retry (`clientSetup.retryCount`, 5). */
  retryCount: number;
}

/** Provider sections that are configured, keyed by provider id. */
export interface ProviderConfigs {
  capv?: VsphereConfig;
  capvcd?: VcdConfig;
  capmox?: ProxmoxConfig;
}

/** Which values.yaml section configures which provider id. */
export const PROVIDER_SECTIONS: Readonly<Record<ProviderId, string>> = {
  capv: "vsphere",
  capvcd: "vcd",
  capmox: "proxmox",
};

export const CONFIG_DEFAULTS = {
  s3TimeoutMs: 90_000,
  retentionMs: 0,
  initialBackoffMs: 5_000,
  retryCount: 5,
} as const;

/** A validated configuration. Printing or serialising it shows the `redacted()` view. */
export class OperatorConfig {
  /** The file it was loaded from, for messages. */
  readonly file: string;
  readonly s3: Readonly<S3Config>;
  /** `imageRetentionPeriod`; 0 deletes unused images at once. */
  readonly retentionMs: number;
  readonly clientSetup: Readonly<ClientSetupConfig>;
  readonly providers: Readonly<ProviderConfigs>;

  constructor(fields: {
    file: string;
    s3: S3Config;
    retentionMs: number;
    clientSetup: ClientSetupConfig;
    providers: ProviderConfigs;
  }) {
    this.file = fields.file;
    this.s3 = fields.s3;
    this.retentionMs = fields.retentionMs;
    this.clientSetup = fields.clientSetup;
    this.providers = fields.providers;
  }

  /** Ids of the configured providers, in start-up order (capv, capvcd, capmox). */
  configuredProviderIds(): ProviderId[] {
    return PROVIDER_IDS.filter((id) => this.providers[id] !== undefined);
  }

  /** Whether NodeImages with this `spec.provider` are ours; any string may be asked. */
  isConfigured(providerId: string): boolean {
    return (PROVIDER_IDS as readonly string[]).includes(providerId) &&
      this.providers[providerId as ProviderId] !== undefined;
  }

  /** A plain, JSON-safe view for logs: secrets show as `[redacted]`, durations as Go strings. */
  redacted(): Record<string, unknown> {
    const plain = JSON.parse(JSON.stringify(
      {
        s3: this.s3,
        providers: this.providers,
      },
      (key, value) =>
        key.endsWith("Ms") && typeof value === "number" ? formatGoDuration(value) : value,
    ));
    return {
      file: this.file,
      s3: plain.s3,
      imageRetentionPeriod: formatGoDuration(this.retentionMs),
      clientSetup: {
        initialBackoffDelay: formatGoDuration(this.clientSetup.initialBackoffMs),
        retryCount: this.clientSetup.retryCount,
      },
      providers: plain.providers,
    };
  }

  toJSON(): Record<string, unknown> {
    return this.redacted();
  }

  toString(): string {
    const ids = this.configuredProviderIds();
    return `OperatorConfig(${this.file}: providers ${ids.length ? ids.join(", ") : "none"}, ` +
      `retention ${formatGoDuration(this.retentionMs)})`;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return `OperatorConfig ${JSON.stringify(this.redacted(), null, 2)}`;
  }
}

/**
 * Parses and validates values.yaml text.
 * @param file Named in every error.
 * @throws {ConfigError} listing every invalid field.
 */
export function parseOperatorConfig(text: string, file: string): OperatorConfig {
  const parsed = parseYaml(text, file);
  if (parsed.issues.length > 0) throw new ConfigError(parsed.issues);
  const d = new Decoder(file);
  let root: YamlObject = {};
  if (isObject(parsed.value)) root = parsed.value;
  else if (parsed.value !== null) d.issue("", "expected a mapping at the top level");

  const s3Raw = d.object(field(root, "s3"), "s3") ?? {};
  const s3: S3Config = {
    bucket: d.optionalString(s3Raw, "bucket", "s3", ""),
    region: d.optionalString(s3Raw, "region", "s3", ""),
    http: d.boolean(s3Raw, "http", "s3", false),
    timeoutMs: s3Timeout(s3Raw, d),
  };
  const retentionMs = d.duration(root, "imageRetentionPeriod", "", CONFIG_DEFAULTS.retentionMs);
  const setupRaw = d.object(field(root, "clientSetup"), "clientSetup") ?? {};
  const clientSetup: ClientSetupConfig = {
    initialBackoffMs: d.duration(
      setupRaw,
      "initialBackoffDelay",
      "clientSetup",
      CONFIG_DEFAULTS.initialBackoffMs,
    ),
    retryCount: d.count(setupRaw, "retryCount", "clientSetup", CONFIG_DEFAULTS.retryCount),
  };

  const providers: ProviderConfigs = {};
  const vsphere = enabledSection(root, "vsphere", d);
  if (vsphere) providers.capv = parseVsphereSection(vsphere, d, "vsphere");
  const vcd = enabledSection(root, "vcd", d);
  if (vcd) providers.capvcd = parseVcdSection(vcd, d, "vcd");
  const proxmox = enabledSection(root, "proxmox", d);
  if (proxmox) providers.capmox = parseProxmoxSection(proxmox, d, "proxmox");

  if (d.issues.length > 0) throw new ConfigError(d.issues);
  return new OperatorConfig({ file, s3, retentionMs, clientSetup, providers });
}

/**
 * Reads, parses and validates a values.yaml file.
 * @throws {ConfigError} when the file cannot be read or is invalid.
 */
export async function loadOperatorConfig(
  path: string,
  options: { readTextFile?: (path: string) => Promise<string> } = {},
): Promise<OperatorConfig> {
  const read = options.readTextFile ?? ((p: string) => Deno.readTextFile(p));
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    const reason = error instanceof Error ? error.name : "unknown error";
    throw new ConfigError([{ file: path, path: "", message: `cannot read the file (${reason})` }], {
      cause: error,
    });
  }
  return parseOperatorConfig(text, path);
}

/** The section if it is present and not `enabled: false`; `vsphere:` with no value is absent. */
function enabledSection(root: YamlObject, name: string, d: Decoder): YamlObject | undefined {
  const section = d.object(field(root, name), name);
  if (!section) return undefined;
  return d.boolean(section, "enabled", name, true) ? section : undefined;
}

/** `s3.timeout`: whole seconds (the Go flag's unit) or a Go duration; "" means the default. */
function s3Timeout(s3Raw: YamlObject, d: Decoder): number {
  const text = d.optionalString(s3Raw, "timeout", "s3", "");
  if (/^[0-9]+$/.test(text)) {
    const seconds = Number(text);
    if (seconds > 0) return seconds * 1000;
    d.issue(join("s3", "timeout"), "must be more than 0 seconds");
    return CONFIG_DEFAULTS.s3TimeoutMs;
  }
  return d.duration(s3Raw, "timeout", "s3", CONFIG_DEFAULTS.s3TimeoutMs);
}
