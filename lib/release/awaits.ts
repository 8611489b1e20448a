/**
 * Releases waiting for their NodeImage to finish terminating before they register into a new
 * one (a Terminating NodeImage never gains a Release).
 *
 * The index exists so the NodeImage's own changes, its disappearance above all, wake exactly
 * the Releases waiting for it: a waiting Release is not listed in the image, so mapping the
 * image's `status.releases` would miss it. It lives in memory only: after a restart every
 * Release is reconciled from the initial list and waits again, reporting once more.
 */

/** What a Release waits for: the NodeImage by name, and which incarnation (uid) is dying. */
export interface AwaitedNodeImage {
  nodeImage: string;
  uid?: string;
}

export class NodeImageAwaits {
  readonly #byRelease = new Map<string, AwaitedNodeImage>();

  /** What `release` waits for, if anything (the plan's `awaiting` observation). */
  get(release: string): AwaitedNodeImage | undefined {
    return this.#byRelease.get(release);
  }

  set(release: string, awaited: AwaitedNodeImage): void {
    this.#byRelease.set(release, { ...awaited });
  }

  delete(release: string): void {
    this.#byRelease.delete(release);
  }

  /** Releases waiting for the NodeImage named `nodeImage` (any incarnation). */
  releasesAwaiting(nodeImage: string): string[] {
    const names: string[] = [];
    for (const [release, awaited] of this.#byRelease) {
      if (awaited.nodeImage === nodeImage) names.push(release);
    }
    return names;
  }
}
