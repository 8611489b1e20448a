/** The fake Proxmox VE (`tests/proxmox/fake_proxmox/main.ts`) with two nodes, over HTTPS. */
import type { DemoPki } from "./pki.ts";
import { type PlatformService, readStats } from "./platform.ts";
import { ServiceProcess } from "../processes.ts";

const FAKE = new URL("../../tests/proxmox/fake_proxmox/main.ts", import.meta.url).pathname;
const TOKEN = { user: "root", realm: "pam", tokenId: "image-operator", secret: "demo-pve-secret" };

export async function startProxmox(
  dir: string,
  pki: DemoPki,
  signal: AbortSignal,
): Promise<PlatformService> {
  const process = ServiceProcess.spawn("fake Proxmox", Deno.execPath(), [
    "run",
    "--allow-all",
    FAKE,
    "--nodes=pve1,pve2",
    `--user=${TOKEN.user}@${TOKEN.realm}`,
    `--token-id=${TOKEN.tokenId}`,
    `--secret=${TOKEN.secret}`,
    `--tls-cert=${pki.certPath}`,
    `--tls-key=${pki.keyPath}`,
    // Tasks finish at once: on a real node they take seconds, and the operator's task polling
    // (2 s, 4 s, …) would make Proxmox the slowest part of the demo by far.
    "--task-ms=0",
  ], { logPath: `${dir}/fake-proxmox.log` });
  const [, host, stats] = await process.waitFor(/ready at (\S+) stats=(\S+)/, signal);
  const location = (node: string) => ({
    node,
    storagePool: "local-lvm",
    importStorage: "local",
    bridge: "vmbr0",
  });
  return {
    platform: "proxmox",
    providerId: "capmox",
    section: {
      enabled: true,
      credentials: { url: host, ...TOKEN, insecure: false, caCert: pki.caCert },
      locations: { "pve-a": location("pve1"), "pve-b": location("pve2") },
    },
    locations: ["pve-a", "pve-b"],
    calls: async () => ({ total: (await readStats(stats)).requests, kind: "API" }),
    catalog: async () => (await readStats(stats)).catalog,
    process,
  };
}
