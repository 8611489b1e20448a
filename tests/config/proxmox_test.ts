import assert from "node:assert/strict";
import { ConfigError, parseOperatorConfig } from "../../lib/config/mod.ts";
import { PROXMOX_VM_DEFAULTS } from "../../providers/proxmox/mod.ts";
import { capmoxOf, PROVIDER_MODULES } from "../support/provider_configs.ts";

const CREDENTIALS = "  credentials: {url: pve:8006, user: u, tokenId: t, secret: s}\n";

function parseLocation(fields: string) {
  const config = parseOperatorConfig(
    `proxmox:\n${CREDENTIALS}  locations:\n    l1: {node: n, storagePool: sp, bridge: b${fields}}\n`,
    "values.yaml",
    PROVIDER_MODULES,
  );
  return capmoxOf(config)!.locations.l1;
}

function issuesOf(text: string): string[] {
  try {
    parseOperatorConfig(text, "values.yaml", PROVIDER_MODULES);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  assert.fail("the config was accepted");
}

Deno.test("a location without VM fields gets the Go operator's VM shape and ostype l26", () => {
  const location = parseLocation("");
  assert.deepEqual(location.vm, {
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
  });
  assert.deepEqual(location.vm, PROXMOX_VM_DEFAULTS);
  assert.equal(location.importStorage, "local");
});

Deno.test("VM shape fields of a location override the defaults", () => {
  const location = parseLocation(
    ", memory: 4096, cores: 4, scsihw: virtio-scsi-single, bios: ovmf, agent: false," +
      " netModel: virtio, ostype: other, cpu: host, serial0: socket, vga: serial0",
  );
  assert.deepEqual(location.vm, {
    memory: 4096,
    cores: 4,
    scsihw: "virtio-scsi-single",
    bios: "ovmf",
    agent: false,
    netModel: "virtio",
    ostype: "other",
    cpu: "host",
    serial0: "socket",
    vga: "serial0",
  });
});

Deno.test("invalid VM shape fields are reported with their paths", () => {
  const issues = issuesOf(
    `proxmox:\n${CREDENTIALS}  locations:\n    l1: {node: n, storagePool: sp, bridge: b,` +
      ` memory: 8, cores: 0, scsihw: ide, bios: uefi, netModel: virtio-net, ostype: linux,` +
      ` serial0: tty0, agent: yes-please}\n`,
  );
  assert.deepEqual(issues, [
    "proxmox.locations.l1.memory: must be at least 16 (MiB), got 8",
    "proxmox.locations.l1.cores: must be at least 1, got 0",
    'proxmox.locations.l1.serial0: expected "socket" or a /dev/ path, got "tty0"',
    'proxmox.locations.l1.scsihw: expected one of lsi, lsi53c810, virtio-scsi-pci, virtio-scsi-single, megasas, pvscsi, got "ide"',
    'proxmox.locations.l1.bios: expected one of seabios, ovmf, got "uefi"',
    "proxmox.locations.l1.agent: expected true or false, got a string",
    'proxmox.locations.l1.netModel: expected one of e1000, e1000-82540em, e1000-82544gc, e1000-82545em, e1000e, i82551, i82557b, i82559er, ne2k_isa, ne2k_pci, pcnet, rtl8139, virtio, vmxnet3, got "virtio-net"',
    'proxmox.locations.l1.ostype: expected one of other, wxp, w2k, w2k3, w2k8, wvista, win7, win8, win10, win11, l24, l26, solaris, got "linux"',
  ]);
});

Deno.test("a CA bundle in the credentials is kept, and text that is not PEM is refused", () => {
  const pem = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n";
  const config = parseOperatorConfig(
    `proxmox:\n  credentials: {url: pve:8006, user: u, tokenId: t, secret: s, caCert: "${pem}"}\n`,
    "values.yaml",
    PROVIDER_MODULES,
  );
  assert.match(capmoxOf(config)!.credentials.caCert!, /^-----BEGIN CERTIFICATE-----\n/);
  assert.deepEqual(
    issuesOf(
      "proxmox:\n  credentials: {url: pve:8006, user: u, tokenId: t, secret: s, caCert: x}\n",
    ),
    ["proxmox.credentials.caCert: expected PEM certificates (-----BEGIN CERTIFICATE-----)"],
  );
});

Deno.test("credentials without caCert have no caCert field", () => {
  const config = parseOperatorConfig(`proxmox:\n${CREDENTIALS}`, "values.yaml", PROVIDER_MODULES);
  assert.equal("caCert" in capmoxOf(config)!.credentials, false);
});
