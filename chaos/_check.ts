/**
 * The fault catalogue's shared end-state checker. After a fault, the world must settle to:
 * - every NodeImage that the existing Releases call for exists, and no other;
 * - each is Available in every location, and each location's reference is the platform's image;
 * - its `status.releases` is exactly the Releases using it (no lost status write);
 * - nothing partial in any catalog (the platform checkers ask the fakes), no duplicate image;
 * - no object is left Terminating (no stuck finalizer);
 * - no Release was ever registered into a Terminating NodeImage (seen through the commit hook);
 * - no configured secret in logs, Events, NodeImages, `/readyz` or `/metrics`.
 *
 * `converge` polls the checker until it passes, and fails with the last problems at its deadline.
 */
import type { LocationStatus } from "../lib/image/status.ts";
import { componentVersion, providerNameOf } from "../lib/release/derive.ts";
import type { NodeImage, Release } from "../lib/release/objects.ts";
import { type ChaosEnv, imageNameFor, NAMESPACE, PVE_LOCATIONS } from "./_env.ts";
import type { Operator } from "./_operator.ts";

/** One platform's view: what is wrong in its catalogs for the images that must be there. */
export interface PlatformCheck {
  /** Provider id (`capmox`, `capvcd`, `capv`). */
  provider: string;
  /** Location names the operator is configured with for it. */
  locations: string[];
  /**
   * Problems with the catalogs, given the `spec.name`s that must be complete there (with the
   * reference each location reports); nothing partial and no duplicates.
   */
  problems(expected: Map<string, NodeImage>): Promise<string[]>;
}

export interface CheckOptions {
  platforms: PlatformCheck[];
  /** Operators whose logs, `/readyz` and `/metrics` are searched for secrets. */
  operators: Operator[];
  /**
   * NodeImages whose every location must end in Error instead (a broken source): nothing of
   * them may be left in any catalog.
   */
  failing?: Set<string>;
  /** The NodeImage a Release calls for; default: by release prefix and flatcar version. */
  imageOf?: (release: Release) => string | undefined;
}

/** The default mapping: `proxmox-…` Releases with a flatcar component → the capmox image. */
export function defaultImageOf(release: Release): string | undefined {
  const name = release.metadata.name ?? "";
  let provider: string;
  try {
    provider = providerNameOf(name);
  } catch {
    return undefined;
  }
  const id = ({ proxmox: "capmox", vsphere: "capv", "cloud-director": "capvcd" } as Record<
    string,
    string
  >)[provider];
  if (!id) return undefined;
  try {
    return imageNameFor(componentVersion(release, "flatcar"), id);
  } catch {
    return undefined;
  }
}

/** Every problem with the world now; empty when the end state holds. */
export async function endStateProblems(env: ChaosEnv, options: CheckOptions): Promise<string[]> {
  const problems: string[] = [];
  const releases = (await env.releases.list()).items;
  const images = (await env.nodeImages.list({ namespace: NAMESPACE } as never)).items;
  const imageOf = options.imageOf ?? defaultImageOf;

  const wanted = new Map<string, Set<string>>();
  for (const release of releases) {
    if (release.metadata.deletionTimestamp) {
      problems.push(`Release ${release.metadata.name} is stuck Terminating`);
      continue;
    }
    const image = imageOf(release);
    if (image) wanted.set(image, (wanted.get(image) ?? new Set()).add(release.metadata.name!));
  }
  const byName = new Map(images.map((i) => [i.metadata.name!, i]));
  for (const name of wanted.keys()) {
    if (!byName.has(name)) problems.push(`NodeImage ${name} is missing`);
  }
  for (const image of images) {
    const name = image.metadata.name!;
    if (image.metadata.deletionTimestamp) {
      problems.push(`NodeImage ${name} is stuck Terminating`);
      continue;
    }
    const users = wanted.get(name);
    if (!users) {
      problems.push(`NodeImage ${name} exists but no Release uses it`);
      continue;
    }
    const listed = [...image.status?.releases ?? []].sort();
    const expected = [...users].sort();
    if (JSON.stringify(listed) !== JSON.stringify(expected)) {
      problems.push(
        `NodeImage ${name} lists Releases [${listed.join(", ")}], expected [${
          expected.join(", ")
        }]`,
      );
    }
    const want = options.failing?.has(name) ? "Error" : "Available";
    if (image.status?.state !== want) {
      problems.push(`NodeImage ${name} is ${image.status?.state || "without state"}`);
    }
    const platform = options.platforms.find((p) => p.provider === image.spec?.provider);
    const locations = (image.status?.locations ?? []) as LocationStatus[];
    for (const location of platform?.locations ?? []) {
      const seen = locations.find((l) => l.name === location);
      if (seen?.state !== want) {
        problems.push(
          `NodeImage ${name} location ${location} is ${seen?.state ?? "absent"}${
            seen?.message ? `: ${seen.message}` : ""
          }`,
        );
      }
    }
  }
  for (const platform of options.platforms) {
    const expected = new Map(
      images.filter((i) =>
        i.spec?.provider === platform.provider && wanted.has(i.metadata.name!) &&
        !options.failing?.has(i.metadata.name!)
      ).map((i) => [String(i.spec?.name), i]),
    );
    problems.push(...await platform.problems(expected));
  }
  for (const violation of env.dyingRegistrations) {
    problems.push(`a Release was registered into a Terminating NodeImage: ${violation}`);
  }
  problems.push(...await secretLeaks(env, options.operators, images));
  return problems;
}

/** Where a configured secret shows up. */
export async function secretLeaks(
  env: ChaosEnv,
  operators: Operator[],
  images?: NodeImage[],
): Promise<string[]> {
  const places: [string, string][] = [];
  for (const operator of operators) {
    places.push([`${operator.name} logs`, operator.logs.join("\n")]);
    for (const path of ["/readyz?verbose", "/healthz?verbose"]) {
      places.push([`${operator.name} ${path}`, await fetchText(operator.healthUrl + path)]);
    }
    places.push([`${operator.name} /metrics`, await fetchText(`${operator.metricsUrl}/metrics`)]);
  }
  places.push(["Events", JSON.stringify((await env.events.list()).items)]);
  places.push([
    "NodeImages",
    JSON.stringify(images ?? (await env.nodeImages.list()).items),
  ]);
  const leaks: string[] = [];
  for (const [what, secret] of Object.entries(env.secrets)) {
    for (const [where, text] of places) {
      if (text.includes(secret)) leaks.push(`secret ${what} appears in ${where}`);
    }
  }
  return leaks;
}

async function fetchText(url: string): Promise<string> {
  try {
    return await (await fetch(url)).text();
  } catch {
    return "";
  }
}

/**
 * The fake Proxmox: a template per expected image on each location's node, nothing else (unless
 * `allowOrphans`: complete templates of NodeImages the API server lost may stay).
 */
export function proxmoxCheck(
  env: ChaosEnv,
  options: { allowOrphans?: boolean } = {},
): PlatformCheck {
  return {
    provider: "capmox",
    locations: Object.keys(PVE_LOCATIONS),
    problems: (expected) => {
      const problems: string[] = [];
      const vms = [...env.proxmox.cluster.vms.values()];
      for (const vm of vms) {
        if (vm.config.template !== "1") {
          problems.push(`Proxmox: VM ${vm.node}/${vm.vmid} ${vm.config.name} is not a template`);
        }
      }
      if (!options.allowOrphans) {
        for (const vm of vms) {
          if (!expected.has(String(vm.config.name))) {
            problems.push(`Proxmox: ${vm.node}/${vm.vmid} ${vm.config.name} is not wanted`);
          }
        }
      }
      for (const file of env.proxmox.cluster.allFiles()) {
        problems.push(`Proxmox: import file ${file} left behind`);
      }
      for (const [specName, image] of expected) {
        for (const [location, node] of Object.entries(PVE_LOCATIONS)) {
          const copies = vms.filter((vm) => vm.node === node && vm.config.name === specName);
          if (copies.length !== 1) {
            problems.push(`Proxmox: ${copies.length} copies of ${specName} on ${node}`);
            continue;
          }
          const reported = (image.status?.locations as LocationStatus[] | undefined)
            ?.find((l) => l.name === location)?.reference;
          const actual = `${node}/${copies[0].vmid}`;
          if (reported !== actual) {
            problems.push(`Proxmox: ${location} reports ${reported}, the template is ${actual}`);
          }
        }
      }
      return Promise.resolve(problems);
    },
  };
}

export interface Convergence {
  /** From the call until the end state held. */
  ms: number;
}

/** Polls the checker until the end state holds; throws with the last problems at `deadlineMs`. */
export async function converge(
  env: ChaosEnv,
  options: CheckOptions & { deadlineMs?: number; since?: number },
): Promise<Convergence> {
  const start = options.since ?? performance.now();
  const deadline = performance.now() + (options.deadlineMs ?? 120_000);
  let problems: string[] = [];
  while (performance.now() < deadline) {
    try {
      problems = await endStateProblems(env, options);
    } catch (error) {
      problems = [`checker could not read the world: ${(error as Error).message}`];
    }
    // A leak or a dying registration will not heal: fail at once.
    if (problems.some((p) => p.startsWith("secret ") || p.startsWith("a Release was registered"))) {
      break;
    }
    if (problems.length === 0) return { ms: performance.now() - start };
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `End state not reached:\n  ${problems.slice(0, 20).join("\n  ")}${
      problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ""
    }`,
  );
}
