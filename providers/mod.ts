/**
 * The platforms this build ships, as provider modules (see `lib/provider_module.ts`), in the Go
 * operator's start-up order. `main.ts` hands this list to the configuration loader, the release
 * naming and the provider registry; `lib/` never imports `providers/` itself.
 *
 * Adding a platform: a folder `providers/<p>/` whose `mod.ts` exports a `defineProvider({...})`
 * value, and one line here.
 */
import type { ProviderModule } from "./types.ts";
import { proxmox } from "./proxmox/mod.ts";
import { vcd } from "./vcd/mod.ts";
import { vsphere } from "./vsphere/mod.ts";

export const PROVIDER_MODULES: readonly ProviderModule[] = [vsphere, vcd, proxmox];

export { s3OptionsFromConfig, S3Resolver } from "./s3/resolver.ts";
