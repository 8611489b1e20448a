/**
 * Releases that need the same NodeImage, so one status write can register them together.
 *
 * At a cold start every Release registers into an image that most often several Releases share
 * (2,000 Releases, 300 images in the bench). Registering each alone costs one status write per
 * Release; registering every live Release of the cache that needs the image when the first one
 * registers costs one per image. The Releases registered along are reconciled on their own as
 * well (finalizer first); they find themselves listed and write nothing more.
 *
 * Guarantees: only Releases that are not being deleted and whose NodeImage derives (with the
 * same channel and naming) to exactly the given name are returned, so they are of the same
 * provider and would register into that image themselves.
 *
 * Caveats: a Release registered along may be deleted before its own reconcile adds the
 * finalizer. Its name is then left in the image until the deletion's watch event reconciles it
 * (the `Gone` plan drops it): the same repair as for a finalizer removed by hand.
 */
import { deriveNodeImage } from "./derive.ts";
import type { ReleaseNaming } from "./naming.ts";
import type { Release } from "./objects.ts";

/** Remembers each cached Release object's NodeImage name; the cache replaces changed objects. */
export class ImageNameMemo {
  #names = new WeakMap<Release, string | null>();
  #key = "";

  /** The NodeImage name `release` derives to, or `null` when it derives to none. */
  nameOf(release: Release, channel: string, naming: ReleaseNaming): string | null {
    // A changed channel or naming changes every name: start again.
    const key = `${channel}\n${JSON.stringify(naming.providerIds)}`;
    if (key !== this.#key) {
      this.#names = new WeakMap();
      this.#key = key;
    }
    let name = this.#names.get(release);
    if (name === undefined) {
      try {
        name = deriveNodeImage(release, { channel, naming }).objectName;
      } catch {
        name = null; // not a NodeImage Release; its own reconcile reports why
      }
      this.#names.set(release, name);
    }
    return name;
  }
}

/**
 * Names of the live Releases in `releases`, other than `except`, that need NodeImage
 * `imageName`.
 */
export function releasesNeedingImage(
  releases: readonly Release[],
  imageName: string,
  except: string,
  options: { channel: string; naming: ReleaseNaming; memo: ImageNameMemo },
): string[] {
  const names: string[] = [];
  for (const release of releases) {
    const name = release.metadata.name;
    if (!name || name === except || release.metadata.deletionTimestamp) continue;
    if (options.memo.nameOf(release, options.channel, options.naming) === imageName) {
      names.push(name);
    }
  }
  return names;
}
