/**
 * XML for the vSphere Web Services API: request envelopes built from small templates, and
 * responses parsed (fast-xml-parser, order preserved) into a plain tree with namespaces
 * resolved.
 *
 * Guarantees:
 * - Every value placed in a request goes through `escapeXml` (`el`, `moref`), so a password or
 *   name with `<`, `&` or quotes cannot change the document.
 * - Parsed element names are local names (prefixes dropped); a type attribute in the XML Schema
 *   instance namespace is `xsiType` whatever its prefix (`xsi:type`, `XMLSchema-instance:type`),
 *   and never clashes with a managed-object reference's plain `type` attribute.
 * - Text is kept as the server sent it (no number or boolean coercion: "0000" stays "0000").
 */
import { XMLParser } from "fast-xml-parser";

export const SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/";
export const XSI = "http://www.w3.org/2001/XMLSchema-instance";
export const XSD = "http://www.w3.org/2001/XMLSchema";

/** A managed object reference: `<obj type="Folder">group-d1</obj>`. */
export interface MoRef {
  type: string;
  value: string;
}

/** One parsed element. */
export interface XmlNode {
  /** Local name, without any prefix. */
  name: string;
  /** The `type` attribute in the XML Schema instance namespace (local part), when present. */
  xsiType?: string;
  /** True when that type is an XML Schema one (`xsd:int`), not a vSphere one. */
  xsiTypeXsd?: boolean;
  /** Other attributes by local name (namespace declarations left out). */
  attrs: Record<string, string>;
  /** Concatenated text content of this element (not of its children). */
  text: string;
  children: XmlNode[];
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/** Escapes text or an attribute value. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** `<name>value</name>` with `value` escaped; nothing for undefined. */
export function el(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return "";
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<name type="T">value</name>` for a managed object reference. */
export function moref(name: string, ref: MoRef): string {
  return `<${name} type="${escapeXml(ref.type)}">${escapeXml(ref.value)}</${name}>`;
}

/** A whole request: `<Method xmlns="urn:vim25"><_this …/>{body}</Method>` in a SOAP envelope. */
export function envelope(method: string, self: MoRef, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>` +
    `<Envelope xmlns="${SOAP_ENV}" xmlns:xsd="${XSD}" xmlns:xsi="${XSI}">` +
    `<Body><${method} xmlns="urn:vim25">${moref("_this", self)}${body}</${method}></Body>` +
    `</Envelope>`;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Entities are decoded in one pass by `decodeEntities`: the parser leaves numeric ones
  // (`&#34;`, `&#xA;`, which Go's encoder writes) alone, and a second pass would turn an escaped
  // `&amp;#34;` into a quote.
  processEntities: false,
  ignoreDeclaration: true,
});

type Raw = Record<string, unknown>;

/** Parses a document into its root element; throws `SyntaxError` for what is not XML. */
export function parseXml(text: string): XmlNode {
  let raw: Raw[];
  try {
    raw = parser.parse(text) as Raw[];
  } catch (error) {
    throw new SyntaxError(`not XML: ${(error as Error).message}`);
  }
  const root = raw.map((r) => convert(r, new Map())).find((n) => n !== undefined);
  if (!root) throw new SyntaxError("not XML: no root element");
  return root;
}

function convert(raw: Raw, inherited: Map<string, string>): XmlNode | undefined {
  const tag = Object.keys(raw).find((k) => k !== ":@");
  if (tag === undefined || tag === "#text" || tag.startsWith("?")) return undefined;
  const rawAttrs = (raw[":@"] ?? {}) as Record<string, string>;
  const scope = new Map(inherited);
  for (const [name, value] of Object.entries(rawAttrs)) {
    if (name.startsWith("xmlns:")) scope.set(name.slice(6), value);
  }
  const node: XmlNode = { name: localName(tag), attrs: {}, text: "", children: [] };
  for (const [name, value] of Object.entries(rawAttrs)) {
    if (name === "xmlns" || name.startsWith("xmlns:")) continue;
    const colon = name.indexOf(":");
    const local = colon === -1 ? name : name.slice(colon + 1);
    if (colon !== -1 && local === "type" && scope.get(name.slice(0, colon)) === XSI) {
      node.xsiType = localName(value);
      const typePrefix = value.includes(":") ? value.slice(0, value.indexOf(":")) : undefined;
      if (typePrefix !== undefined && scope.get(typePrefix) === XSD) node.xsiTypeXsd = true;
    } else {
      node.attrs[local] = decodeEntities(value);
    }
  }
  for (const child of (raw[tag] ?? []) as Raw[]) {
    if ("#text" in child) {
      node.text += decodeEntities(String(child["#text"]));
      continue;
    }
    const converted = convert(child, scope);
    if (converted) node.children.push(converted);
  }
  return node;
}

const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes the XML entities and character references of `text` in one pass. */
export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref[0] !== "#") return NAMED[ref] ?? whole;
    const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** `soapenv:Envelope` → `Envelope`; an xsi type value `xsd:int` → `int`. */
function localName(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(colon + 1);
}

/**
 * Writes a parsed element back as XML in the `urn:vim25` default namespace of a request
 * envelope (whose root declares `xsi` and `xsd`), under the name `as` (default its own).
 */
export function serialize(node: XmlNode, as = node.name): string {
  let attrs = node.xsiType === undefined
    ? ""
    : ` xsi:type="${node.xsiTypeXsd ? "xsd:" : ""}${escapeXml(node.xsiType)}"`;
  for (const [name, value] of Object.entries(node.attrs)) attrs += ` ${name}="${escapeXml(value)}"`;
  const inner = node.children.length > 0
    ? node.children.map((c) => serialize(c)).join("")
    : escapeXml(node.text);
  return `<${as}${attrs}>${inner}</${as}>`;
}

/** The first child named `name`. */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

/** Every child named `name`. */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  return node?.children.filter((c) => c.name === name) ?? [];
}

/** The text of the first child named `name`, or undefined. */
export function textOf(node: XmlNode | undefined, name: string): string | undefined {
  return child(node, name)?.text;
}

/** The node as a managed object reference (its `type` attribute and text). */
export function asMoRef(node: XmlNode | undefined): MoRef | undefined {
  if (!node || node.attrs.type === undefined) return undefined;
  return { type: node.attrs.type, value: node.text };
}

/** A reference for messages: `Folder:group-d1`. */
export function refString(ref: MoRef): string {
  return `${ref.type}:${ref.value}`;
}
