/**
 * Reading properties through the PropertyCollector (RetrievePropertiesEx, with
 * ContinueRetrievePropertiesEx for further pages) and finding objects by inventory path
 * (SearchIndex.FindByInventoryPath), as small request templates.
 *
 * Guarantees: `retrieve` returns every object of every page, in the server's order; a property
 * the server could not read is listed in `missing` (a NotAuthenticated one never gets here: the
 * client logs in again first).
 */
import type { SoapClient } from "./client.ts";
import {
  asMoRef,
  child,
  children,
  el,
  escapeXml,
  type MoRef,
  textOf,
  type XmlNode,
} from "./xml.ts";

/** One object and the properties read. */
export interface ObjectContent {
  obj: MoRef;
  /** Property path → its `val` element. */
  props: Map<string, XmlNode>;
  /** Paths the server could not read, with the fault type. */
  missing: Map<string, string>;
}

/** `<propSet>`: which properties of which type. */
export function propSpec(type: string, paths: readonly string[]): string {
  return `<propSet>${el("type", type)}${paths.map((p) => el("pathSet", p)).join("")}</propSet>`;
}

/** A `TraversalSpec` from objects of `type` along property `path`. */
export function traversal(
  type: string,
  path: string,
  options: { name?: string; selectSet?: string[] } = {},
): string {
  return `<selectSet xsi:type="TraversalSpec">${el("name", options.name)}${el("type", type)}` +
    `${el("path", path)}<skip>false</skip>${(options.selectSet ?? []).join("")}</selectSet>`;
}

/** `<objectSet>`: where to start, whether to report the start object itself, and traversals. */
export function objectSpec(obj: MoRef, options: { skip?: boolean; selectSet?: string[] } = {}) {
  return `<objectSet><obj type="${escapeXml(obj.type)}">${escapeXml(obj.value)}</obj>` +
    `<skip>${options.skip ? "true" : "false"}</skip>${(options.selectSet ?? []).join("")}` +
    `</objectSet>`;
}

/** Reads `propSets` of the objects `objectSets` select; every page. */
export async function retrieve(
  client: SoapClient,
  spec: { propSets: string[]; objectSets: string[] },
  signal: AbortSignal,
): Promise<ObjectContent[]> {
  const { propertyCollector } = await client.content(signal);
  const body = `<specSet>${spec.propSets.join("")}${spec.objectSets.join("")}</specSet>` +
    `<options></options>`;
  let result = child(
    await client.call("RetrievePropertiesEx", propertyCollector, body, signal),
    "returnval",
  );
  const objects: ObjectContent[] = [];
  for (;;) {
    objects.push(...children(result, "objects").map(objectContent));
    const token = textOf(result, "token");
    if (!token) return objects;
    result = child(
      await client.call(
        "ContinueRetrievePropertiesEx",
        propertyCollector,
        el("token", token),
        signal,
      ),
      "returnval",
    );
  }
}

/** The properties `paths` of one object; undefined when the server returned nothing for it. */
export async function readObject(
  client: SoapClient,
  obj: MoRef,
  paths: readonly string[],
  signal: AbortSignal,
): Promise<ObjectContent | undefined> {
  const [content] = await retrieve(client, {
    propSets: [propSpec(obj.type, paths)],
    objectSets: [objectSpec(obj)],
  }, signal);
  return content;
}

/** The object at an inventory path (`DC0/vm/folder`), or undefined when there is none. */
export async function findByInventoryPath(
  client: SoapClient,
  path: string,
  signal: AbortSignal,
): Promise<MoRef | undefined> {
  const { searchIndex } = await client.content(signal);
  const response = await client.call(
    "FindByInventoryPath",
    searchIndex,
    el("inventoryPath", path),
    signal,
  );
  return asMoRef(child(response, "returnval"));
}

function objectContent(node: XmlNode): ObjectContent {
  const props = new Map<string, XmlNode>();
  for (const prop of children(node, "propSet")) {
    const name = textOf(prop, "name");
    const val = child(prop, "val");
    if (name !== undefined && val) props.set(name, val);
  }
  const missing = new Map<string, string>();
  for (const m of children(node, "missingSet")) {
    const path = textOf(m, "path");
    if (path !== undefined) missing.set(path, child(child(m, "fault"), "fault")?.xsiType ?? "");
  }
  return { obj: asMoRef(child(node, "obj"))!, props, missing };
}

/** A property's text (`name`, `config.template`), or undefined. */
export function propText(content: ObjectContent | undefined, path: string): string | undefined {
  return content?.props.get(path)?.text;
}

/** A property holding one reference, or undefined. */
export function propRef(content: ObjectContent | undefined, path: string): MoRef | undefined {
  return asMoRef(content?.props.get(path));
}

/** A property holding `ArrayOfManagedObjectReference`. */
export function propRefs(content: ObjectContent | undefined, path: string): MoRef[] {
  const val = content?.props.get(path);
  return (val?.children ?? []).map(asMoRef).filter((r): r is MoRef => r !== undefined);
}
