/**
 * Checks for the addresses configuration files hold: `host[:port]` without a scheme (the Go
 * operator's `vcenter` and Proxmox `url`) and `http(s)://` URLs (VCD, an S3 endpoint). A port
 * that is not a number used to pass the load and fail every request later; here it is a
 * configuration error naming the field.
 *
 * Messages never quote the value: an address may carry user info, and its field path says
 * enough.
 */

/**
 * User info in an address would be a password in a file field that is printed (logs, /readyz,
 * status): credentials have fields of their own, which are kept as secrets.
 */
export const USERINFO_PROBLEM =
  "must not contain user info (user:password@); put credentials in their own fields";

/** A TCP port: decimal digits, 1 to 65535. */
function portProblem(port: string): string | undefined {
  if (!/^[0-9]+$/.test(port)) return "the port must be a number from 1 to 65535";
  const value = Number(port);
  if (value < 1 || value > 65535) return "the port must be a number from 1 to 65535";
  return undefined;
}

/**
 * Why `hostPort` is not `host` or `host:port` (`[ipv6]:port` too), or undefined when it is.
 * An empty value is left to the field's own `required` check.
 *
 * @example
 * ```ts
 * hostPortProblem("pve.example.com:8006"); // undefined
 * hostPortProblem("pve.example.com:80o6"); // "the port must be a number from 1 to 65535"
 * ```
 */
export function hostPortProblem(hostPort: string): string | undefined {
  if (hostPort === "") return undefined;
  if (hostPort.includes("://")) return "expected host or host:port without a scheme";
  if (hostPort.includes("@")) return USERINFO_PROBLEM;
  if (/[/?#\s]/.test(hostPort)) return "expected host or host:port, nothing else";
  let host = hostPort;
  let port: string | undefined;
  if (hostPort.startsWith("[")) {
    const end = hostPort.indexOf("]");
    if (end < 0) return "expected [ipv6]:port with a closing bracket";
    host = hostPort.slice(1, end);
    const rest = hostPort.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return "expected [ipv6]:port";
      port = rest.slice(1);
    }
  } else {
    const colon = hostPort.lastIndexOf(":");
    if (colon >= 0) {
      if (hostPort.indexOf(":") !== colon) {
        return "an IPv6 address must be in brackets: [ipv6]:port";
      }
      host = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
  }
  if (host === "") return "the host is missing";
  return port === undefined ? undefined : portProblem(port);
}

/**
 * Why `url` is not an absolute `http://` or `https://` URL with a host (and, if given, a numeric
 * port), or undefined when it is. An empty value is left to the field's own `required` check.
 */
export function httpUrlProblem(url: string): string | undefined {
  if (url === "") return undefined;
  const scheme = /^(https?):\/\/([^/?#]*)/i.exec(url);
  if (!scheme) return "expected an http:// or https:// URL";
  // The authority is checked by hand first: WHATWG URL parsing says only "Invalid URL" for a
  // bad port, and quietly drops a default one.
  if (scheme[2].includes("@")) return USERINFO_PROBLEM;
  const authority = scheme[2];
  const problem = hostPortProblem(authority);
  if (problem) return problem.replace("expected host or host:port", "expected a host");
  try {
    new URL(url);
  } catch {
    return "expected an http:// or https:// URL";
  }
  return undefined;
}
