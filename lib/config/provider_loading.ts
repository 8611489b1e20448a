/**
 * How one provider's config is assembled from a values.yaml section, the Go operator's mounted
 * files and its flags, the same way for every platform (the rules are in `sources.ts`'s module
 * doc). Called through `ProviderModule.load`; the spec keeps the config typed throughout.
 */
import type { ProviderSpec } from "../provider_module.ts";
import { Decoder, type YamlObject } from "./_decode.ts";
import type { ConfigIssue } from "./errors.ts";
import { decodeMountedFile, type ReadTextFile } from "./mounted_files.ts";
import { providerSection } from "./operator_config.ts";

/** What a provider load reads from and where it reports. */
export interface ProviderLoadContext {
  /** The values.yaml top level (`{}` without one). */
  root: YamlObject;
  /** Named in issues; undefined when configured by flags alone. */
  valuesFile: string | undefined;
  /** The provider flags that were given, by flag name without `--`. */
  flags: Readonly<Record<string, string | boolean>>;
  read: ReadTextFile;
  /** Problems are appended here. */
  issues: ConfigIssue[];
  /** What loads but is probably a mistake is appended here (default: dropped). */
  warnings?: ConfigIssue[];
  /** Files read are appended here (for watching). */
  files: string[];
}

/** `OperatorConfig.file` when no values.yaml was given. */
export const FLAGS_SOURCE = "flags";

/** One provider's config, or undefined when it is not enabled; problems go to `ctx.issues`. */
export async function loadProviderSection<C>(
  spec: ProviderSpec<C>,
  ctx: ProviderLoadContext,
): Promise<C | undefined> {
  const source = ctx.valuesFile ?? FLAGS_SOURCE;
  const d = new Decoder(source);
  const state = providerSection(ctx.root, spec.section, d);
  ctx.issues.push(...d.issues);
  checkExtraFlags(spec, ctx);
  const given = ctx.flags[spec.flags.enable];
  if (!(typeof given === "boolean" ? given : state.enabled)) return undefined;

  const fileFor = (flag: string, name: "credentials" | "locations"): string | undefined => {
    const value = ctx.flags[flag];
    if (typeof value === "string") return value;
    return state.section === undefined ? spec.files[name] : undefined;
  };
  const credentialsFile = fileFor(spec.flags.credentials, "credentials");
  const locationsFile = fileFor(spec.flags.locations, "locations");

  // The section supplies everything but what the files replace; its problems in a replaced
  // subtree are moot (the chart's disabled sections are full of empty strings).
  const sectionDecoder = new Decoder(source);
  let config = spec.parseSection(state.section ?? {}, sectionDecoder, spec.section);
  const replaced = [
    credentialsFile && `${spec.section}.credentials`,
    locationsFile && `${spec.section}.locations`,
  ].filter((prefix): prefix is string => Boolean(prefix));
  ctx.issues.push(
    ...sectionDecoder.issues.filter((issue) =>
      !replaced.some((prefix) => issue.path === prefix || issue.path.startsWith(`${prefix}.`))
    ),
  );

  const replacements = [
    [credentialsFile, spec.withCredentials],
    [locationsFile, spec.withLocations],
  ] as const;
  for (const [file, replace] of replacements) {
    if (file === undefined) continue;
    const decoded = await decodeMountedFile(
      file,
      ctx.read,
      (root, fd) => replace(config, root, fd),
    );
    config = decoded.value;
    ctx.issues.push(...decoded.issues);
    ctx.files.push(file);
  }
  for (const flag of spec.extraFlags ?? []) {
    const value = ctx.flags[flag.name];
    if (value !== undefined && flag.check?.(value) === undefined) {
      config = flag.apply(config, value);
    }
  }
  if (spec.locationNames(config).length === 0) {
    // The Go operator started like this too (an empty locations map) and then did nothing.
    ctx.warnings?.push({
      file: locationsFile ?? source,
      path: locationsFile ? "" : `${spec.section}.locations`,
      message: `no locations: ${spec.platform} is enabled but no image will be uploaded anywhere`,
    });
  }
  return config;
}

/** Every given platform flag is checked, even one of a disabled provider, as Go's flags were. */
function checkExtraFlags<C>(spec: ProviderSpec<C>, ctx: ProviderLoadContext): void {
  for (const flag of spec.extraFlags ?? []) {
    const value = ctx.flags[flag.name];
    if (value === undefined) continue;
    const problem = flag.check?.(value);
    if (problem) ctx.issues.push({ file: `--${flag.name}`, path: "", message: problem });
  }
}
