/**
 * The operator configuration, loaded from one values.yaml in the Go operator's Helm values shape
 * (reference spec §8.2; `--config <file>`): `s3`, `imageRetentionPeriod`, `clientSetup`, and the
 * provider modules' sections (`vsphere`, `vcd`, `proxmox`). The chart's own keys
 * (`controllerManager`, `rbac`, …) are ignored, so the chart's values file loads too; any other
 * top-level key is ignored with a warning (`warnings`), since it is most likely a misspelt or
 * unsupported platform section (`openstack:`, `proxmx:`) that would otherwise do nothing unseen.
 * Helm accepted such keys, so they are not errors.
 *
 * Refused: an empty values file (or only comments, or `null`). Warned about: a platform
 * configured without `s3.bucket` (every image is read from it; the Go operator started like
 * that and reported each image missing).
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
import type { ConfiguredProvider, ProviderModule } from "../provider_module.ts";
import { Decoder, field, isObject, type YamlObject } from "./_decode.ts";
import { parseYaml, type YamlValue } from "./_yaml.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { type ReadTextFile, readTextFileFromDisk, unreadable } from "./mounted_files.ts";
import { loadS3Credentials, parseS3Section, S3_DEFAULTS, type S3Config } from "./s3.ts";

export type { S3Config } from "./s3.ts";

export interface ClientSetupConfig {
  /** First delay of the provider start-up retry (`clientSetup.initialBackoffDelay`, 5s). */
  initialBackoffMs: number;
  /** Attempts of the provider start-up retry (`clientSetup.retryCount`, 5). */
  retryCount: number;
}

/**
 * Provider sections that are configured, keyed by provider id, in the order of the modules
 * they were loaded with (the Go operator's start-up order: vSphere, VCD, Proxmox).
 */
export type ProviderConfigs = Readonly<Record<string, ConfiguredProvider>>;

export const CONFIG_DEFAULTS = {
  s3TimeoutMs: S3_DEFAULTS.timeoutMs,
  retentionMs: 0,
  initialBackoffMs: 5_000,
  retryCount: 5,
} as const;

/** A validated configuration. Printing or serialising it shows the `redacted()` view. */
export class OperatorConfig {
  /** The file it was loaded from (or `flags`), for messages. */
  readonly file: string;
  /** Every file it was read from (values.yaml, mounted files), for watching. */
  readonly files: readonly string[];
  readonly s3: Readonly<S3Config>;
  /** `imageRetentionPeriod`; 0 deletes unused images at once. */
  readonly retentionMs: number;
  readonly clientSetup: Readonly<ClientSetupConfig>;
  readonly providers: ProviderConfigs;
  /**
   * What loaded but is probably a mistake (an unknown section, a platform without locations),
   * each naming file and field; logged once when the configuration is taken into use. Not part
   * of the fingerprint: a warning alone is no change.
   */
  readonly warnings: readonly ConfigIssue[];

  constructor(fields: {
    file: string;
    s3: S3Config;
    retentionMs: number;
    clientSetup: ClientSetupConfig;
    providers: ProviderConfigs;
    /** Default: `[file]`. */
    files?: readonly string[];
    warnings?: readonly ConfigIssue[];
  }) {
    this.file = fields.file;
    this.files = fields.files ?? [fields.file];
    this.s3 = fields.s3;
    this.retentionMs = fields.retentionMs;
    this.clientSetup = fields.clientSetup;
    this.providers = fields.providers;
    this.warnings = fields.warnings ?? [];
  }

  /** Ids of the configured providers, in start-up order (capv, capvcd, capmox). */
  configuredProviderIds(): string[] {
    return Object.keys(this.providers);
  }

  /** Whether NodeImages with this `spec.provider` are ours; any string may be asked. */
  isConfigured(providerId: string): boolean {
    return Object.hasOwn(this.providers, providerId);
  }

  /** Each configured provider's parsed section, by id (secrets stay `Secret`s). */
  providerSections(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.providers).map(([id, p]) => [id, p.config]));
  }

  /** A plain, JSON-safe view for logs: secrets show as `[redacted]`, durations as Go strings. */
  redacted(): Record<string, unknown> {
    const plain = JSON.parse(JSON.stringify(
      {
        s3: this.s3,
        providers: this.providerSections(),
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
export function parseOperatorConfig(
  text: string,
  file: string,
  modules: readonly ProviderModule[],
): OperatorConfig {
  const parsed = parseYaml(text, file);
  if (parsed.issues.length > 0) throw new ConfigError(parsed.issues);
  const d = new Decoder(file);
  const root = valuesRoot(parsed.value, d);
  const settings = decodeGlobalSettings(root, d);

  const providers: Record<string, ConfiguredProvider> = {};
  for (const module of modules) {
    const state = providerSection(root, module.section, d);
    if (state.enabled) providers[module.id] = module.fromSection(state.section!, d, module.section);
  }
  const warnings = unknownSectionWarnings(root, file, modules);
  const bucket = bucketIssue(settings.s3, providers, { file, path: "s3.bucket" });
  if (bucket) warnings.push(bucket);

  if (d.issues.length > 0) throw new ConfigError(d.issues);
  return new OperatorConfig({ file, ...settings, providers, warnings });
}

/**
 * Reads, parses and validates a values.yaml file, and the S3 credentials file it names.
 * @throws {ConfigError} when a file cannot be read or is invalid.
 */
export async function loadOperatorConfig(
  path: string,
  options: { modules: readonly ProviderModule[]; readTextFile?: ReadTextFile },
): Promise<OperatorConfig> {
  const read = options.readTextFile ?? readTextFileFromDisk;
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    throw new ConfigError([unreadable(path, error)], { cause: error });
  }
  const config = parseOperatorConfig(text, path, options.modules);
  const s3 = await loadS3Credentials(config.s3, read);
  if (s3.issues.length > 0) throw new ConfigError(s3.issues);
  if (s3.value === config.s3) return config;
  return new OperatorConfig({
    ...config,
    s3: s3.value,
    files: [path, s3.value.credentialsFile!],
  });
}

/** The settings outside the provider sections, as `OperatorConfig` takes them. */
export interface GlobalSettings {
  s3: S3Config;
  retentionMs: number;
  clientSetup: ClientSetupConfig;
}

/**
 * The top-level mapping of a values document. An empty document (nothing, only comments, or
 * `null`) is refused: the chart always renders settings, so an empty file is a broken mount or a
 * wrong ConfigMap key, and starting with nothing configured would hide it.
 */
export function valuesRoot(value: YamlValue, d: Decoder): YamlObject {
  if (isObject(value)) return value;
  if (value === null) {
    d.issue(
      "",
      "the file is empty (nothing, only comments, or null): expected the values mapping " +
        "(s3, imageRetentionPeriod and the platform sections)",
    );
  } else {
    d.issue("", "expected a mapping at the top level");
  }
  return {};
}

/** Top-level keys the operator reads besides the provider modules' sections. */
const OPERATOR_KEYS = ["s3", "imageRetentionPeriod", "clientSetup"];

/**
 * Top-level keys of the Go operator's Helm chart (values.yaml and values.schema.json, §8.2) that
 * configure the chart, not the process, plus Helm's reserved `global`; ignored silently.
 */
const CHART_KEYS = [
  "controllerManager",
  "rbac",
  "crd",
  "metrics",
  "prometheus",
  "certmanager",
  "networkPolicy",
  "webhook",
  "image",
  "global",
];

/** One warning per top-level key that is neither ours, a platform section, nor the chart's. */
export function unknownSectionWarnings(
  root: YamlObject,
  file: string,
  modules: readonly ProviderModule[],
): ConfigIssue[] {
  const sections = modules.map((m) => m.section);
  const known = new Set([...OPERATOR_KEYS, ...sections, ...CHART_KEYS]);
  return Object.keys(root).filter((key) => !known.has(key)).map((key) => ({
    file,
    path: key,
    message: `unknown section, ignored (the operator reads ${OPERATOR_KEYS.join(", ")} and ` +
      `the platform sections ${sections.join(", ") || "(none)"})`,
  }));
}

/**
 * The warning for a configured platform without `s3.bucket`, reported at `at`; undefined when
 * there is a bucket or no platform.
 */
export function bucketIssue(
  s3: S3Config,
  providers: ProviderConfigs,
  at: { file: string; path: string },
): ConfigIssue | undefined {
  const ids = Object.keys(providers);
  if (s3.bucket !== "" || ids.length === 0) return undefined;
  return {
    ...at,
    message: `not set while a platform is configured (${ids.join(", ")}): every image is ` +
      `read from this bucket, so none can be found`,
  };
}

/** Decodes `s3`, `imageRetentionPeriod` and `clientSetup`, recording problems in `d`. */
export function decodeGlobalSettings(root: YamlObject, d: Decoder): GlobalSettings {
  const s3 = parseS3Section(d.object(field(root, "s3"), "s3") ?? {}, d, "s3");
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
  return { s3, retentionMs, clientSetup };
}

/**
 * A provider section and whether it is enabled: present and not `enabled: false`. The section
 * is returned even when disabled (a flag may enable it); `vsphere:` with no value is absent.
 */
export function providerSection(
  root: YamlObject,
  name: string,
  d: Decoder,
): { section?: YamlObject; enabled: boolean } {
  const section = d.object(field(root, name), name);
  if (!section) return { enabled: false };
  return { section, enabled: d.boolean(section, "enabled", name, true) };
}
