/**
 * Where the image controller gets the bytes of an image: an `ImageSourceResolver` turns a
 * NodeImage's spec into an `ImageSource` (object key, size, digest, URL, stream).
 *
 * The resolver is an interface so `lib/` never imports the S3 client in `providers/s3/`;
 * `main.ts` hands one in. The controller looks a source up at most once per reconcile, and only
 * when some location needs a transfer (never per location, never for images that are already
 * everywhere), so steady state costs no object-store requests.
 */
import type { ImageLayout } from "../provider_module.ts";
import type { ImageSource, ImageSpec } from "./provider.ts";

/** Finds the bytes of an image in the object store. */
export interface ImageSourceResolver {
  /**
   * Looks the image up (e.g. an S3 HEAD) and returns a source for it.
   *
   * @param image The image as the NodeImage describes it.
   * @param layout Where the image's provider keeps its images (its module's `layout`).
   * @throws {SourceMissingError} when the object does not exist.
   * @throws {Error} any other failure (network, permissions); the location goes to Error.
   */
  resolve(image: ImageSpec, layout: ImageLayout, signal: AbortSignal): Promise<ImageSource>;
}
