/**
 * End-to-end set-up for Proxmox through the image controller: the fake Proxmox over HTTPS (a
 * throwaway PKI whose CA the provider trusts through `credentials.caCert`) with two nodes, the
 * real `createProxmoxProvider` in the real `ProviderRegistry` as `main.ts` wires it, and the
 * real `S3Resolver` over s3rver whose URLs the fake's download-url really fetches.
 */
import type { Logger } from "../../lib/log.ts";
import { type ConfiguredProvider, defineProvider } from "../../lib/provider_module.ts";
import { createProxmoxProvider, proxmox, type ProxmoxConfig } from "../../providers/proxmox/mod.ts";
import { FakeProxmox, type FakeProxmoxOptions } from "../proxmox/fake_proxmox/mod.ts";
import { location, proxmoxConfig } from "../proxmox/_support.ts";
import { opensslAvailable, opensslMissing, type TestPki, testPki } from "../support/tls.ts";

/** Two locations on two nodes. */
export const LOCATIONS = { "pve-a": location("pve1"), "pve-b": location("pve2") } as const;
export const LOCATION_NAMES = Object.keys(LOCATIONS) as (keyof typeof LOCATIONS)[];
export const NODE_OF: Record<string, string> = { "pve-a": "pve1", "pve-b": "pve2" };

/**
 * A PKI for the file (removed at unload), or the reason there is none (ignore the suite then).
 */
export async function filePki(): Promise<{ pki?: TestPki; unavailable?: string }> {
  if (!opensslAvailable()) return { unavailable: opensslMissing };
  const pki = await testPki();
  addEventListener("unload", () => Deno.removeSync(pki.dir, { recursive: true }));
  return { pki };
}

/** The fake Proxmox over HTTPS with nodes `pve1` and `pve2`. */
export function startFakeProxmox(
  pki: TestPki,
  options: Omit<FakeProxmoxOptions, "tls" | "nodes"> = {},
): Promise<FakeProxmox> {
  return FakeProxmox.start({
    ...options,
    nodes: ["pve1", "pve2"],
    tls: { cert: pki.serverCert, key: pki.serverKey },
  });
}

/** The `proxmox` section for the fake: its host, the PKI's CA, the token `secret`. */
export function capmoxConfig(fake: FakeProxmox, pki: TestPki, secret?: string): ProxmoxConfig {
  return proxmoxConfig(fake.host, { ...LOCATIONS }, { caCert: pki.caCert, secret });
}

/**
 * `main.ts`'s registry wiring for capmox (the shipped module with `config`), with task polling
 * and the shared-listing lifetime shortened so the suite stays fast.
 */
export function capmoxWiring(
  config: ProxmoxConfig,
  log?: Logger,
): { providers: Record<string, ConfiguredProvider> } {
  const fast = defineProvider<ProxmoxConfig>({
    ...proxmox,
    create: (c, deps) =>
      createProxmoxProvider(c, {
        logger: log ?? deps.log,
        clock: deps.clock,
        taskDelaysMs: [1, 2, 5],
        inventoryMaxAgeMs: 20,
      }),
  });
  return { providers: { capmox: fast.configure(config) } };
}

/** The fake's VMs as `node/vmid name[ template]`, sorted. */
export function vmsOf(fake: FakeProxmox): string[] {
  return [...fake.cluster.vms.values()].map((vm) =>
    `${vm.node}/${vm.vmid} ${vm.config.name ?? "-"}${vm.config.template === "1" ? " template" : ""}`
  ).sort();
}

/** Requests the fake answered for `route` (e.g. `POST /nodes/{node}/qemu`). */
export function requestsTo(fake: FakeProxmox, route: string): number {
  const [method, path] = route.split(" ");
  return fake.requests.filter((r) => r.method === method && r.route === path).length;
}
