/**
 * 20 malformed Releases, with the Release CRD relaxed (its schema replaced by "anything goes")
 * so that they reach the operator as a hand-edited or buggy object would on a cluster with an
 * older CRD: missing or empty components, wrong types, unusable versions, names without a
 * provider, names too long for a NodeImage. Each must get an Event naming it (and, where a
 * component is at fault, the component); none may create a NodeImage, stall the controllers
 * or cause a retry storm; good Releases created alongside must converge as usual.
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import type { Release } from "../lib/release/objects.ts";
import { baseline, type ChaosCase, retryApi, settle, sleep, withOperator } from "./_case.ts";
import { defaultImageOf } from "./_check.ts";
import { CRD_DIR, flatcarVersion, proxmoxRelease } from "./_env.ts";
import { loadCrdDir } from "../tests/fake_apiserver/mod.ts";

/** `[name, what is wrong, a word the Event must contain, the object]`. */
function malformed(): [string, string, RegExp, Release][] {
  const base = (name: string) => proxmoxRelease(name, flatcarVersion(0));
  const edit = (name: string, fn: (r: Release & { spec: Record<string, unknown> }) => void) => {
    const r = base(name) as Release & { spec: Record<string, unknown> };
    fn(r);
    return r;
  };
  const setVersion = (name: string, component: string, version: unknown) =>
    edit(name, (r) => {
      const c = (r.spec.components as { name: string; version: unknown }[])
        .find((c) => c.name === component)!;
      c.version = version;
    });
  const drop = (name: string, component: string) =>
    edit(name, (r) => {
      r.spec.components = (r.spec.components as { name: string }[])
        .filter((c) => c.name !== component);
    });
  const long = "4593.2.0" + "-x".repeat(150);
  return [
    [
      "proxmox-9.0.0",
      "no spec",
      /component|spec/i,
      edit("proxmox-9.0.0", (r) => {
        delete (r as { spec?: unknown }).spec;
      }),
    ],
    [
      "proxmox-9.1.0",
      "no components",
      /flatcar|component/i,
      edit("proxmox-9.1.0", (r) => {
        delete r.spec.components;
      }),
    ],
    [
      "proxmox-9.2.0",
      "empty components",
      /flatcar|component/i,
      edit("proxmox-9.2.0", (r) => {
        r.spec.components = [];
      }),
    ],
    ["proxmox-9.3.0", "no flatcar", /flatcar/, drop("proxmox-9.3.0", "flatcar")],
    ["proxmox-9.4.0", "no kubernetes", /kubernetes/, drop("proxmox-9.4.0", "kubernetes")],
    ["proxmox-9.5.0", "no os-tooling", /os-tooling/, drop("proxmox-9.5.0", "os-tooling")],
    [
      "proxmox-9.6.0",
      "empty flatcar version",
      /flatcar/,
      setVersion("proxmox-9.6.0", "flatcar", ""),
    ],
    [
      "proxmox-9.7.0",
      "numeric flatcar version",
      /flatcar/,
      setVersion("proxmox-9.7.0", "flatcar", 4593),
    ],
    [
      "proxmox-9.8.0",
      "components a string",
      /component/i,
      edit("proxmox-9.8.0", (r) => {
        (r.spec as Record<string, unknown>).components = "flatcar=4593.2.0";
      }),
    ],
    [
      "proxmox-9.9.0",
      "a null component",
      /flatcar|component/i,
      edit("proxmox-9.9.0", (r) => {
        (r.spec.components as unknown[]).unshift(null);
      }),
    ],
    [
      "proxmox-9.10.0",
      "component without name",
      /flatcar|component/i,
      edit("proxmox-9.10.0", (r) => {
        for (const c of r.spec.components as { name?: string }[]) {
          if (c.name === "flatcar") delete c.name;
        }
      }),
    ],
    [
      "proxmox-9.11.0",
      "path in the version",
      /flatcar|version/i,
      setVersion("proxmox-9.11.0", "flatcar", "../../etc/passwd"),
    ],
    [
      "proxmox-9.12.0",
      "upper case version",
      /flatcar|version|name/i,
      setVersion("proxmox-9.12.0", "kubernetes", "1.35.X"),
    ],
    [
      "proxmox-9.13.0",
      "version too long for a name",
      /name|long|characters/i,
      setVersion("proxmox-9.13.0", "flatcar", long),
    ],
    [
      "proxmox-9.14.0",
      "spaces in a version",
      /version|flatcar|name/i,
      setVersion("proxmox-9.14.0", "os-tooling", "1 .32"),
    ],
    ["v20.1.0", "vintage name without provider", /provider|name/i, base("v20.1.0")],
    ["proxmox-9.16", "name without a full semver", /name/i, base("proxmox-9.16")],
    [
      "openstack-1.0.0",
      "provider not configured",
      /openstack|configured/i,
      base("openstack-1.0.0"),
    ],
    [
      "proxmox-9.18.0",
      "bad flatcar channel annotation",
      /channel/i,
      edit("proxmox-9.18.0", (r) => {
        r.metadata.annotations = {
          "image-distribution-operator.giantswarm.io/flatcar-channel": "Nightly Build!",
        };
      }),
    ],
    [
      "proxmox-9.19.0",
      "spec a list",
      /component|spec/i,
      edit("proxmox-9.19.0", (r) => {
        (r as { spec: unknown }).spec = ["flatcar"];
      }),
    ],
  ];
}

/** The Release CRD with its schema replaced by one that accepts anything. */
async function relaxedCrds(): Promise<unknown[]> {
  const crds = await loadCrdDir(CRD_DIR) as {
    spec: { names: { kind: string }; versions: { schema: unknown }[] };
  }[];
  for (const crd of crds) {
    if (crd.spec.names.kind !== "Release") continue;
    for (const version of crd.spec.versions) {
      version.schema = {
        openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      };
    }
  }
  return crds;
}

interface Params {
  goodReleases: number;
}

export const malformedReleases: ChaosCase<Params> = {
  name: "malformed-releases",
  summary: "20 malformed Releases through a relaxed Release CRD, next to good ones",
  defaults: { goodReleases: 10 },
  quick: { goodReleases: 2 },
  run: async (p) =>
    withOperator({ crds: await relaxedCrds() }, async (running) => {
      const { env } = running;
      const cases = malformed();
      const bad = new Set(cases.map(([name]) => name));
      running.check = {
        ...running.check,
        imageOf: (r) => bad.has(r.metadata.name!) ? undefined : defaultImageOf(r),
      };
      const b = await baseline(running);
      for (const [, , , release] of cases) {
        await retryApi(() => env.releases.create(release), AlreadyExistsError);
      }
      for (let i = 0; i < p.goodReleases; i++) {
        const good = proxmoxRelease(`proxmox-1.${i}.0`, flatcarVersion(i % 2));
        await retryApi(() => env.releases.create(good), AlreadyExistsError);
      }
      const figures = await settle(running, b);
      // Every malformed Release has an Event naming it and, where it applies, what is wrong.
      const problems: string[] = [];
      let notes: string[] = [];
      for (let attempt = 0; attempt < 40; attempt++) {
        const events = (await env.events.list()).items;
        problems.length = 0;
        notes = [];
        for (const [name, what, pattern] of cases) {
          const about = events.filter((e) => e.regarding?.name === name);
          const note = about.map((e) => `${e.type} ${e.reason}: ${e.note}`).join(" / ");
          notes.push(`${name} (${what}): ${note || "-"}`);
          if (!about.length) problems.push(`${name} (${what}): no Event`);
          else if (!about.some((e) => pattern.test(e.note ?? ""))) {
            problems.push(`${name} (${what}): Event does not say what is wrong: ${note}`);
          }
        }
        if (!problems.length) break;
        await sleep(250);
      }
      await Deno.mkdir(".tmp/chaos", { recursive: true });
      await Deno.writeTextFile(".tmp/chaos/malformed-releases-events.txt", notes.join("\n") + "\n");
      if (problems.length) throw new Error(`Malformed Releases:\n  ${problems.join("\n  ")}`);
      // No retry storm: what the operator asks of the API server once all is settled.
      const quietFrom = env.operatorRequests;
      await sleep(5000);
      return {
        ...figures,
        "malformed": cases.length,
        "API requests in 5 s after": env.operatorRequests - quietFrom,
      };
    }),
};
