/**
 * The vSphere provider module (`capv`): OVAs imported as VM templates through vCenter over
 * SOAP, on the platform HTTP client. The other exports are the pieces tests, the bench and the
 * demo drive directly.
 */
import { defineProvider } from "../types.ts";
import {
  parseVsphereCredentials,
  parseVsphereLocations,
  parseVsphereSection,
  type VsphereConfig,
} from "./config.ts";
import { createVsphereProvider } from "./provider.ts";

/** vSphere: OVAs imported as VM templates through vCenter. */
export const vsphere = defineProvider<VsphereConfig>({
  id: "capv",
  platform: "vSphere",
  releasePrefixes: ["vsphere"],
  section: "vsphere",
  layout: { directory: "capv", format: "ova" },
  flags: {
    enable: "enable-vsphere",
    credentials: "vsphere-credentials",
    locations: "vsphere-locations",
  },
  extraFlags: [{
    name: "vsphere-pull-from-url",
    kind: "bool",
    usage: "Let ESXi pull images from S3 (vsphere.pullFromURL; default false)",
    apply: (config, value) => ({ ...config, pullFromURL: value === true }),
  }],
  files: { credentials: "/home/.vsphere/credentials", locations: "/home/.vsphere/locations" },
  parseSection: parseVsphereSection,
  withCredentials: (config, root, d) => ({
    ...config,
    credentials: parseVsphereCredentials(d.object(root, "") ?? {}, d, ""),
  }),
  withLocations: (config, root, d) => ({
    ...config,
    locations: parseVsphereLocations({ "": root }, "", d, ""),
  }),
  locationNames: (config) => Object.keys(config.locations),
  create: (config, deps) => createVsphereProvider(config, { logger: deps.log, clock: deps.clock }),
});

export default vsphere;

export { createVsphereProvider, VsphereProvider, type VsphereProviderOptions } from "./provider.ts";
export { SoapClient, type SoapClientOptions } from "./soap/client.ts";
export { TaggingClient } from "./tags.ts";
export { HTTP_SOURCE_THUMBPRINT, sourceThumbprint } from "./pull.ts";
export { ANNOTATION_MARKER, imageNameOf, versionTags, vmName } from "./names.ts";
export type { VsphereConfig, VsphereCredentials, VsphereLocation } from "./config.ts";
