/**
 * The image controller tests' object store: a real local S3 server (s3rver, one per test file),
 * a fresh bucket per case with objects laid out as the Go operator lays them out (`s3KeyFor`),
 * and the real `S3Resolver` over it.
 *
 * A test file declares its cases with `s3Suite(title)` and `suite.test(name, fn)`; they run as
 * steps of one Deno test per API server kind (fake and real), each starting s3rver once.
 * Without Node or the s3rver package the whole suite is ignored and the reason printed
 * (`tests/support/s3rver.ts`).
 */
import type { S3Config } from "../../lib/config/mod.ts";
import { Secret } from "../../lib/config/secret.ts";
import type { ImageSource, ImageSpec } from "../../lib/image/provider.ts";
import type { ImageSourceResolver } from "../../lib/image/source.ts";
import { s3KeyFor } from "../../lib/release/derive.ts";
import type { ImageLayout } from "../../lib/provider_module.ts";
import { S3Resolver } from "../../providers/s3/resolver.ts";
import { concatBytes, digestHex, fakeVmdk, ova, qcow2 } from "../support/images.ts";
import { type S3rver, S3RVER_KEYS, s3rverUnavailable, startS3rver } from "../support/s3rver.ts";
import { layoutFor } from "../support/provider_configs.ts";
import { serverTestDefinition } from "../support/api_servers.ts";

/** A case of an s3rver-backed suite; it gets the file's server. */
export type S3Case = (server: S3rver) => Promise<void>;

/** Collects cases; they run as steps of one Deno test per API server sharing one s3rver. */
export interface S3Suite {
  test(name: string, fn: S3Case): void;
  /** Cases that need the fake API server (fault injection): not run in the `[real]` test. */
  fakeServer: { test(name: string, fn: S3Case): void };
}

/**
 * Registers the file's Deno tests now, `title [fake]` and `title [real]` (see
 * tests/support/api_servers.ts); cases added with `test` (during module load) run as their
 * steps, in order. `options.unavailable` is the reason another prerequisite is missing (it
 * ignores the suite too, and is printed).
 */
export async function s3Suite(
  title: string,
  options: { unavailable?: string } = {},
): Promise<S3Suite> {
  if (options.unavailable) console.error(`${title}: ignored: ${options.unavailable}`);
  const unavailable = options.unavailable ?? await s3rverUnavailable();
  const cases: { name: string; fn: S3Case; fakeOnly: boolean }[] = [];
  for (const kind of ["fake", "real"] as const) {
    const definition = serverTestDefinition(kind, title, async (t) => {
      const server = await startS3rver();
      try {
        for (const { name, fn, fakeOnly } of cases) {
          if (kind === "real" && fakeOnly) continue;
          await t.step(name, () => fn(server));
        }
      } finally {
        await server.stop();
      }
    });
    Deno.test({ ...definition, ignore: definition.ignore || unavailable !== undefined });
  }
  return {
    test: (name, fn) => void cases.push({ name, fn, fakeOnly: false }),
    fakeServer: { test: (name, fn) => void cases.push({ name, fn, fakeOnly: true }) },
  };
}

let bucketCount = 0;

/** One bucket of the file's s3rver, fresh for each case. */
export class ImageBucket {
  readonly server: S3rver;
  readonly name: string;

  private constructor(server: S3rver, name: string) {
    this.server = server;
    this.name = name;
  }

  static async create(server: S3rver): Promise<ImageBucket> {
    const bucket = new ImageBucket(server, `images-${++bucketCount}`);
    await server.createBucket(bucket.name);
    return bucket;
  }

  /** Uploads the image's object under the Go operator's key for its provider; returns the key. */
  async putImage(provider: string, imageName: string, bytes: Uint8Array): Promise<string> {
    const key = s3KeyFor(imageName, layoutFor(provider));
    await this.server.put(this.name, key, bytes);
    return key;
  }

  /** Uploads a `<key>.sha256` sidecar in `sha256sum` form, naming the object's file. */
  async putSidecar(key: string, hex: string): Promise<void> {
    const file = key.slice(key.lastIndexOf("/") + 1);
    await this.server.put(
      this.name,
      `${key}.sha256`,
      new TextEncoder().encode(`${hex}  ${file}\n`),
    );
  }

  /** The operator's `s3` section for this bucket (anonymous unless `credentials`). */
  config(extra: Partial<S3Config> = {}): S3Config {
    return {
      bucket: this.name,
      region: "us-east-1",
      http: true,
      timeoutMs: 10_000,
      endpoint: this.server.endpoint,
      forcePathStyle: true,
      ...extra,
    };
  }

  /**
   * Static keys as the `s3.credentials` a loader would have read. s3rver 3.7.1 knows only the
   * access key id `S3RVER` (another id is refused with 403 InvalidAccessKeyId) and does not
   * check SigV4 signatures, so any secret key works with that id.
   */
  static credentials(
    secretAccessKey: string = S3RVER_KEYS.secretAccessKey,
    accessKeyId: string = S3RVER_KEYS.accessKeyId,
  ) {
    return { accessKeyId, secretAccessKey: new Secret(secretAccessKey) };
  }

  /** The real `S3Resolver` for this bucket, counting its lookups. */
  resolver(extra: Partial<S3Config> = {}): CountingResolver {
    return new CountingResolver(new S3Resolver(this.config(extra)));
  }
}

/** An `S3Resolver` that counts source lookups (each is an S3 HEAD plus a sidecar GET). */
export class CountingResolver implements ImageSourceResolver {
  lookups = 0;
  readonly #inner: S3Resolver;

  constructor(inner: S3Resolver) {
    this.#inner = inner;
  }

  resolve(image: ImageSpec, layout: ImageLayout, signal: AbortSignal): Promise<ImageSource> {
    this.lookups++;
    return this.#inner.resolve(image, layout, signal);
  }

  close(): void {
    this.#inner.close();
  }
}

/**
 * A valid image of about `diskBytes`: an OVA with a SHA256 manifest over its OVF and disk, or a
 * qcow2 header padded with zeros. `seed` varies the disk so images differ.
 */
export function imageBytes(format: "ova" | "qcow2", diskBytes = 4096, seed = 1): Uint8Array {
  if (format === "ova") return ova().withDisk(fakeVmdk(diskBytes, seed)).build();
  const header = qcow2().build();
  return concatBytes([header, new Uint8Array(Math.max(0, diskBytes - header.byteLength))]);
}

export { digestHex };
