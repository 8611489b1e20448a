/**
 * What the operator needs to know about one VM platform, in one value: a **provider module**.
 * Each platform folder exports one (`providers/<p>/mod.ts`), `main.ts` hands the list to the
 * configuration loader, the release naming and the provider registry, and `lib/` learns about
 * platforms only through it: adding a platform means one folder and one line in
 * `providers/mod.ts`.
 *
 * A module is made with `defineProvider(spec)`, where the spec is typed by the platform's own
 * config (`C`). Everything `lib/` holds afterwards is either the module (whose methods keep `C`
 * typed for the platform) or a `ConfiguredProvider`: one parsed section bound to its module, so
 * building the client, listing its locations or reading the typed config never casts from
 * `unknown`.
 *
 * Guarantees:
 * - `configure(config)` and every load produce a `ConfiguredProvider` whose `create` and
 *   `locations` close over the typed config; `configOf` gives it back typed, for that module's
 *   entries only.
 * - Loading (values section, mounted files, flags) follows one set of precedence rules for all
 *   platforms (see `lib/config/provider_loading.ts`).
 */
import type { Clock } from "./clock.ts";
import type { Decoder, YamlObject } from "./config/_decode.ts";
import type { YamlValue } from "./config/_yaml.ts";
import { loadProviderSection, type ProviderLoadContext } from "./config/provider_loading.ts";
import type { Provider } from "./image/provider.ts";
import type { Logger } from "./log.ts";

/** The object formats a platform can consume. */
export type ImageFormat = "ova" | "qcow2";

/**
 * Where a platform's images live in the bucket: `<directory>/<image name>/<base>.<format>`
 * (the Go operator's layout; VCD shares vSphere's OVAs, so its directory is `capv`).
 */
export interface ImageLayout {
  directory: string;
  format: ImageFormat;
}

/** What `create` gets besides its config. */
export interface ProviderDeps {
  log: Logger;
  clock?: Clock;
}

/**
 * A platform flag beyond `--enable-<p>`, `--<p>-credentials` and `--<p>-locations`, e.g. the Go
 * operator's `--vsphere-pull-from-url`. Given flags override the values.yaml field they map to.
 */
export interface ProviderFlag<C> {
  /** Without the leading `--`. */
  name: string;
  kind: "string" | "bool";
  /** For `--help`; state the default here (flags declare none, see `source_flags.ts`). */
  usage: string;
  /** A problem with the value, checked even while the provider is disabled (as Go's flags). */
  check?(value: string | boolean): string | undefined;
  /** The config with the flag applied; only called with values `check` accepted. */
  apply(config: C, value: string | boolean): C;
}

/** How a platform is described; `defineProvider` turns it into a `ProviderModule`. */
export interface ProviderSpec<C> {
  /** NodeImage `spec.provider`: `capv`, `capvcd`, `capmox`. */
  id: string;
  /** Human name for messages: "vSphere". */
  platform: string;
  /** Release name prefixes whose images go to this platform (`vsphere` of `vsphere-35.0.0`). */
  releasePrefixes: readonly string[];
  /** The values.yaml section: `vsphere`, `vcd`, `proxmox`. */
  section: string;
  layout: ImageLayout;
  /** The Go operator's flag names, without `--`. */
  flags: { enable: string; credentials: string; locations: string };
  extraFlags?: readonly ProviderFlag<C>[];
  /** Default paths of the Go operator's mounted files. */
  files: { credentials: string; locations: string };
  /** Reads the section (already known to be enabled); problems go to `d`. */
  parseSection(section: YamlObject, d: Decoder, path: string): C;
  /** The config with its credentials replaced by a mounted credentials file's top level. */
  withCredentials(config: C, root: YamlValue, d: Decoder): C;
  /** The config with its locations replaced by a mounted locations file's top level. */
  withLocations(config: C, root: YamlValue, d: Decoder): C;
  /** Configured location names, known even when the client cannot be built or reached. */
  locationNames(config: C): string[];
  /** Builds the client. Must not do I/O (that is `Provider.probe`); may throw on bad config. */
  create(config: C, deps: ProviderDeps): Provider;
}

/** One enabled provider section, parsed and bound to its module. */
export interface ConfiguredProvider {
  readonly module: ProviderModule;
  /** The parsed section, for comparison, fingerprints and redacted views only. */
  readonly config: unknown;
  locations(): string[];
  create(deps: ProviderDeps): Provider;
}

/** A platform as the operator sees it; see the module doc. */
export interface ProviderModule<C = unknown> extends Readonly<ProviderSpec<C>> {
  /** Binds a typed config (tests and tools that build one in code). */
  configure(config: C): ConfiguredProvider;
  /** The typed config of one of this module's entries; undefined for any other. */
  configOf(configured: ConfiguredProvider | undefined): C | undefined;
  /** Reads an enabled values.yaml section alone (no mounted files, no flags). */
  fromSection(section: YamlObject, d: Decoder, path: string): ConfiguredProvider;
  /** Loads from values.yaml, mounted files and flags; undefined when not enabled. */
  load(context: ProviderLoadContext): Promise<ConfiguredProvider | undefined>;
}

/** Makes a module from its spec. */
export function defineProvider<C>(spec: ProviderSpec<C>): ProviderModule<C> {
  const configs = new WeakMap<ConfiguredProvider, C>();
  const module: ProviderModule<C> = {
    ...spec,
    configure(config: C): ConfiguredProvider {
      const configured: ConfiguredProvider = {
        module,
        config,
        locations: () => spec.locationNames(config),
        create: (deps) => spec.create(config, deps),
      };
      configs.set(configured, config);
      return configured;
    },
    configOf: (configured) => (configured ? configs.get(configured) : undefined),
    fromSection: (section, d, path) => module.configure(spec.parseSection(section, d, path)),
    load: async (context) => {
      const config = await loadProviderSection(spec, context);
      return config === undefined ? undefined : module.configure(config);
    },
  };
  return module;
}
