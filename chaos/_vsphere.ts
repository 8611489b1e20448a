/**
 * vcsim for the fault catalogue: two datacenters over HTTPS with the env's PKI, a password the
 * checker hunts for, OVA images in S3 at the capv keys, a checker that asks vcsim through govc
 * (never through our client), and a way to end every session (as a vCenter restart or an
 * administrator does).
 */
import type { PlatformCheck } from "./_check.ts";
import { type ChaosEnv, flatcarVersion, imageSpecName } from "./_env.ts";
import { imageBytes } from "../tests/image/_s3.ts";
import { release } from "../tests/support/builders.ts";
import type { Release } from "../lib/release/objects.ts";
import { startVcsim, type Vcsim } from "../tests/support/vcsim.ts";

export const VSPHERE_LOCATIONS: Record<string, string> = { "vc-a": "DC0", "vc-b": "DC1" };

/** A vSphere Release using flatcar `flatcar`. */
export function vsphereRelease(name: string, flatcar: string): Release {
  return release(name).withFlatcar(flatcar).build();
}

/**
 * Starts vcsim, adds the `vsphere` section and the OVAs (each with a disk of `diskBytes`);
 * stopped with the env.
 */
export async function addVcsim(env: ChaosEnv, images = 3, diskBytes = 32_768): Promise<Vcsim> {
  const password = `chaos-vc-password-${crypto.randomUUID()}`;
  env.secrets.vspherePassword = password;
  const sim = await startVcsim({
    password,
    datacenters: 2,
    tls: {
      certPath: `${env.pki.dir}/server.crt`,
      keyPath: `${env.pki.dir}/server.key`,
      caPath: env.pki.caCertPath,
    },
  });
  env.onClose(() => sim.stop());
  for (let i = 0; i < images; i++) {
    await env.putImage(
      imageSpecName(flatcarVersion(i)),
      imageBytes("ova", diskBytes, i + 1),
      "capv",
    );
  }
  env.extraValues.vsphere = {
    credentials: {
      vcenter: sim.host,
      username: sim.username,
      password,
      caCert: env.pki.caCert,
    },
    locations: Object.fromEntries(
      Object.entries(VSPHERE_LOCATIONS).map(([name, dc]) => [name, {
        datacenter: dc,
        datastore: "LocalDS_0",
        folder: `/${dc}/vm`,
        cluster: `${dc}_C0`,
      }]),
    ),
  };
  await env.writeValues();
  return sim;
}

/** Ends every session vcsim has open (govc opens its own for the call). */
export async function endAllSessions(sim: Vcsim): Promise<number> {
  const listed = await sim.govcJson<{
    sessionList?: { key: string }[] | null;
    currentSession?: { key: string };
  }>("session.ls");
  const keys = (listed.sessionList ?? []).map((s) => s.key)
    .filter((key) => key !== listed.currentSession?.key);
  if (keys.length) await sim.govc("session.rm", ...keys).catch(() => "");
  return keys.length;
}

/** One template per expected image in each location's folder; no VM that is not a template. */
export function vsphereCheck(sim: Vcsim): PlatformCheck {
  return {
    provider: "capv",
    locations: Object.keys(VSPHERE_LOCATIONS),
    problems: async (expected) => {
      const problems: string[] = [];
      for (const dc of Object.values(VSPHERE_LOCATIONS)) {
        const folder = `/${dc}/vm`;
        const out = await sim.govc("find", folder, "-type", "m");
        const paths = out.split("\n").filter(Boolean);
        const names = paths.map((p) => p.slice(p.lastIndexOf("/") + 1));
        // vcsim's own inventory VMs (DC0_H0_VM0, …) are not ours.
        const ours = paths.filter((p) => !/\/DC\d+_[HC]\d+_VM\d+$/.test(p));
        for (const path of ours) {
          const name = path.slice(path.lastIndexOf("/") + 1);
          if (!expected.has(name)) problems.push(`vSphere: ${path} is not wanted`);
          const info = await sim.govcJson<{
            virtualMachines?: { config?: { template?: boolean } }[] | null;
          }>("vm.info", path).catch(() => ({ virtualMachines: null }));
          if (info.virtualMachines?.[0]?.config?.template !== true) {
            problems.push(`vSphere: ${path} is not a template`);
          }
        }
        for (const name of expected.keys()) {
          const copies = names.filter((n) => n === name).length;
          if (copies !== 1) problems.push(`vSphere: ${copies} copies of ${name} in ${folder}`);
        }
      }
      return problems;
    },
  };
}
