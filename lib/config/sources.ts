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
import { parseYaml, type YamlValue } from "./_yaml.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import {
  decodeMountedFile,
  type ReadTextFile,
  readTextFileFromDisk,
  unreadable,
} from "./mounted_files.ts";
import {
  decodeGlobalSettings,
  OperatorConfig,
  type ProviderConfigs,
  providerSection,
  valuesRoot,
} from "./operator_config.ts";
import { parseProxmoxCredentials, parseProxmoxLocations, parseProxmoxSection } from "./proxmox.ts";
import { loadS3Credentials } from "./s3.ts";
import { type ConfigSources, decodeFlagOverrides, type FlagOverrides } from "./source_flags.ts";
import { parseVcdCredentials, parseVcdLocation, parseVcdSection } from "./vcd.ts";
import { parseVsphereCredentials, parseVsphereLocations, parseVsphereSection } from "./vsphere.ts";

/** `OperatorConfig.file` when no values.yaml was given. */
export const FLAGS_SOURCE = "flags";

/** How one provider is read from its values section, its mounted files and its flags. */
interface ProviderSource<C> {
  section: "vsphere" | "vcd" | "proxmox";
  enable: keyof ConfigSources;
  credentials: keyof ConfigSources;
  locations: keyof ConfigSources;
  parseSection(section: YamlObject, d: Decoder, path: string): C;
  /** Replaces the credentials with the ones in a mounted file's top level. */
  withCredentials(config: C, root: YamlValue, d: Decoder): C;
  /** Replaces the locations with the ones in a mounted file's top level. */
  withLocations(config: C, root: YamlValue, d: Decoder): C;
  withFlags(config: C, flags: FlagOverrides): C;
}

// A locations file's top level *is* the map the section parsers find under a key; the parent
// `{ "": root }` with key "" lets them read it with field paths relative to the file.
const VSPHERE: ProviderSource<NonNullable<ProviderConfigs["capv"]>> = {
  section: "vsphere",
  enable: "enableVsphere",
  credentials: "vsphereCredentials",
  locations: "vsphereLocations",
  parseSection: parseVsphereSection,
  withCredentials: (c, root, d) => ({
    ...c,
    credentials: parseVsphereCredentials(d.object(root, "") ?? {}, d, ""),
  }),
  withLocations: (c, root, d) => ({
    ...c,
    locations: parseVsphereLocations({ "": root }, "", d, ""),
  }),
  withFlags: (c, flags) =>
    flags.pullFromURL === undefined ? c : { ...c, pullFromURL: flags.pullFromURL },
};

const VCD: ProviderSource<NonNullable<ProviderConfigs["capvcd"]>> = {
  section: "vcd",
  enable: "enableCloudDirector",
  credentials: "vcdCredentials",
  locations: "vcdLocations",
  parseSection: parseVcdSection,
  withCredentials: (c, root, d) => ({
    ...c,
    credentials: parseVcdCredentials(d.object(root, "") ?? {}, d, ""),
  }),
  withLocations: (c, root, d) => ({
    ...c,
    location: parseVcdLocation(d.object(root, "") ?? {}, d, ""),
  }),
  withFlags: (c, flags) => ({
    ...c,
    downloadDir: flags.vcdDownloadDir ?? c.downloadDir,
    sessionRefreshThresholdMs: flags.vcdSessionRefreshThresholdMs ?? c.sessionRefreshThresholdMs,
  }),
};

const PROXMOX: ProviderSource<NonNullable<ProviderConfigs["capmox"]>> = {
  section: "proxmox",
  enable: "enableProxmox",
  credentials: "proxmoxCredentials",
  locations: "proxmoxLocations",
  parseSection: parseProxmoxSection,
  withCredentials: (c, root, d) => ({
    ...c,
    credentials: parseProxmoxCredentials(d.object(root, "") ?? {}, d, ""),
  }),
  withLocations: (c, root, d) => ({
    ...c,
    locations: parseProxmoxLocations({ "": root }, "", d, ""),
  }),
  withFlags: (c) => c,
};

/**
 * Loads and validates the configuration from a values.yaml, flags and mounted files, with the
 * precedence in the module doc. Files are read through `readTextFile` (default: the disk).
 * @throws {ConfigError} listing every problem, each naming its file or flag and field.
 */
export async function loadConfigFromSources(
  sources: ConfigSources,
  options: { readTextFile?: ReadTextFile } = {},
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

  const context = { root, valuesFile, sources, flags, read, issues, files };
  const providers: ProviderConfigs = {};
  const capv = await loadProvider(VSPHERE, context);
  if (capv) providers.capv = capv;
  const capvcd = await loadProvider(VCD, context);
  if (capvcd) providers.capvcd = capvcd;
  const capmox = await loadProvider(PROXMOX, context);
  if (capmox) providers.capmox = capmox;

  if (issues.length > 0) throw new ConfigError(issues);
  return new OperatorConfig({
    file: valuesFile ?? FLAGS_SOURCE,
    files: [...new Set(files)],
    s3: s3.value,
    retentionMs: flags.retentionMs ?? settings.retentionMs,
    clientSetup: { ...settings.clientSetup, ...flags.clientSetup },
    providers,
  });
}

/**
 * The files to watch for changes, sorted. With `loaded`, exactly the files it was read from
 * (including an `s3.credentialsFile` named inside values.yaml). Without it, an estimate from
 * `sources` alone: the values file, file flags, and the default mounted files of providers
 * enabled by flag.
 */
export function configFilesOf(sources: ConfigSources, loaded?: OperatorConfig): string[] {
  const files = new Set<string>();
  if (sources.config !== undefined) files.add(sources.config);
  if (loaded) {
    for (const file of loaded.files) if (file !== FLAGS_SOURCE) files.add(file);
    return [...files].sort();
  }
  if (sources.s3CredentialsFile) files.add(sources.s3CredentialsFile);
  for (const p of [VSPHERE, VCD, PROXMOX]) {
    const enable = sources[p.enable];
    if (enable === false) continue;
    for (const [key, name] of [[p.credentials, "credentials"], [p.locations, "locations"]]) {
      const file = sources[key as keyof ConfigSources];
      if (typeof file === "string") files.add(file);
      else if (enable === true) files.add(defaultFile(p.section, name));
    }
  }
  return [...files].sort();
}

interface LoadContext {
  root: YamlObject;
  valuesFile: string | undefined;
  sources: ConfigSources;
  flags: FlagOverrides;
  read: ReadTextFile;
  issues: ConfigIssue[];
  files: string[];
}

/** One provider's config, or undefined when it is not enabled; problems go to `ctx.issues`. */
async function loadProvider<C>(p: ProviderSource<C>, ctx: LoadContext): Promise<C | undefined> {
  const d = new Decoder(ctx.valuesFile ?? FLAGS_SOURCE);
  const state = providerSection(ctx.root, p.section, d);
  ctx.issues.push(...d.issues);
  const given = ctx.sources[p.enable];
  if (!(typeof given === "boolean" ? given : state.enabled)) return undefined;

  const fileFor = (key: keyof ConfigSources, name: string): string | undefined => {
    const flag = ctx.sources[key];
    if (typeof flag === "string") return flag;
    return state.section === undefined ? defaultFile(p.section, name) : undefined;
  };
  const credentialsFile = fileFor(p.credentials, "credentials");
  const locationsFile = fileFor(p.locations, "locations");

  // The section supplies everything but what the files replace; its problems in a replaced
  // subtree are moot (the chart's disabled sections are full of empty strings).
  const sectionDecoder = new Decoder(ctx.valuesFile ?? FLAGS_SOURCE);
  let config = p.parseSection(state.section ?? {}, sectionDecoder, p.section);
  const replaced = [
    credentialsFile && `${p.section}.credentials`,
    locationsFile && `${p.section}.locations`,
  ].filter((prefix): prefix is string => Boolean(prefix));
  ctx.issues.push(
    ...sectionDecoder.issues.filter((issue) =>
      !replaced.some((prefix) => issue.path === prefix || issue.path.startsWith(`${prefix}.`))
    ),
  );

  if (credentialsFile !== undefined) {
    const decoded = await decodeMountedFile(
      credentialsFile,
      ctx.read,
      (root, fd) => p.withCredentials(config, root, fd),
    );
    config = decoded.value;
    ctx.issues.push(...decoded.issues);
    ctx.files.push(credentialsFile);
  }
  if (locationsFile !== undefined) {
    const decoded = await decodeMountedFile(
      locationsFile,
      ctx.read,
      (root, fd) => p.withLocations(config, root, fd),
    );
    config = decoded.value;
    ctx.issues.push(...decoded.issues);
    ctx.files.push(locationsFile);
  }
  return p.withFlags(config, ctx.flags);
}

function defaultFile(section: string, name: string): string {
  return `/home/.${section}/${name}`;
}
