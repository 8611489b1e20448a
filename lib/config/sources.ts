/**
 * One `OperatorConfig` from either way of configuring the operator, or both:
 *
 * - `--config <values.yaml>`: the Helm values shape (§8.2), as `loadOperatorConfig` reads it;
 * - the Go operator's flags and mounted files (§8.1): `--enable-<provider>` plus the
 *   `credentials` and `locations` files (default `/home/.<vsphere|vcd|proxmox>/…`), which hold
 *   exactly the YAML of the values subtrees of the same names.
 *
 * Precedence, when both are given (like `helm --set` over a values file):
 * 1. A flag that was given overrides the values.yaml field it maps to (`--s3-bucket` over
 *    `s3.bucket`, `--image-retention-period` over `imageRetentionPeriod`, …).
 * 2. A provider is enabled by `--enable-<provider>` when given (true or false), otherwise by its
 *    values.yaml section (present and not `enabled: false`).
 * 3. An enabled provider's `credentials` and `locations` each come from the
 *    `--<provider>-credentials` / `--<provider>-locations` file when that flag is given, else from
 *    its values.yaml section when the section exists, else from the default mounted file.
 *
 * So the Go operator's Deployment (flags only) and a values.yaml give the same `OperatorConfig`
 * for the same settings. Errors name the values file, the mounted file or the flag, and the field.
 */
import { Decoder, type YamlObject } from "./_decode.ts";
import { parseYaml } from "./_yaml.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { type ReadTextFile, readTextFileFromDisk, unreadable } from "./mounted_files.ts";
import {
  bucketIssue,
  decodeGlobalSettings,
  OperatorConfig,
  unknownSectionWarnings,
  valuesRoot,
} from "./operator_config.ts";
import { FLAGS_SOURCE } from "./provider_loading.ts";
import { loadS3Credentials } from "./s3.ts";
import { type ConfigSources, decodeFlagOverrides } from "./source_flags.ts";
import type { ConfiguredProvider, ProviderModule } from "../provider_module.ts";

export { FLAGS_SOURCE };

/**
 * Loads and validates the configuration from a values.yaml, flags and mounted files, with the
 * precedence in the module doc. Files are read through `readTextFile` (default: the disk).
 * @throws {ConfigError} listing every problem, each naming its file or flag and field.
 */
export async function loadConfigFromSources(
  sources: ConfigSources,
  options: { modules: readonly ProviderModule[]; readTextFile?: ReadTextFile },
): Promise<OperatorConfig> {
  const read = options.readTextFile ?? readTextFileFromDisk;
  const valuesFile = sources.config;
  const files: string[] = [];
  const d = new Decoder(valuesFile ?? FLAGS_SOURCE);
  let root: YamlObject = {};
  if (valuesFile !== undefined) {
    files.push(valuesFile);
    let text: string;
    try {
      text = await read(valuesFile);
    } catch (error) {
      throw new ConfigError([unreadable(valuesFile, error)], { cause: error });
    }
    const parsed = parseYaml(text, valuesFile);
    if (parsed.issues.length > 0) throw new ConfigError(parsed.issues);
    root = valuesRoot(parsed.value, d);
  }
  const settings = decodeGlobalSettings(root, d);
  const issues: ConfigIssue[] = d.issues;
  const flags = decodeFlagOverrides(sources, issues);

  const s3 = await loadS3Credentials({ ...settings.s3, ...flags.s3 }, read);
  issues.push(...s3.issues);
  if (s3.value.credentialsFile !== undefined) files.push(s3.value.credentialsFile);

  const warnings: ConfigIssue[] = valuesFile === undefined
    ? []
    : unknownSectionWarnings(root, valuesFile, options.modules);
  const context = {
    root,
    valuesFile,
    flags: sources.providerFlags ?? {},
    read,
    issues,
    warnings,
    files,
  };
  const providers: Record<string, ConfiguredProvider> = {};
  for (const module of options.modules) {
    const configured = await module.load(context);
    if (configured) providers[module.id] = configured;
  }
  // The bucket is named where it was set: the flag wins over values.yaml (see precedence).
  const bucketFromFlag = sources.s3Bucket !== undefined || valuesFile === undefined;
  const bucket = bucketIssue(
    s3.value,
    providers,
    bucketFromFlag ? { file: "--s3-bucket", path: "" } : { file: valuesFile, path: "s3.bucket" },
  );
  if (bucket) warnings.push(bucket);

  if (issues.length > 0) throw new ConfigError(issues);
  return new OperatorConfig({
    file: valuesFile ?? FLAGS_SOURCE,
    files: [...new Set(files)],
    s3: s3.value,
    retentionMs: flags.retentionMs ?? settings.retentionMs,
    clientSetup: { ...settings.clientSetup, ...flags.clientSetup },
    providers,
    warnings,
  });
}

/**
 * The files to watch for changes, sorted. With `loaded`, exactly the files it was read from
 * (including an `s3.credentialsFile` named inside values.yaml). Without it, an estimate from
 * `sources` alone: the values file, file flags, and the default mounted files of providers
 * enabled by flag.
 */
export function configFilesOf(
  sources: ConfigSources,
  modules: readonly ProviderModule[],
  loaded?: OperatorConfig,
): string[] {
  const files = new Set<string>();
  if (sources.config !== undefined) files.add(sources.config);
  if (loaded) {
    for (const file of loaded.files) if (file !== FLAGS_SOURCE) files.add(file);
    return [...files].sort();
  }
  if (sources.s3CredentialsFile) files.add(sources.s3CredentialsFile);
  const flags = sources.providerFlags ?? {};
  for (const m of modules) {
    const enable = flags[m.flags.enable];
    if (enable === false) continue;
    for (const name of ["credentials", "locations"] as const) {
      const file = flags[m.flags[name]];
      if (typeof file === "string") files.add(file);
      else if (enable === true) files.add(m.files[name]);
    }
  }
  return [...files].sort();
}
