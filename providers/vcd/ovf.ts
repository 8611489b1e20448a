/**
 * The OVF descriptor of an OVA, read namespace-aware: which files it references (what VCD will
 * ask us to upload) and its virtual hardware version, which we patch before VCD sees it.
 *
 * Why patch: VCD imports an OVF without a hardware version it accepts as vmx-15, and a template
 * VM's hardware version cannot be changed after the import (§10.11). The Go operator rewrote
 * `<vssd:VirtualSystemType>` by a regular expression on that literal prefix (§11.19); OVFs in
 * the wild bind the CIM_VirtualSystemSettingData namespace to other prefixes (or make it the
 * default namespace), so elements are matched by namespace URI and local name here.
 *
 * Guarantees:
 * - `readOvf` checks the descriptor is well-formed UTF-8 XML with an OVF `Envelope` root, and
 *   errors with `IntegrityError` naming the problem (line and column for XML errors).
 * - `patchHardwareVersion` changes only the text of `VirtualSystemType` elements; every other
 *   byte of the descriptor stays as it was (a parse-and-rebuild would reorder attributes and
 *   drop comments).
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { IntegrityError } from "../types.ts";

/** Both OVF envelope versions (DSP8023 1.x and 2.x). */
const OVF_NAMESPACES = new Set([
  "http://schemas.dmtf.org/ovf/envelope/1",
  "http://schemas.dmtf.org/ovf/envelope/2",
]);
const VSSD_NAMESPACE =
  "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";

/** Largest descriptor read into memory; real ones are tens of kilobytes. */
export const MAX_OVF_BYTES = 16 * 1024 * 1024;

/** One `References/File` entry. */
export interface OvfFile {
  id: string;
  /** Name of the file in the OVA (and in VCD's file list). */
  href: string;
  /** Declared size in bytes, when given. */
  size?: number;
  /** Set when the file is split into `<href>.000000000`, `.000000001`, … members. */
  chunkSize?: number;
}

/** What we need from a descriptor. */
export interface OvfDescriptor {
  /** The descriptor as text (UTF-8, BOM kept). */
  text: string;
  files: OvfFile[];
  /** The `VirtualSystemType` values, e.g. `["vmx-09"]`. */
  hardwareTypes: string[];
  /** Where each `VirtualSystemType` element sits in `text`. */
  hardwareSpans: { start: number; end: number; qname: string }[];
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  captureMetaData: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
});
const META = XMLParser.getMetaDataSymbol() as unknown as string;

type OrderedNode = Record<string, unknown>;

/** Parses and checks a descriptor; `where` names it in errors (`flatcar.ovf in s3://…`). */
export function readOvf(bytes: Uint8Array, where: string): OvfDescriptor {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new IntegrityError(`Malformed OVF descriptor ${where}: it is not UTF-8 text`);
  }
  // Offsets below are into the text after a byte order mark, which the parsers do not want.
  const bom = text.startsWith("\uFEFF") ? 1 : 0;
  const body = text.slice(bom);
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new IntegrityError(
      `Malformed OVF descriptor ${where}: ${msg} (line ${line}, column ${col})`,
    );
  }
  const descriptor: OvfDescriptor = { text, files: [], hardwareTypes: [], hardwareSpans: [] };
  let envelope = false;
  walk(parser.parse(body) as OrderedNode[], new Map(), [], (element) => {
    if (element.path.length === 1) {
      envelope = element.local === "Envelope" && OVF_NAMESPACES.has(element.ns ?? "");
    }
    const parent = element.path.at(-2);
    if (
      element.local === "File" && OVF_NAMESPACES.has(element.ns ?? "") &&
      parent?.local === "References" && OVF_NAMESPACES.has(parent.ns ?? "")
    ) {
      descriptor.files.push(fileOf(element.attrs, where));
    }
    if (element.local === "VirtualSystemType" && element.ns === VSSD_NAMESPACE) {
      descriptor.hardwareTypes.push(element.text.trim());
      descriptor.hardwareSpans.push({
        start: element.start + bom,
        end: element.end + bom,
        qname: element.qname,
      });
    }
  });
  if (!envelope) {
    throw new IntegrityError(
      `Malformed OVF descriptor ${where}: the root element is not an OVF Envelope`,
    );
  }
  return descriptor;
}

/**
 * The descriptor with every `VirtualSystemType` set to `vmx-<version>`. A descriptor without
 * one is returned unchanged (VCD then picks its default).
 */
export function patchHardwareVersion(descriptor: OvfDescriptor, version: number): string {
  let text = descriptor.text;
  const value = `vmx-${version}`;
  // From the end, so earlier spans keep their offsets.
  for (const span of [...descriptor.hardwareSpans].sort((a, b) => b.start - a.start)) {
    const element = text.slice(span.start, span.end);
    const openEnd = startTagEnd(element);
    const replaced = element.endsWith("/>") && openEnd === element.length
      ? `${element.slice(0, -2)}>${value}</${span.qname}>`
      : `${element.slice(0, openEnd)}${value}${element.slice(element.lastIndexOf("</"))}`;
    text = text.slice(0, span.start) + replaced + text.slice(span.end);
  }
  return text;
}

interface Element {
  qname: string;
  local: string;
  ns: string | undefined;
  /** Attributes by `{namespace-uri}local` (prefixed) or `local` (unprefixed). */
  attrs: Record<string, string>;
  /** The element and its ancestors, root first. */
  path: { local: string; ns: string | undefined }[];
  text: string;
  start: number;
  end: number;
}

/** Visits every element in document order with its namespace resolved. */
function walk(
  nodes: OrderedNode[],
  scope: Map<string, string>,
  path: { local: string; ns: string | undefined }[],
  visit: (element: Element) => void,
): void {
  for (const node of nodes) {
    const qname = Object.keys(node).find((k) =>
      k !== ":@" && !k.startsWith("#") && !k.startsWith("?")
    );
    if (!qname) continue;
    const raw = (node[":@"] ?? {}) as Record<string, string>;
    const inner = new Map(scope);
    for (const [name, value] of Object.entries(raw)) {
      if (name === "xmlns") inner.set("", value);
      else if (name.startsWith("xmlns:")) inner.set(name.slice(6), value);
    }
    const colon = qname.indexOf(":");
    const prefix = colon === -1 ? "" : qname.slice(0, colon);
    const local = colon === -1 ? qname : qname.slice(colon + 1);
    const ns = inner.get(prefix);
    const attrs: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) {
      if (name === "xmlns" || name.startsWith("xmlns:")) continue;
      const at = name.indexOf(":");
      // Unprefixed attributes have no namespace; prefixed ones take their prefix's.
      attrs[at === -1 ? name : `{${inner.get(name.slice(0, at)) ?? ""}}${name.slice(at + 1)}`] =
        value;
    }
    const childNodes = (node[qname] ?? []) as OrderedNode[];
    const meta = (node as Record<string, unknown>)[META] as
      | { startIndex?: number; endIndex?: number }
      | undefined;
    const here = [...path, { local, ns }];
    visit({
      qname,
      local,
      ns,
      attrs,
      path: here,
      text: childNodes.map((c) => (typeof c["#text"] === "string" ? c["#text"] : "")).join(""),
      start: meta?.startIndex ?? -1,
      end: meta?.endIndex ?? -1,
    });
    walk(childNodes, inner, here, visit);
  }
}

/** A `File` element's OVF attributes (namespace-qualified, or unqualified as a fallback). */
function fileOf(attrs: Record<string, string>, where: string): OvfFile {
  const get = (name: string) => {
    for (const ns of OVF_NAMESPACES) {
      const value = attrs[`{${ns}}${name}`];
      if (value !== undefined) return value;
    }
    return attrs[name];
  };
  const href = get("href");
  if (!href) {
    throw new IntegrityError(`Malformed OVF descriptor ${where}: a References/File has no href`);
  }
  const number = (name: string): number | undefined => {
    const value = get(name);
    if (value === undefined || value.trim() === "") return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new IntegrityError(
        `Malformed OVF descriptor ${where}: File "${href}" has ${name} "${value}"`,
      );
    }
    return n;
  };
  const size = number("size");
  const chunkSize = number("chunkSize");
  return {
    id: get("id") ?? href,
    href,
    ...(size !== undefined ? { size } : {}),
    ...(chunkSize ? { chunkSize } : {}),
  };
}

/** Index just after the `>` that ends the start tag (quotes may hold `>`). */
function startTagEnd(element: string): number {
  let quote = "";
  for (let i = 1; i < element.length; i++) {
    const c = element[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") return i + 1;
  }
  return element.length;
}
