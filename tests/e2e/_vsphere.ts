/**
 * End-to-end set-up for vSphere through the image controller: vcsim (govmomi v0.56.0, our own
 * main, see `tools/vcsim/`) serving HTTPS with a throwaway PKI whose CA the provider trusts
 * through `credentials.caCert`, two datacenters, the real `createVsphereProvider` in the real
 * `ProviderRegistry` as `main.ts` wires it, and the real `S3Resolver` over s3rver. Assertions
 * look at vcsim through govc, never through our own client.
 */
import type { Logger } from "../../lib/log.ts";
import { Secret } from "../../lib/config/secret.ts";
import { type ConfiguredProvider, defineProvider } from "../../lib/provider_module.ts";
import {
  createVsphereProvider,
  vsphere,
  type VsphereConfig,
  type VsphereLocation,
  type VsphereProvider,
  type VsphereProviderOptions,
} from "../../providers/vsphere/mod.ts";
import type { TestPki } from "../support/tls.ts";
import { startVcsim, type Vcsim, vcsimUnavailable } from "../support/vcsim.ts";
import { filePki } from "./_proxmox.ts";

/** A password with every character that broke the Go operator's URL userinfo (§10.1). */
export const VC_PASSWORD = `p@ss:w/rd?#&<"'>%20 vs-SECRET`;

/** One location in each datacenter. */
export const LOCATIONS: Record<string, VsphereLocation> = {
  "vc-a": location("DC0", { network: "DC0_DVPG0" }),
  "vc-b": location("DC1"),
};
export const LOCATION_NAMES = Object.keys(LOCATIONS);

/** A location in datacenter `dc` (vcsim's names), with overrides. */
export function location(dc: string, extra: Partial<VsphereLocation> = {}): VsphereLocation {
  return {
    datacenter: dc,
    datastore: "LocalDS_0",
    folder: `/${dc}/vm`,
    cluster: `${dc}_C0`,
    resourcepool: "",
    host: "",
    network: "",
    imagesuffix: "",
    ...extra,
  };
}

/** The PKI for the file, or the reason the suite is ignored (no openssl, no vcsim). */
export async function vsphereFilePki(): Promise<{ pki?: TestPki; unavailable?: string }> {
  const unavailable = await vcsimUnavailable();
  if (unavailable) return { unavailable };
  return await filePki();
}

/** vcsim with two datacenters, serving the PKI's server certificate. */
export function startSim(pki: TestPki, options: { password?: string } = {}): Promise<Vcsim> {
  return startVcsim({
    password: options.password ?? VC_PASSWORD,
    datacenters: 2,
    tls: {
      certPath: `${pki.dir}/server.crt`,
      keyPath: `${pki.dir}/server.key`,
      caPath: pki.caCertPath,
    },
  });
}

/** The `vsphere` section for `sim`. */
export function capvConfig(
  sim: Vcsim,
  pki: TestPki,
  options: {
    locations?: Record<string, VsphereLocation>;
    password?: string;
    pullFromURL?: boolean;
  } = {},
): VsphereConfig {
  return {
    pullFromURL: options.pullFromURL ?? false,
    credentials: {
      vcenter: sim.host,
      username: sim.username,
      password: new Secret(options.password ?? sim.password),
      caCert: pki.caCert,
      insecure: false,
    },
    locations: options.locations ?? LOCATIONS,
  };
}

/** What a test sees of the providers the registry built. */
export interface Built {
  providers: VsphereProvider[];
  /** SOAP requests by method, over every provider built. */
  calls: Map<string, number>;
}

/** `main.ts`'s registry wiring for capv, with short lease-progress intervals. */
export function capvWiring(
  config: VsphereConfig,
  options: { log?: Logger; provider?: VsphereProviderOptions } = {},
): { providers: Record<string, ConfiguredProvider>; built: Built } {
  const built: Built = { providers: [], calls: new Map() };
  const fast = defineProvider<VsphereConfig>({
    ...vsphere,
    create: (c, deps) => {
      const provider = createVsphereProvider(c, {
        logger: options.log ?? deps.log,
        clock: deps.clock,
        progressIntervalMs: 200,
        ...options.provider,
        onSoapCall: (method) => built.calls.set(method, (built.calls.get(method) ?? 0) + 1),
      });
      built.providers.push(provider);
      return provider;
    },
  });
  return { providers: { capv: fast.configure(config) }, built };
}

/** The folder of a location. */
export function folderOf(name: string, locations = LOCATIONS): string {
  return locations[name].folder;
}

/** VM names in `folder`, sorted (govc ls). */
export async function vmsIn(sim: Vcsim, folder: string): Promise<string[]> {
  const out = await sim.govc("ls", folder);
  return out.split("\n").filter(Boolean).map((p) => p.slice(p.lastIndexOf("/") + 1)).sort();
}

/** govc's view of one VM: moref, template flag, host moref, annotation; undefined when absent. */
export async function vmInfo(
  sim: Vcsim,
  path: string,
): Promise<{ moref: string; template: boolean; host?: string; annotation?: string } | undefined> {
  const info = await sim.govcJson<{
    virtualMachines?: {
      self: { value: string };
      config?: { template?: boolean; annotation?: string };
      runtime?: { host?: { value: string } };
    }[] | null;
  }>("vm.info", path).catch(() => ({ virtualMachines: null }));
  const vm = info.virtualMachines?.[0];
  if (!vm) return undefined;
  return {
    moref: vm.self.value,
    template: vm.config?.template === true,
    host: vm.runtime?.host?.value,
    annotation: vm.config?.annotation,
  };
}

/** Tag names attached to the VM at `path` (govc tags.attached.ls). */
export async function tagsOf(sim: Vcsim, path: string): Promise<string[]> {
  const out = await sim.govc("tags.attached.ls", "-r", path);
  return out.split("\n").filter(Boolean).sort();
}
