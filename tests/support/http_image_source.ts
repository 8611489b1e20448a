/**
 * A stand-in object store for image controller tests: a local `Deno.serve` file server holding
 * objects by key, and an `ImageSourceResolver` over it that uses the Go operator's key layout
 * (`s3KeyFor`), HEAD for existence and size, and a streaming GET — the calls the real S3 source
 * makes, over real HTTP.
 */
import { SourceMissingError } from "../../lib/image/provider.ts";
import type { ImageSource, ImageSpec } from "../../lib/image/provider.ts";
import type { ImageSourceResolver } from "../../lib/image/source.ts";
import { s3KeyFor } from "../../lib/release/derive.ts";

/** An in-memory bucket served over HTTP on 127.0.0.1. */
export class ObjectServer {
  readonly objects = new Map<string, Uint8Array>();
  /** HEAD requests received (source lookups). */
  heads = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>, objects: Map<string, Uint8Array>) {
    this.#server = server;
    this.objects = objects;
  }

  static async start(): Promise<ObjectServer> {
    const objects = new Map<string, Uint8Array>();
    const holder: { server?: ObjectServer } = {};
    const { promise, resolve } = Promise.withResolvers<void>();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => resolve() },
      (req) => {
        const key = decodeURIComponent(new URL(req.url).pathname.slice(1));
        const body = objects.get(key);
        if (req.method === "HEAD" && holder.server) holder.server.heads++;
        if (!body) return new Response(null, { status: 404 });
        const headers = { "content-length": String(body.length) };
        if (req.method === "HEAD") return new Response(null, { headers });
        return new Response(body.slice(), { headers });
      },
    );
    await promise;
    holder.server = new ObjectServer(server, objects);
    return holder.server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Stores the image's object under the Go operator's key for its provider. */
  putImage(provider: string, imageName: string, bytes: Uint8Array): string {
    const key = s3KeyFor(provider, imageName);
    this.objects.set(key, bytes);
    return key;
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

/** Resolves images against an `ObjectServer`. */
export class HttpSourceResolver implements ImageSourceResolver {
  readonly #base: string;

  constructor(base: string) {
    this.#base = base;
  }

  async resolve(image: ImageSpec, format: "ova" | "qcow2", signal: AbortSignal) {
    const key = s3KeyFor(image.provider, image.name);
    const url = `${this.#base}/${key}`;
    const head = await fetch(url, { method: "HEAD", signal });
    await head.body?.cancel();
    if (head.status === 404) {
      throw new SourceMissingError(`Source object "${key}" does not exist`);
    }
    if (!head.ok) throw new Error(`HEAD of source object "${key}" answered ${head.status}`);
    const source: ImageSource = {
      key,
      format,
      size: Number(head.headers.get("content-length") ?? 0),
      url: () => Promise.resolve(url),
      open: async ({ signal }) => {
        const response = await fetch(url, { signal });
        if (!response.ok || !response.body) {
          await response.body?.cancel();
          throw new Error(`GET of source object "${key}" answered ${response.status}`);
        }
        return response.body;
      },
    };
    return source;
  }
}
