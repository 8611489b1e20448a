/**
 * The vSphere provider module (`capv`). This build has no vSphere client yet: the section is
 * read and validated as the Go operator's, its locations are listed, and building the client
 * fails with a message the registry shows on every location, so users see why nothing is
 * uploaded there; Releases and NodeImages are still managed.
 */
import { defineProvider } from "../types.ts";
import {
  parseVsphereCredentials,
  parseVsphereLocations,
  parseVsphereSection,
  type VsphereConfig,
} from "./config.ts";

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
  create: () => {
    throw new Error("no vSphere client in this build of the operator (provider capv)");
  },
});

export default vsphere;

export type { VsphereConfig, VsphereCredentials, VsphereLocation } from "./config.ts";
