/**
 * Bind addresses in the Go operator's flag format (`--health-probe-bind-address :8081`,
 * `--metrics-bind-address :8080`): `host:port`, `:port`, `[ipv6]:port`, or `0` to disable.
 */

/** Where to listen. An empty host in the flag means every IPv4 interface. */
export interface BindAddress {
  hostname: string;
  /** 0 asks the OS for a free port (useful in tests). */
  port: number;
}

/** Thrown for an address the flag parser cannot make sense of. */
export class BindAddressError extends Error {
  override name = "BindAddressError";
}

/**
 * Parses a bind address flag value.
 *
 * @param value `":8081"`, `"127.0.0.1:8080"`, `"[::1]:9000"`, or `"0"` (disabled).
 * @returns the address, or `undefined` when the flag disables the server.
 * @throws {BindAddressError} when the value has no port or the port is out of range.
 *
 * @example
 * ```ts
 * parseBindAddress(":8081"); // { hostname: "0.0.0.0", port: 8081 }
 * parseBindAddress("0"); // undefined
 * ```
 */
export function parseBindAddress(value: string): BindAddress | undefined {
  const trimmed = value.trim();
  if (trimmed === "0") return undefined;
  const colon = trimmed.lastIndexOf(":");
  if (colon < 0) {
    throw new BindAddressError(
      `Cannot parse bind address "${value}": expected host:port, :port or 0`,
    );
  }
  let hostname = trimmed.slice(0, colon);
  const portText = trimmed.slice(colon + 1);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  else if (hostname.includes(":")) {
    throw new BindAddressError(
      `Cannot parse bind address "${value}": IPv6 hosts must be in brackets, e.g. [::1]:8080`,
    );
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new BindAddressError(
      `Cannot parse bind address "${value}": port "${portText}" is not a number from 0 to 65535`,
    );
  }
  return { hostname: hostname || "0.0.0.0", port };
}
