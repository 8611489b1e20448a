/**
 * How the fake reads an uploaded OVF descriptor: it must be well-formed XML with an OVF
 * `Envelope` root; its `References/File` entries become the files VCD then waits for, and its
 * `VirtualSystemType` (CIM_VirtualSystemSettingData namespace, whatever the prefix) is recorded
 * as the template's hardware version. Written apart from the client's reader on purpose, so a
 * namespace mistake on one side is not mirrored on the other.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";

const OVF = ["http://schemas.dmtf.org/ovf/envelope/1", "http://schemas.dmtf.org/ovf/envelope/2"];
const VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";

export interface DescriptorFacts {
  files: { href: string; size?: number; chunkSize?: number }[];
  hardware: string[];
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
});

type Node = Record<string, unknown>;

/** The facts, or an error message for a descriptor VCD would refuse. */
export function inspectDescriptor(text: string): DescriptorFacts | { problem: string } {
  const body = text.replace(/^\uFEFF/, "");
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    return {
      problem:
        `The OVF descriptor is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`,
    };
  }
  const facts: DescriptorFacts = { files: [], hardware: [] };
  let root: { local: string; ns?: string } | undefined;
  let problem: string | undefined;
  const visit = (
    nodes: Node[],
    scope: Map<string, string>,
    parent?: { local: string; ns?: string },
  ) => {
    for (const node of nodes) {
      const qname = Object.keys(node).find((k) =>
        k !== ":@" && !k.startsWith("#") && !k.startsWith("?")
      );
      if (!qname) continue;
      const attributes = (node[":@"] ?? {}) as Record<string, string>;
      const inner = new Map(scope);
      for (const [k, v] of Object.entries(attributes)) {
        if (k === "xmlns") inner.set("", v);
        if (k.startsWith("xmlns:")) inner.set(k.slice(6), v);
      }
      const [prefix, local] = qname.includes(":") ? qname.split(":", 2) : ["", qname];
      const here = { local, ns: inner.get(prefix) };
      root ??= here;
      const content = (node[qname] ?? []) as Node[];
      if (local === "File" && OVF.includes(here.ns ?? "") && parent?.local === "References") {
        const get = (name: string) => {
          for (const [k, v] of Object.entries(attributes)) {
            const [p, l] = k.includes(":") ? k.split(":", 2) : ["", k];
            if (l === name && (p === "" || OVF.includes(inner.get(p) ?? ""))) return v;
          }
          return undefined;
        };
        const href = get("href");
        if (!href) {
          problem = "A References/File of the OVF descriptor has no ovf:href";
          continue;
        }
        const size = get("size");
        const chunkSize = get("chunkSize");
        facts.files.push({
          href,
          ...(size !== undefined ? { size: Number(size) } : {}),
          ...(chunkSize !== undefined ? { chunkSize: Number(chunkSize) } : {}),
        });
      }
      if (local === "VirtualSystemType" && here.ns === VSSD) {
        facts.hardware.push(content.map((c) => String(c["#text"] ?? "")).join("").trim());
      }
      visit(content, inner, here);
    }
  };
  visit(parser.parse(body) as Node[], new Map());
  if (problem) return { problem };
  if (!root || root.local !== "Envelope" || !OVF.includes(root.ns ?? "")) {
    return { problem: "The OVF descriptor's root element is not an OVF Envelope" };
  }
  if (facts.files.some((f) => !Number.isSafeInteger(f.size ?? 0) || (f.size ?? 0) < 0)) {
    return { problem: "The OVF descriptor declares an invalid file size" };
  }
  return facts;
}
