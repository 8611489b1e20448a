/**
 * The VMware Cloud Director provider module (`capvcd`): everything the operator needs to know
 * about the platform, as one value (see `lib/provider_module.ts`). The other exports are the
 * pieces the tests and the bench drive directly.
 */
import { parseGoDuration } from "../../lib/duration.ts";
import { defineProvider } from "../types.ts";
import {
  parseVcdCredentials,
  parseVcdLocations,
  parseVcdSection,
  type VcdConfig,
} from "./config.ts";
import { createVcdProvider } from "./provider.ts";

/** VMware Cloud Director: OVAs streamed into catalogs as vApp templates. */
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
      usage: "Accepted for compatibility and ignored: uploads stream, nothing is written to disk " +
        "(vcd.downloadDir)",
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
  // A mounted file's top level *is* the subtree the section parser finds under a key.
  withCredentials: (config, root, d) => ({
    ...config,
    credentials: parseVcdCredentials(d.object(root, "") ?? {}, d, ""),
  }),
  withLocations: (config, root, d) => ({
    ...config,
    locations: parseVcdLocations({ "": root }, "", d, ""),
  }),
  locationNames: (config) => Object.keys(config.locations),
  create: (config, deps) => {
    const log = deps.log.with({ provider: "capvcd" });
    if (config.downloadDir !== undefined) {
      log.warn(
        `vcd.downloadDir / --vcd-download-dir (${config.downloadDir}) is ignored: OVAs are ` +
          `streamed from S3 into VCD and nothing is written to disk`,
      );
    }
    for (const [name, location] of Object.entries(config.locations)) {
      if (location.org !== undefined && location.org !== config.credentials.org) {
        log.warn(
          `VCD location "${name}" names org "${location.org}"; credentials.org ` +
            `"${config.credentials.org}" is used, as the Go operator did`,
        );
      }
    }
    return createVcdProvider(config, { logger: deps.log, clock: deps.clock });
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

export { createVcdProvider, VcdProvider, type VcdProviderOptions } from "./provider.ts";
export { VcdClient, type VcdClientOptions } from "./client.ts";
export { API_VERSION, type VcdAuth, VcdSession } from "./session.ts";
export { VcdApiError, VcdAuthError } from "./errors.ts";
export { VcdTaskError } from "./tasks.ts";
export { patchHardwareVersion, readOvf } from "./ovf.ts";
export { versionMetadata } from "./metadata.ts";
export { TAIL_BYTES } from "./upload.ts";
export { VCD_DEFAULTS, type VcdConfig, type VcdCredentials, type VcdLocation } from "./config.ts";
