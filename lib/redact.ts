/**
 * URL redaction for error messages, logs, Events and status.
 *
 * A URL can carry a credential in three places: userinfo (`https://user:pass@host`), the query
 * (a presigned S3 URL's `X-Amz-Signature`, an API key) and the fragment. Whatever prints a URL
 * that came from configuration, a platform or an object store prints it through here.
 *
 * Guarantees:
 * - `redactUrl` keeps only scheme, host, port and path; it never returns userinfo, query or
 *   fragment, and never the input itself when the input is not a URL.
 * - `redactUrlsIn` rewrites every `http(s)://` URL inside free text (a task log line, a server's
 *   error message): userinfo is replaced by a marker and so are query and fragment, so a reader
 *   still sees that they were there.
 *
 * Caveats: a credential inside the path itself (a capability URL) is not recognised; callers
 * that build such URLs must not print them (see `secretPath` in `providers/_http/`).
 */

/** What stands in for a removed query string (and fragment). */
export const QUERY_MARKER = "<query redacted>";

/** What stands in for removed userinfo. */
export const USERINFO_MARKER = "<userinfo redacted>";

/**
 * `scheme://host[:port]/path` of `url`: no userinfo, no query, no fragment.
 *
 * @example
 * ```ts
 * redactUrl("https://k:s@b.s3.example.com:9000/x.qcow2?X-Amz-Signature=abc#f");
 * // "https://b.s3.example.com:9000/x.qcow2"
 * ```
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return "<invalid URL>";
  }
  // `host` includes a non-default port; `pathname` is already percent-encoded.
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** `scheme://host[:port]` of `url`, for messages that must not show the path either. */
export function redactUrlToOrigin(url: string | URL): string {
  try {
    const parsed = new URL(String(url));
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return "<invalid URL>";
  }
}

// A URL in running text ends at whitespace, quotes or angle brackets (how task logs and
// JSON-ish messages delimit them).
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/gi;

/**
 * `text` with userinfo, query and fragment of every `http(s)://` URL replaced by markers.
 *
 * @example
 * ```ts
 * redactUrlsIn("downloading https://b.example.com/k?X-Amz-Signature=abc to /var/lib/vz");
 * // "downloading https://b.example.com/k?<query redacted> to /var/lib/vz"
 * ```
 */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => {
    const schemeEnd = url.indexOf("//") + 2;
    const scheme = url.slice(0, schemeEnd);
    let rest = url.slice(schemeEnd);
    const cut = rest.search(/[?#]/);
    const tail = cut >= 0 ? `?${QUERY_MARKER}` : "";
    if (cut >= 0) rest = rest.slice(0, cut);
    // Userinfo is whatever precedes the last `@` of the authority (before the first `/`).
    const slash = rest.indexOf("/");
    const authority = slash >= 0 ? rest.slice(0, slash) : rest;
    const at = authority.lastIndexOf("@");
    if (at >= 0) rest = `${USERINFO_MARKER}@${rest.slice(at + 1)}`;
    return scheme + rest + tail;
  });
}

/** An error's message (or any thrown value as text) with every URL in it redacted. */
export function errorMessage(error: unknown): string {
  return redactUrlsIn(error instanceof Error ? error.message : String(error));
}
