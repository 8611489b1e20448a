/**
 * The Proxmox VE provider module (`capmox`): everything the operator needs to know about the
 * platform, as one value (see `lib/provider_module.ts`). The other exports are the pieces the
 * tests and the bench drive directly.
 */
import { defineProvider } from "../types.ts";
import {
  parseProxmoxCredentials,
  parseProxmoxLocations,
  parseProxmoxSection,
  type ProxmoxConfig,
} from "./config.ts";
import { createProxmoxProvider } from "./provider.ts";

/** Proxmox VE: qcow2 images the nodes download themselves, turned into VM templates. */
export const proxmox = defineProvider<ProxmoxConfig>({
  id: "capmox",
  platform: "Proxmox VE",
  releasePrefixes: ["proxmox"],
  section: "proxmox",
  layout: { directory: "capmox", format: "qcow2" },
  flags: {
    enable: "enable-proxmox",
    credentials: "proxmox-credentials",
    locations: "proxmox-locations",
  },
  files: { credentials: "/home/.proxmox/credentials", locations: "/home/.proxmox/locations" },
  parseSection: parseProxmoxSection,
  // A mounted file's top level *is* the subtree the section parser finds under a key; the
  // parent `{ "": root }` with key "" reads it with field paths relative to the file.
  withCredentials: (config, root, d) => ({
    ...config,
    credentials: parseProxmoxCredentials(d.object(root, "") ?? {}, d, ""),
  }),
  withLocations: (config, root, d) => ({
    ...config,
    locations: parseProxmoxLocations({ "": root }, "", d, ""),
  }),
  locationNames: (config) => Object.keys(config.locations),
  create: (config, deps) => createProxmoxProvider(config, { logger: deps.log, clock: deps.clock }),
});

export default proxmox;

export { createProxmoxProvider, ProxmoxProvider, type ProxmoxProviderOptions } from "./provider.ts";
export { apiPath, pathSegment, ProxmoxClient, type ProxmoxClientOptions } from "./client.ts";
export { ProxmoxApiError, ProxmoxAuthError } from "./errors.ts";
export { ProxmoxCreateError } from "./create.ts";
export { parseUpid, ProxmoxTaskError, waitForTask } from "./tasks.ts";
export { PARTIAL_TAG, sanitiseTag, versionTags } from "./names.ts";
export {
  PROXMOX_DEFAULTS,
  PROXMOX_VM_DEFAULTS,
  type ProxmoxConfig,
  type ProxmoxCredentials,
  type ProxmoxLocation,
  type ProxmoxVmShape,
} from "./config.ts";
