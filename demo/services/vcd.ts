/** The fake VMware Cloud Director (`tests/vcd/fake_vcd/main.ts`): one org, VDC and catalog. */
import type { DemoPki } from "./pki.ts";
import { type PlatformService, readStats } from "./platform.ts";
import { ServiceProcess } from "../processes.ts";

const FAKE = new URL("../../tests/vcd/fake_vcd/main.ts", import.meta.url).pathname;
const ORG = { org: "demo-org", user: "image-operator", password: "demo-vcd-p@ss", vdc: "vdc1" };

export async function startVcd(
  dir: string,
  pki: DemoPki,
  signal: AbortSignal,
): Promise<PlatformService> {
  const process = ServiceProcess.spawn("fake VCD", Deno.execPath(), [
    "run",
    "--allow-all",
    FAKE,
    `--org=${ORG.org}`,
    `--user=${ORG.user}`,
    `--password=${ORG.password}`,
    `--vdc=${ORG.vdc}`,
    "--catalog=node-images",
    `--tls-cert=${pki.certPath}`,
    `--tls-key=${pki.keyPath}`,
  ], { logPath: `${dir}/fake-vcd.log` });
  const [, url, stats] = await process.waitFor(/ready at (\S+) .*stats=(\S+)/, signal);
  return {
    platform: "vcd",
    providerId: "capvcd",
    section: {
      enabled: true,
      sessionRefreshThreshold: "20h",
      credentials: {
        url,
        username: ORG.user,
        password: ORG.password,
        org: ORG.org,
        insecure: false,
        caCert: pki.caCert,
      },
      // The Go operator's single-location form.
      locations: {
        name: "vcd-a",
        org: ORG.org,
        vdc: ORG.vdc,
        catalog: "node-images",
        hardwareVersion: 19,
      },
    },
    locations: ["vcd-a"],
    calls: async () => ({ total: (await readStats(stats)).requests, kind: "API" }),
    catalog: async () => (await readStats(stats)).catalog,
    process,
  };
}
