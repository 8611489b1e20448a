/**
 * Reading and writing the VCD API's XML (namespace `http://www.vmware.com/vcloud/v1.5`).
 *
 * Responses are parsed with fast-xml-parser with namespace prefixes removed: the API's own
 * documents use one default namespace, and the client only reads elements it knows by local
 * name. (The OVF descriptor is the opposite case and is read namespace-aware, see `ovf.ts`.)
 * Request bodies are small templates; every value put into them goes through `escapeXml`.
 */
import { XMLParser } from "fast-xml-parser";

/** The vCloud API namespace. */
export const VCLOUD_NS = "http://www.vmware.com/vcloud/v1.5";

/** A parsed element: attributes under `@name`, children by local name, text under `#text`. */
export type XmlNode = Record<string, unknown>;

/** Elements that may repeat, always parsed as arrays (and every query `…Record`). */
const REPEATED = new Set([
  "Link",
  "File",
  "Task",
  "Org",
  "CatalogItem",
  "VersionInfo",
  "VdcStorageProfile",
  "MetadataEntry",
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name, _path, _leaf, isAttribute) =>
    !isAttribute && (REPEATED.has(name) || name.endsWith("Record")),
});

/** The root element of `text` and its local name; throws on text that is not XML. */
export function parseXml(text: string): { name: string; node: XmlNode } {
  const doc = parser.parse(text) as XmlNode;
  for (const [name, value] of Object.entries(doc)) {
    if (name.startsWith("?") || name === "#text") continue;
    // A root that may repeat elsewhere (Org, Task) comes as a one-element list.
    const root = Array.isArray(value) ? value[0] : value;
    return { name, node: (typeof root === "object" && root !== null ? root : {}) as XmlNode };
  }
  throw new SyntaxError("no root element");
}

/** An attribute as a string ("" when absent). */
export function attr(node: XmlNode | undefined, name: string): string {
  const value = node?.[`@${name}`];
  return value === undefined || value === null ? "" : String(value);
}

/** The child elements named `name` (an empty list when absent). */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const value = node?.[name];
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => (typeof item === "object" && item !== null ? item : {}) as XmlNode);
}

/** The first child element named `name`. */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return children(node, name)[0];
}

/** The text of the child element `name` ("" when absent). */
export function childText(node: XmlNode | undefined, name: string): string {
  const value = node?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined || first === null) return "";
  if (typeof first === "object") return String((first as XmlNode)["#text"] ?? "");
  return String(first);
}

/** A `<Link>` of an entity. */
export interface Link {
  rel: string;
  href: string;
  type: string;
  name: string;
}

/** Every `<Link>` child of `node`. */
export function linksOf(node: XmlNode | undefined): Link[] {
  return children(node, "Link").map((link) => ({
    rel: attr(link, "rel"),
    href: attr(link, "href"),
    type: attr(link, "type"),
    name: attr(link, "name"),
  }));
}

/** Escapes text or an attribute value for XML. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};
