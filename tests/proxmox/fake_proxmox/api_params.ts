/**
 * The Proxmox API parameters this project sends (plus the path parameters of each route),
 * copied from Proxmox's published schema: pve-docs `api-viewer/apidata.js` at commit
 * e5010dcea566a205770572cfbc5fe0af220d5077 (2026-04-30). Only this small subset is kept; the
 * schema itself is not committed. `schema_params_test.ts` re-checks it against a local copy of
 * the schema when `PVE_APIDATA` points to one.
 *
 * The fake answers any other parameter name with Proxmox's own 400 ("property is not defined in
 * schema…"), so a typo in the provider fails the tests instead of a real cluster. Indexed
 * parameters appear as in the schema (`net[n]` stands for net0, net1, …). Property-string
 * formats (net, scsi, agent, vga, cpu, memory) are objects in the schema and checked by hand in
 * `validate.ts`.
 */

export interface ParamSpec {
  type: "string" | "integer" | "boolean";
  required?: boolean;
  format?: string;
  enum?: string[];
  pattern?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  /** Another parameter that must be given with this one. */
  requires?: string;
}

/** `METHOD /path/{template}` → parameter name → rule. */
export const API_PARAMS: Record<string, Record<string, ParamSpec>> = {
  "GET /version": {},
  "GET /cluster/resources": {
    "type": {
      "type": "string",
      "enum": [
        "vm",
        "storage",
        "node",
        "sdn",
      ],
    },
  },
  "GET /cluster/nextid": {
    "vmid": {
      "type": "integer",
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
  },
  "POST /nodes/{node}/storage/{storage}/download-url": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "storage": {
      "type": "string",
      "required": true,
      "format": "pve-storage-id",
    },
    "url": {
      "type": "string",
      "required": true,
      "pattern": "https?://.*",
    },
    "content": {
      "type": "string",
      "required": true,
      "format": "pve-storage-content",
      "enum": [
        "iso",
        "vztmpl",
        "import",
      ],
    },
    "filename": {
      "type": "string",
      "required": true,
      "maxLength": 255,
    },
    "checksum": {
      "type": "string",
      "requires": "checksum-algorithm",
    },
    "checksum-algorithm": {
      "type": "string",
      "enum": [
        "md5",
        "sha1",
        "sha224",
        "sha256",
        "sha384",
        "sha512",
      ],
      "requires": "checksum",
    },
    "verify-certificates": {
      "type": "boolean",
    },
    "compression": {
      "type": "string",
    },
  },
  "GET /nodes/{node}/storage/{storage}/content": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "storage": {
      "type": "string",
      "required": true,
      "format": "pve-storage-id",
    },
    "content": {
      "type": "string",
      "format": "pve-storage-content",
    },
    "vmid": {
      "type": "integer",
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
  },
  "DELETE /nodes/{node}/storage/{storage}/content/{volume}": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "storage": {
      "type": "string",
      "format": "pve-storage-id",
    },
    "volume": {
      "type": "string",
      "required": true,
    },
    "delay": {
      "type": "integer",
      "minimum": 1,
      "maximum": 30,
    },
  },
  "POST /nodes/{node}/qemu": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "vmid": {
      "type": "integer",
      "required": true,
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
    "name": {
      "type": "string",
      "format": "dns-name",
    },
    "memory": {
      "type": "string",
    },
    "cores": {
      "type": "integer",
      "minimum": 1,
    },
    "scsihw": {
      "type": "string",
      "enum": [
        "lsi",
        "lsi53c810",
        "virtio-scsi-pci",
        "virtio-scsi-single",
        "megasas",
        "pvscsi",
      ],
    },
    "bios": {
      "type": "string",
      "enum": [
        "seabios",
        "ovmf",
      ],
    },
    "agent": {
      "type": "string",
    },
    "net[n]": {
      "type": "string",
    },
    "scsi[n]": {
      "type": "string",
    },
    "ostype": {
      "type": "string",
      "enum": [
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
      ],
    },
    "cpu": {
      "type": "string",
      "format": "pve-vm-cpu-conf",
    },
    "serial[n]": {
      "type": "string",
      "pattern": "(/dev/.+|socket)",
    },
    "vga": {
      "type": "string",
    },
    "tags": {
      "type": "string",
      "format": "pve-tag-list",
    },
    "description": {
      "type": "string",
      "maxLength": 8192,
    },
    "boot": {
      "type": "string",
      "format": "pve-qm-boot",
    },
  },
  "GET /nodes/{node}/qemu/{vmid}/config": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "vmid": {
      "type": "integer",
      "required": true,
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
    "current": {
      "type": "boolean",
    },
    "snapshot": {
      "type": "string",
      "format": "pve-configid",
      "maxLength": 40,
    },
  },
  "POST /nodes/{node}/qemu/{vmid}/config": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "vmid": {
      "type": "integer",
      "required": true,
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
    "scsi[n]": {
      "type": "string",
    },
    "boot": {
      "type": "string",
      "format": "pve-qm-boot",
    },
    "tags": {
      "type": "string",
      "format": "pve-tag-list",
    },
    "delete": {
      "type": "string",
      "format": "pve-configid-list",
    },
    "description": {
      "type": "string",
      "maxLength": 8192,
    },
    "background_delay": {
      "type": "integer",
      "minimum": 1,
      "maximum": 30,
    },
    "net[n]": {
      "type": "string",
    },
    "memory": {
      "type": "string",
    },
    "cores": {
      "type": "integer",
      "minimum": 1,
    },
  },
  "PUT /nodes/{node}/qemu/{vmid}/config": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "vmid": {
      "type": "integer",
      "required": true,
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
    "scsi[n]": {
      "type": "string",
    },
    "boot": {
      "type": "string",
      "format": "pve-qm-boot",
    },
    "tags": {
      "type": "string",
      "format": "pve-tag-list",
    },
    "delete": {
      "type": "string",
      "format": "pve-configid-list",
    },
    "description": {
      "type": "string",
      "maxLength": 8192,
    },
    "net[n]": {
      "type": "string",
    },
    "memory": {
      "type": "string",
    },
    "cores": {
      "type": "integer",
      "minimum": 1,
    },
  },
  "POST /nodes/{node}/qemu/{vmid}/template": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "vmid": {
      "type": "integer",
      "required": true,
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
    "disk": {
      "type": "string",
      "enum": [
        "ide0",
        "ide1",
        "ide2",
        "ide3",
        "scsi0",
        "scsi1",
        "scsi2",
        "scsi3",
        "scsi4",
        "scsi5",
        "scsi6",
        "scsi7",
        "scsi8",
        "scsi9",
        "scsi10",
        "scsi11",
        "scsi12",
        "scsi13",
        "scsi14",
        "scsi15",
        "scsi16",
        "scsi17",
        "scsi18",
        "scsi19",
        "scsi20",
        "scsi21",
        "scsi22",
        "scsi23",
        "scsi24",
        "scsi25",
        "scsi26",
        "scsi27",
        "scsi28",
        "scsi29",
        "scsi30",
        "virtio0",
        "virtio1",
        "virtio2",
        "virtio3",
        "virtio4",
        "virtio5",
        "virtio6",
        "virtio7",
        "virtio8",
        "virtio9",
        "virtio10",
        "virtio11",
        "virtio12",
        "virtio13",
        "virtio14",
        "virtio15",
        "sata0",
        "sata1",
        "sata2",
        "sata3",
        "sata4",
        "sata5",
        "efidisk0",
        "tpmstate0",
      ],
    },
  },
  "DELETE /nodes/{node}/qemu/{vmid}": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "vmid": {
      "type": "integer",
      "required": true,
      "format": "pve-vmid",
      "minimum": 100,
      "maximum": 999999999,
    },
    "purge": {
      "type": "boolean",
    },
    "destroy-unreferenced-disks": {
      "type": "boolean",
    },
    "skiplock": {
      "type": "boolean",
    },
  },
  "GET /nodes/{node}/tasks/{upid}/status": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "upid": {
      "type": "string",
      "required": true,
    },
  },
  "GET /nodes/{node}/tasks/{upid}/log": {
    "node": {
      "type": "string",
      "required": true,
      "format": "pve-node",
    },
    "upid": {
      "type": "string",
      "required": true,
    },
    "start": {
      "type": "integer",
      "minimum": 0,
    },
    "limit": {
      "type": "integer",
      "minimum": 0,
    },
  },
};
