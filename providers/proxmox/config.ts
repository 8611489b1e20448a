/**
 * The Proxmox (`capmox`) section of values.yaml (§7, §8.2).
 *
 * Keys are the Go operator's (`credentials.{url,user,realm,tokenId,secret,insecure}`,
 * `locations.<name>.{node,storagePool,importStorage,bridge}`). New, all optional:
 * - `credentials.caCert`: a PEM CA bundle that signs the Proxmox API certificate (the Go
 *   operator offered only `insecure`, §11.17);
 * - per location, the VM shape of the template (§11.23): `memory`, `cores`, `scsihw`, `bios`,
 *   `agent`, `netModel` default to the Go operator's hard-coded values; `ostype` defaults to
 *   `l26` (Flatcar is Linux; Go sent nothing, which Proxmox reads as `other`); `cpu`, `serial0`
 *   and `vga` are sent only when set.
 */
import {
  type Decoder,
  field,
  hostPortProblem,
  join,
  type Secret,
  type YamlObject,
} from "../../lib/config/mod.ts";

export interface ProxmoxCredentials {
  /** `host:port` without a scheme, e.g. `pve.example.com:8006`. */
  url: string;
  user: string;
  realm: string;
  tokenId: string;
  /** The API token secret. */
  secret: Secret;
  insecure: boolean;
  /** PEM CA bundle for the API certificate; "" means the system roots. */
  caCert?: string;
}

/** The shape of the VM that becomes the template. Empty strings are not sent. */
export interface ProxmoxVmShape {
  /** MiB. */
  memory: number;
  cores: number;
  scsihw: string;
  bios: string;
  /** QEMU guest agent (`agent=1`). */
  agent: boolean;
  /** `net0` model (e1000, virtio, …). */
  netModel: string;
  ostype: string;
  /** CPU type, e.g. `host` or `x86-64-v2-AES`. */
  cpu: string;
  /** `socket` gives Flatcar a serial console. */
  serial0: string;
  /** e.g. `serial0` to show the serial console in the web UI. */
  vga: string;
}

export interface ProxmoxLocation {
  node: string;
  /** Target disk storage. */
  storagePool: string;
  /** Storage with content type `import` that receives the downloaded image. */
  importStorage: string;
  bridge: string;
  /** VM shape; defaults in `PROXMOX_VM_DEFAULTS`. */
  vm: ProxmoxVmShape;
}

export interface ProxmoxConfig {
  credentials: ProxmoxCredentials;
  locations: Readonly<Record<string, ProxmoxLocation>>;
}

export const PROXMOX_DEFAULTS = { realm: "pam", importStorage: "local" } as const;

/** The Go operator's VM values (memory 2048, 2 cores, …) plus `ostype: l26`. */
export const PROXMOX_VM_DEFAULTS: Readonly<ProxmoxVmShape> = {
  memory: 2048,
  cores: 2,
  scsihw: "virtio-scsi-pci",
  bios: "seabios",
  agent: true,
  netModel: "e1000",
  ostype: "l26",
  cpu: "",
  serial0: "",
  vga: "",
};

// Enumerations from Proxmox's API schema (pve-docs api-viewer/apidata.js), so a typo is a
// config error at load instead of a 400 on the first import.
const SCSIHW = ["lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi"];
const BIOS = ["seabios", "ovmf"];
const OSTYPES = [
  "other",
  "wxp",
  "w2k",
  "w2k3",
  "w2k8",
  "wvista",
  "win7",
  "win8",
  "win10",
  "win11",
  "l24",
  "l26",
  "solaris",
];
const NET_MODELS = [
  "e1000",
  "e1000-82540em",
  "e1000-82544gc",
  "e1000-82545em",
  "e1000e",
  "i82551",
  "i82557b",
  "i82559er",
  "ne2k_isa",
  "ne2k_pci",
  "pcnet",
  "rtl8139",
  "virtio",
  "vmxnet3",
];

/** Reads the `proxmox` section (already known to be enabled). */
export function parseProxmoxSection(section: YamlObject, d: Decoder, path: string): ProxmoxConfig {
  return {
    credentials: parseProxmoxCredentials(
      d.object(field(section, "credentials"), join(path, "credentials")) ?? {},
      d,
      join(path, "credentials"),
    ),
    locations: parseProxmoxLocations(section, "locations", d, path),
  };
}

/** Reads Proxmox credentials (the `credentials` subtree, or the whole credentials file). */
export function parseProxmoxCredentials(
  raw: YamlObject,
  d: Decoder,
  path: string,
): ProxmoxCredentials {
  const url = d.requiredString(raw, "url", path);
  // The Go operator prepends https:// itself; a scheme here breaks every request (§11.23).
  const urlProblem = hostPortProblem(url);
  if (urlProblem) d.issue(join(path, "url"), urlProblem);
  const caCert = d.optionalString(raw, "caCert", path, "");
  if (caCert !== "" && !caCert.includes("-----BEGIN CERTIFICATE-----")) {
    d.issue(join(path, "caCert"), "expected PEM certificates (-----BEGIN CERTIFICATE-----)");
  }
  return {
    url,
    user: d.requiredString(raw, "user", path),
    realm: d.optionalString(raw, "realm", path, "") || PROXMOX_DEFAULTS.realm,
    tokenId: d.requiredString(raw, "tokenId", path),
    secret: d.requiredSecret(raw, "secret", path),
    insecure: d.boolean(raw, "insecure", path, false),
    ...(caCert ? { caCert } : {}),
  };
}

/** Reads the locations map found under `key` of `parent`. */
export function parseProxmoxLocations(
  parent: YamlObject,
  key: string,
  d: Decoder,
  path: string,
): Record<string, ProxmoxLocation> {
  // Built from entries so a location named "__proto__" stays an ordinary key.
  const locations: [string, ProxmoxLocation][] = [];
  for (const [name, raw] of d.entries(parent, key, path)) {
    const at = join(join(path, key), name);
    locations.push([name, {
      node: d.requiredString(raw, "node", at),
      storagePool: d.requiredString(raw, "storagePool", at),
      importStorage: d.optionalString(raw, "importStorage", at, "") ||
        PROXMOX_DEFAULTS.importStorage,
      bridge: d.requiredString(raw, "bridge", at),
      vm: parseVmShape(raw, d, at),
    }]);
  }
  return Object.fromEntries(locations);
}

function parseVmShape(raw: YamlObject, d: Decoder, at: string): ProxmoxVmShape {
  const defaults = PROXMOX_VM_DEFAULTS;
  const memory = d.count(raw, "memory", at, defaults.memory);
  if (memory < 16) d.issue(join(at, "memory"), `must be at least 16 (MiB), got ${memory}`);
  const cores = d.count(raw, "cores", at, defaults.cores);
  if (cores < 1) d.issue(join(at, "cores"), `must be at least 1, got ${cores}`);
  const serial0 = d.optionalString(raw, "serial0", at, defaults.serial0);
  if (serial0 !== "" && !/^(\/dev\/.+|socket)$/.test(serial0)) {
    d.issue(join(at, "serial0"), `expected "socket" or a /dev/ path, got "${serial0}"`);
  }
  return {
    memory,
    cores,
    scsihw: oneOf(raw, "scsihw", at, d, SCSIHW, defaults.scsihw),
    bios: oneOf(raw, "bios", at, d, BIOS, defaults.bios),
    agent: d.boolean(raw, "agent", at, defaults.agent),
    netModel: oneOf(raw, "netModel", at, d, NET_MODELS, defaults.netModel),
    ostype: oneOf(raw, "ostype", at, d, OSTYPES, defaults.ostype),
    cpu: d.optionalString(raw, "cpu", at, defaults.cpu),
    serial0,
    vga: d.optionalString(raw, "vga", at, defaults.vga),
  };
}

function oneOf(
  raw: YamlObject,
  key: string,
  at: string,
  d: Decoder,
  allowed: readonly string[],
  fallback: string,
): string {
  const value = d.optionalString(raw, key, at, "") || fallback;
  if (allowed.includes(value)) return value;
  d.issue(join(at, key), `expected one of ${allowed.join(", ")}, got "${value}"`);
  return fallback;
}
