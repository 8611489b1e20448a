/**
 * Typed views of an `OperatorConfig`'s provider sections, through each module's `configOf`
 * (the config holds them as `ConfiguredProvider`s bound to their module).
 */
import { CONFIG_FLAGS, type OperatorConfig, providerFlagSpecs } from "../../lib/config/mod.ts";
import type { ImageLayout } from "../../lib/provider_module.ts";
import { layoutOf, releaseNaming } from "../../lib/release/naming.ts";
import { PROVIDER_MODULES } from "../../providers/mod.ts";
import { proxmox, type ProxmoxConfig } from "../../providers/proxmox/mod.ts";
import { vcd, type VcdConfig } from "../../providers/vcd/mod.ts";
import { vsphere, type VsphereConfig } from "../../providers/vsphere/mod.ts";

export { PROVIDER_MODULES };

/** `CONFIG_FLAGS` plus the shipped modules' flags, as `main.ts` parses them. */
export const ALL_CONFIG_FLAGS = { ...CONFIG_FLAGS, ...providerFlagSpecs(PROVIDER_MODULES) };

/** The `vsphere` section, if configured. */
export function capvOf(config: OperatorConfig): VsphereConfig | undefined {
  return vsphere.configOf(config.providers.capv);
}

/** The `vcd` section, if configured. */
export function capvcdOf(config: OperatorConfig): VcdConfig | undefined {
  return vcd.configOf(config.providers.capvcd);
}

/** The `proxmox` section, if configured. */
export function capmoxOf(config: OperatorConfig): ProxmoxConfig | undefined {
  return proxmox.configOf(config.providers.capmox);
}

/** The shipped modules' Release naming (`vsphere` → `capv`, …). */
export const NAMING = releaseNaming(PROVIDER_MODULES);

/** Where a provider id's images live: its shipped module's layout, else the Go default. */
export function layoutFor(providerId: string): ImageLayout {
  return layoutOf(NAMING, providerId);
}
