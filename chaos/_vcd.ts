/**
 * The fake VCD for the fault catalogue: over HTTPS with the env's PKI, one org with two VDCs and
 * catalogs (one location each), a password the checker hunts for, OVA images in S3 at the
 * capvcd keys, and a checker that asks the fake for partial or duplicate templates.
 */
import type { PlatformCheck } from "./_check.ts";
import { type ChaosEnv, flatcarVersion, imageSpecName } from "./_env.ts";
import { FakeVcd } from "../tests/vcd/fake_vcd/mod.ts";
import type { WorldTimings } from "../tests/vcd/fake_vcd/world.ts";
import { imageBytes } from "../tests/image/_s3.ts";
import { release } from "../tests/support/builders.ts";
import type { Release } from "../lib/release/objects.ts";

/** A Cloud Director Release using flatcar `flatcar`. */
export function vcdRelease(name: string, flatcar: string): Release {
  return release(name).withoutComponent("cluster-vsphere")
    .withComponent("cluster-cloud-director", "0.60.0").withFlatcar(flatcar).build();
}

const ORG = "giantswarm";
const USER = "image-operator";
export const VCD_LOCATIONS: Record<string, { vdc: string; catalog: string }> = {
  "vcd-a": { vdc: "vdc-a", catalog: "catalog-a" },
  "vcd-b": { vdc: "vdc-b", catalog: "catalog-b" },
};

/** Starts the fake VCD, adds the `vcd` section and the OVAs; closed with the env. */
export async function addFakeVcd(
  env: ChaosEnv,
  options: { timings?: Partial<WorldTimings>; images?: number } = {},
): Promise<FakeVcd> {
  const password = `chaos-vcd-password-${crypto.randomUUID()}`;
  env.secrets.vcdPassword = password;
  const fake = await FakeVcd.start({
    tls: { cert: env.pki.serverCert, key: env.pki.serverKey },
    orgs: [{
      name: ORG,
      users: [{ name: USER, password }],
      vdcs: Object.values(VCD_LOCATIONS).map((l) => ({
        name: l.vdc,
        profiles: [{ name: "standard", isDefault: true }],
      })),
      catalogs: Object.values(VCD_LOCATIONS).map((l) => ({ name: l.catalog })),
    }],
    timings: { descriptorDelayMs: 5, importDelayMs: 5, taskDelayMs: 2, ...options.timings },
  });
  env.onClose(() => fake.close());
  for (let i = 0; i < (options.images ?? 5); i++) {
    await env.putImage(
      imageSpecName(flatcarVersion(i)),
      imageBytes("ova", 32_768, i + 1),
      "capvcd",
    );
  }
  env.extraValues.vcd = {
    credentials: {
      url: `${fake.url}/api`,
      username: USER,
      password,
      org: ORG,
      caCert: env.pki.caCert,
    },
    locations: Object.fromEntries(
      Object.entries(VCD_LOCATIONS).map(([name, l]) => [name, { ...l, hardwareVersion: 19 }]),
    ),
  };
  await env.writeValues();
  return fake;
}

/** A resolved template per expected image in each location's catalog, nothing else. */
export function vcdCheck(fake: FakeVcd): PlatformCheck {
  return {
    provider: "capvcd",
    locations: Object.keys(VCD_LOCATIONS),
    problems: (expected) => {
      const problems: string[] = [];
      for (const { catalog } of Object.values(VCD_LOCATIONS)) {
        const templates = fake.templates(catalog);
        for (const t of templates) {
          if (t.status !== 8) {
            problems.push(`VCD: ${catalog}/${t.name} is partial (status ${t.status})`);
          }
          if (!expected.has(t.name)) problems.push(`VCD: ${catalog}/${t.name} is not wanted`);
        }
        for (const name of expected.keys()) {
          const copies = templates.filter((t) => t.name === name).length;
          if (copies !== 1) problems.push(`VCD: ${copies} copies of ${name} in ${catalog}`);
        }
      }
      return Promise.resolve(problems);
    },
  };
}
