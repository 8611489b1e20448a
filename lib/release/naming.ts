/**
 * How Release names map to providers and where their images live, taken from the provider
 * modules as plain data so the pure derivation and planning code (and their table tests) need
 * no module objects.
 *
 * Unknown prefixes pass through as their own provider id (`aws-1.2.3` → `aws`), and unknown
 * providers keep their images under `<id>/<image>/<base>.ova`, as the Go operator did.
 */
import type { ImageLayout, ProviderModule } from "../provider_module.ts";

export interface ReleaseNaming {
  /** Release name prefix → provider id (`vsphere` → `capv`, `cloud-director` → `capvcd`). */
  providerIds: Readonly<Record<string, string>>;
  /** Provider id → its images' place in the bucket. */
  layouts: Readonly<Record<string, ImageLayout>>;
}

/** Naming with no modules: every prefix is its own provider, every image an OVA. */
export const PASS_THROUGH_NAMING: ReleaseNaming = { providerIds: {}, layouts: {} };

/**
 * The naming the given modules declare.
 * @throws {RangeError} when two modules claim the same prefix or id.
 */
export function releaseNaming(
  modules: readonly Pick<ProviderModule, "id" | "releasePrefixes" | "layout">[],
): ReleaseNaming {
  const providerIds: Record<string, string> = {};
  const layouts: Record<string, ImageLayout> = {};
  for (const module of modules) {
    if (Object.hasOwn(layouts, module.id)) {
      throw new RangeError(`Two provider modules have the id "${module.id}"`);
    }
    layouts[module.id] = module.layout;
    for (const prefix of module.releasePrefixes) {
      if (Object.hasOwn(providerIds, prefix)) {
        throw new RangeError(
          `Release prefix "${prefix}" is claimed by providers ${providerIds[prefix]} and ` +
            `${module.id}`,
        );
      }
      providerIds[prefix] = module.id;
    }
  }
  return { providerIds, layouts };
}

/** The provider id of a Release name prefix. */
export function providerIdOf(naming: ReleaseNaming, prefix: string): string {
  return Object.hasOwn(naming.providerIds, prefix) ? naming.providerIds[prefix] : prefix;
}

/** Where a provider's images live in the bucket. */
export function layoutOf(naming: ReleaseNaming, providerId: string): ImageLayout {
  return Object.hasOwn(naming.layouts, providerId)
    ? naming.layouts[providerId]
    : { directory: providerId, format: "ova" };
}
