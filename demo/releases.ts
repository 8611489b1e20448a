/**
 * The Releases the demo applies: one per platform, plus a second Release that shares the first
 * platform's image (same Flatcar, Kubernetes and os-tooling versions, so one NodeImage lists
 * both). vSphere and VCD also share the S3 object, as in the Go operator's bucket layout. The
 * demo deletes a Release whose image nobody else uses, to show it collected from every catalog.
 */
import type { Platform } from "./options.ts";

/** Release name prefix of each platform (the providers' `releasePrefixes`). */
export const RELEASE_PREFIX: Record<Platform, string> = {
  proxmox: "proxmox",
  vcd: "cloud-director",
  vsphere: "vsphere",
};

const VERSIONS = { flatcar: "4459.2.4", kubernetes: "1.34.5", "os-tooling": "1.27.0" };
const NEWER = { flatcar: "4593.2.3", kubernetes: "1.35.1", "os-tooling": "1.28.0" };

/** A Release as release-operator publishes it (trimmed app list). */
export interface SampleRelease {
  apiVersion: "release.giantswarm.io/v1alpha1";
  kind: "Release";
  metadata: { name: string };
  spec: {
    apps: { name: string; version: string }[];
    components: { name: string; version: string; catalog?: string }[];
    date: string;
    state: "active";
  };
}

export function release(name: string, versions: Record<string, string>): SampleRelease {
  const platform = name.replace(/-\d+\.\d+\.\d+$/, "");
  return {
    apiVersion: "release.giantswarm.io/v1alpha1",
    kind: "Release",
    metadata: { name },
    spec: {
      apps: [{ name: "cilium", version: "1.4.0" }, { name: "coredns", version: "1.30.0" }],
      components: [
        { name: `cluster-${platform}`, catalog: "cluster", version: "5.2.0" },
        { name: "containerd", version: "2.2.1" },
        ...Object.entries(versions).map(([name, version]) => ({ name, version })),
      ],
      date: "2026-03-02T09:00:00Z",
      state: "active",
    },
  };
}

/** What to apply, and which Release to delete afterwards. */
export interface ReleasePlan {
  releases: SampleRelease[];
  /** A Release whose image no other Release uses. */
  toDelete: string;
}

/**
 * One Release per platform (`<prefix>-34.1.0`), and `<first prefix>-34.1.1` sharing its image.
 * The last platform's Release is deleted; with a single platform a Release with newer versions
 * is added and deleted instead, so the shared image stays.
 */
export function planReleases(platforms: readonly Platform[]): ReleasePlan {
  const releases = platforms.map((p) => release(`${RELEASE_PREFIX[p]}-34.1.0`, VERSIONS));
  releases.push(release(`${RELEASE_PREFIX[platforms[0]]}-34.1.1`, VERSIONS));
  if (platforms.length > 1) {
    return { releases, toDelete: `${RELEASE_PREFIX[platforms.at(-1)!]}-34.1.0` };
  }
  const newer = release(`${RELEASE_PREFIX[platforms[0]]}-35.0.0`, NEWER);
  releases.push(newer);
  return { releases, toDelete: newer.metadata.name };
}
