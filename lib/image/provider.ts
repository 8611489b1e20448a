/**
 * The contract between the image controller and a VM platform (vSphere, VCD, Proxmox, fakes).
 *
 * It lives in `lib/` so that `lib/` never imports `providers/`; `providers/types.ts` re-exports
 * it for the platform clients. Designed for batching and streaming:
 * - `inventory` lists a whole location in one platform call; the controller caches it and asks
 *   again only on resync, after a change, or on the refresh annotation — never per image.
 * - `ensure` receives an `ImageSource` that can hand out a presigned URL (platforms that download
 *   themselves) or a stream (platforms we push to), plus a progress callback.
 * - `cleanupPartial` removes what an interrupted `ensure` may have left behind (crash safety).
 *
 * Guarantees every implementation gives:
 * - An image counts as present only when it is complete and usable (a template, a resolved
 *   catalog item); half-made artefacts are reported as `partial`, never as present.
 * - `remove` and `cleanupPartial` treat "already absent" as success.
 * - Errors are instances of the classes below, with messages naming the location and image;
 *   they never carry credentials.
 * - Every call honours its AbortSignal promptly.
 */

/** The image to place, as the NodeImage describes it. */
export interface ImageSpec {
  /** `spec.name`: the OS image name, e.g. `flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs`. */
  name: string;
  /** `spec.provider`: `capv`, `capvcd`, `capmox`, … */
  provider: string;
  /** `namespace/name` of the NodeImage, for tags, annotations and messages. */
  objectKey: string;
}

/** One image found in a location. */
export interface InventoryItem {
  /** The image name as `ImageSpec.name` (providers undo any platform suffix). */
  name: string;
  /** Platform identity: a vSphere moref, a VCD href, a Proxmox `node/vmid`. */
  reference: string;
  /** True for complete, usable images; false for leftovers of an interrupted transfer. */
  complete: boolean;
}

export interface Inventory {
  /** Keyed by image name; partial artefacts included with `complete: false`. */
  items: Map<string, InventoryItem>;
}

/** Integrity facts known about the source before the transfer. */
export interface SourceDigest {
  algorithm: "sha256" | "sha1" | "md5" | "sha512";
  /** Lower-case hex. */
  hex: string;
}

/** The image bytes in the object store, as a platform client may consume them. */
export interface ImageSource {
  /** Object key, e.g. `capv/<name>/<base>.ova`. */
  key: string;
  format: "ova" | "qcow2";
  /** Size from HEAD, in bytes. */
  size: number;
  /** From the `<key>.sha256` sidecar when present. */
  digest?: SourceDigest;
  /** A GET URL the platform can fetch itself (public or presigned); valid for `ttlMs`. */
  url(ttlMs: number): Promise<string>;
  /**
   * Streams the object from the first byte (or from `offset`). The stream verifies size (and
   * digest or manifest where known) as it goes and errors with `IntegrityError` on mismatch.
   */
  open(options: { signal: AbortSignal; offset?: number }): Promise<ReadableStream<Uint8Array>>;
  /**
   * What the streams opened so far verified ("size 123 ok", "manifest sha256 of 2 files ok"),
   * once a stream has been read to its end; providers copy it into `EnsureResult.verified`.
   */
  verified?(): string[];
}

/** Progress of one transfer; call at will, the controller throttles status writes. */
export interface TransferProgress {
  /** Bytes moved so far and the total when known. */
  bytes(done: number, total?: number): void;
  /** The platform reference of the artefact being built, once known (for crash cleanup). */
  reference(reference: string): void;
  /** A short human phrase for status and logs: "downloading on pve1", "converting to template". */
  phase(description: string): void;
}

export interface EnsureResult {
  /** Platform identity of the finished image. */
  reference: string;
  /** What was verified on the way, for the location's status message. */
  verified?: string[];
  /**
   * What went wrong without failing the image (e.g. tags not attached): each becomes a Warning
   * Event on the NodeImage; the location is still Available.
   */
  warnings?: string[];
}

/** Per-provider health, for `/readyz` and location status. */
export interface ProviderHealth {
  ok: boolean;
  message?: string;
}

export interface Provider {
  /** Provider id: `capv`, `capvcd`, `capmox`. */
  readonly id: string;
  /** Configured location names. */
  locations(): string[];
  /** Source format this provider consumes. */
  readonly format: "ova" | "qcow2";
  /** Checks the platform can be reached and the credentials work; throws `ProviderUnavailableError`. */
  probe(signal: AbortSignal): Promise<void>;
  /** Everything relevant in one location, in one platform listing call (or a shared batched one). */
  inventory(location: string, signal: AbortSignal): Promise<Inventory>;
  /** Makes the image exist and be complete in the location; idempotent. */
  ensure(
    image: ImageSpec,
    location: string,
    source: ImageSource,
    progress: TransferProgress,
    signal: AbortSignal,
  ): Promise<EnsureResult>;
  /** Removes the image from the location; absent is success. */
  remove(image: ImageSpec, location: string, signal: AbortSignal): Promise<void>;
  /** Removes any half-made artefact of `image` in the location (after a crash or failure). */
  cleanupPartial(image: ImageSpec, location: string, signal: AbortSignal): Promise<void>;
  /** Releases sessions and connections. */
  close(): Promise<void>;
}

/** The platform cannot be reached or refuses our credentials. */
export class ProviderUnavailableError extends Error {
  override name = "ProviderUnavailableError";
}

/** The platform rejected an operation; `step` names where (e.g. "import disk"). */
export class PlatformError extends Error {
  override name = "PlatformError";
  constructor(message: string, readonly step?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The location is not configured for this provider. */
export class UnknownLocationError extends Error {
  override name = "UnknownLocationError";
}

/** Bytes did not match their size, digest or manifest; nothing partial may be kept. */
export class IntegrityError extends Error {
  override name = "IntegrityError";
}

/** The source object does not exist in the bucket. */
export class SourceMissingError extends Error {
  override name = "SourceMissingError";
}
