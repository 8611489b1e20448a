/**
 * Where a bucket's objects live: the public URL of a key and the SDK's endpoint settings.
 *
 * Guarantees: with only `bucket`, `region` and `http` set, `publicObjectUrl` is byte-for-byte the
 * Go operator's `<http|https>://<bucket>.s3.<region>.amazonaws.com/<key>` for every key made of
 * URL-safe characters (all keys `s3KeyFor` produces). Other characters are percent-encoded per
 * path segment, where the Go operator produced an invalid URL.
 */
import { S3_DEFAULT_REGION, type S3SourceOptions } from "./options.ts";

export interface S3Addressing {
  /** `http` or `https`. */
  scheme: string;
  /** Whether the bucket goes in the path rather than the host name. */
  pathStyle: boolean;
  /** Origin plus base path the SDK sends requests to (for messages and the SDK's `endpoint`). */
  endpoint: string;
  /** Whether the SDK needs `endpoint` set explicitly (custom endpoint, or AWS over plain HTTP). */
  explicitEndpoint: boolean;
  region: string;
}

/** Resolves scheme, addressing style and endpoint from the options (validated beforehand). */
export function resolveAddressing(options: S3SourceOptions): S3Addressing {
  const dotted = options.bucket.includes(".");
  if (options.endpoint) {
    const url = new URL(options.endpoint);
    const scheme = url.protocol.slice(0, -1);
    const pathStyle = (options.pathStyle ?? true) || (dotted && scheme === "https");
    return {
      scheme,
      pathStyle,
      endpoint: `${url.origin}${url.pathname.replace(/\/+$/, "")}`,
      explicitEndpoint: true,
      region: options.region || S3_DEFAULT_REGION,
    };
  }
  const scheme = options.http ? "http" : "https";
  return {
    scheme,
    pathStyle: (options.pathStyle ?? false) || (dotted && scheme === "https"),
    endpoint: `${scheme}://s3.${options.region}.amazonaws.com`,
    explicitEndpoint: scheme === "http",
    region: options.region,
  };
}

/** Percent-encodes each path segment of a key (RFC 3986 unreserved characters stay as they are). */
export function encodeKey(key: string): string {
  return key.split("/").map((segment) =>
    encodeURIComponent(segment).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    )
  ).join("/");
}

/**
 * The unsigned URL of `key`: virtual-hosted (`<scheme>://<bucket>.<host>/<key>`) or path-style
 * (`<endpoint>/<bucket>/<key>`).
 *
 * @example
 * ```ts
 * publicObjectUrl({ bucket: "images", region: "eu-west-1" }, "capv/x/y.ova");
 * // "https://images.s3.eu-west-1.amazonaws.com/capv/x/y.ova"
 * ```
 */
export function publicObjectUrl(options: S3SourceOptions, key: string): string {
  const addressing = resolveAddressing(options);
  const path = encodeKey(key);
  if (addressing.pathStyle) return `${addressing.endpoint}/${options.bucket}/${path}`;
  const url = new URL(addressing.endpoint);
  return `${addressing.scheme}://${options.bucket}.${url.host}${
    url.pathname.replace(/\/$/, "")
  }/${path}`;
}
