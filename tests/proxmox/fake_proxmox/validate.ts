/**
 * Parameter verification as Proxmox's JSONSchema module does it, with its messages, for the
 * routes in `api_params.ts`. Problems are collected per parameter into the 400 `errors` map.
 */
import { API_PARAMS, type ParamSpec } from "./api_params.ts";

export type Params = Record<string, string>;

const NOT_IN_SCHEMA =
  "property is not defined in schema and the schema does not allow additional properties";
const MISSING = "property is missing and it is not optional";

const NET_MODELS = new Set([
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
]);
const VGA_TYPES = new Set([
  "cirrus",
  "qxl",
  "qxl2",
  "qxl3",
  "qxl4",
  "none",
  "serial0",
  "serial1",
  "serial2",
  "serial3",
  "std",
  "virtio",
  "virtio-gl",
  "vmware",
]);
const DNS_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const DNS_NAME = new RegExp(`^(?:${DNS_LABEL}\\.)*${DNS_LABEL}$`);
const TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/i;

/** Validates `params` for the route; returns the `errors` map (empty when valid). */
export function validateParams(route: string, params: Params): Record<string, string> {
  const specs = API_PARAMS[route];
  if (!specs) throw new Error(`the fake has no schema for ${route}`);
  const errors: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    const spec = specs[name] ?? specs[name.replace(/\d+$/, "[n]")];
    if (!spec) {
      errors[name] = NOT_IN_SCHEMA;
      continue;
    }
    const problem = checkValue(name, value, spec);
    if (problem) errors[name] = problem;
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required && !name.includes("[n]") && params[name] === undefined) {
      errors[name] = MISSING;
    }
    if (spec.requires && params[name] !== undefined && params[spec.requires] === undefined) {
      errors[spec.requires] = MISSING;
    }
  }
  return errors;
}

function checkValue(name: string, value: string, spec: ParamSpec): string | undefined {
  if (spec.type === "integer") {
    if (!/^-?\d+$/.test(value)) return `type check ('integer') failed - got '${value}'`;
    const n = Number(value);
    if (spec.minimum !== undefined && n < spec.minimum) {
      return `value must have a minimum value of ${spec.minimum}`;
    }
    if (spec.maximum !== undefined && n > spec.maximum) {
      return `value must have a maximum value of ${spec.maximum}`;
    }
    return undefined;
  }
  if (spec.type === "boolean") {
    return /^(0|1|true|false|yes|no|on|off)$/i.test(value)
      ? undefined
      : `type check ('boolean') failed - got '${value}'`;
  }
  if (spec.enum && !spec.enum.includes(value)) {
    return `value '${value}' does not have a value in the enumeration '${spec.enum.join(", ")}'`;
  }
  if (spec.maxLength !== undefined && value.length > spec.maxLength) {
    return `value may only be ${spec.maxLength} characters long`;
  }
  if (spec.pattern && !new RegExp(`^(?:${spec.pattern})$`).test(value)) {
    return "value does not match the regex pattern";
  }
  if (spec.format === "dns-name" && !DNS_NAME.test(value)) {
    return "invalid format - value does not look like a valid DNS name";
  }
  if (spec.format === "pve-tag-list") {
    const bad = value.split(/[;,\s]+/).filter((t) => t !== "" && !TAG.test(t));
    if (bad.length) return `invalid format - invalid characters in tag '${bad[0]}'`;
  }
  return checkPropertyString(name.replace(/\d+$/, ""), value);
}

/** Property strings (`net0=virtio,bridge=vmbr0`, …): the keys and values we use. */
function checkPropertyString(kind: string, value: string): string | undefined {
  const parts = value.split(",");
  const keyed = (part: string, defaultKey: string) =>
    part.includes("=") ? part.split("=", 2) as [string, string] : [defaultKey, part];
  switch (kind) {
    case "net": {
      for (const [i, part] of parts.entries()) {
        const [key, v] = keyed(part, "model");
        if (i === 0 && key !== "model" && !NET_MODELS.has(key)) {
          return "invalid format - format error\nnet0.model: property is missing";
        }
        if (key === "model" && !NET_MODELS.has(v)) {
          return `invalid format - format error\nnet0.model: value '${v}' does not have a value in the enumeration`;
        }
        if (
          !["model", "bridge", "tag", "firewall", "mtu", "macaddr", "queues", "rate"].includes(
            key,
          ) && !NET_MODELS.has(key)
        ) {
          return `invalid format - format error\nnet0.${key}: property is not defined in schema`;
        }
      }
      return undefined;
    }
    case "scsi": {
      const [volume, ...options] = parts;
      if (!/^[a-zA-Z][a-zA-Z0-9._-]*:(\d+|.+)$/.test(volume) && volume !== "none") {
        return "invalid format - format error\nscsi0.file: invalid volume";
      }
      for (const option of options) {
        const [key] = keyed(option, "file");
        if (
          !["import-from", "format", "size", "cache", "discard", "ssd", "iothread"].includes(key)
        ) {
          return `invalid format - format error\nscsi0.${key}: property is not defined in schema`;
        }
      }
      return undefined;
    }
    case "agent":
      return /^((enabled=)?[01])(,fstrim_cloned_disks=[01]|,type=(virtio|isa))*$/.test(value)
        ? undefined
        : "invalid format - format error\nagent.enabled: type check ('boolean') failed";
    case "memory":
      return /^(current=)?\d+$/.test(value) && Number(value.replace("current=", "")) >= 16
        ? undefined
        : "invalid format - format error\nmemory.current: value must have a minimum value of 16";
    case "vga": {
      const [key, v] = keyed(parts[0], "type");
      return key === "type" && VGA_TYPES.has(v)
        ? undefined
        : `invalid format - format error\nvga.type: value '${v}' does not have a value in the enumeration`;
    }
    case "boot":
      return /^order=[a-z0-9]+(;[a-z0-9]+)*$/.test(value)
        ? undefined
        : "invalid format - format error\nboot.order: invalid format";
    default:
      return undefined;
  }
}

/** Normalises a tag list as Proxmox stores it: lower-case, sorted, deduplicated, `;`-joined. */
export function normaliseTags(value: string): string {
  const tags = value.split(/[;,\s]+/).filter((t) => t !== "").map((t) => t.toLowerCase());
  return [...new Set(tags)].sort().join(";");
}

/** Proxmox's `filename` normalisation for download-url (path dropped, odd characters → `_`). */
export function normaliseFilename(value: string): string {
  return value.replace(/^.*\//, "").replace(/[^a-zA-Z0-9_.-]/g, "_");
}
