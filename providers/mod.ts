/**
 * The platform clients this build ships, as factories for the image controller's provider
 * registry (`lib/image/providers.ts`). `main.ts` hands these to `lib/`, which never imports
 * `providers/` itself.
 */
import type { ProxmoxConfig, VcdConfig, VsphereConfig } from "../lib/config/mod.ts";
import type { ProviderFactory } from "../lib/image/providers.ts";
import type { Logger } from "../lib/log.ts";
import { createProxmoxProvider } from "./proxmox/provider.ts";

export { s3OptionsFromConfig, S3Resolver } from "./s3/resolver.ts";

/** Provider id → factory. Ids without a client yet refuse their config with a clear message. */
export function providerFactories(options: { log?: Logger } = {}): Record<string, ProviderFactory> {
  return {
    capmox: (config) => createProxmoxProvider(config as ProxmoxConfig, { logger: options.log }),
    capv: notInThisBuild("capv", "vSphere"),
    capvcd: notInThisBuild("capvcd", "VMware Cloud Director"),
  };
}

/**
 * Location names in a provider's config section, known even when its client cannot be built:
 * vSphere and Proxmox hold a map of locations, VCD a single location with a `name`.
 */
export function providerLocationNames(id: string, config: unknown): string[] {
  switch (id) {
    case "capv":
      return Object.keys((config as VsphereConfig).locations);
    case "capmox":
      return Object.keys((config as ProxmoxConfig).locations);
    case "capvcd":
      return [(config as VcdConfig).location.name];
    default:
      return [];
  }
}

/**
 * A factory for a platform whose client is not built yet. The registry shows the provider as
 * unreachable with this message and its locations go to Error, so users see why nothing is
 * uploaded there instead of a silent skip; Releases and NodeImages are still managed.
 */
function notInThisBuild(id: string, platform: string): ProviderFactory {
  return () => {
    throw new Error(`no ${platform} client in this build of the operator (provider ${id})`);
  };
}
