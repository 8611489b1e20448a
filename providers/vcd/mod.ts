/**
 * The VMware Cloud Director provider module (`capvcd`). This build has no VCD client yet: the
 * section is read and validated as the Go operator's, its location is listed, and building the
 * client fails with a message the registry shows on the location, so users see why nothing is
 * uploaded there; Releases and NodeImages are still managed.
 */
import { parseGoDuration } from "../../lib/duration.ts";
import { defineProvider } from "../types.ts";
import {
  parseVcdCredentials,
  parseVcdLocation,
  parseVcdSection,
  type VcdConfig,
} from "./config.ts";

/** VMware Cloud Director: OVAs uploaded as vApp templates into a catalog. */
export const vcd = defineProvider<VcdConfig>({
  id: "capvcd",
  platform: "VMware Cloud Director",
  releasePrefixes: ["cloud-director"],
  section: "vcd",
  // VCD imports the vSphere OVAs (the Go operator's key layout).
  layout: { directory: "capv", format: "ova" },
  flags: {
    enable: "enable-cloud-director",
    credentials: "vcd-credentials",
    locations: "vcd-locations",
  },
  extraFlags: [
    {
      name: "vcd-download-dir",
      kind: "string",
      usage: "VCD OVA scratch dir (vcd.downloadDir; default /tmp/images)",
      // The Go operator falls back to the default for "".
      apply: (config, value) => value ? { ...config, downloadDir: String(value) } : config,
    },
    {
      name: "vcd-session-refresh-threshold",
      kind: "string",
      usage: "Re-authenticate to VCD after this long (vcd.sessionRefreshThreshold; default 20h)",
      check: (value) => durationProblem(String(value)),
      apply: (config, value) => {
        // The Go operator treats a threshold ≤ 0 as "use the default".
        const ms = parseGoDuration(String(value));
        return ms > 0 ? { ...config, sessionRefreshThresholdMs: ms } : config;
      },
    },
  ],
  files: { credentials: "/home/.vcd/credentials", locations: "/home/.vcd/locations" },
  parseSection: parseVcdSection,
  withCredentials: (config, root, d) => ({
    ...config,
    credentials: parseVcdCredentials(d.object(root, "") ?? {}, d, ""),
  }),
  withLocations: (config, root, d) => ({
    ...config,
    location: parseVcdLocation(d.object(root, "") ?? {}, d, ""),
  }),
  locationNames: (config) => [config.location.name],
  create: () => {
    throw new Error(
      "no VMware Cloud Director client in this build of the operator (provider capvcd)",
    );
  },
});

export default vcd;

function durationProblem(text: string): string | undefined {
  try {
    parseGoDuration(text);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    return message[0].toLowerCase() + message.slice(1);
  }
}

export type { VcdConfig, VcdCredentials, VcdLocation } from "./config.ts";
